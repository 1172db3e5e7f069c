"""Keras 3 operation layers: functional models that call ``keras.ops`` functions directly
(``keras.ops.not_equal(tokens, 0)`` to build a mask) save each call as a layer named after the
op. The elementwise comparisons such models use for masks are supported (arithmetic op names
such as ``Add`` belong to the Keras merge layers); literal arguments arrive in position among
the tensors."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import torch

from .base import KerasLayer, LayerSpec
from .registry import register_layer

_BINARY: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "NotEqual": torch.ne, "Equal": torch.eq, "Greater": torch.gt, "GreaterEqual": torch.ge,
    "Less": torch.lt, "LessEqual": torch.le,
}


def _as_tensor(value: Any, like: torch.Tensor) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=like.dtype, device=like.device)


@register_layer(*_BINARY)
class KerasBinaryOp(KerasLayer):
    """``op(a, b)`` with numpy broadcasting; one side may be a Python literal."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.fn = _BINARY[spec.class_name]

    def forward(self, inputs: List[Any], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError(f"layer '{self.keras_name}' ({self.keras_class}) takes two arguments")
        a, b = inputs
        like = a if isinstance(a, torch.Tensor) else b
        return self.fn(_as_tensor(a, like), _as_tensor(b, like))
