"""Arithmetic ops (tfjs op list ``arithmetic``): Add, AddV2, AddN, BiasAdd, Sub, RealDiv, Div,
DivNoNan, FloorDiv, Mul, Maximum, Minimum, Pow, SquaredDifference, Mod, FloorMod.

Binary ops broadcast like numpy and keep their (shared) input dtype: int32 stays int32. As in
tfjs, Div and RealDiv on two integer tensors floor-divide; integer division or mod by zero gives 0
(tfjs stores the JS ``Infinity``/``NaN`` as int32 0). ``Mod`` follows TF, not tfjs: TF's Mod
truncates (C ``fmod`` / ``%``, the sign of the dividend) where tfjs runs its floor mod;
``FloorMod`` is the floor mod (the sign of the divisor) in both.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

import torch

from ..node import OpNode, Value
from ..registry import elementwise, layout_rewrite, register_op


def _keep_dtype(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Undo torch's type promotion when both operands share a dtype, as TF never promotes."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype != out.dtype:
        return out.to(a.dtype)
    return out


def _is_int(t: torch.Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


def add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _keep_dtype(torch.add(a, b), a, b)


def sub(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _keep_dtype(torch.sub(a, b), a, b)


def mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _keep_dtype(torch.mul(a, b), a, b)


def maximum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _keep_dtype(torch.maximum(a, b), a, b)


def minimum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _keep_dtype(torch.minimum(a, b), a, b)


def power(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _keep_dtype(torch.pow(a, b), a, b)


def squared_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = sub(a, b)
    return d * d


def _int_safe(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
              a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``fn`` on integers with 0 where the divisor is 0 (torch raises instead)."""
    zero = b == 0
    out = fn(a, torch.where(zero, torch.ones_like(b), b))
    return torch.where(zero, torch.zeros_like(out), out)


def _floor_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.div(a, b, rounding_mode="floor")


def div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """tf.div: true division, but floor division for two integer tensors."""
    if _is_int(a) and _is_int(b):
        return _keep_dtype(_int_safe(_floor_div, a, b), a, b)
    return _keep_dtype(torch.div(a, b), a, b)


def floor_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if _is_int(a) and _is_int(b):
        return _keep_dtype(_int_safe(_floor_div, a, b), a, b)
    return _keep_dtype(torch.floor(torch.div(a, b)), a, b)


def floor_mod(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Remainder with the sign of the divisor (torch.remainder)."""
    if _is_int(a) and _is_int(b):
        return _keep_dtype(_int_safe(torch.remainder, a, b), a, b)
    return _keep_dtype(torch.remainder(a, b), a, b)


def truncate_mod(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """TF ``Mod``: remainder of the truncating division (torch.fmod), the sign of the dividend.
    The graph is TF's, so its semantics win over tfjs's (which runs a floor mod here)."""
    if _is_int(a) and _is_int(b):
        return _keep_dtype(_int_safe(torch.fmod, a, b), a, b)
    return _keep_dtype(torch.fmod(a, b), a, b)


def div_no_nan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = div(a, b)
    return torch.where(b == 0, torch.zeros_like(out), out)


_BINARY: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Add": add, "AddV2": add, "Sub": sub, "Mul": mul, "RealDiv": div, "Div": div,
    "DivNoNan": div_no_nan, "FloorDiv": floor_div, "Maximum": maximum, "Minimum": minimum,
    "Pow": power, "SquaredDifference": squared_difference, "Mod": truncate_mod, "FloorMod": floor_mod,
}


elementwise(*_BINARY.values())


@register_op(*_BINARY)
def binary(node: OpNode) -> Value:
    return node.call(_BINARY[node.op], node.input(0), node.input(1))


def add_n(*xs: torch.Tensor) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = add(out, x)
    return out


@register_op("AddN")
def add_n_op(node: OpNode) -> Value:
    return node.call(add_n, *node.inputs)


def bias_add(x: torch.Tensor, bias: torch.Tensor, channels_first: bool) -> torch.Tensor:
    """Adds the 1-D bias along the channel axis: 1 for NCHW, last for NHWC."""
    if channels_first and x.dim() > 2:
        bias = bias.reshape([-1] + [1] * (x.dim() - 2))
    return add(x, bias)


@layout_rewrite(bias_add)
def _bias_add_nchw(args: tuple, rank: int, nchw) -> Optional[tuple]:  # type: ignore[no-untyped-def]
    x, bias, channels_first = args
    if nchw(x) is None or channels_first or nchw(bias) is not None:
        return None
    return (nchw(x), bias, True), True


@register_op("BiasAdd")
def bias_add_op(node: OpNode) -> Value:
    channels_first = (node.attr_str("data_format") or "nhwc").startswith("nc")
    return node.call(bias_add, node.input(0), node.input(1), channels_first)
