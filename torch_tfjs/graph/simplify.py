"""Shape-arithmetic simplification of imported graphs.

TF computes dynamic shapes with tensor ops: Keras ``Reshape``/``Flatten`` with a dynamic batch,
``Dense`` on 3-D inputs (``tensordot``), squeeze-excite blocks and LayerNormalization become
``Shape → StridedSlice / GatherV2 → Prod → Pack / ConcatV2 / ExpandDims → Reshape / Fill``
chains. Run as tensor ops, every call turns shapes into tensors, slices, multiplies and stacks
them and reads them back into Python: a dozen kernel calls for one reshape.

This pass works out, at import, what each such target shape is in terms of the dimensions of
the tensors whose ``Shape`` it reads, and replaces the consumer with one call that computes the
ints in Python (:func:`reshape_to_spec`, :func:`fill_to_spec`). The result, and the error for a
bad shape, are the same; ``torch.compile`` sees plain size arithmetic.

A *spec* is a tuple of entries, each an int, ``("dim", k, i)`` (``sources[k].shape[i]``),
``("dims", k, start, stop)`` (the dims ``sources[k].shape[start:stop]``, spliced in) or
``("mul", entry, ...)`` (the product of its entries, spans included).
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import fx

from .ops.convolution import conv2d_backprop_input
from .ops.creation import fill
from .ops.graph import _shape
from .ops.reduction import reduce_prod
from .ops.slice_join import concat, gather, strided_slice
from .layout import get_attr_tensor
from .ops.transformation import expand_dims, reshape_dynamic

Spec = Tuple[Any, ...]


# --- runtime functions (module-level so fx graphs can call them) ---------------------------------

# Sizes are used as read (ints, or SymInts under torch.export / torch.compile): int() on a
# SymInt would specialise it, pinning a dynamic batch to the example's size.

def _entry(sources: Sequence[Any], entry: Any) -> int:
    if isinstance(entry, int):
        return entry
    if entry[0] == "dim":
        return sources[entry[1]].shape[entry[2]]
    product = 1
    for factor in entry[1:]:
        if isinstance(factor, tuple) and factor[0] == "dims":
            for d in sources[factor[1]].shape[factor[2]:factor[3]]:
                product *= d
        else:
            product *= _entry(sources, factor)
    return product


def shape_from_spec(sources: Sequence[Any], spec: Spec) -> List[int]:
    """The ints a spec stands for, read off ``sources``' shapes."""
    out: List[int] = []
    for entry in spec:
        if isinstance(entry, tuple) and entry[0] == "dims":
            out.extend(sources[entry[1]].shape[entry[2]:entry[3]])
        else:
            out.append(_entry(sources, entry))
    return out


def reshape_to_spec(x: torch.Tensor, sources: List[Any], spec: Spec) -> torch.Tensor:
    """TF Reshape whose target shape is a spec."""
    return x.reshape(shape_from_spec(sources, spec))


def fill_to_spec(value: torch.Tensor, sources: List[Any], spec: Spec) -> torch.Tensor:
    """TF Fill whose shape is a spec."""
    return fill(shape_from_spec(sources, spec), value)


# --- the pass ------------------------------------------------------------------------------------

#: Runtime functions taking a shape argument (position) as a tensor or a list of ints.
_SIZE_LIST_ARGS = {conv2d_backprop_input: 0}

#: Functions whose nodes this pass may leave unused (pure shape arithmetic).
_SHAPE_FNS = (_shape, strided_slice, gather, reduce_prod, expand_dims, torch.stack, concat)


def simplify_shapes(graph: fx.Graph, root: torch.nn.Module) -> None:
    """Rewrite ``graph`` in place (see the module docstring)."""
    for node in list(graph.nodes):
        if node.op != "call_function" or node.kwargs:
            continue
        if node.target is reshape_dynamic:
            data, target, make = node.args[0], node.args[1], reshape_to_spec
        elif node.target is fill and isinstance(node.args[0], fx.Node):
            target, data, make = node.args[0], node.args[1], fill_to_spec
        elif node.target in _SIZE_LIST_ARGS:  # takes its shape argument as a list of ints too
            index = _SIZE_LIST_ARGS[node.target]
            target = node.args[index] if len(node.args) > index else None
            sources = []
            found = _expr(target, sources, root) if isinstance(target, fx.Node) else None
            if found is not None and found[0] == "vector":
                with graph.inserting_before(node):
                    sizes = graph.call_function(shape_from_spec, (sources, tuple(found[1])))
                node.args = node.args[:index] + (sizes,) + node.args[index + 1:]
            continue
        else:
            continue
        sources: List[fx.Node] = []
        found = _expr(target, sources, root) if isinstance(target, fx.Node) else None
        if found is None or found[0] != "vector":
            continue
        with graph.inserting_before(node):
            new = graph.call_function(make, (data, sources, tuple(found[1])))
        node.replace_all_uses_with(new)
        graph.erase_node(node)
    for node in reversed(list(graph.nodes)):  # the shape chains nobody reads any more
        if node.op == "call_function" and node.target in _SHAPE_FNS and not node.users:
            graph.erase_node(node)


