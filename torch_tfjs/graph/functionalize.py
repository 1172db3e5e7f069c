"""Rewrites TF1-style while loops into functional ``While`` nodes before import.

The tensorflowjs converter lowers ``tf.while_loop`` (unless ``--control_flow_v2``), and every TF1
graph holds, a frame of Enter → Merge → Switch(LoopCond) → body → NextIteration → Merge, with
Exit nodes for the results. A cyclic graph cannot be an fx graph, so each frame becomes two
synthesized library functions and one ``While`` node whose outputs replace the Exits: the same
construct control flow v2 produces, run by the same emitter.

Every node is first assigned to its frame the way TF's executor does it (an Enter opens its
``frame_name`` inside its input's frame, an Exit returns to the parent, any other node lives in
the deepest frame among its inputs), so a frame's members are known without searching. Frames are
rewritten innermost first: nested loops become nested While calls, and a loop inside a ``tf.cond``
branch becomes a While node gated by that branch.

Within a frame, a loop variable is Enter → Merge ← NextIteration; its Switch (and Exit) is
optional: grappler drops a Switch whose outputs nobody reads (a variable only the condition uses)
and the Exit of a result nobody reads. Both functions take the Merge values (plus the values of
loop-invariant ``Enter(is_constant)`` nodes) as arguments; in the body a loop Switch's true output
*is* its Merge value, so references to it read the argument.

Switch/Merge pairs outside loops (lowered ``tf.cond``) stay in the graph: the importer runs them
with dead-tensor semantics (:mod:`torch_tfjs.graph.ops.control_v1`).

Works on the model.json node dicts; knows nothing of torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from ..errors import GraphError
from .node import decode_attr

Node = Dict[str, Any]

#: The frame of nodes outside every loop.
ROOT = ""


def _split(text: str) -> Tuple[str, int, bool]:
    """(node, output index, is_control) of an input string ``name``, ``name:k`` or ``^name``."""
    text = str(text)
    if text.startswith("^"):
        return text[1:], 0, True
    name, _, index = text.partition(":")
    return name, int(index) if index.isdigit() else 0, False


def _data_inputs(node: Node) -> List[str]:
    return [t for t in node.get("input", []) or [] if not str(t).startswith("^")]


def _attr(node: Node, key: str, default: Any = None) -> Any:
    raw = (node.get("attr") or {}).get(key)
    if raw is None:
        return default
    try:
        return decode_attr(raw)
    except (ValueError, TypeError) as exc:
        raise GraphError(f"node '{node.get('name')}' ({node.get('op')}): cannot decode attr "
                         f"'{key}': {exc}") from exc


def _frame_name(node: Node) -> str:
    value = _attr(node, "frame_name", "")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def has_v1_loops(nodes: List[Node]) -> bool:
    return any(n.get("op") == "Enter" for n in nodes)


@dataclass
class _LoopVar:
    enter: str
    merge: str
    next: str
    switch: Optional[str] = None
    exits: List[str] = field(default_factory=list)


class _Graph:
    """The node dicts by name, in file order, with a consumer index and every node's frame."""

    def __init__(self, nodes: List[Node], where: str):
        self.where = where
        self.nodes: Dict[str, Node] = {}
        for n in nodes:
            self.nodes[n["name"]] = n
        self.order: List[str] = list(self.nodes)
        self.position: Dict[str, float] = {n: float(i) for i, n in enumerate(self.order)}
        self.consumers: Dict[str, List[Tuple[str, int, bool]]] = {}  # node → (consumer, index, control)
        for name, node in self.nodes.items():
            for text in node.get("input", []) or []:
                src, index, control = _split(text)
                self.consumers.setdefault(src, []).append((name, index, control))
        self.frame: Dict[str, str] = {}
        self.parent: Dict[str, str] = {}
        self._assign_frames()

    def live_consumers(self, name: str) -> List[Tuple[str, int, bool]]:
        return [c for c in self.consumers.get(name, []) if c[0] in self.nodes]

    def depth(self, frame: str) -> int:
        d = 0
        while frame != ROOT:
            frame, d = self.parent[frame], d + 1
        return d

    def _assign_frames(self) -> None:
        """TF's frame rule over a topological order that ignores NextIteration → Merge edges."""
        pending: Dict[str, int] = {}
        for name, node in self.nodes.items():
            deps = {_split(t)[0] for t in node.get("input", []) or []}
            if node["op"] == "Merge":
                deps = {d for d in deps if self.nodes.get(d, {}).get("op") != "NextIteration"}
            pending[name] = len([d for d in deps if d in self.nodes])
        ready = [n for n in self.order if pending[n] == 0]
        while ready:
            name = ready.pop()
            self.frame[name] = self._frame_of(name)
            seen: Set[str] = set()
            for consumer, _, _ in self.consumers.get(name, []):
                if consumer in seen or consumer not in self.nodes:
                    continue
                seen.add(consumer)
                if self.nodes[consumer]["op"] == "Merge" and self.nodes[name]["op"] == "NextIteration":
                    continue
                pending[consumer] -= 1
                if pending[consumer] == 0:
                    ready.append(consumer)
        stuck = [n for n in self.order if n not in self.frame]
        if stuck:
            raise GraphError(f"{self.where}: cycle through node '{stuck[0]}' that is not a while loop's "
                             "NextIteration → Merge edge")

    def _frame_of(self, name: str) -> str:
        node = self.nodes[name]
        inputs = [self.frame[s] for s in (_split(t)[0] for t in node.get("input", []) or [])
                  if s in self.frame]
        if node["op"] == "Enter":
            frame = _frame_name(node)
            outer = inputs[0] if inputs else ROOT
            if self.parent.setdefault(frame, outer) != outer:
                raise GraphError(f"{self.where}: loop frame '{frame}' is entered from two frames "
                                 f"(at Enter '{name}')")
            return frame
        if node["op"] == "Exit":
            inner = inputs[0] if inputs else ROOT
            if inner == ROOT:
                raise GraphError(f"{self.where}: Exit '{name}' is not inside a loop frame")
            return self.parent[inner]
        return max(inputs, key=self.depth, default=ROOT)


