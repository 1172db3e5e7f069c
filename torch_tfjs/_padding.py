"""TensorFlow "SAME" / "VALID" / explicit padding, solved once for layers and graph ops, and the
TF-semantics convolution and pooling calls built on it (channels-first tensors).

TF pads SAME so that ``out = ceil(in / stride)``; when the total padding is odd the extra cell
goes *after* (bottom/right). torch convolutions only pad symmetrically, so an odd split becomes
an explicit ``F.pad`` before the op.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F


def static_shape(tensor: torch.Tensor) -> Tuple[int, ...]:
    """The sizes of a tensor whose shape is fixed for the model (weights, constants) as Python
    ints, also while ``torch.jit.trace`` records: the tracer otherwise hands out sizes as traced
    tensors, so arithmetic on them (padding from a kernel's size) lands in the TorchScript graph
    and Python comparisons on them raise TracerWarnings. Not for inputs, whose sizes may vary."""
    if not torch.jit.is_tracing():  # also what Dynamo / torch.export see
        return tuple(tensor.shape)
    state = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)  # read the sizes untraced, then resume recording
    try:
        return tuple(int(d) for d in tensor.shape)
    finally:
        torch._C._set_tracing_state(state)


_SPECIALIZED = threading.local()


@contextlib.contextmanager
def shape_specialized_trace() -> Iterator[None]:
    """Within the block, a ``torch.jit.trace`` records SAME padding for the example's sizes
    (plain ints: a ``conv`` with padding, or one constant ``F.pad``) instead of size arithmetic
    that holds for every size. For programs traced once per input shape (``backend="onednn"``):
    oneDNN Graph cannot fuse the arithmetic on traced sizes, and TorchScript cannot fold it."""
    saved = getattr(_SPECIALIZED, "on", False)
    _SPECIALIZED.on = True
    try:
        yield
    finally:
        _SPECIALIZED.on = saved


def spatial_sizes(x: torch.Tensor) -> Sequence[Any]:
    """``x.shape[2:]``: traced sizes in a trace, ints inside :func:`shape_specialized_trace`."""
    if getattr(_SPECIALIZED, "on", False):
        return static_shape(x)[2:]
    return x.shape[2:]


def same_pads(size: Any, kernel: int, stride: int, dilation: int = 1) -> Tuple[Any, Any]:
    """(before, after) padding of one spatial axis for TF SAME. ``size``: an int, a SymInt
    (``torch.export``) or a traced size (``torch.jit.trace``); ``kernel``, ``stride`` and
    ``dilation`` are ints. The pads are ints whenever they do not depend on ``size``."""
    effective = (kernel - 1) * dilation + 1
    if stride == 1:  # out == size, so total = effective - 1 whatever the size: plain ints
        return (effective - 1) // 2, (effective - 1) - (effective - 1) // 2
    # ceil(size / stride); not -(-size // stride): ONNX exports a symbolic floor division as
    # its truncating Div, wrong for the negative operand
    out = (size + stride - 1) // stride
    total = (out - 1) * stride + effective - size
    if isinstance(total, torch.Tensor):
        # a traced size: Python's max would compare it once (TracerWarning) and record either
        # a constant or the unclamped arithmetic; clamp keeps the trace right for every size
        total = total.clamp(min=0)
    else:
        total = max(total, 0)
    return total // 2, total - total // 2


def same_pads_nd(sizes: Sequence[int], kernels: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int]) -> List[Tuple[int, int]]:
    return [same_pads(s, k, st, d) for s, k, st, d in zip(sizes, kernels, strides, dilations)]


def split_symmetric(pads: Sequence[Tuple[int, int]]) -> Tuple[List[int], List[int]]:
    """Split per-axis (before, after) pads into a symmetric part torch ops take as ``padding``
    and the remainder for ``F.pad`` (in F.pad order: last axis first).

    Returns ``(symmetric, f_pad)``; ``f_pad`` is all zeros when no explicit pad is needed.
    Symbolic sizes (``torch.export`` with dynamic shapes) put every pad in ``f_pad``: one
    branch-free program for all sizes, not one guarded on the split of the example's size.
    """
    if any(not isinstance(v, int) for pair in pads for v in pair):
        return [0] * len(pads), [v for b, a in reversed(list(pads)) for v in (b, a)]
    symmetric = [min(b, a) for b, a in pads]
    f_pad: List[int] = []
    for (b, a), s in reversed(list(zip(pads, symmetric))):
        f_pad.extend([b - s, a - s])
    return symmetric, f_pad


def needs_pad(f_pad: Sequence[Any]) -> bool:
    """Whether ``split_symmetric``'s ``f_pad`` must be applied (always, when symbolic)."""
    return any(not isinstance(v, int) or v for v in f_pad)


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return (size + stride - 1) // stride
    return max(math.floor((size - effective) / stride) + 1, 0)


def same_plan(sizes: Sequence[Any], kernels: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int]) -> Tuple[Sequence[Any], Sequence[Any], bool]:
    """TF SAME for ``sizes``: ``(symmetric, f_pad, needs_pad)`` as :func:`split_symmetric` and
    :func:`needs_pad` give them. Worked out once per shape when the sizes are plain ints (eager
    calls: a conv or pool asks this on every call), anew for traced or symbolic sizes and
    under Dynamo (which would warn about the cache and trace through it anyway)."""
    if not torch.compiler.is_compiling() and all(type(size) is int for size in sizes):
        return _same_plan_for(tuple(sizes), tuple(kernels), tuple(strides), tuple(dilations))
    symmetric, f_pad = split_symmetric(same_pads_nd(sizes, kernels, strides, dilations))
    return symmetric, f_pad, needs_pad(f_pad)