def _source(sources: List[fx.Node], node: fx.Node) -> int:
    if node not in sources:
        sources.append(node)
    return sources.index(node)


def _is_full_span(entries: Sequence[Any]) -> bool:
    return len(entries) == 1 and isinstance(entries[0], tuple) and entries[0][0] == "dims" \
        and entries[0][2] == 0 and entries[0][3] is None


def _has_span(entries: Sequence[Any]) -> bool:
    return any(isinstance(e, tuple) and e[0] == "dims" for e in entries)


def _int_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def _expr(node: Any, sources: List[fx.Node], root: torch.nn.Module) -> Optional[Tuple[str, Any]]:
    """``("scalar", entry)`` or ``("vector", [entries])`` for an int shape computation, else None."""
    if not isinstance(node, fx.Node):
        return None
    if node.op == "get_attr":
        value = get_attr_tensor(node, root)
        if value is None or value.dtype not in (torch.int32, torch.int64) or value.dim() > 1:
            return None
        return ("scalar", int(value)) if value.dim() == 0 else ("vector", [int(v) for v in value.tolist()])
    if node.op != "call_function" or node.kwargs:
        return None
    fn, args = node.target, node.args
    if fn is _shape and len(args) == 1 and isinstance(args[0], fx.Node):
        return "vector", [("dims", _source(sources, args[0]), 0, None)]
    if fn is strided_slice and len(args) == 2 and isinstance(args[1], (list, tuple)) and len(args[1]) == 1:
        inner = _expr(args[0], sources, root)
        if inner is None or inner[0] != "vector":
            return None
        entries, index = inner[1], args[1][0]
        if isinstance(index, int) and not isinstance(index, bool):
            if _is_full_span(entries):
                return "scalar", ("dim", entries[0][1], index)
            if not _has_span(entries) and -len(entries) <= index < len(entries):
                return "scalar", entries[index]
            return None
        if isinstance(index, slice) and index.step in (None, 1):
            start, stop = index.start, index.stop
            if _is_full_span(entries) and (start is None or start >= 0) and (stop is None or stop >= 0):
                return "vector", [("dims", entries[0][1], start or 0, stop)]
            if not _has_span(entries):
                return "vector", list(entries[start:stop])
        return None
    if fn is gather and len(args) in (3, 4) and args[2] == 0 and (len(args) == 3 or args[3] == 0):
        inner, idx = _expr(args[0], sources, root), _expr(args[1], sources, root)
        if inner is None or idx is None or inner[0] != "vector" or idx[0] != "vector" or not _int_list(idx[1]):
            return None
        if _is_full_span(inner[1]):
            return "vector", [("dim", inner[1][0][1], i) for i in idx[1]]
        if not _has_span(inner[1]) and all(-len(inner[1]) <= i < len(inner[1]) for i in idx[1]):
            return "vector", [inner[1][i] for i in idx[1]]
        return None
    if fn is reduce_prod and len(args) == 3 and list(args[1]) in ([0], [-1]) and args[2] is False:
        inner = _expr(args[0], sources, root)
        if inner is None or inner[0] != "vector":
            return None
        return "scalar", ("mul", *inner[1])
    if fn is expand_dims and len(args) == 2 and args[1] in (0, -1):
        inner = _expr(args[0], sources, root)
        return ("vector", [inner[1]]) if inner is not None and inner[0] == "scalar" else None
    if fn in (torch.stack, concat) and len(args) == 2 and args[1] in (0, -1) and isinstance(args[0], (list, tuple)):
        parts = [_expr(a, sources, root) for a in args[0]]
        want = "scalar" if fn is torch.stack else "vector"
        if any(p is None or p[0] != want for p in parts):
            return None
        entries: List[Any] = []
        for p in parts:  # type: ignore[union-attr]
            entries.extend([p[1]] if want == "scalar" else p[1])
        return "vector", entries
    return None
