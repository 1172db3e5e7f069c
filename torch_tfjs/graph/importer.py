"""GraphModel importer: GraphDef JSON → ``torch.fx.GraphModule`` (the one place that walks graphs).

Each TF node becomes ``call_function`` nodes emitted by the op's registered emitter (see
:mod:`.registry`). Float ``Const`` nodes become ``nn.Parameter``s named after the node (so a
graph model can be fine-tuned); integer / bool / string constants stay static and are folded
into shape arguments, or become buffers when a runtime op needs them as tensors. Calls whose
arguments are all static are evaluated at import time (constant folding).

String tensors are NumPy object arrays of bytes: string constants stay static, string values
flow through the fx graph as Python objects (see :mod:`.ops.string`). Hash tables are
:class:`~.ops.hash_table.LookupTable` objects in a per-model registry (``GraphImporter.tables``);
``modelInitializer`` runs once at load (:func:`torch_tfjs.graph.model.run_initializer`) and its
outputs replace the signature inputs that carry a matching ``resourceId``, as tfjs's
``GraphModel`` does. The runtime module around the result lives in :mod:`.model`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from ..errors import GraphError, ModelJSONError, UnsupportedOpError, blame
from ..io import ModelArtifact
from .._layout import WEIGHT_LAYOUTS
from .functionalize import functionalize_loops, has_v1_loops
from .idioms import fold_idioms
from .layout import optimize_layout
from .simplify import simplify_shapes
from .ops.control_v1 import dead_aware, gate
from .node import TF_DTYPES, NodeDef, OpNode, Static, TensorRef, Value
from .registry import get_op

_NON_WORD = re.compile(r"\W")


def sanitize(name: str) -> str:
    out = _NON_WORD.sub("_", name)
    return "_" + out if not out or out[0].isdigit() else out


def _flatten(obj: Any) -> Iterable[Any]:
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flatten(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _flatten(o)
    else:
        yield obj


def _map(obj: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(obj, list):
        return [_map(o, fn) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_map(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _map(v, fn) for k, v in obj.items()}
    return fn(obj)


@dataclass
class _Scope:
    """One graph being emitted: the main graph or a library function body."""

    graph: fx.Graph
    nodes: Dict[str, NodeDef]
    weight_prefix: str = ""
    args: Dict[str, Value] = field(default_factory=dict)   # function input args by name
    values: Dict[Tuple[str, int], Value] = field(default_factory=dict)
    materialized: Dict[int, fx.Node] = field(default_factory=dict)
    attrs: Dict[str, fx.Node] = field(default_factory=dict)
    emitted: Set[str] = field(default_factory=set)
    #: Nodes downstream of a Switch (lowered tf.cond): they run with dead-tensor semantics.
    tainted: Set[str] = field(default_factory=set)
    #: Const node name → the weight layout every consumer asks for (see ``param_layouts``).
    const_layouts: Dict[str, str] = field(default_factory=dict)


def _as_tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.dtype == np.int64:
            value = value.astype(np.int32)
        elif value.dtype == np.float64:
            value = value.astype(np.float32)
        # (np.ascontiguousarray would turn a 0-d array into 1-d)
        return torch.from_numpy(value if value.flags.c_contiguous else value.copy())
    return value


#: Weight layout → the parameter viewed back in the TF layout (no copy): the inverse of
#: ``WEIGHT_LAYOUTS[layout][0]`` as strides only (``WEIGHT_LAYOUTS[layout][1]`` makes it
#: contiguous, i.e. copies).
_TF_LAYOUT_VIEWS: Dict[str, Callable[[torch.Tensor, Tuple[int, ...]], torch.Tensor]] = {
    "hwio_to_oihw": lambda t, shape: t.permute(2, 3, 1, 0),
    "dhwio_to_oidhw": lambda t, shape: t.permute(2, 3, 4, 1, 0),
    "hwcm_to_depthwise": lambda t, shape: t.view(shape[2], shape[3], shape[0], shape[1]).permute(2, 3, 0, 1),
}


def tf_layout_view(param: torch.Tensor, layout: str, tf_shape: Tuple[int, ...]) -> Optional[np.ndarray]:
    """A NumPy view of ``param`` (stored in ``layout``) in its TF layout, sharing its memory; None
    when the layout has no such view (the caller then keeps the original array)."""
    fn = _TF_LAYOUT_VIEWS.get(layout)
    if fn is None or param.device.type != "cpu":
        return None
    try:
        view = fn(param.detach(), tf_shape)
    except RuntimeError:  # not expressible as strides
        return None
    if tuple(view.shape) != tuple(tf_shape):
        return None
    return view.numpy()


class _Function(nn.Module):
    """A library function's GraphModule behind a plain module: fx recompiles every GraphModule
    child when a GraphModule is built, so nested loop functions held directly would be
    recompiled once per enclosing function (import time grew with the nesting depth)."""

    def __init__(self, graph_module: fx.GraphModule):
        super().__init__()
        self.graph_module = graph_module

    def forward(self, *args: Any) -> Any:
        return self.graph_module(*args)


class GraphImporter:
    """Converts the artifact's GraphDef (and library functions) into fx graphs."""

    def __init__(self, artifact: ModelArtifact):
        self.artifact = artifact
        self.where = artifact.source
        topology = artifact.model_topology or {}
        if not isinstance(topology.get("node", []), list):
            raise ModelJSONError(f"{self.where}: modelTopology.node must be a list")
        raw_nodes = topology.get("node", [])
        synthesized: List[Dict[str, Any]] = []
        if has_v1_loops(raw_nodes):  # TF1 while loops → While nodes over synthesized functions
            raw_nodes, synthesized = functionalize_loops(raw_nodes, self.where)
        self.nodes = self._parse_nodes(raw_nodes, "graph")
        self._check_inputs_exist()
        library = topology.get("library") or {}
        self.function_defs: Dict[str, Dict[str, Any]] = {}
        for fdef in list(library.get("function", []) or []) + synthesized:
            name = (fdef.get("signature") or {}).get("name")
            if not name:
                raise ModelJSONError(f"{self.where}: library function without signature.name")
            self.function_defs[name] = fdef
        self.root = nn.Module()
        self.param_names: Dict[str, str] = {}    # weight / node name -> root attribute
        self.param_values: Dict[str, np.ndarray] = {}
        #: parameter attribute → (layout name, TF shape) for weights stored pre-transformed.
        self.param_layouts: Dict[str, Tuple[str, Tuple[int, ...]]] = {}
        self._function_modules: Dict[str, str] = {}
        self._scopes: List[_Scope] = []
        self._taken: Set[str] = set()
        #: Hash tables by the name of the HashTable node creating them (tfjs's ResourceManager);
        #: shared with the ``modelInitializer`` importer.
        self.tables: Dict[str, Any] = {}
        #: (node, output) → value fed to the main graph at import time instead of a placeholder
        #: (``modelInitializer`` outputs matched by ``resourceId``).
        self.captured: Dict[Tuple[str, int], Any] = {}

    # --- parsing -------------------------------------------------------------------------------
    def _parse_nodes(self, nodes: Sequence[Any], where: str) -> Dict[str, NodeDef]:
        out: Dict[str, NodeDef] = {}
        for obj in nodes:
            node = NodeDef.from_json(obj, f"{self.where} ({where})")
            if node.name in out:
                raise GraphError(f"{self.where}: duplicate node name '{node.name}' in {where}")
            out[node.name] = node
        return out

    def _check_inputs_exist(self) -> None:
        """Every data input of a main-graph node names a node of the graph (GraphError naming
        both ends otherwise), before anything is emitted."""
        for node in self.nodes.values():
            for ref in node.inputs:
                if ref.node not in self.nodes:
                    raise GraphError(f"{self.where}: node '{node.name}' ({node.op}) reads "
                                     f"'{ref.node}', which the graph does not have (dangling input)")

    def check_supported(self) -> None:
        """Raise one UnsupportedOpError naming every op without an emitter (functions included)."""
        missing: Dict[str, List[str]] = {}
        all_nodes: List[NodeDef] = list(self.nodes.values())
        for fname, fdef in self.function_defs.items():
            all_nodes += self._parse_nodes(fdef.get("nodeDef", []) or [], f"function {fname}").values()
        for node in all_nodes:
            if get_op(node.op) is None:
                missing.setdefault(node.op, []).append(node.name)
        if missing:
            raise UnsupportedOpError(missing, "Register emitters with torch_tfjs.register_op('<Op>').")

    # --- names ---------------------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        name = sanitize(base)
        candidate, i = name, 1
        while candidate in self._taken or hasattr(self.root, candidate):
            candidate = f"{name}_{i}"
            i += 1
        self._taken.add(candidate)
        return candidate

    def _new_scope(self, nodes: Dict[str, NodeDef], weight_prefix: str = "") -> _Scope:
        """A scope, with the layout each Const weight should be stored in when all of its
        consumers want the same one."""
        wanted: Dict[str, Set[Optional[str]]] = {}
        for node in nodes.values():
            entry = get_op(node.op)
            layouts = dict(entry.param_layouts) if entry else {}
            for i, ref in enumerate(node.inputs):
                producer = nodes.get(ref.node)
                if producer is not None and producer.op == "Const":
                    wanted.setdefault(ref.node, set()).add(layouts.get(i))
        layouts = {name: next(iter(ls)) for name, ls in wanted.items() if len(ls) == 1 and None not in ls}
        return _Scope(fx.Graph(), nodes, weight_prefix=weight_prefix, const_layouts=layouts)  # type: ignore[arg-type]

    def in_layout(self, value: Value, layout: str, opnode: OpNode) -> Value:
        if isinstance(value, fx.Node) and value.op == "get_attr" and \
                self.param_layouts.get(str(value.target), ("",))[0] == layout:
            return value
        return opnode.call(WEIGHT_LAYOUTS[layout][0], value)

    @property
    def scope(self) -> _Scope:
        return self._scopes[-1]

    def _get_attr(self, target: str) -> fx.Node:
        scope = self.scope
        if target not in scope.attrs:
            scope.attrs[target] = scope.graph.get_attr(target)
        return scope.attrs[target]

    def device_anchor(self) -> fx.Node:
        """The model's 0-d ``device_anchor`` buffer (see :meth:`OpNode.device_anchor`)."""
        if not hasattr(self.root, "device_anchor"):
            self.root.register_buffer("device_anchor", torch.zeros(()))
        return self._get_attr("device_anchor")

    def float_anchor(self) -> fx.Node:
        """The model's 0-d float dtype marker (see :meth:`OpNode.float_anchor`): not persistent,
        so not in ``state_dict``; ``model.to(dtype)`` / ``.half()`` cast it with the parameters."""
        from .._loading import DTYPE_MARKER
        if DTYPE_MARKER not in self.root._buffers:
            self.root.register_buffer(DTYPE_MARKER, torch.zeros(()), persistent=False)
        return self._get_attr(DTYPE_MARKER)

    # --- constants -----------------------------------------------------------------------------
    def const(self, node: NodeDef) -> Value:
        """A Const node: float → trainable parameter; others → static value.

        A float32 weight becomes a parameter sharing memory with the decoded array (no copy).
        One stored in another layout (a conv filter, see ``param_layouts``) is transformed once;
        the decoded array is then replaced, in ``artifact.weights`` and as the node's static
        value, by a view of the parameter in the TF layout, so the original is freed instead
        of staying alive next to its transformed copy."""
        key = f"{self.scope.weight_prefix}{node.name}"
        if key in self.param_names:  # already a parameter (another scope or another build)
            return self._get_attr(self.param_names[key])
        weights = self.artifact.weights
        if key in weights:
            name = key
        elif node.name in weights:
            name = node.name
        else:
            raise GraphError(f"{self.where}: Const node '{node.name}' has no weight '{key}' in the "
                             "manifest")
        array = weights[name]
        dtype = TF_DTYPES.get(node.attrs.get("dtype", "DT_FLOAT"), torch.float32)
        if array.dtype == object:
            return Static(array, node.name)
        if dtype == torch.float32 and array.dtype == np.float32:
            attr = self._unique(key)
            if not (array.flags.writeable and array.flags.c_contiguous):  # e.g. another
                array = np.array(array, order="C")                       # parameter's view
            source = tensor = torch.from_numpy(array)
            layout = self.scope.const_layouts.get(node.name)
            if layout is not None:
                tf_shape = tuple(array.shape)
                tensor = WEIGHT_LAYOUTS[layout][0](source)
                self.param_layouts[attr] = (layout, tf_shape)
            param = nn.Parameter(tensor)
            self.root.register_parameter(attr, param)
            self.param_names[key] = attr
            copied = tensor.untyped_storage().data_ptr() != source.untyped_storage().data_ptr()
            if layout is not None and copied:
                view = tf_layout_view(param, layout, tf_shape)
                if view is not None:
                    if weights.get(name) is array:
                        weights[name] = view
                    array = view
            self.param_values[attr] = array
            return self._get_attr(attr)
        tensor = _as_tensor(np.array(array))
        if isinstance(dtype, torch.dtype) and tensor.dtype != dtype:
            tensor = tensor.to(dtype)
        return Static(tensor, node.name)

    def static_value(self, value: Value) -> Any:
        """The import-time value behind ``value`` (numpy / Python object), or None. A parameter's
        value is its current value in the Const's TF layout (a view of it, not a copy)."""
        if isinstance(value, Static):
            v = value.value
            if isinstance(v, torch.Tensor):
                return v.detach().cpu().numpy()
            return v
        if isinstance(value, fx.Node) and value.op == "get_attr" and value.target in self.param_values:
            return self.param_values[value.target]
        return None

    def materialize(self, value: Any) -> Any:
        """A value usable as an fx argument in the current graph."""
        if isinstance(value, Static):
            v = value.value
            if isinstance(v, torch.Tensor):
                scope = self.scope
                if id(value) not in scope.materialized:
                    attr = self._unique("c_" + (value.name or "const"))
                    self.root.register_buffer(attr, v.detach().clone() if v.requires_grad else v)
                    scope.materialized[id(value)] = self._get_attr(attr)
                return scope.materialized[id(value)]
            if isinstance(v, np.ndarray) and v.dtype != object:
                return self.materialize(Static(_as_tensor(v), value.name))
            if isinstance(v, (list, tuple)):
                return _map(v, lambda x: self.materialize(x) if isinstance(x, (Static, torch.Tensor)) else x)
            if v is None or isinstance(v, (bool, int, float, str, torch.dtype)):
                return v
            # Another import-time object (a folded TensorList, a string array (NumPy object
            # array of bytes), a LookupTable, ...): held as a module attribute.
            scope = self.scope
            if id(value) not in scope.materialized:
                attr = self._unique("obj_" + (value.name or "const"))
                setattr(self.root, attr, v)
                scope.materialized[id(value)] = self._get_attr(attr)
            return scope.materialized[id(value)]
        if isinstance(value, torch.Tensor):
            return self.materialize(Static(value))
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return self.materialize(Static(_as_tensor(value)))
        return value

    # --- emitting ------------------------------------------------------------------------------
    def emit_call(self, opnode: OpNode, fn: Callable[..., Any], args: Tuple[Any, ...],
                  kwargs: Dict[str, Any], fold: bool = True) -> Value:
        dynamic = any(isinstance(a, fx.Node) for a in _flatten((args, kwargs)))
        if opnode.name in self.scope.tainted and opnode.op not in ("Switch", "Merge"):
            fn, fold = dead_aware(fn), False  # downstream of a Switch: dead in, dead out
        if fold and not dynamic:
            def unwrap(a: Any) -> Any:
                if isinstance(a, Static):
                    return _as_tensor(a.value)
                return _as_tensor(a) if isinstance(a, np.ndarray) else a
            try:
                with torch.no_grad():
                    result = fn(*_map(args, unwrap), **_map(kwargs, unwrap))
            except Exception as exc:  # report which node failed, with the cause
                raise opnode.error(f"constant folding failed: {type(exc).__name__}: {exc}") from exc
            return Static(result, opnode.name)
        args = _map(args, self.materialize)
        kwargs = _map(kwargs, self.materialize)
        call = self.scope.graph.call_function(fn, tuple(args), kwargs)
        call.meta["tfjs_node"] = f"{opnode.name} ({opnode.op})"  # named in run-time errors
        return call

    def split(self, value: Value, n: int) -> List[Value]:
        if isinstance(value, Static):
            v = value.value
            return [Static(v[i], f"{value.name}_{i}") for i in range(n)]
        import operator
        return [self.scope.graph.call_function(operator.getitem, (value, i)) for i in range(n)]

    # --- library functions ---------------------------------------------------------------------
    def function_value(self, name: Any, opnode: OpNode) -> fx.Node:
        if not isinstance(name, str) or name not in self.function_defs:
            raise opnode.error(f"references library function {name!r}, which the graph lacks")
        if name not in self._function_modules:
            module = _Function(self.build_function(name))
            attr = self._unique("fn_" + name)
            self.root.add_module(attr, module)
            self._function_modules[name] = attr
        return self._get_attr(self._function_modules[name])

    def build_function(self, name: str) -> fx.GraphModule:
        """A library function as a GraphModule taking its input args positionally and returning
        a tuple of its output args."""
        fdef = self.function_defs[name]
        signature = fdef.get("signature") or {}
        nodes = self._parse_nodes(fdef.get("nodeDef", []) or [], f"function {name}")
        scope = self._new_scope(nodes, weight_prefix=f"{name}/")
        self._scopes.append(scope)
        try:
            for arg in signature.get("inputArg", []) or []:
                scope.args[arg["name"]] = scope.graph.placeholder(sanitize(arg["name"]))
            ret = fdef.get("ret", {}) or {}
            refs = []
            for arg in signature.get("outputArg", []) or []:
                text = ret.get(arg["name"])
                if text is None:
                    raise GraphError(f"{self.where}: function '{name}' has no ret for '{arg['name']}'")
                from .node import parse_input
                refs.append(parse_input(text)[0])
            outs = [self.materialize(self.value_of(r)) for r in refs]
            scope.graph.output(tuple(outs))
        finally:
            self._scopes.pop()
        return fx.GraphModule(self.root, scope.graph, class_name=sanitize(name))

    # --- graph walking ---------------------------------------------------------------------------
    def _output_index(self, ref: TensorRef) -> int:
        if ref.out_arg is None:
            return ref.index
        producer = self.scope.nodes.get(ref.node)
        entry = get_op(producer.op) if producer else None
        if entry and entry.output_args and ref.out_arg in entry.output_args:
            return entry.output_args.index(ref.out_arg) + ref.index
        return ref.index

    def value_of(self, ref: TensorRef) -> Value:
        scope = self.scope
        if ref.node in scope.args and ref.node not in scope.nodes:
            return scope.args[ref.node]
        if ref.node not in scope.nodes:
            raise GraphError(f"{self.where}: reference to unknown node '{ref.node}'")
        index = self._output_index(ref)
        if ref.node not in scope.emitted:
            self._emit_closure(ref.node)
        key = (ref.node, index)
        if key not in scope.values:
            raise GraphError(f"{self.where}: node '{ref.node}' has no output {index}")
        return scope.values[key]

    def _emit_closure(self, target: str) -> None:
        """Emit ``target`` and everything it needs, in dependency order (iterative DFS)."""
        scope = self.scope
        done = scope.emitted
        stack: List[Tuple[str, bool]] = [(target, False)]
        visiting: Set[str] = set()
        while stack:
            name, expanded = stack.pop()
            if name in done:
                continue
            node = scope.nodes[name]
            if expanded:
                visiting.discard(name)
                self._emit_node(node)
                continue
            if name in visiting:
                continue
            visiting.add(name)
            stack.append((name, True))
            for ref in node.inputs:
                if node.op == "NextIteration" or ref.node in done:
                    continue
                if ref.node in scope.args and ref.node not in scope.nodes:
                    continue
                if ref.node not in scope.nodes:
                    raise GraphError(f"{self.where}: node '{name}' reads unknown node '{ref.node}'")
                if ref.node in visiting:
                    raise GraphError(f"{self.where}: cycle: node '{name}' reads '{ref.node}', which "
                                     f"(through its inputs) reads '{name}' (control flow v1 loops "
                                     "need their Enter/NextIteration structure)")
                stack.append((ref.node, False))

    def _emit_node(self, node: NodeDef) -> None:
        scope = self.scope
        entry = get_op(node.op)
        if entry is None:
            raise UnsupportedOpError({node.op: [node.name]})
        inputs = [self.value_of(ref) for ref in node.inputs] if node.op != "NextIteration" else []
        dead_controls = [c for c in node.control_inputs if c in scope.tainted]
        if node.op == "Switch" or dead_controls or any(r.node in scope.tainted for r in node.inputs):
            scope.tainted.add(node.name)
        # The safety net: an emitter meeting attrs or inputs it did not expect fails as this
        # node's GraphError, not as a raw TypeError from inside the op.
        with blame(GraphError, f"{self.where}: node '{node.name}' ({node.op})"):
            result = entry.emitter(OpNode(node, inputs, self))
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        if dead_controls:  # tied to a branch by a control edge only (a constant under a pivot)
            controls = [self.materialize(self.value_of(TensorRef(c))) for c in dead_controls]
            results = [scope.graph.call_function(gate, (self.materialize(r), *controls)) for r in results]
        for i, value in enumerate(results):
            scope.values[(node.name, i)] = value
        scope.emitted.add(node.name)

    def build(self, feeds: Sequence[Tuple[str, TensorRef]], outputs: Sequence[TensorRef]) -> fx.GraphModule:
        """The main graph with ``feeds`` as placeholders (in order) and ``outputs`` returned."""
        scope = self._new_scope(self.nodes)
        self._scopes.append(scope)
        try:
            for name, ref in feeds:
                scope.values[(ref.node, ref.index)] = scope.graph.placeholder(sanitize(name))
                scope.emitted.add(ref.node)
            for (node_name, index), value in self.captured.items():
                scope.values[(node_name, index)] = value if isinstance(value, Static) else Static(value, node_name)
                scope.emitted.add(node_name)
            from .ops.hash_table import INIT_OPS
            for node in self.nodes.values():  # tables are filled before anything reads them
                if node.op in INIT_OPS:
                    self._emit_closure(node.name)
            outs = [self.materialize(self.value_of(ref)) for ref in outputs]
            scope.graph.output(outs[0] if len(outs) == 1 else tuple(outs))
        finally:
            self._scopes.pop()
        simplify_shapes(scope.graph, self.root)
        fold_idioms(scope.graph, self.root)
        optimize_layout(scope.graph, self.root)
        return fx.GraphModule(self.root, scope.graph, class_name="TfjsGraph")

    def run_initializer(self, outputs: Sequence[TensorRef]) -> List[Any]:
        """Run this (``modelInitializer``) graph once: every node, in an order that respects data
        and control edges (table imports are tied to the outputs by control edges only), and
        return the values of ``outputs`` (tables, tensors, string arrays)."""
        scope = self._new_scope(self.nodes)
        self._scopes.append(scope)
        try:
            for name in self._topological_order():
                self._emit_closure(name)
            outs = [self.value_of(ref) for ref in outputs]
            if all(isinstance(v, Static) for v in outs):
                return [v.value for v in outs]
            scope.graph.output(tuple(self.materialize(v) for v in outs))
        finally:
            self._scopes.pop()
        with torch.no_grad():  # something stayed dynamic (a random op): run the graph once
            return list(fx.GraphModule(self.root, scope.graph, class_name="TfjsInitializer")())

    def _topological_order(self) -> List[str]:
        deps = {name: [r.node for r in node.inputs if r.node in self.nodes] +
                [c for c in node.control_inputs if c in self.nodes] for name, node in self.nodes.items()}
        order: List[str] = []
        state: Dict[str, int] = {}
        for root in self.nodes:
            stack = [(root, False)]
            while stack:
                name, expanded = stack.pop()
                if expanded:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name):
                    continue
                state[name] = 1
                stack.append((name, True))
                stack.extend((d, False) for d in reversed(deps[name]) if not state.get(d))
        return order
