"""Layout pass: run the inside of a channels-last graph on torch's NCHW view.

tfjs graphs are channels-last (NHWC). torch's convolutions take NCHW; a contiguous NHWC tensor
viewed with its channel axis moved to position 1 *is* an NCHW tensor in ``channels_last``
memory, so conv/pool runtime functions take a ``channels_last`` flag and move the axis on the
way in and out (:mod:`torch_tfjs._layout`: views, never copies).

Left like that, every conv sits between two axis moves, and ``conv → activation → add`` chains
are separated by them: eager mode pays two extra calls per conv, and ``torch.compile``'s
mkldnn fusions (conv + unary, conv + binary, which match adjacent ops only) never fire. This
pass rewrites the fx graph after import:

1. a call to a function with a ``channels_last`` flag (:data:`registry.CHANNELS_LAST_FLAGS`)
   becomes ``to_channels_first → fn(..., channels_last=False) → to_channels_last``;
2. ``to_channels_last`` moves forward through elementwise functions
   (:data:`registry.ELEMENTWISE_FNS`; constant operands are viewed to match) and through
   functions with a registered NCHW rewrite (:data:`registry.LAYOUT_REWRITES`: padding,
   reductions);
3. ``to_channels_first(to_channels_last(x))`` becomes ``x``.

What is left are axis moves at the graph's inputs and outputs and next to layout-sensitive ops
(reshapes, concatenations, ...). Values are unchanged: each rewrite is an identity of views.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, Optional, Set, Tuple

import torch
from torch import fx

from .._layout import to_channels_first, to_channels_last
from .registry import CHANNELS_LAST_FLAGS, ELEMENTWISE_FNS, LAYOUT_REWRITES

#: fx meta key: the rank of a node's (channels-last) tensor, known from the conv/pool producing it.
_RANK = "tfjs_channels_last_rank"


def channels_first_operand(value: torch.Tensor, rank: int) -> torch.Tensor:
    """A constant operand of an elementwise op, broadcast against a rank-``rank`` channels-last
    tensor, viewed to broadcast the same way against that tensor's NCHW view."""
    if value.dim() == 0:
        return value
    if value.dim() < rank:
        value = value.reshape((1,) * (rank - value.dim()) + tuple(value.shape))
    return value.movedim(-1, 1)


def optimize_layout(graph: fx.Graph, root: torch.nn.Module) -> None:
    """Rewrite ``graph`` in place (see the module docstring)."""
    _split_flagged_calls(graph)
    _sink_channels_last(graph, root)
    for node in reversed(list(graph.nodes)):  # axis moves nobody reads any more
        if node.op == "call_function" and node.target in (to_channels_first, to_channels_last) \
                and not node.users:
            graph.erase_node(node)


@functools.lru_cache(maxsize=None)
def _signature(fn: Callable) -> inspect.Signature:
    return inspect.signature(fn)


def _bind(fn: Callable, node: fx.Node) -> Optional[inspect.BoundArguments]:
    try:
        return _signature(fn).bind(*node.args, **node.kwargs)
    except (TypeError, ValueError):
        return None


def _follow_with_channels_last(graph: fx.Graph, node: fx.Node, rank: int) -> fx.Node:
    """Make ``node`` compute the NCHW view: ``to_channels_last(node)`` takes its place for every
    other user. Nodes are changed in place, not rebuilt (import time)."""
    with graph.inserting_after(node):
        out = graph.call_function(to_channels_last, (node,))
    out.meta[_RANK] = rank
    node.replace_all_uses_with(out, delete_user_cb=lambda user: user is not out)
    return out


def _split_flagged_calls(graph: fx.Graph) -> None:
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in CHANNELS_LAST_FLAGS:
            continue
        spec = CHANNELS_LAST_FLAGS[node.target]
        flag = spec.flag
        bound = _bind(node.target, node)
        if bound is None or bound.arguments.get(flag) is not True:
            continue
        first = spec.data or next(iter(bound.arguments))
        data = bound.arguments.get(first)
        rank = spec.rank if spec.rank is not None else bound.arguments.get("rank")
        if not isinstance(data, fx.Node) or not isinstance(rank, int):
            continue
        if isinstance(bound.arguments.get("alpha"), fx.Node):  # Prelu weights laid out for NHWC
            continue
        with graph.inserting_before(node):
            bound.arguments[first] = graph.call_function(to_channels_first, (data,))
        bound.arguments[flag] = False
        node.args, node.kwargs = tuple(bound.args), dict(bound.kwargs)
        _follow_with_channels_last(graph, node, rank + 2)


def _sink_channels_last(graph: fx.Graph, root: torch.nn.Module) -> None:
    # channels-last node → (its NCHW view node, rank)
    nchw: Dict[fx.Node, fx.Node] = {}

    def nchw_of(value: Any) -> Optional[fx.Node]:
        return nchw.get(value) if isinstance(value, fx.Node) else None

    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if node.target is to_channels_last and isinstance(node.args[0], fx.Node) and _RANK in node.meta:
            nchw[node] = node.args[0]
            continue
        if node.target is to_channels_first:
            source = node.args[0]
            if isinstance(source, fx.Node) and source in nchw:
                node.replace_all_uses_with(nchw[source])
                graph.erase_node(node)
            continue
        inputs = [a for a in node.all_input_nodes if a in nchw]  # (list arguments included)
        if not inputs:
            continue
        rank = inputs[0].meta[_RANK]
        if any(a.meta[_RANK] != rank for a in inputs):
            continue
        rewritten: Optional[Tuple[Tuple[Any, ...], bool]] = None
        if node.target in ELEMENTWISE_FNS and not node.kwargs:
            rewritten = _elementwise_nchw(graph, node, nchw, rank, root)
        elif node.target in LAYOUT_REWRITES and not node.kwargs:
            rewritten = LAYOUT_REWRITES[node.target](tuple(node.args), rank, nchw_of)
        if rewritten is None:
            continue
        node.args = tuple(rewritten[0])
        if rewritten[1]:  # still channels-last: its NCHW view is what the node now computes
            nchw[_follow_with_channels_last(graph, node, rank)] = node


def _elementwise_nchw(graph: fx.Graph, node: fx.Node, nchw: Dict[fx.Node, fx.Node], rank: int,
                      root: torch.nn.Module) -> Optional[tuple]:
    """The elementwise call's arguments on NCHW views, or None when an operand's shape is
    unknown."""
    args = []
    views: Set[fx.Node] = set()
    for a in node.args:
        if isinstance(a, fx.Node):
            if a in nchw:
                args.append(nchw[a])
                continue
            value = get_attr_tensor(a, root)
            if value is None or value.dim() > rank:
                return None
            if value.dim() == 0:
                args.append(a)
                continue
            with graph.inserting_before(node):
                view = graph.call_function(channels_first_operand, (a, rank))
            views.add(view)
            args.append(view)
        elif isinstance(a, (int, float, bool, str, torch.dtype)) or a is None:
            args.append(a)
        else:
            for view in views:
                graph.erase_node(view)
            return None
    return tuple(args), True


def get_attr_tensor(node: Any, root: torch.nn.Module) -> Optional[torch.Tensor]:
    """The tensor behind a ``get_attr`` node (a parameter or buffer), else None. Shared by the
    import-time passes (layout, simplify, idioms)."""
    if not isinstance(node, fx.Node) or node.op != "get_attr":
        return None
    value: Any = root
    for part in str(node.target).split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value if isinstance(value, torch.Tensor) else None
