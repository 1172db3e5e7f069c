"""What the three loaders (:func:`torch_tfjs.load`, ``load_layers_model``, ``load_graph_model``)
share: the types of their options and the last step of a build (device and dtype)."""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import nn

#: Where a model's parameters go: ``"cpu"``, ``"cuda:0"``, a ``torch.device``.
Device = Union[str, torch.device]

#: The floating-point dtypes a model may compute in (``load(..., dtype=...)``, ``model.half()``).
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def check_dtype(dtype: Optional[torch.dtype]) -> Optional[torch.dtype]:
    """``dtype`` when it is one of :data:`FLOAT_DTYPES` (or ``None``), else ``TypeError``."""
    if dtype is None or dtype in FLOAT_DTYPES:
        return dtype
    raise TypeError(f"dtype must be one of {', '.join(str(d) for d in FLOAT_DTYPES)} "
                    f"(the dtype floating-point parameters and inputs are cast to), got {dtype!r}")


def place(model: nn.Module, device: Optional[Device], dtype: Optional[torch.dtype]) -> None:
    """Move ``model`` to ``device`` and cast its floating-point parameters and buffers to
    ``dtype`` (integer and bool ones keep theirs), as ``model.to(device, dtype)`` does."""
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)


#: A 0-d, non-persistent float buffer each model kind holds: ``model.to(dtype)``, ``.half()``,
#: ``.double()`` cast it with the parameters, so its dtype is the one float inputs are cast to, even
#: for a model without float parameters. Not in ``state_dict``.
DTYPE_MARKER = "float_dtype_marker"


def add_dtype_marker(module: nn.Module) -> None:
    module.register_buffer(DTYPE_MARKER, torch.zeros(()), persistent=False)


def module_float_dtype(module: nn.Module) -> torch.dtype:
    """The dtype a model computes floats in: its dtype marker's (see :data:`DTYPE_MARKER`), else
    that of its first floating-point parameter (float32 for a model that has none)."""
    marker = module._buffers.get(DTYPE_MARKER)
    if marker is not None:
        return marker.dtype
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32
