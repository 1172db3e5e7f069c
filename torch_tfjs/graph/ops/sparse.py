"""Sparse ops (tfjs op list ``sparse``): SparseFillEmptyRows, SparseReshape, SparseSegmentMean,
SparseSegmentSum. Sparse tensors arrive as (indices, values, dense_shape) triples."""

from __future__ import annotations

from typing import List, Tuple

import torch

from ..node import OpNode, Value
from ..registry import register_op


def sparse_fill_empty_rows(indices: torch.Tensor, values: torch.Tensor, dense_shape: torch.Tensor,
                           default: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """TF SparseFillEmptyRows: every empty row gets one entry (row, 0, ...) = default; output
    sorted by row with original order kept within a row."""
    idx = indices.long()
    n_rows = int(dense_shape[0])
    rows = idx[:, 0] if idx.numel() else torch.zeros(0, dtype=torch.long)
    counts = torch.bincount(rows, minlength=n_rows) if rows.numel() else torch.zeros(n_rows, dtype=torch.long)
    empty = counts == 0
    empty_rows = torch.nonzero(empty).reshape(-1)
    fill_idx = torch.zeros((empty_rows.numel(), idx.shape[1] if idx.dim() == 2 else dense_shape.numel()),
                           dtype=torch.long)
    fill_idx[:, 0] = empty_rows
    all_idx = torch.cat([idx.reshape(-1, fill_idx.shape[1]), fill_idx])
    all_val = torch.cat([values, default.reshape(1).to(values.dtype).expand(empty_rows.numel())])
    order = torch.sort(all_idx[:, 0], stable=True).indices
    out_idx = all_idx[order]
    # reverse_index_map: where each input entry went
    position = torch.empty_like(order)
    position[order] = torch.arange(order.numel())
    reverse = position[: idx.shape[0]] if idx.numel() else torch.zeros(0, dtype=torch.long)
    return out_idx.to(torch.int32), all_val[order], empty, reverse.to(torch.int32)


@register_op("SparseFillEmptyRows", output_args=("output_indices", "output_values",
                                                  "empty_row_indicator", "reverse_index_map"))
def sparse_fill_empty_rows_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(sparse_fill_empty_rows, *node.inputs[:4]), 4)


def sparse_reshape(indices: torch.Tensor, shape: torch.Tensor, new_shape: torch.Tensor
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    old = [int(s) for s in shape.tolist()]
    new = [int(s) for s in new_shape.tolist()]
    total = 1
    for s in old:
        total *= s
    if -1 in new:
        known = 1
        for s in new:
            if s != -1:
                known *= s
        new[new.index(-1)] = total // known if known else 0
    strides_old = [1] * len(old)
    for i in range(len(old) - 2, -1, -1):
        strides_old[i] = strides_old[i + 1] * old[i + 1]
    flat = (indices.long() * torch.tensor(strides_old, dtype=torch.long)).sum(dim=1)
    out = []
    for s in reversed(new):
        out.append(flat % s)
        flat = flat // s
    out_idx = torch.stack(list(reversed(out)), dim=1) if out else torch.zeros((indices.shape[0], 0), dtype=torch.long)
    return out_idx.to(torch.int32), torch.tensor(new, dtype=torch.int32)


@register_op("SparseReshape", output_args=("output_indices", "output_shape"))
def sparse_reshape_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(sparse_reshape, *node.inputs[:3]), 2)


def sparse_segment(data: torch.Tensor, indices: torch.Tensor, segment_ids: torch.Tensor, mean: bool) -> torch.Tensor:
    """TF SparseSegmentSum/Mean: out[s] = reduce(data[indices[k]] for segment_ids[k] == s); the
    number of segments is last id + 1 (ids are sorted)."""
    seg = segment_ids.long()
    n = int(seg[-1]) + 1 if seg.numel() else 0
    rows = data.index_select(0, indices.long())
    out = torch.zeros((n,) + tuple(data.shape[1:]), dtype=data.dtype, device=data.device)
    out = out.index_add(0, seg, rows)
    if mean:
        counts = torch.bincount(seg, minlength=n).clamp(min=1).to(data.dtype)
        out = out / counts.reshape((n,) + (1,) * (data.dim() - 1))
    return out


@register_op("SparseSegmentSum", "SparseSegmentMean")
def sparse_segment_op(node: OpNode) -> Value:
    return node.call(sparse_segment, node.input(0), node.input(1), node.input(2), node.op == "SparseSegmentMean")
