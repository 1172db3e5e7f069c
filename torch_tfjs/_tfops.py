"""Pure tensor functions with TensorFlow op semantics, shared by the GraphModel importer and the
LayersModel op layers (tf.keras ``TensorFlowOpLayer``), which must not import each other.

- :func:`strided_slice_index` / :func:`strided_slice`: TF ``StridedSlice`` masks as a Python index.
- :func:`mirror_pad`: TF ``MirrorPad`` (REFLECT / SYMMETRIC).
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import torch


def strided_slice_index(begin: Sequence[int], end: Sequence[int], strides: Sequence[int],
                        begin_mask: int, end_mask: int, ellipsis_mask: int, new_axis_mask: int,
                        shrink_axis_mask: int) -> List[Any]:
    """A TF StridedSlice spec as a Python index (ints, slices, None, Ellipsis).

    Negative strides stay in the slices; :func:`strided_slice` applies them with flips because
    torch indexing only takes positive steps.
    """
    index: List[Any] = []
    seen_ellipsis = False
    for i in range(len(begin)):
        bit = 1 << i
        if ellipsis_mask & bit:
            if not seen_ellipsis:
                index.append(Ellipsis)
                seen_ellipsis = True
            continue
        if new_axis_mask & bit:
            index.append(None)
            continue
        stride = int(strides[i]) if i < len(strides) else 1
        if stride == 0:
            raise ValueError("StridedSlice stride 0")
        if shrink_axis_mask & bit:
            # TF: a masked begin is the first element in stride direction
            index.append((0 if stride > 0 else -1) if begin_mask & bit else int(begin[i]))
            continue
        b = None if begin_mask & bit else int(begin[i])
        e = None if end_mask & bit else int(end[i])
        index.append(slice(b, e, stride))
    return index


def strided_slice(x: torch.Tensor, index: List[Any]) -> torch.Tensor:
    """``x[index]`` with numpy semantics, negative steps included."""
    if not any(isinstance(i, slice) and i.step is not None and i.step < 0 for i in index):
        return x[tuple(i if not isinstance(i, slice) or i.step != 1 else slice(i.start, i.stop)
                       for i in index)]
    # Resolve the axis each index entry refers to, then apply negative steps one axis at a time.
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    axis = 0
    positive: List[Any] = []
    flips: List[Tuple[int, slice]] = []
    for i in index:
        if i is Ellipsis:
            skip = x.dim() - n_real
            positive.append(Ellipsis)
            axis += skip
        elif i is None:
            positive.append(None)
        else:
            if isinstance(i, slice) and i.step is not None and i.step < 0:
                flips.append((axis, i))
                positive.append(slice(None))
            else:
                positive.append(i)
            axis += 1
    for ax, sl in flips:
        size = x.shape[ax]
        start, stop, step = sl.indices(size)
        count = len(range(start, stop, step))
        if count <= 0:
            x = x.narrow(ax, 0, 0)
            continue
        flipped = x.flip(ax)
        first = size - 1 - start
        x = flipped.narrow(ax, first, (count - 1) * -step + 1)[(slice(None),) * ax + (slice(None, None, -step),)]
    return x[tuple(positive)]


def mirror_indices(size: int, before: int, after: int, symmetric: bool) -> List[int]:
    """Source index of every output position along one axis (TF MirrorPad)."""
    out = []
    for i in range(-before, size + after):
        j = i
        if symmetric:
            while j < 0 or j >= size:
                j = -j - 1 if j < 0 else 2 * size - j - 1
        else:
            while j < 0 or j >= size:
                j = -j if j < 0 else 2 * size - j - 2
        out.append(j)
    return out


def mirror_pad(x: torch.Tensor, paddings: List[List[int]], symmetric: bool) -> torch.Tensor:
    for axis, (before, after) in enumerate(paddings):
        if before == 0 and after == 0:
            continue
        idx = torch.tensor(mirror_indices(x.shape[axis], before, after, symmetric), device=x.device)
        x = torch.index_select(x, axis, idx)
    return x
