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
- Conv epilogues written as separate ops (graphs converted from other frameworks, or not fused
  by grappler): ``Conv2D → Add(per-channel constant)`` is the conv with that bias, and a chain
  of ``Relu`` / ``Relu6`` / ``Minimum`` / ``Maximum`` with scalar float constants
  (``Relu → Minimum(6) → Maximum(0)``) is one clamp, fused into the conv as its ReLU / ReLU6
  where it reads one. Same numbers (NaN included); one kernel instead of up to five, each a
  pass over the whole activation. ``Mul(x, s) → Add(t)`` with 0-D / 1-D float constants (a
  BatchNormalization left as two ops) is one ``addcmul``.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from ..activations import relu6
from .layout import get_attr_tensor
from .ops.arithmetic import add, maximum, minimum, mul
from .ops.convolution import conv_nd, fused_conv_nd, space_to_batch_conv, space_to_batch_pads
from .ops.normalization import fused_batch_norm
from .ops.transformation import (batch_to_space_nd, batch_to_space_nd_dynamic, space_to_batch_nd,
                                 space_to_batch_nd_dynamic)
from .registry import elementwise
from .simplify import fill_to_spec, reshape_to_spec


def layer_norm_trailing(x: torch.Tensor, first_axis: int, epsilon: float) -> torch.Tensor:
    """Normalise over the axes from ``first_axis`` on (biased variance, no affine weights)."""
    return F.layer_norm(x, x.shape[first_axis:], None, None, epsilon)