def functionalize_loops(nodes: List[Node], where: str) -> Tuple[List[Node], List[Dict[str, Any]]]:
    """(new top-level nodes, synthesized library functions)."""
    graph = _Graph([dict(n) for n in nodes], where)  # node dicts are replaced, never mutated
    members: Dict[str, List[str]] = {}
    for name in graph.order:
        members.setdefault(graph.frame[name], []).append(name)
    frames = sorted((f for f in members if f != ROOT), key=graph.depth, reverse=True)
    functions: List[Dict[str, Any]] = []
    for counter, frame in enumerate(frames):
        # Nodes of this frame still present (inner frames' members were replaced by While nodes).
        inside = [n for n in members[frame] if n in graph.nodes]
        while_name, fns = _rewrite_frame(graph, frame, inside, counter)
        members.setdefault(graph.parent[frame], []).append(while_name)
        graph.frame[while_name] = graph.parent[frame]
        functions.extend(fns)
    out = []
    for name in graph.order:
        node = graph.nodes.get(name)
        if node is None:
            continue
        inputs = node.get("input", []) or []
        kept = [t for t in inputs if not str(t).startswith("^") or _split(t)[0] in graph.nodes]
        out.append(node if len(kept) == len(inputs) else {**node, "input": kept})  # edges to removed loop nodes
    return out, functions


def _loop_vars(graph: _Graph, frame: str, inside: List[str]) -> Tuple[List[_LoopVar], List[str], str]:
    """(loop variables, loop-invariant Enters, the LoopCond node) of one frame."""
    where = graph.where
    loop_vars: List[_LoopVar] = []
    invariants: List[str] = []
    for enter in (n for n in inside if graph.nodes[n]["op"] == "Enter"):
        if _attr(graph.nodes[enter], "is_constant", False):
            invariants.append(enter)
            continue
        merges = [c for c, _, ctl in graph.live_consumers(enter) if not ctl and graph.nodes[c]["op"] == "Merge"]
        if len(merges) != 1:
            raise GraphError(f"{where}: loop Enter '{enter}' does not feed exactly one Merge")
        merge = merges[0]
        nexts = [s for s, _, _ in map(_split, _data_inputs(graph.nodes[merge])) if s != enter]
        if len(nexts) != 1 or graph.nodes.get(nexts[0], {}).get("op") != "NextIteration":
            raise GraphError(f"{where}: loop variable '{enter}' lacks its Merge/NextIteration "
                             f"(Merge '{merge}')")
        loop_vars.append(_LoopVar(enter, merge, nexts[0]))
    if not loop_vars:
        raise GraphError(f"{where}: loop frame '{frame}' has no loop variables")
    conds = [n for n in inside if graph.nodes[n]["op"] == "LoopCond"]
    if len(conds) != 1:
        raise GraphError(f"{where}: loop frame '{frame}' has {len(conds)} LoopCond nodes, not one")
    loop_cond = conds[0]
    for var in loop_vars:
        merge = var.merge
        for consumer, _, ctl in graph.live_consumers(merge):
            node = graph.nodes[consumer]
            if not ctl and node["op"] == "Switch" and len(_data_inputs(node)) == 2 \
                    and _split(_data_inputs(node)[0])[0] == merge \
                    and _split(_data_inputs(node)[1])[0] == loop_cond:
                var.switch = consumer  # (a Switch on another predicate is a tf.cond in the loop)
        if var.switch is not None:
            var.exits = [c for c, index, ctl in graph.live_consumers(var.switch)
                         if not ctl and index == 0 and graph.nodes[c]["op"] == "Exit"]
    return loop_vars, invariants, loop_cond


