"""Recognised TF lowerings of Keras layers, replaced by the torch op they compute.

Runs after :mod:`~torch_tfjs.graph.simplify` (whose shape specs it matches).

- LayerNormalization over trailing axes: Keras (2.4+) reshapes ``x`` to ``[1, rows, cols, 1]``
  and runs a training-mode ``FusedBatchNorm`` (data_format NCHW, ``scale`` = ones, ``offset`` =
  zeros, empty moments) so that each row is normalised, then reshapes back and applies gamma and
  beta. That is :func:`torch.nn.functional.layer_norm` over ``x.shape[k:]`` without affine
  weights: one kernel instead of about fifteen.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from .layout import get_attr_tensor
from .ops.normalization import fused_batch_norm
from .simplify import fill_to_spec, reshape_to_spec


def layer_norm_trailing(x: torch.Tensor, first_axis: int, epsilon: float) -> torch.Tensor:
    """Normalise over the axes from ``first_axis`` on (biased variance, no affine weights)."""
    return F.layer_norm(x, x.shape[first_axis:], None, None, epsilon)


def fold_idioms(graph: fx.Graph, root: torch.nn.Module) -> None:
    """Rewrite ``graph`` in place (see the module docstring)."""
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is fused_batch_norm:
            _fold_layer_norm(graph, node, root)


def _fill_of(node: Any, value: float, x: fx.Node, rows: tuple, root: torch.nn.Module) -> bool:
    """``node`` is ``fill_to_spec(value, [x], (rows,))``."""
    if not (isinstance(node, fx.Node) and node.op == "call_function" and node.target is fill_to_spec):
        return False
    const = get_attr_tensor(node.args[0], root)
    return const is not None and const.numel() == 1 and float(const.detach()) == value \
        and list(node.args[1]) == [x] and tuple(node.args[2]) == (rows,)


def _fold_layer_norm(graph: fx.Graph, bn: fx.Node, root: torch.nn.Module) -> None:
    if len(bn.args) != 7 or bn.kwargs or bn.args[6] != 1:
        return
    flat, scale, offset, mean, variance, epsilon, _ = bn.args
    if not (isinstance(flat, fx.Node) and flat.target is reshape_to_spec and len(flat.users) == 1):
        return
    x, sources, spec = flat.args
    if not isinstance(x, fx.Node) or list(sources) != [x] or len(spec) != 4 or spec[0] != 1 or spec[3] != 1:
        return
    rows, cols = spec[1], spec[2]
    if not (isinstance(rows, tuple) and isinstance(cols, tuple) and len(rows) == 2 and len(cols) == 2
            and rows[0] == cols[0] == "mul" and rows[1][:3] == ("dims", 0, 0) and cols[1][:2] == ("dims", 0)
            and cols[1][3] is None and rows[1][3] == cols[1][2] and isinstance(cols[1][2], int)):
        return
    first_axis = cols[1][2]
    moments = [get_attr_tensor(mean, root), get_attr_tensor(variance, root)]
    if any(m is None or m.numel() != 0 for m in moments):
        return
    if not (_fill_of(scale, 1.0, x, rows, root) and _fill_of(offset, 0.0, x, rows, root)):
        return
    outputs = [u for u in bn.users if u.target is operator.getitem and u.args[1] == 0]
    if any(u.target is not operator.getitem or (u.args[1] != 0 and u.users) for u in bn.users) \
            or len(outputs) != 1:
        return
    back = list(outputs[0].users)
    if not all(u.target is reshape_to_spec and list(u.args[1]) == [x] and tuple(u.args[2]) == (("dims", 0, 0, None),)
               for u in back):
        return
    with graph.inserting_before(bn):
        normed = graph.call_function(layer_norm_trailing, (x, first_axis, epsilon))
    for u in back:
        u.replace_all_uses_with(normed)
        graph.erase_node(u)
    for u in list(bn.users):
        graph.erase_node(u)
    graph.erase_node(bn)
    for n in (flat, scale, offset):
        if not n.users:
            graph.erase_node(n)
