"""Rewrites TF1-style while loops into functional ``While`` nodes before import.

The tensorflowjs converter lowers ``tf.while_loop`` (unless ``--control_flow_v2``) into a frame
of Enter → Merge → Switch(LoopCond) → body → NextIteration → Merge, with Exit nodes for the
results. A cyclic graph cannot be an fx graph, so each frame becomes two synthesized library
functions (``cond`` over the Merge values, ``body`` over the Switch:1 values; loop-invariant
``Enter(is_constant)`` values are passed along unchanged) and one ``While`` node whose outputs
replace the Exits: the same construct control flow v2 produces, run by the same emitter.
Innermost frames are rewritten first, so nested loops become nested While calls.

Switch/Merge pairs outside loops (lowered ``tf.cond``) stay in the graph: the importer runs them
with dead-tensor semantics (:mod:`torch_tfjs.graph.ops.control_v1`).

Works on the model.json node dicts; knows nothing of torch.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Set, Tuple

from ..errors import GraphError
from .node import decode_attr, parse_input

Node = Dict[str, Any]


def _data_inputs(node: Node) -> List[str]:
    return [t for t in node.get("input", []) or [] if not str(t).startswith("^")]


def _input_node(text: str) -> str:
    ref, _ = parse_input(str(text))
    return ref.node  # type: ignore[union-attr]


def _input_index(text: str) -> int:
    ref, _ = parse_input(str(text))
    return ref.index  # type: ignore[union-attr]


def _attr(node: Node, key: str, default: Any = None) -> Any:
    raw = (node.get("attr") or {}).get(key)
    if raw is None:
        return default
    try:
        return decode_attr(raw)
    except (ValueError, TypeError) as exc:
        raise GraphError(f"node '{node.get('name')}' ({node.get('op')}): cannot decode attr "
                         f"'{key}': {exc}") from exc


def _frame(node: Node) -> str:
    value = _attr(node, "frame_name", "")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Graph:
    def __init__(self, nodes: List[Node]):
        self.nodes: Dict[str, Node] = {n["name"]: n for n in nodes}
        self.order: List[str] = [n["name"] for n in nodes]

    def consumers(self) -> Dict[str, List[Tuple[str, str]]]:
        """node → [(consumer, input text)], control edges included."""
        out: Dict[str, List[Tuple[str, str]]] = {}
        for name, node in self.nodes.items():
            for text in node.get("input", []) or []:
                out.setdefault(_input_node(text), []).append((name, str(text)))
        return out


def has_v1_loops(nodes: List[Node]) -> bool:
    return any(n.get("op") == "Enter" for n in nodes)


def functionalize_loops(nodes: List[Node], where: str) -> Tuple[List[Node], List[Dict[str, Any]]]:
    """(new top-level nodes, synthesized library functions)."""
    graph = _Graph(copy.deepcopy(nodes))
    functions: List[Dict[str, Any]] = []
    counter = 0
    while True:
        frames = sorted({_frame(n) for n in graph.nodes.values() if n["op"] == "Enter"})
        if not frames:
            break
        innermost = [f for f in frames if not _contains_other_frames(graph, f)]
        if not innermost:
            raise GraphError(f"{where}: cannot order the control-flow v1 loop frames {frames}")
        for frame in innermost:
            functions.extend(_rewrite_frame(graph, frame, counter, where))
            counter += 1
    return [graph.nodes[n] for n in graph.order if n in graph.nodes], functions


def _frame_enters(graph: _Graph, frame: str) -> List[str]:
    return [n for n in graph.order if n in graph.nodes and graph.nodes[n]["op"] == "Enter"
            and _frame(graph.nodes[n]) == frame]


def _region(graph: _Graph, frame: str) -> Set[str]:
    """Every node inside the frame: forward from its Enters (control edges included) up to and
    excluding its Exits."""
    consumers = graph.consumers()
    seen: Set[str] = set()
    stack = list(_frame_enters(graph, frame))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for consumer, _ in consumers.get(name, []):
            if graph.nodes[consumer]["op"] == "Exit":
                continue
            stack.append(consumer)
    return seen


def _contains_other_frames(graph: _Graph, frame: str) -> bool:
    return any(graph.nodes[n]["op"] == "Enter" and _frame(graph.nodes[n]) != frame
               for n in _region(graph, frame))


def _backward(graph: _Graph, starts: List[str], stop: Set[str], region: Set[str]) -> Set[str]:
    """Nodes of ``region`` that ``starts`` depend on (data and control), not crossing ``stop``."""
    seen: Set[str] = set()
    stack = [s for s in starts if s in region and s not in stop]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in graph.nodes[name].get("input", []) or []:
            dep = _input_node(text)
            if dep in region and dep not in stop and dep not in seen:
                stack.append(dep)
    return seen


def _rewrite_frame(graph: _Graph, frame: str, counter: int, where: str) -> List[Dict[str, Any]]:
    region = _region(graph, frame)
    consumers = graph.consumers()
    enters = _frame_enters(graph, frame)
    loop_vars: List[Dict[str, Optional[str]]] = []
    invariants: List[str] = []
    loop_cond: Optional[str] = None
    for enter in enters:
        if _attr(graph.nodes[enter], "is_constant", False):
            invariants.append(enter)
            continue
        merges = [c for c, _ in consumers.get(enter, []) if graph.nodes[c]["op"] == "Merge"]
        if len(merges) != 1:
            raise GraphError(f"{where}: loop Enter '{enter}' does not feed exactly one Merge")
        merge = merges[0]
        nexts = [_input_node(t) for t in _data_inputs(graph.nodes[merge]) if _input_node(t) != enter]
        switches = [c for c, t in consumers.get(merge, []) if graph.nodes[c]["op"] == "Switch"
                    and _input_node(_data_inputs(graph.nodes[c])[0]) == merge]
        if len(nexts) != 1 or graph.nodes[nexts[0]]["op"] != "NextIteration" or len(switches) != 1:
            raise GraphError(f"{where}: loop variable '{enter}' lacks its Merge/NextIteration/Switch")
        switch = switches[0]
        pred = _input_node(_data_inputs(graph.nodes[switch])[1])
        if graph.nodes[pred]["op"] != "LoopCond":
            raise GraphError(f"{where}: loop Switch '{switch}' is not driven by a LoopCond")
        if loop_cond not in (None, pred):
            raise GraphError(f"{where}: loop frame '{frame}' has several LoopCond nodes")
        loop_cond = pred
        exits = [c for c, t in consumers.get(switch, []) if graph.nodes[c]["op"] == "Exit"
                 and _input_index(t) == 0]
        loop_vars.append({"enter": enter, "merge": merge, "next": nexts[0], "switch": switch,
                          "exit": exits[0] if exits else None})
    if loop_cond is None:
        raise GraphError(f"{where}: loop frame '{frame}' has no loop variables")

    base = f"__while_{counter}"
    merges = {v["merge"] for v in loop_vars}
    switches = {v["switch"] for v in loop_vars}
    boundary = set(invariants) | merges | switches
    pred_text = _data_inputs(graph.nodes[loop_cond])[0]
    cond_nodes = _backward(graph, [_input_node(pred_text)], boundary, region)
    next_inputs = [_data_inputs(graph.nodes[v["next"]])[0] for v in loop_vars]  # type: ignore[index]
    body_nodes = _backward(graph, [_input_node(t) for t in next_inputs], boundary, region)

    def function(name: str, members: Set[str], arg_nodes: List[str], rets: List[str]) -> Dict[str, Any]:
        node_defs = []
        for n in graph.order:
            if n in members:
                node = copy.deepcopy(graph.nodes[n])
                # control edges to nodes outside the function have no meaning inside it
                node["input"] = [t for t in node.get("input", []) or []
                                 if not str(t).startswith("^") or _input_node(t) in members]
                node_defs.append(node)
        # Input-less constants defined outside the frame are copied in (weights by node name).
        needed = {_input_node(t) for n in node_defs for t in n.get("input", []) or []}
        for n in sorted(needed - members - set(arg_nodes)):
            outer = graph.nodes.get(n)
            if outer is not None and outer["op"] == "Const" and not _data_inputs(outer):
                node_defs.append({**copy.deepcopy(outer), "input": []})
            elif outer is None or n not in region:
                raise GraphError(f"{where}: loop '{frame}' reads '{n}' from outside its frame "
                                 "without an Enter")
        return {"signature": {"name": name,
                              "inputArg": [{"name": a} for a in arg_nodes],
                              "outputArg": [{"name": f"out{i}"} for i in range(len(rets))]},
                "nodeDef": node_defs,
                "ret": {f"out{i}": r for i, r in enumerate(rets)}}

    cond_fn = function(f"{base}_cond", cond_nodes, [v["merge"] for v in loop_vars] + invariants,  # type: ignore[misc]
                       [pred_text])
    body_fn = function(f"{base}_body", body_nodes, [v["switch"] for v in loop_vars] + invariants,  # type: ignore[misc]
                       next_inputs + invariants)

    while_name = f"{frame}/{base}"
    inputs = [_data_inputs(graph.nodes[v["enter"]])[0] for v in loop_vars]  # type: ignore[index]
    inputs += [_data_inputs(graph.nodes[e])[0] for e in invariants]
    while_node = {"name": while_name, "op": "While", "input": inputs,
                  "attr": {"cond": {"func": {"name": cond_fn["signature"]["name"]}},
                           "body": {"func": {"name": body_fn["signature"]["name"]}}}}
    for name in region | {loop_cond}:
        graph.nodes.pop(name, None)
    position = min(graph.order.index(e) for e in enters)
    graph.order.insert(position, while_name)
    graph.nodes[while_name] = while_node
    for k, var in enumerate(loop_vars):
        if var["exit"] is not None:  # the Exit keeps its name, now reading the While's output
            exit_node = graph.nodes[var["exit"]]
            graph.nodes[var["exit"]] = {"name": exit_node["name"], "op": "Identity",
                                        "input": [f"{while_name}:{k}"], "attr": {}}
    return [cond_fn, body_fn]
