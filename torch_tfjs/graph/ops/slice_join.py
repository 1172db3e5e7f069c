"""Slice and join ops (tfjs op list ``slice_join``): ConcatV2, Concat, GatherV2, Gather, Reverse,
ReverseV2, Slice, StridedSlice, Pack, Unpack, Tile, Split, SplitV, ScatterNd, GatherNd,
SparseToDense, TensorScatterUpdate.

Index-like inputs known at import time become Python ints in the graph; StridedSlice is
lowered to plain tensor indexing (``x[a:b:s, None, ..., i]``) so it traces without breaks.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np
import torch

from ..._tfops import strided_slice, strided_slice_index
from ..node import OpNode, Value
from ..registry import layout_rewrite, register_op


def _ints(t: torch.Tensor) -> List[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


def _axis(node: OpNode, i: int) -> int:
    value = node.static_list(i)
    if value is None:
        raise node.error(f"input {i} (axis) must be a constant")
    return int(value[0])


# --- concat / pack / unpack ---------------------------------------------------------------------

def concat(tensors: List[torch.Tensor], axis: int) -> torch.Tensor:
    """TF concat; bool and int tensors concatenate as they are."""
    return torch.cat(tensors, dim=axis)


@layout_rewrite(concat)
def _concat_nchw(args: tuple, rank: int, nchw) -> Optional[tuple]:  # type: ignore[no-untyped-def]
    """Concatenation of channels-last tensors of one rank, on their NCHW views."""
    tensors, axis = args
    views = [nchw(t) for t in tensors] if isinstance(tensors, (list, tuple)) else [None]
    if any(v is None for v in views) or not isinstance(axis, int) or not -rank <= axis < rank:
        return None
    to_nchw = [0] + list(range(2, rank)) + [1]
    return (views, to_nchw[axis % rank]), True


@register_op("ConcatV2")
def concat_v2(node: OpNode) -> Value:
    n = node.attr_int("N", node.num_inputs - 1)
    return node.call(concat, node.inputs[:n], _axis(node, n))


@register_op("Concat")
def concat_v1(node: OpNode) -> Value:
    n = node.attr_int("N", node.num_inputs - 1)
    return node.call(concat, node.inputs[1:1 + n], _axis(node, 0))


@register_op("Pack")
def pack(node: OpNode) -> Value:
    return node.call(torch.stack, node.inputs, node.attr_int("axis", 0))


def unpack(x: torch.Tensor, axis: int) -> Tuple[torch.Tensor, ...]:
    return torch.unbind(x, dim=axis)


@register_op("Unpack")
def unpack_op(node: OpNode) -> List[Value]:
    num = node.attr_int("num")
    if num is None:
        raise node.error("needs the 'num' attr")
    return node.outputs(node.call(unpack, node.input(0), node.attr_int("axis", 0)), num)


# --- split --------------------------------------------------------------------------------------

def split_even(x: torch.Tensor, num: int, axis: int) -> Tuple[torch.Tensor, ...]:
    return torch.split(x, x.shape[axis] // num, dim=axis)


def split_sizes(x: torch.Tensor, sizes: List[int], axis: int) -> Tuple[torch.Tensor, ...]:
    if -1 in sizes:
        known = sum(s for s in sizes if s != -1)
        sizes = [x.shape[axis] - known if s == -1 else s for s in sizes]
    return torch.split(x, sizes, dim=axis)


@register_op("Split")
def split(node: OpNode) -> List[Value]:
    num = node.attr_int("num_split")
    if num is None:
        raise node.error("needs the 'num_split' attr")
    return node.outputs(node.call(split_even, node.input(1), num, _axis(node, 0)), num)


@register_op("SplitV")
def split_v(node: OpNode) -> List[Value]:
    sizes = node.static_list(1)
    if sizes is None:
        raise node.error("size_splits must be a constant")
    return node.outputs(node.call(split_sizes, node.input(0), [int(s) for s in sizes], _axis(node, 2)),
                        len(sizes))


# --- slicing ------------------------------------------------------------------------------------

def slice_begin_size(x: torch.Tensor, begin: List[int], size: List[int]) -> torch.Tensor:
    """TF Slice: size -1 means "to the end"."""
    index = []
    for b, s in zip(begin, size):
        index.append(slice(b, None if s == -1 else b + s))
    return x[tuple(index)]


def slice_dynamic(x: torch.Tensor, begin: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    return slice_begin_size(x, _ints(begin), _ints(size))


@register_op("Slice")
def slice_op(node: OpNode) -> Value:
    begin, size = node.static_list(1), node.static_list(2)
    if begin is None or size is None:
        return node.call(slice_dynamic, node.input(0), node.input(1), node.input(2))
    return node.call(slice_begin_size, node.input(0), [int(b) for b in begin], [int(s) for s in size])


def strided_slice_dynamic(x: torch.Tensor, begin: torch.Tensor, end: torch.Tensor, strides: torch.Tensor,
                          masks: Tuple[int, int, int, int, int]) -> torch.Tensor:
    return strided_slice(x, strided_slice_index(_ints(begin), _ints(end), _ints(strides), *masks))


@register_op("StridedSlice")
def strided_slice_op(node: OpNode) -> Value:
    masks = tuple(node.attr_int(k, 0) or 0 for k in
                  ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"))
    begin, end, strides = node.static_list(1), node.static_list(2), node.static_list(3)
    if begin is None or end is None or strides is None:
        return node.call(strided_slice_dynamic, node.input(0), node.input(1), node.input(2),
                         node.input(3), masks)
    try:
        index = strided_slice_index(begin, end, strides, *masks)
    except ValueError as exc:
        raise node.error(str(exc)) from None
    return node.call(strided_slice, node.input(0), index)


def reverse(x: torch.Tensor, axes: List[int]) -> torch.Tensor:
    return torch.flip(x, [a % x.dim() for a in axes]) if axes else x


@register_op("ReverseV2")
def reverse_v2(node: OpNode) -> Value:
    axes = node.static_list(1)
    if axes is None:
        raise node.error("axis must be a constant")
    return node.call(reverse, node.input(0), [int(a) for a in axes])


@register_op("Reverse")
def reverse_v1(node: OpNode) -> Value:
    dims = node.static_list(1)
    if dims is None:
        raise node.error("dims must be a constant")
    return node.call(reverse, node.input(0), [i for i, d in enumerate(dims) if d])


def tile(x: torch.Tensor, multiples: List[int]) -> torch.Tensor:
    return x.repeat(multiples)


def tile_dynamic(x: torch.Tensor, multiples: torch.Tensor) -> torch.Tensor:
    return x.repeat(_ints(multiples))


@register_op("Tile")
def tile_op(node: OpNode) -> Value:
    multiples = node.static_list(1)
    if multiples is None:
        return node.call(tile_dynamic, node.input(0), node.input(1))
    return node.call(tile, node.input(0), [int(m) for m in multiples])


# --- gather / scatter ---------------------------------------------------------------------------

def gather(params: torch.Tensor, indices: torch.Tensor, axis: int, batch_dims: int = 0) -> torch.Tensor:
    """TF GatherV2 with ``batch_dims``."""
    axis = axis % params.dim()
    if batch_dims < 0:
        batch_dims += indices.dim()
    idx = indices.long()
    if batch_dims == 0:
        flat = torch.index_select(params, axis, idx.reshape(-1))
        return flat.reshape(params.shape[:axis] + idx.shape + params.shape[axis + 1:])
    batch = params.shape[:batch_dims]
    nb = int(np.prod(batch)) if batch else 1
    p = params.reshape((nb,) + params.shape[batch_dims:])
    ax = axis - batch_dims + 1
    p = p.movedim(ax, 1)  # (nb, n_axis, *pre, *post)
    i = idx.reshape((nb,) + idx.shape[batch_dims:])
    rows = torch.arange(nb, device=params.device).reshape((nb,) + (1,) * (i.dim() - 1))
    g = p[rows, i]  # (nb, *I, *pre, *post)
    n_idx = i.dim() - 1
    n_pre = ax - 1
    perm = [0] + list(range(1 + n_idx, 1 + n_idx + n_pre)) + list(range(1, 1 + n_idx)) + \
        list(range(1 + n_idx + n_pre, g.dim()))
    g = g.permute(perm)
    return g.reshape(tuple(batch) + tuple(g.shape[1:]))


@register_op("GatherV2")
def gather_v2(node: OpNode) -> Value:
    return node.call(gather, node.input(0), node.input(1), _axis(node, 2), node.attr_int("batch_dims", 0))


@register_op("Gather")
def gather_v1(node: OpNode) -> Value:
    return node.call(gather, node.input(0), node.input(1), 0, 0)


def gather_nd(params: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    idx = indices.long()
    depth = idx.shape[-1]
    lead = idx.shape[:-1]
    flat = idx.reshape(-1, depth)
    out = params[tuple(flat[:, k] for k in range(depth))]
    return out.reshape(tuple(lead) + tuple(params.shape[depth:]))


@register_op("GatherNd")
def gather_nd_op(node: OpNode) -> Value:
    return node.call(gather_nd, node.input(0), node.input(1))


def scatter_nd(indices: torch.Tensor, updates: torch.Tensor, shape: List[int]) -> torch.Tensor:
    """TF ScatterNd: duplicates accumulate."""
    out = torch.zeros(shape, dtype=updates.dtype, device=updates.device)
    idx = indices.long()
    depth = idx.shape[-1]
    flat = idx.reshape(-1, depth)
    upd = updates.reshape((flat.shape[0],) + tuple(shape[depth:]))
    return out.index_put(tuple(flat[:, k] for k in range(depth)), upd, accumulate=True)


def scatter_nd_dynamic(indices: torch.Tensor, updates: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    return scatter_nd(indices, updates, _ints(shape))


@register_op("ScatterNd")
def scatter_nd_op(node: OpNode) -> Value:
    shape = node.static_list(2)
    if shape is None:
        return node.call(scatter_nd_dynamic, node.input(0), node.input(1), node.input(2))
    return node.call(scatter_nd, node.input(0), node.input(1), [int(s) for s in shape])


def tensor_scatter_update(x: torch.Tensor, indices: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
    """TF TensorScatterUpdate on a copy (tfjs writes into its input: a quirk we do not copy)."""
    idx = indices.long()
    depth = idx.shape[-1]
    flat = idx.reshape(-1, depth)
    upd = updates.reshape((flat.shape[0],) + tuple(x.shape[depth:]))
    return x.index_put(tuple(flat[:, k] for k in range(depth)), upd.to(x.dtype))


@register_op("TensorScatterUpdate")
def tensor_scatter_update_op(node: OpNode) -> Value:
    return node.call(tensor_scatter_update, node.input(0), node.input(1), node.input(2))


def sparse_to_dense(indices: torch.Tensor, shape: Any, values: torch.Tensor,
                    default: torch.Tensor) -> torch.Tensor:
    """``shape`` is a list when known at import, else a tensor read at run time (a graph break
    under torch.compile, as the output shape depends on data)."""
    if isinstance(shape, torch.Tensor):
        shape = _ints(shape)
    out = torch.full(shape, 0, dtype=values.dtype, device=values.device) + default.to(values.dtype)
    idx = indices.long()
    if idx.dim() < 2:
        idx = idx.reshape(-1, 1) if len(shape) == 1 else idx.reshape(1, -1)
    vals = values.expand(idx.shape[0]) if values.dim() == 0 else values
    return out.index_put(tuple(idx[:, k] for k in range(idx.shape[1])), vals)


@register_op("SparseToDense")
def sparse_to_dense_op(node: OpNode) -> Value:
    shape = node.static_list(1)
    return node.call(sparse_to_dense, node.input(0),
                     node.input(1) if shape is None else [int(s) for s in shape], node.input(2), node.input(3))
