"""Evaluation ops (tfjs op list ``evaluation``): TopKV2, Unique, UniqueV2, LowerBound, UpperBound."""

from __future__ import annotations

from typing import List, Tuple

import torch

from ..node import OpNode, Value
from ..registry import register_op


def top_k(x: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Largest k along the last axis; equal values keep index order (stable), as TF."""
    values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
    return values[..., :k], indices[..., :k].to(torch.int32)


@register_op("TopKV2", output_args=("values", "indices"))
def top_k_op(node: OpNode) -> List[Value]:
    k = node.static_list(1)
    if k is None:  # k fed at run time (tfjs reads it from the tensor too)
        return node.outputs(node.call(_top_k_dynamic, node.input(0), node.input(1)), 2)
    return node.outputs(node.call(top_k, node.input(0), int(k[0])), 2)


def _top_k_dynamic(x: torch.Tensor, k: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    return top_k(x, int(k.reshape(-1)[0]))


def unique(x: torch.Tensor, axis: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """TF Unique: values in order of first occurrence and, per input element, its index in them."""
    axis = axis % max(x.dim(), 1)
    uniq, inverse = torch.unique(x, sorted=True, return_inverse=True, dim=axis if x.dim() > 1 else None)
    n = uniq.shape[axis] if x.dim() > 1 else uniq.shape[0]
    positions = torch.arange(inverse.shape[0], device=x.device)
    first = torch.full((n,), inverse.shape[0], dtype=torch.long, device=x.device)
    first = first.scatter_reduce(0, inverse, positions, reduce="amin")
    order = torch.argsort(first)
    rank = torch.argsort(order)
    values = uniq.index_select(axis if x.dim() > 1 else 0, order)
    return values, rank[inverse].to(torch.int32)


@register_op("Unique", output_args=("y", "idx"))
def unique_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(unique, node.input(0)), 2)


@register_op("UniqueV2", output_args=("y", "idx"))
def unique_v2_op(node: OpNode) -> List[Value]:
    axis = node.static_list(1)
    return node.outputs(node.call(unique, node.input(0), int(axis[0]) if axis else 0), 2)


def search_sorted(sorted_inputs: torch.Tensor, values: torch.Tensor, right: bool) -> torch.Tensor:
    return torch.searchsorted(sorted_inputs.contiguous(), values.contiguous(), right=right).to(torch.int32)


@register_op("LowerBound", "UpperBound")
def bound(node: OpNode) -> Value:
    return node.call(search_sorted, node.input(0), node.input(1), node.op == "UpperBound")
