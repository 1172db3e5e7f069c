"""Logical ops (tfjs op list ``logical``): Equal, NotEqual, Greater, GreaterEqual, Less,
LessEqual, LogicalAnd, LogicalNot, LogicalOr, Select, SelectV2, BitwiseAnd."""

from __future__ import annotations

from typing import Callable, Dict

import torch

from ..node import OpNode, Value
from ..registry import register_op

_BINARY: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Equal": torch.eq, "NotEqual": torch.ne, "Greater": torch.gt, "GreaterEqual": torch.ge,
    "Less": torch.lt, "LessEqual": torch.le, "LogicalAnd": torch.logical_and,
    "LogicalOr": torch.logical_or, "BitwiseAnd": torch.bitwise_and,
}


@register_op(*_BINARY)
def binary(node: OpNode) -> Value:
    return node.call(_BINARY[node.op], node.input(0), node.input(1))


@register_op("LogicalNot")
def logical_not(node: OpNode) -> Value:
    return node.call(torch.logical_not, node.input(0))


def select(cond: torch.Tensor, t: torch.Tensor, e: torch.Tensor, rows: bool) -> torch.Tensor:
    """SelectV2 broadcasts; v1 Select (``rows``) with a 1-D ``cond`` and higher-rank branches
    picks whole rows along axis 0 instead."""
    cond = cond.bool()
    if rows and cond.dim() == 1 and t.dim() > 1:
        cond = cond.reshape([-1] + [1] * (t.dim() - 1))
    return torch.where(cond, t, e)


@register_op("Select", "SelectV2")
def select_op(node: OpNode) -> Value:
    return node.call(select, node.input(0), node.input(1), node.input(2), node.op == "Select")