@functools.lru_cache(maxsize=4096)
def _same_plan_for(sizes: Tuple[int, ...], kernels: Tuple[int, ...], strides: Tuple[int, ...],
                   dilations: Tuple[int, ...]) -> Tuple[Tuple[int, ...], Tuple[int, ...], bool]:
    symmetric, f_pad = split_symmetric(same_pads_nd(sizes, kernels, strides, dilations))
    return tuple(symmetric), tuple(f_pad), needs_pad(f_pad)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def tf_conv(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], rank: int,
            strides: Sequence[int], padding: str, dilation: Sequence[int], groups: int = 1) -> torch.Tensor:
    """A TF-semantics convolution on a channels-first tensor (padding valid / same / causal)."""
    pad: Any = 0
    if padding == "same":
        symmetric, extra, padded = same_plan(spatial_sizes(x), static_shape(weight)[2:], strides,
                                             dilation)
        if padded:
            x = F.pad(x, extra)
        pad = tuple(symmetric)
    elif padding == "causal":  # Conv1D only: all padding on the left
        x = F.pad(x, [dilation[0] * (static_shape(weight)[-1] - 1), 0])
    return _CONV[rank](x, weight, bias, tuple(strides), pad, tuple(dilation), groups)


_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def tf_max_pool(x: torch.Tensor, rank: int, kernel, strides, padding: str) -> torch.Tensor:
    """TF max pooling on a channels-first tensor."""
    pad = [0] * rank
    if padding == "same":
        pad, extra, padded = same_plan(spatial_sizes(x), kernel, strides, (1,) * rank)
        if padded:
            x = F.pad(x, extra, value=float("-inf"))
    return _MAX[rank](x, tuple(kernel), tuple(strides), tuple(pad))


def tf_avg_pool(x: torch.Tensor, rank: int, kernel, strides, padding: str) -> torch.Tensor:
    """TF average pooling on a channels-first tensor; padded cells are not counted."""
    if rank == 3 and x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16):
        # torch has no CPU avg_pool3d kernel for half types: pool in float32, round once.
        return tf_avg_pool(x.float(), rank, kernel, strides, padding).to(x.dtype)
    if padding != "same":
        return _AVG[rank](x, tuple(kernel), tuple(strides))
    symmetric, extra, padded = same_plan(spatial_sizes(x), kernel, strides, (1,) * rank)
    # torch's avg_pool3d refuses an input smaller than the window even when its own padding
    # would cover it ("input image smaller than kernel size"); TF SAME allows it (found by the
    # tfjs sweep: AveragePooling3D pool 4 on a depth-2 input), so such inputs take the
    # explicit-padding path below, whose padded input always holds a whole window.
    fits = rank != 3 or all(size >= k for size, k in zip(x.shape[2:], kernel))
    if not padded and fits:
        return _AVG[rank](x, tuple(kernel), tuple(strides), tuple(symmetric), count_include_pad=False)
    full: List[int] = []
    for before, after in reversed(same_pads_nd(spatial_sizes(x), kernel, strides, [1] * rank)):
        full += [before, after]
    summed = _AVG[rank](F.pad(x, full), tuple(kernel), tuple(strides))
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    fraction = _AVG[rank](F.pad(ones, full), tuple(kernel), tuple(strides))
    return summed / fraction
