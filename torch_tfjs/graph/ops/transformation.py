"""Transformation ops (tfjs op list ``transformation``): Cast, ExpandDims, MirrorPad, Pad, PadV2,
Reshape, EnsureShape, Squeeze, SpaceToBatchND, BatchToSpaceND, DepthToSpace, BroadcastTo,
BroadcastArgs.

Shape-like inputs known at import time are baked in as Python ints (static shapes under
``torch.compile``); otherwise they are read from the tensor at run time (a graph break).
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..._tfops import mirror_pad
from ..node import OpNode, Static, Value, model_float
from ..registry import elementwise, layout_rewrite, register_op


def _ints(t: torch.Tensor) -> List[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


def cast(x: torch.Tensor, dtype: torch.dtype, anchor: Optional[torch.Tensor] = None) -> torch.Tensor:
    """TF Cast: float → int truncates toward zero; complex → real part; anything → bool is != 0.
    With ``anchor`` (the model's float dtype marker) a cast to a float type gives the model's."""
    dtype = model_float(dtype, anchor)
    if x.is_complex() and not dtype.is_complex:
        x = torch.real(x)
    if dtype == torch.bool:
        return x != 0
    return x.to(dtype)


elementwise(cast)


@register_op("Cast")
def cast_op(node: OpNode) -> Value:
    dtype = node.attr_dtype("DstT")
    if not isinstance(dtype, torch.dtype):
        raise node.error(f"cannot cast to {node.attr('DstT')}")
    if dtype == torch.float32 and not isinstance(node.input(0), Static):
        # TF's float32 is the model's float type: float16 after ``model.half()`` (a folded
        # constant becomes a buffer, which ``model.to`` casts anyway)
        return node.call(cast, node.input(0), dtype, node.float_anchor())
    return node.call(cast, node.input(0), dtype)


def reshape_dynamic(x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    return x.reshape(_ints(shape))


@register_op("Reshape")
def reshape(node: OpNode) -> Value:
    shape = node.static_list(1)
    if shape is None:
        return node.call(reshape_dynamic, node.input(0), node.input(1))
    return node.call(torch.reshape, node.input(0), tuple(int(s) for s in shape))


@register_op("EnsureShape")
def ensure_shape(node: OpNode) -> Value:
    return node.input(0)


def expand_dims(x: torch.Tensor, axis: int) -> torch.Tensor:
    return x.unsqueeze(axis if axis >= 0 else axis + x.dim() + 1)


def expand_dims_dynamic(x: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    return expand_dims(x, _ints(axis)[0])


@register_op("ExpandDims")
def expand_dims_op(node: OpNode) -> Value:
    axis = node.static_list(1)
    if axis is None:
        return node.call(expand_dims_dynamic, node.input(0), node.input(1))
    return node.call(expand_dims, node.input(0), int(axis[0]))


def squeeze(x: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    if not axes:
        return torch.squeeze(x)
    rank = x.dim()
    return torch.squeeze(x, tuple(a % rank for a in axes))


@register_op("Squeeze")
def squeeze_op(node: OpNode) -> Value:
    axes = node.attr_list("squeeze_dims") or node.attr_list("axis")
    return node.call(squeeze, node.input(0), [int(a) for a in axes])


def _torch_pad_order(paddings: Sequence[Sequence[int]]) -> List[int]:
    """[[before, after], ...] per axis → F.pad's flat list, last axis first."""
    flat: List[int] = []
    for before, after in reversed([tuple(p) for p in paddings]):
        flat.extend([int(before), int(after)])
    return flat


def pad_constant(x: torch.Tensor, pads: List[int], value: float) -> torch.Tensor:
    return F.pad(x, pads, mode="constant", value=value)


@layout_rewrite(pad_constant)
def _pad_constant_nchw(args: tuple, rank: int, nchw) -> Optional[tuple]:  # type: ignore[no-untyped-def]
    """F.pad pads run last axis first: NHWC (C, W, H, N) → NCHW (W, H, C, N)."""
    if nchw(args[0]) is None or not isinstance(args[1], (list, tuple)):
        return None
    pads = list(args[1])
    if len(pads) % 2 or len(pads) > 2 * rank:
        return None
    pairs = [pads[i:i + 2] for i in range(0, len(pads), 2)] + [[0, 0]] * (rank - len(pads) // 2)
    reordered = pairs[1:rank - 1] + [pairs[0], pairs[rank - 1]]
    return (nchw(args[0]), [p for pair in reordered for p in pair]) + tuple(args[2:]), True


def pad_constant_tensor_value(x: torch.Tensor, pads: List[int], value: torch.Tensor) -> torch.Tensor:
    return F.pad(x, pads, mode="constant", value=float(value.item()))


def pad_dynamic(x: torch.Tensor, paddings: torch.Tensor, value: float) -> torch.Tensor:
    return F.pad(x, _torch_pad_order(paddings.reshape(-1, 2).tolist()), mode="constant", value=value)


@register_op("Pad", "PadV2")
def pad(node: OpNode) -> Value:
    value: object = 0.0
    if node.op == "PadV2" and node.num_inputs > 2:
        static = node.static(2)
        value = float(np.asarray(static).reshape(-1)[0]) if static is not None else node.input(2)
    paddings = node.static(1)
    if paddings is None:
        if not isinstance(value, float):
            raise node.error("dynamic paddings with a dynamic constant value are not supported")
        return node.call(pad_dynamic, node.input(0), node.input(1), value)
    pads = _torch_pad_order(np.asarray(paddings).reshape(-1, 2).tolist())
    if isinstance(value, float):
        return node.call(pad_constant, node.input(0), pads, value)
    return node.call(pad_constant_tensor_value, node.input(0), pads, value)


@register_op("MirrorPad")
def mirror_pad_op(node: OpNode) -> Value:
    paddings = node.static(1)
    if paddings is None:
        raise node.error("MirrorPad needs constant paddings")
    mode = node.attr_str("mode", "reflect")
    if mode not in ("reflect", "symmetric"):
        raise node.error(f"unknown mode {mode!r}")
    pads = [[int(a), int(b)] for a, b in np.asarray(paddings).reshape(-1, 2).tolist()]
    return node.call(mirror_pad, node.input(0), pads, mode == "symmetric")


def space_to_batch_nd(x: torch.Tensor, block: List[int], paddings: List[List[int]]) -> torch.Tensor:
    """TF SpaceToBatchND: pad the M block dims, split each into (out, block), move the blocks
    to the batch dimension (block offsets major, original batch minor)."""
    m = len(block)
    pads = _torch_pad_order([[0, 0]] + paddings + [[0, 0]] * (x.dim() - 1 - m))
    x = F.pad(x, pads)
    n = x.shape[0]
    spatial = list(x.shape[1:1 + m])
    rest = list(x.shape[1 + m:])
    shape = [n]
    for s, b in zip(spatial, block):
        shape += [s // b, b]
    x = x.reshape(shape + rest)
    # (n, o1, b1, o2, b2, ..., rest) → (b1, b2, ..., n, o1, o2, ..., rest)
    block_axes = [2 + 2 * i for i in range(m)]
    out_axes = [1 + 2 * i for i in range(m)]
    perm = block_axes + [0] + out_axes + list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    x = x.permute(perm)
    return x.reshape([n * int(np.prod(block))] + [s // b for s, b in zip(spatial, block)] + rest)


def batch_to_space_nd(x: torch.Tensor, block: List[int], crops: List[List[int]]) -> torch.Tensor:
    """Inverse of SpaceToBatchND, then crop."""
    m = len(block)
    prod = int(np.prod(block))
    n = x.shape[0] // prod
    spatial = list(x.shape[1:1 + m])
    rest = list(x.shape[1 + m:])
    x = x.reshape(list(block) + [n] + spatial + rest)
    # (b1..bm, n, s1..sm, rest) → (n, s1, b1, s2, b2, ..., rest)
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
    x = x.permute(perm).reshape([n] + [s * b for s, b in zip(spatial, block)] + rest)
    for i, (start, end) in enumerate(crops):
        size = x.shape[1 + i]
        x = x.narrow(1 + i, start, size - start - end)
    return x


def pairs(value: Any) -> List[List[int]]:
    """An ``[M, 2]`` paddings / crops argument (a tensor computed at run time, or a list) as
    ``[[before, after], ...]`` of Python ints."""
    flat = _ints(value) if isinstance(value, torch.Tensor) else \
        [int(v) for v in np.asarray(value).reshape(-1).tolist()]
    return [flat[i:i + 2] for i in range(0, len(flat), 2)]


def space_to_batch_nd_dynamic(x: torch.Tensor, block: Any, paddings: Any) -> torch.Tensor:
    """SpaceToBatchND whose block shape or paddings are computed in the graph (TF computes the
    paddings of a dilated conv from the input's shape when H/W are unknown at export)."""
    sizes = _ints(block) if isinstance(block, torch.Tensor) else [int(b) for b in block]
    return space_to_batch_nd(x, sizes, pairs(paddings))


def batch_to_space_nd_dynamic(x: torch.Tensor, block: Any, crops: Any) -> torch.Tensor:
    """BatchToSpaceND whose block shape or crops are computed in the graph."""
    sizes = _ints(block) if isinstance(block, torch.Tensor) else [int(b) for b in block]
    return batch_to_space_nd(x, sizes, pairs(crops))


def _block_arg(node: OpNode) -> Any:
    block = node.static_list(1)
    return node.input(1) if block is None else [int(b) for b in block]


@register_op("SpaceToBatchND")
def space_to_batch_op(node: OpNode) -> Value:
    block, paddings = _block_arg(node), node.static(2)
    if isinstance(block, list) and paddings is not None:
        return node.call(space_to_batch_nd, node.input(0), block, pairs(paddings))
    return node.call(space_to_batch_nd_dynamic, node.input(0), block, node.input(2))


@register_op("BatchToSpaceND")
def batch_to_space_op(node: OpNode) -> Value:
    block, crops = _block_arg(node), node.static(2)
    if isinstance(block, list) and crops is not None:
        return node.call(batch_to_space_nd, node.input(0), block, pairs(crops))
    return node.call(batch_to_space_nd_dynamic, node.input(0), block, node.input(2))


def depth_to_space_nhwc(x: torch.Tensor, block: int) -> torch.Tensor:
    n, h, w, c = x.shape
    x = x.reshape(n, h, w, block, block, c // (block * block))
    return x.permute(0, 1, 3, 2, 4, 5).reshape(n, h * block, w * block, c // (block * block))


def depth_to_space_nchw(x: torch.Tensor, block: int) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.reshape(n, block, block, c // (block * block), h, w)
    return x.permute(0, 3, 4, 1, 5, 2).reshape(n, c // (block * block), h * block, w * block)


@register_op("DepthToSpace")
def depth_to_space(node: OpNode) -> Value:
    block = node.attr_int("block_size")
    fmt = node.attr_str("data_format", "nhwc")
    if not block or block < 2:
        raise node.error(f"block_size must be >= 2, got {block}")
    fn = depth_to_space_nhwc if fmt == "nhwc" else depth_to_space_nchw
    if fmt not in ("nhwc", "nchw"):
        raise node.error(f"unsupported data_format {fmt!r}")
    return node.call(fn, node.input(0), block)


def broadcast_to(x: torch.Tensor, shape: List[int]) -> torch.Tensor:
    return torch.broadcast_to(x, shape)


def broadcast_to_dynamic(x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    return torch.broadcast_to(x, _ints(shape))


@register_op("BroadcastTo")
def broadcast_to_op(node: OpNode) -> Value:
    shape = node.static_list(1)
    if shape is None:
        return node.call(broadcast_to_dynamic, node.input(0), node.input(1))
    return node.call(broadcast_to, node.input(0), [int(s) for s in shape])


def broadcast_args(s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
    shape = torch.broadcast_shapes(tuple(_ints(s0)), tuple(_ints(s1)))
    return torch.tensor(list(shape), dtype=torch.int32)


@register_op("BroadcastArgs")
def broadcast_args_op(node: OpNode) -> Value:
    return node.call(broadcast_args, node.input(0), node.input(1))
