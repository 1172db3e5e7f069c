"""Reduction ops (tfjs op list ``reduction``): Max, Mean, Min, Sum, Prod, All, Any, ArgMax,
ArgMin, Cumsum, Cumprod, Bincount, DenseBincount."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import torch

from ..node import OpNode, Value
from ..registry import layout_rewrite, register_op


def _norm_axes(x: torch.Tensor, axes: Sequence[int]) -> List[int]:
    return sorted({a % x.dim() for a in axes}) if x.dim() else []


def reduce_sum(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    axes = _norm_axes(x, axes)
    if not axes:
        return x
    out = torch.sum(x, dim=axes, keepdim=keep_dims)
    return out.to(x.dtype) if x.dtype == torch.int32 else out


def reduce_mean(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    axes = _norm_axes(x, axes)
    if not axes:
        return x
    if x.is_floating_point() or x.is_complex():
        return torch.mean(x, dim=axes, keepdim=keep_dims)
    count = 1
    for a in axes:
        count *= x.shape[a]
    total = torch.sum(x.long(), dim=axes, keepdim=keep_dims)
    return torch.div(total, count, rounding_mode="trunc").to(x.dtype)  # TF integer mean truncates


def reduce_max(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    axes = _norm_axes(x, axes)
    return torch.amax(x, dim=axes, keepdim=keep_dims) if axes else x


def reduce_min(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    axes = _norm_axes(x, axes)
    return torch.amin(x, dim=axes, keepdim=keep_dims) if axes else x


def _reduce_nchw(args: tuple, rank: int, nchw) -> Optional[tuple]:  # type: ignore[no-untyped-def]
    """Axes of a channels-last tensor mapped onto its NCHW view. Without keep_dims the result
    is layout-free when what remains has the same axis order in both views (the channel axis
    or every spatial axis reduced), and not rewritten otherwise."""
    x, axes, keep_dims = args
    x = nchw(x)
    if x is None or not isinstance(axes, (list, tuple)) or not all(isinstance(a, int) for a in axes):
        return None
    to_nchw = [0] + list(range(2, rank)) + [1]  # NHWC axis i is NCHW axis to_nchw[i]
    wanted = sorted({a % rank for a in axes})
    if keep_dims:
        return (x, [to_nchw[a] for a in wanted], True), True
    kept = [a for a in range(rank) if a not in wanted]
    if sorted(kept, key=lambda a: to_nchw[a]) != kept:
        return None
    return (x, [to_nchw[a] for a in wanted], False), False


for _fn in (reduce_sum, reduce_mean, reduce_max, reduce_min):
    layout_rewrite(_fn)(_reduce_nchw)


def reduce_prod(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    for a in sorted(_norm_axes(x, axes), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keep_dims).to(x.dtype)
    return x


def reduce_all(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    for a in sorted(_norm_axes(x, axes), reverse=True):
        x = torch.all(x, dim=a, keepdim=keep_dims)
    return x.bool()


def reduce_any(x: torch.Tensor, axes: List[int], keep_dims: bool) -> torch.Tensor:
    for a in sorted(_norm_axes(x, axes), reverse=True):
        x = torch.any(x, dim=a, keepdim=keep_dims)
    return x.bool()


_REDUCTIONS: dict = {"Sum": reduce_sum, "Mean": reduce_mean, "Max": reduce_max, "Min": reduce_min,
                     "Prod": reduce_prod, "All": reduce_all, "Any": reduce_any}


def _reduce_dynamic(op: str, x: torch.Tensor, axes: torch.Tensor, keep_dims: bool) -> torch.Tensor:
    # the op name, not the function, travels in the FX graph: FX cannot print a function argument
    return _REDUCTIONS[op](x, [int(a) for a in axes.reshape(-1).tolist()], keep_dims)


@register_op("Sum", "Mean", "Max", "Min", "Prod", "All", "Any")
def reduce(node: OpNode) -> Value:
    fn = _REDUCTIONS[node.op]
    keep = node.attr_bool("keep_dims", node.attr_bool("keepDims", False))
    axes = node.static_list(1)
    if axes is None:
        return node.call(_reduce_dynamic, node.op, node.input(0), node.input(1), keep)
    return node.call(fn, node.input(0), [int(a) for a in axes], keep)


def arg_max(x: torch.Tensor, axis: int) -> torch.Tensor:
    return torch.argmax(x, dim=axis).to(torch.int32)  # first occurrence on ties, as TF


def arg_min(x: torch.Tensor, axis: int) -> torch.Tensor:
    return torch.argmin(x, dim=axis).to(torch.int32)


@register_op("ArgMax", "ArgMin")
def arg_reduce(node: OpNode) -> Value:
    axis = node.static_list(1)
    if axis is None:
        raise node.error("dimension must be a constant")
    return node.call(arg_max if node.op == "ArgMax" else arg_min, node.input(0), int(axis[0]))


def cumulative(x: torch.Tensor, axis: int, exclusive: bool, reverse: bool, product: bool) -> torch.Tensor:
    axis = axis % x.dim()
    if reverse:
        x = torch.flip(x, [axis])
    out = torch.cumprod(x, dim=axis) if product else torch.cumsum(x, dim=axis)
    out = out.to(x.dtype)
    if exclusive:
        ident = torch.ones_like if product else torch.zeros_like
        first = ident(x.narrow(axis, 0, 1))
        out = torch.cat([first, out.narrow(axis, 0, x.shape[axis] - 1)], dim=axis)
    if reverse:
        out = torch.flip(out, [axis])
    return out


@register_op("Cumsum", "Cumprod")
def cumulative_op(node: OpNode) -> Value:
    axis = node.static_list(1)
    if axis is None:
        raise node.error("axis must be a constant")
    return node.call(cumulative, node.input(0), int(axis[0]), node.attr_bool("exclusive"),
                     node.attr_bool("reverse"), node.op == "Cumprod")


def bincount(values: torch.Tensor, size: Any, weights: Optional[torch.Tensor], binary: bool) -> torch.Tensor:
    """TF (Dense)Bincount over the last axis: counts (or summed weights) of each value in
    [0, size); values outside are ignored. ``size`` computed from the data (``tf.math.bincount``
    does) is read at run time: a graph break under torch.compile."""
    if isinstance(size, torch.Tensor):
        size = int(size.reshape(-1)[0])
    v = values.long()
    keep = (v >= 0) & (v < size)
    has_weights = weights is not None and weights.numel() > 0
    w = (weights.to(torch.float32) if has_weights else torch.ones_like(v, dtype=torch.float32))
    w = torch.where(keep, w, torch.zeros_like(w))
    idx = torch.where(keep, v, torch.zeros_like(v))
    shape = list(v.shape[:-1]) + [size] if v.dim() > 1 else [size]
    out = torch.zeros(shape, dtype=torch.float32, device=v.device)
    out = out.scatter_add(-1, idx if v.dim() > 0 else idx.reshape(1), w if v.dim() > 0 else w.reshape(1))
    if binary:  # presence instead of counts
        out = (out != 0).to(torch.float32)
    return out.to(weights.dtype) if has_weights else out.to(torch.int32)


@register_op("Bincount", "DenseBincount")
def bincount_op(node: OpNode) -> Value:
    size = node.static_list(1)
    weights = node.input(2) if node.num_inputs > 2 else None
    return node.call(bincount, node.input(0), node.input(1) if size is None else int(size[0]), weights,
                     node.attr_bool("binary_output"))
