"""Recognised TF lowerings of Keras layers, replaced by the torch op they compute.

Runs after :mod:`~torch_tfjs.graph.simplify` (whose shape specs it matches).

- LayerNormalization over trailing axes: Keras (2.4+) reshapes ``x`` to ``[1, rows, cols, 1]``
  and runs a training-mode ``FusedBatchNorm`` (data_format NCHW, ``scale`` = ones, ``offset`` =
  zeros, empty moments) so that each row is normalised, then reshapes back and applies gamma and
  beta. That is :func:`torch.nn.functional.layer_norm` over ``x.shape[k:]`` without affine
  weights: one kernel instead of about fifteen.
- Dilated convolution through SpaceToBatchND: ``tf.nn.depthwise_conv2d`` / ``atrous_conv2d`` /
  Keras ``DepthwiseConv2D(dilation_rate=r)`` run ``SpaceToBatchND(x, r, paddings)`` → a
  stride-1 VALID conv (possibly fused with bias, batch norm, activation) → ``BatchToSpaceND(r,
  crops)``; with H/W unknown at export, paddings and crops are computed from the input's shape
  at run time. The chain is one conv with dilation r and padding ``paddings - crops``
  (:func:`~torch_tfjs.graph.ops.convolution.space_to_batch_pads`): one kernel instead of two
  reshuffles around a conv on a batch r² times larger.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from .layout import get_attr_tensor
from .ops.convolution import conv_nd, fused_conv_nd, space_to_batch_conv, space_to_batch_pads
from .ops.normalization import fused_batch_norm
from .ops.transformation import (batch_to_space_nd, batch_to_space_nd_dynamic, space_to_batch_nd,
                                 space_to_batch_nd_dynamic)
from .simplify import fill_to_spec, reshape_to_spec


def layer_norm_trailing(x: torch.Tensor, first_axis: int, epsilon: float) -> torch.Tensor:
    """Normalise over the axes from ``first_axis`` on (biased variance, no affine weights)."""
    return F.layer_norm(x, x.shape[first_axis:], None, None, epsilon)


def fold_idioms(graph: fx.Graph, root: torch.nn.Module) -> None:
    """Rewrite ``graph`` in place (see the module docstring)."""
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is fused_batch_norm:
            _fold_layer_norm(graph, node, root)
        elif node.op == "call_function" and node.target in (batch_to_space_nd, batch_to_space_nd_dynamic):
            _fold_space_to_batch_conv(graph, node, root)


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


def _per_channel(bias: Any, root: torch.nn.Module) -> bool:
    """Whether a conv's bias is absent or constant along everything but the channel axis (a
    vector or a ``[1, 1, 1, C]`` fold): only then does it commute with BatchToSpaceND. A bias
    computed in the graph (a residual branch fused as the bias) lives in the space-to-batch
    domain and keeps the chain as it is."""
    if bias is None:
        return True
    tensor = get_attr_tensor(bias, root)
    return tensor is not None and (tensor.dim() <= 1 or tensor.numel() == tensor.shape[-1])


def _fold_space_to_batch_conv(graph: fx.Graph, b2s: fx.Node, root: torch.nn.Module) -> None:
    """``batch_to_space(conv(space_to_batch(x, block, paddings)), block, crops)`` → one
    dilated conv (see the module docstring). Only a stride-1, dilation-1, VALID, channels-last
    2-D conv whose input and output have no other reader qualifies."""
    conv, block, crops = b2s.args
    if b2s.kwargs or not isinstance(conv, fx.Node) or conv.op != "call_function" \
            or conv.target not in (conv_nd, fused_conv_nd) or conv.kwargs or len(conv.users) != 1:
        return
    s2b, w, bias, rank, strides, padding, _, dilations, groups, channels_last = conv.args[:10]
    if not (rank == 2 and list(strides) == [1, 1] and padding == "valid" and list(dilations) == [1, 1]
            and channels_last is True):
        return
    if not (isinstance(s2b, fx.Node) and s2b.op == "call_function" and not s2b.kwargs
            and s2b.target in (space_to_batch_nd, space_to_batch_nd_dynamic) and len(s2b.users) == 1):
        return
    x, s2b_block, paddings = s2b.args
    if not (isinstance(block, list) and len(block) == 2 and s2b_block == block):
        return
    if not _per_channel(bias, root):
        return
    # batch_norm, epsilon, activation, alpha, bias_channels_last
    fused = conv.args[10:] if conv.target is fused_conv_nd else (None, 0.0, "", None, True)
    static = not isinstance(paddings, fx.Node) and not isinstance(crops, fx.Node)
    with graph.inserting_before(b2s):
        pads = space_to_batch_pads(paddings, crops) if static else None
        if pads is not None and all(b >= 0 and a >= 0 for b, a in pads):
            # known paddings: the plain conv call, which the layout pass optimises further
            new = graph.call_function(fused_conv_nd, (x, w, bias, 2, [1, 1], "explicit", pads,
                                                      list(block), groups, True, *fused))
        else:
            new = graph.call_function(space_to_batch_conv, (x, w, bias, paddings, crops,
                                                            list(block), groups, *fused))
    b2s.replace_all_uses_with(new)
    graph.erase_node(b2s)
    graph.erase_node(conv)
    graph.erase_node(s2b)