def _rewrite_frame(graph: _Graph, frame: str, inside: List[str], counter: int) -> Tuple[str, List[Dict[str, Any]]]:
    """Replace one frame by a While node (named ``<frame>/__while_<counter>``); returns its name
    and the cond and body functions."""
    where = graph.where
    loop_vars, invariants, loop_cond = _loop_vars(graph, frame, inside)
    region = set(inside)
    # In the body the loop Switch's true output is the Merge value: read the argument instead.
    alias = {v.switch: v.merge for v in loop_vars if v.switch is not None}
    args = [v.merge for v in loop_vars] + invariants
    base = f"__while_{counter}"

    def rename(text: str, name: str) -> str:
        src, index, control = _split(text)
        if src in alias and not control:
            if index != 1:
                raise GraphError(f"{where}: node '{name}' inside loop '{frame}' reads the exit side "
                                 f"of loop Switch '{src}'")
            return alias[src]
        return text

    def function(fname: str, rets: List[str]) -> Dict[str, Any]:
        rets = [rename(t, fname) for t in rets]
        members = _closure(graph, [_split(t)[0] for t in rets], set(args) | set(alias), region)
        node_defs: List[Node] = []
        for n in sorted(members, key=graph.position.__getitem__):  # file order
            node = graph.nodes[n]
            inputs = []
            for text in node.get("input", []) or []:
                src, _, control = _split(text)
                if control and src not in members:
                    continue  # a control edge to a node outside the function means nothing in it
                inputs.append(rename(text, n))
            node_defs.append({**node, "input": inputs})
        # Input-less constants defined outside the frame are copied in (weights by node name).
        needed = {_split(t)[0] for n in node_defs for t in n["input"]} | {_split(t)[0] for t in rets}
        for n in sorted(needed - members - set(args)):
            outer = graph.nodes.get(n)
            if outer is not None and outer["op"] == "Const" and not _data_inputs(outer):
                node_defs.append({**outer, "input": []})
            else:
                raise GraphError(f"{where}: loop '{frame}' reads '{n}' from outside its frame "
                                 "without an Enter")
        return {"signature": {"name": fname,
                              "inputArg": [{"name": a} for a in args],
                              "outputArg": [{"name": f"out{i}"} for i in range(len(rets))]},
                "nodeDef": node_defs,
                "ret": {f"out{i}": r for i, r in enumerate(rets)}}

    cond_fn = function(f"{base}_cond", [_data_inputs(graph.nodes[loop_cond])[0]])
    body_fn = function(f"{base}_body", [_data_inputs(graph.nodes[v.next])[0] for v in loop_vars] + invariants)

    while_name = f"{frame}/{base}"
    enters = [v.enter for v in loop_vars] + invariants
    inputs = [_data_inputs(graph.nodes[e])[0] for e in enters]
    # Control edges into the frame (a tf.cond branch pivot) now gate the While node.
    controls = sorted({t for e in enters for t in graph.nodes[e].get("input", []) or []
                       if str(t).startswith("^") and _split(t)[0] not in region})
    graph.nodes[while_name] = {"name": while_name, "op": "While", "input": inputs + controls,
                               "attr": {"cond": {"func": {"name": cond_fn["signature"]["name"]}},
                                        "body": {"func": {"name": body_fn["signature"]["name"]}}}}
    for name in inside:
        del graph.nodes[name]
    graph.order.insert(graph.order.index(enters[0]), while_name)
    graph.position[while_name] = graph.position[enters[0]] - 0.5  # before its first Enter
    for k, var in enumerate(loop_vars):
        for exit_name in var.exits:  # each Exit keeps its name, now reading the While's output
            graph.nodes[exit_name] = {"name": exit_name, "op": "Identity",
                                      "input": [f"{while_name}:{k}"], "attr": {}}
    return while_name, [cond_fn, body_fn]


def _closure(graph: _Graph, starts: List[str], stop: Set[str], region: Set[str]) -> Set[str]:
    """Nodes of ``region`` that ``starts`` depend on (data and control), not crossing ``stop``."""
    seen: Set[str] = set()
    stack = [s for s in starts if s in region and s not in stop]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in graph.nodes[name].get("input", []) or []:
            dep = _split(text)[0]
            if dep in region and dep not in stop and dep not in seen:
                stack.append(dep)
    return seen
