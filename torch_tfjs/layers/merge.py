"""Merge layers (tfjs-layers ``merge.ts``): Add, Multiply, Average, Maximum, Minimum, Concatenate,
Dot, and Keras's Subtract. Masks merge as in Keras: AND of the inputs' masks."""

from __future__ import annotations

from functools import reduce
from typing import Any, List, Optional, Sequence

import torch

from ..activations import is_keras3
from .base import KerasLayer, LayerSpec, Tensors
from .registry import register_layer


def _and_masks(masks: Any) -> Optional[torch.Tensor]:
    if not isinstance(masks, (list, tuple)):
        return masks
    present = [m for m in masks if m is not None]
    if not present:
        return None
    return reduce(torch.logical_and, present)


def expand_to_common_rank(xs: List[torch.Tensor]) -> List[torch.Tensor]:
    """Keras/tfjs ``_Merge`` on inputs of different ranks: each lower-rank input gets new axes
    at position 1 (after the batch axis) until all ranks agree; broadcasting then aligns
    ``(batch, 4)`` with ``(batch, 3, 4)`` as ``(batch, 1, 4)``. Plain broadcasting would align
    the trailing axes instead (and put the batch axis against a feature axis)."""
    rank = max(x.dim() for x in xs)
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.dim()) + x.shape[1:]) if 0 < x.dim() < rank else x
            for x in xs]


class _Merge(KerasLayer):
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        # A Keras 3 op layer (``x + y`` on symbolic tensors, saved with a config of just its
        # name) is ``keras.ops.add``: numpy broadcasting, no rank expansion.
        self.expands_ranks = self.elementwise and ("trainable" in spec.config or not is_keras3(spec.generated_by))

    def _check(self, inputs: Any) -> List[torch.Tensor]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"layer '{self.keras_name}' ({self.keras_class}) needs a list of at least "
                             "two tensors")
        xs = list(inputs)
        like = next((x for x in xs if isinstance(x, torch.Tensor)), None)
        if like is None:
            raise ValueError(f"layer '{self.keras_name}' ({self.keras_class}) got no tensor")
        # Elementwise merges expand lower ranks as Keras's _Merge does (not Concatenate / Dot).
        # Keras 3 op layers (``x + 3.0`` saved as Add) pass Python numbers among the tensors:
        # those broadcast as scalars and take no part in the expansion.
        tensors = [x for x in xs if isinstance(x, torch.Tensor)]
        if self.expands_ranks and len({x.dim() for x in tensors}) > 1:
            tensors = iter(expand_to_common_rank(tensors))
            xs = [next(tensors) if isinstance(x, torch.Tensor) else x for x in xs]
        return [x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=like.dtype, device=like.device)
                for x in xs]

    def compute_mask(self, inputs: Tensors, mask: Any) -> Optional[torch.Tensor]:
        return _and_masks(mask)


@register_layer("Add")
class Add(_Merge):
    elementwise = True

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        xs = self._check(inputs)
        return reduce(torch.add, xs)


@register_layer("Subtract")
class Subtract(_Merge):
    elementwise = True

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        xs = self._check(inputs)
        if len(xs) != 2:
            raise ValueError(f"layer '{self.keras_name}' (Subtract) takes exactly two inputs")
        return xs[0] - xs[1]


@register_layer("Multiply")
class Multiply(_Merge):
    elementwise = True

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return reduce(torch.mul, self._check(inputs))


@register_layer("Average")
class Average(_Merge):
    elementwise = True

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        xs = self._check(inputs)
        return reduce(torch.add, xs) * (1.0 / len(xs))


@register_layer("Maximum")
class Maximum(_Merge):
    elementwise = True

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return reduce(torch.maximum, self._check(inputs))


@register_layer("Minimum")
class Minimum(_Merge):
    elementwise = True

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return reduce(torch.minimum, self._check(inputs))


@register_layer("Concatenate")
class Concatenate(_Merge):
    """Concatenates along ``axis``. tfjs treats every negative axis as the last one (a tfjs
    quirk): artifacts written by tfjs are run that way, Keras-written ones as Keras."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.axis = spec.conf_int("axis", -1)
        if self.axis < 0 and spec.made_by_tfjs:
            self.axis = -1
        # Concatenating on the feature axis keeps a step when every input keeps it (tfjs, Keras 2:
        # ``all``) — or when any input does (Keras 3: ``any``).
        self.combine_masks = torch.logical_or if is_keras3(spec.generated_by) else torch.logical_and

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return torch.cat(self._check(inputs), dim=self.axis)

    def compute_mask(self, inputs: Tensors, mask: Any) -> Optional[torch.Tensor]:
        if not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        xs = list(inputs)  # type: ignore[arg-type]
        full = [m if m is not None else torch.ones(x.shape[:-1] if x.dim() > 1 else x.shape, dtype=torch.bool,
                                                    device=x.device) for m, x in zip(mask, xs)]
        rank = xs[0].dim()
        axis = self.axis % rank
        if axis == rank - 1:  # feature axis: steps combine as the producing Keras does
            return reduce(self.combine_masks, full)
        return torch.cat(full, dim=axis)


@register_layer("Dot")
class Dot(_Merge):
    """Batched dot product over ``axes``; with ``normalize`` the inputs are L2-normalized first
    (epsilon 1e-7 under tfjs, 1e-12 under Keras)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        if isinstance(spec.config.get("axes"), (list, tuple)):
            self.axes = spec.conf_int_list("axes")
            if len(self.axes) != 2:
                raise spec.bad_value("axes", "an integer or a list of 2", self.axes)
        else:
            self.axes = [spec.conf_int("axes")] * 2
        self.normalize = spec.conf_bool("normalize", False)
        self.epsilon = 1e-7 if spec.made_by_tfjs else 1e-12

    def _l2(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        sq = torch.sum(x * x, dim=axis, keepdim=True)
        return x * torch.rsqrt(torch.clamp(sq, min=self.epsilon))

    def forward(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x, y = self._check(inputs)
        ax, ay = self.axes[0] % x.dim(), self.axes[1] % y.dim()
        if self.normalize:
            x, y = self._l2(x, ax), self._l2(y, ay)
        x2 = x.movedim(ax, -1)
        y2 = y.movedim(ay, 1)
        x_rest, y_rest = x2.shape[1:-1], y2.shape[2:]
        out = torch.bmm(x2.reshape(x2.shape[0], -1, x2.shape[-1]), y2.reshape(y2.shape[0], y2.shape[1], -1))
        out = out.reshape(x2.shape[0], *x_rest, *y_rest)
        return out.unsqueeze(-1) if out.dim() == 1 else out

    def compute_mask(self, inputs: Tensors, mask: Any) -> Optional[torch.Tensor]:
        return None