def clamp_between(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """``min(max(x, low), high)`` (either bound may be infinite), NaN kept."""
    if low == -math.inf:
        return torch.clamp(x, max=high)
    if high == math.inf:
        return torch.clamp(x, min=low)
    return torch.clamp(x, low, high)


def scale_shift(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``x * scale + shift`` in one kernel (rounded as the two ops are: product, then sum)."""
    return torch.addcmul(shift, x, scale)


elementwise(clamp_between, scale_shift)  # the layout pass moves axis views through them


def fold_idioms(graph: fx.Graph, root: torch.nn.Module) -> None:
    """Rewrite ``graph`` in place (see the module docstring)."""
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is fused_batch_norm:
            _fold_layer_norm(graph, node, root)
        elif node.op == "call_function" and node.target in (batch_to_space_nd, batch_to_space_nd_dynamic):
            _fold_space_to_batch_conv(graph, node, root)
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is add:
            _fold_conv_bias(graph, node, root) or _fold_scale_shift(graph, node, root)
    for node in reversed(list(graph.nodes)):  # from the end of each chain
        if not getattr(node, "_erased", False) and node.op == "call_function" \
                and _clamp_step(node, root) is not None:
            _fold_clamp_chain(graph, node, root)


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


def _scalar_float(node: Any, root: torch.nn.Module) -> Any:
    """The value of a one-element floating-point constant, else None."""
    tensor = get_attr_tensor(node, root)
    if tensor is None or tensor.numel() != 1 or not tensor.is_floating_point():
        return None
    return float(tensor.detach().reshape(()))


def _clamp_step(node: fx.Node, root: torch.nn.Module) -> Any:
    """``(input, low, high)`` when ``node`` clamps one float tensor between constants, else None."""
    if node.kwargs:
        return None
    if node.target in (torch.relu, relu6) and len(node.args) == 1 and isinstance(node.args[0], fx.Node):
        return node.args[0], 0.0, (6.0 if node.target is relu6 else math.inf)
    if node.target in (minimum, maximum) and len(node.args) == 2:
        for x, c in (node.args, node.args[::-1]):
            value = _scalar_float(c, root)
            if isinstance(x, fx.Node) and value is not None and get_attr_tensor(x, root) is None:
                return (x, -math.inf, value) if node.target is minimum else (x, value, math.inf)
    return None


def _fold_clamp_chain(graph: fx.Graph, last: fx.Node, root: torch.nn.Module) -> None:
    """Merge ``last`` with the clamp steps before it that nothing else reads, into one clamp
    (or the ReLU / ReLU6 of the linear conv it reads). ``last`` ends its chain: a node whose
    one reader is another clamp step is left to that reader."""
    readers = list(last.users)
    if not readers or (len(readers) == 1 and _clamp_step(readers[0], root) is not None):
        return
    steps = []  # last first
    node = last
    while True:
        step = _clamp_step(node, root)
        if step is None or (node is not last and len(node.users) != 1):
            break
        steps.append((node, step))
        node = step[0]
    source = steps[-1][1][0]
    fuse_into_conv = _linear_conv(source)
    # relu on an int tensor stays int; a float constant (TF: one dtype per op) or a conv output
    # says the chain is float, where clamp with float bounds keeps the dtype
    if not (fuse_into_conv or any(n.target in (minimum, maximum) for n, _ in steps)):
        return
    low, high = -math.inf, math.inf
    for _, (_, step_low, step_high) in reversed(steps):  # compose in execution order
        if step_low > high or step_high < low:
            return  # a constant result: not worth a special case
        low, high = max(low, step_low), min(high, step_high)
    conv_activation = {(0.0, math.inf): "relu", (0.0, 6.0): "relu6"}.get((low, high))
    fuse_into_conv = fuse_into_conv and conv_activation is not None
    if len(steps) == 1 and not fuse_into_conv:
        return  # already one op
    with graph.inserting_before(last):
        if fuse_into_conv:
            bias = source.args[2] if source.target is conv_nd else None
            new = graph.call_function(fused_conv_nd, _fused_args(source, bias, str(conv_activation)))
        else:
            new = graph.call_function(clamp_between, (source, low, high))
    last.replace_all_uses_with(new)
    for node, _ in steps:
        graph.erase_node(node)
    if fuse_into_conv:
        graph.erase_node(source)


def _linear_conv(node: fx.Node) -> bool:
    """A conv call with no activation whose one reader is the clamp chain."""
    if node.op != "call_function" or node.kwargs or len(node.users) != 1:
        return False
    if node.target is conv_nd:
        return len(node.args) == 10
    if node.target is fused_conv_nd:
        return len(node.args) == 15 and node.args[12] in ("", "linear", "identity")
    return False


def _fused_args(conv: fx.Node, bias: Any, activation: str) -> tuple:
    """``fused_conv_nd`` arguments for ``conv`` (a conv_nd or a linear fused_conv_nd) with
    ``activation``; a conv_nd's ``bias`` (a per-channel vector) added as the fused bias."""
    if conv.target is fused_conv_nd:
        args = list(conv.args)
        args[12] = activation
        return tuple(args)
    # conv_nd: (x, w, bias, rank, strides, padding, explicit, dilations, groups, channels_last)
    return (*conv.args[:2], bias, *conv.args[3:10], None, 0.0, activation, None, True)


def _fold_conv_bias(graph: fx.Graph, node: fx.Node, root: torch.nn.Module) -> bool:
    """``add(conv_nd(x, w, None, ...), c)`` with ``c`` a float constant along the channel axis
    only (``[C]`` or ``[1, ..., 1, C]``) → the conv with bias ``c``."""
    if node.kwargs or len(node.args) != 2:
        return False
    for conv, bias in (node.args, node.args[::-1]):
        if not (isinstance(conv, fx.Node) and conv.op == "call_function" and conv.target is conv_nd
                and not conv.kwargs and len(conv.args) == 10 and conv.args[2] is None
                and conv.args[9] is True and len(conv.users) == 1):
            continue
        tensor = get_attr_tensor(bias, root)
        weight = get_attr_tensor(conv.args[1], root)
        if tensor is None or weight is None or not tensor.is_floating_point() or tensor.dtype != weight.dtype:
            continue
        channels = weight.shape[0]  # torch layout (out, in / groups, *spatial)
        if tensor.dim() > conv.args[3] + 2 or tensor.numel() != channels or tensor.shape[-1] != channels:
            continue
        with graph.inserting_before(node):
            new = graph.call_function(fused_conv_nd, _fused_args(conv, bias, ""))
        node.replace_all_uses_with(new)
        graph.erase_node(node)
        graph.erase_node(conv)
        return True
    return False


def _fold_scale_shift(graph: fx.Graph, node: fx.Node, root: torch.nn.Module) -> bool:
    """``add(mul(x, s), t)`` (either operand order) with ``s`` and ``t`` float constants of one
    dtype (TF gives the Mul and Add one dtype, so ``x``'s too) and at most one dimension (a
    BatchNorm left as Mul + Add) → :func:`scale_shift`, which broadcasts all three as the two
    ops do."""
    if node.kwargs or len(node.args) != 2:
        return False
    for product, shift in (node.args, node.args[::-1]):
        if not (isinstance(product, fx.Node) and product.op == "call_function" and product.target is mul
                and not product.kwargs and len(product.args) == 2 and len(product.users) == 1):
            continue
        shift_tensor = get_attr_tensor(shift, root)
        for x, scale in (product.args, product.args[::-1]):
            scale_tensor = get_attr_tensor(scale, root)
            if not isinstance(x, fx.Node) or get_attr_tensor(x, root) is not None or scale_tensor is None \
                    or shift_tensor is None:
                continue
            if not (scale_tensor.is_floating_point() and shift_tensor.dtype == scale_tensor.dtype
                    and scale_tensor.dim() <= 1 and shift_tensor.dim() <= 1):
                continue
            with graph.inserting_before(node):
                new = graph.call_function(scale_shift, (x, scale, shift))
            node.replace_all_uses_with(new)
            graph.erase_node(node)
            graph.erase_node(product)
            return True
    return False
