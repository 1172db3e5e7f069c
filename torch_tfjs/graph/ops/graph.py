"""Graph ops (tfjs op list ``graph``): Placeholder, PlaceholderWithDefault, Const, Identity,
IdentityN, Snapshot, StopGradient, Print, NoOp, Rank, Size, Shape, ShapeN,
FakeQuantWithMinMaxVars."""

from __future__ import annotations

from typing import List

import numpy as np
import torch

from ..node import OpNode, Value
from ..registry import register_op


@register_op("Const")
def const(node: OpNode) -> Value:
    """Weights: float → trainable parameter, others → static constant."""
    return node.importer.const(node.node)


@register_op("Placeholder")
def placeholder(node: OpNode) -> Value:
    raise node.error("this input is needed but not fed (it is not among the model's inputs)")


@register_op("PlaceholderWithDefault")
def placeholder_with_default(node: OpNode) -> Value:
    """Not fed: its default."""
    return node.input(0)


@register_op("Identity", "Snapshot", "StopGradient", "Print")
def identity(node: OpNode) -> Value:
    """Pass-through (Print's extra inputs are only printed by TF; tfjs logs them)."""
    return node.input(0)


@register_op("IdentityN")
def identity_n(node: OpNode) -> List[Value]:
    return node.inputs


@register_op("NoOp")
def no_op(node: OpNode) -> List[Value]:
    return []


def _shape(x: torch.Tensor) -> torch.Tensor:
    if isinstance(x, np.ndarray):  # a string tensor (object array of bytes)
        return torch.tensor(x.shape, dtype=torch.int32)
    return torch.tensor(x.shape, dtype=torch.int32, device=x.device)


def _rank(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(x.ndim if isinstance(x, np.ndarray) else x.dim(), dtype=torch.int32)


def _size(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(x.size if isinstance(x, np.ndarray) else x.numel(), dtype=torch.int32)


@register_op("Shape")
def shape(node: OpNode) -> Value:
    return node.call(_shape, node.input(0))


@register_op("ShapeN")
def shape_n(node: OpNode) -> List[Value]:
    return [node.call(_shape, x) for x in node.inputs]


@register_op("Rank")
def rank(node: OpNode) -> Value:
    return node.call(_rank, node.input(0))


@register_op("Size")
def size(node: OpNode) -> Value:
    return node.call(_size, node.input(0))


def fake_quant(x: torch.Tensor, min_value: float, max_value: float, num_bits: int,
               narrow_range: bool) -> torch.Tensor:
    """TF FakeQuantWithMinMaxVars: nudge [min, max] so zero is exact, then quantize."""
    quant_min = 1 if narrow_range else 0
    quant_max = (1 << num_bits) - 1
    scale = (max_value - min_value) / (quant_max - quant_min)
    zero_from_min = quant_min - min_value / scale
    if zero_from_min < quant_min:
        nudged_zero = quant_min
    elif zero_from_min > quant_max:
        nudged_zero = quant_max
    else:
        nudged_zero = round(zero_from_min)
    nudged_min = (quant_min - nudged_zero) * scale
    nudged_max = (quant_max - nudged_zero) * scale
    clamped = torch.clamp(x, nudged_min, nudged_max)
    return torch.floor((clamped - nudged_min) / scale + 0.5) * scale + nudged_min


@register_op("FakeQuantWithMinMaxVars")
def fake_quant_with_min_max_vars(node: OpNode) -> Value:
    min_value = node.static(1)
    max_value = node.static(2)
    if min_value is None or max_value is None:
        raise node.error("min and max must be constants")
    return node.call(fake_quant, node.input(0), float(min_value), float(max_value),
                     node.attr_int("num_bits", 8), node.attr_bool("narrow_range", False))
