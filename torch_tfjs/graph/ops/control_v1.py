"""TF1-style control flow (tfjs op list ``control``, lowered form): Switch, Merge, Enter, Exit,
NextIteration, LoopCond and the TensorArray*V3 ops.

Loops (Enter … Exit frames) are rewritten into functional ``While`` nodes before import
(:mod:`torch_tfjs.graph.functionalize`), so Enter / Exit / NextIteration / LoopCond never reach
an emitter of their own.

Conditionals keep TF's dead-tensor semantics: ``Switch(data, pred)`` yields ``data`` on the
taken side and :data:`DEAD` on the other; every op downstream of a Switch passes a dead input
on as dead (so the untaken branch computes nothing) and ``Merge`` forwards its one live input.
Nodes tied to a branch only by a control edge (constants under a pivot) are gated the same way.

TensorArrays are made functional: the ``flow`` value that TF threads through every TensorArray
op carries the array's contents (a :class:`~torch_tfjs.graph.ops.control.TensorList`), so
writes inside a loop body are plain loop variables.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from ..node import OpNode, Value
from ..registry import register_op
from .control import TensorList, tensor_list_gather


class _Dead:
    """The value of the untaken side of a Switch."""

    _instance: Optional["_Dead"] = None

    def __new__(cls) -> "_Dead":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __getitem__(self, index: Any) -> "_Dead":  # outputs of a dead multi-output op
        return self

    def __repr__(self) -> str:
        return "DEAD"


DEAD = _Dead()


def _any_dead(values: Any) -> bool:
    if values is DEAD:
        return True
    if isinstance(values, (list, tuple)):
        return any(_any_dead(v) for v in values)
    if isinstance(values, dict):
        return any(_any_dead(v) for v in values.values())
    return False


_DEAD_AWARE: Dict[Callable[..., Any], Callable[..., Any]] = {}


def dead_aware(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` that returns DEAD when any argument is dead. Registered as a module attribute so
    fx can name it in generated code."""
    if fn in _DEAD_AWARE:
        return _DEAD_AWARE[fn]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _any_dead(args) or _any_dead(kwargs):
            return DEAD
        return fn(*args, **kwargs)

    name = f"dead_aware_{len(_DEAD_AWARE)}_{getattr(fn, '__name__', 'fn')}"
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__module__ = __name__
    setattr(sys.modules[__name__], name, wrapper)
    _DEAD_AWARE[fn] = wrapper
    return wrapper


def gate(value: Any, *controls: Any) -> Any:
    """``value``, or DEAD when a control dependency is dead."""
    return DEAD if _any_dead(controls) else value


def switch(data: Any, pred: Any) -> Tuple[Any, Any]:
    """(output_false, output_true): ``data`` on the side ``pred`` selects."""
    if data is DEAD or pred is DEAD:
        return DEAD, DEAD
    taken = bool(torch.as_tensor(pred).reshape(-1)[0]) if torch.as_tensor(pred).numel() else False
    return (DEAD, data) if taken else (data, DEAD)


def merge(*values: Any) -> Tuple[Any, Any]:
    """(output, value_index): the first live input."""
    for i, value in enumerate(values):
        if value is not DEAD:
            return value, torch.tensor(i, dtype=torch.int32)
    return DEAD, DEAD


@register_op("Switch", output_args=("output_false", "output_true"))
def switch_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(switch, node.input(0), node.input(1), fold=False), 2)


@register_op("Merge", output_args=("output", "value_index"))
def merge_op(node: OpNode) -> List[Value]:
    values = [node.input(i) for i in range(node.num_inputs)]
    return node.outputs(node.call(merge, *values, fold=False), 2)


@register_op("Enter", "Exit", "NextIteration", "LoopCond")
def loop_frame_op(node: OpNode) -> Value:
    raise node.error("a control-flow v1 loop node outside a recognisable Enter/Merge/Switch/"
                     "NextIteration/Exit frame; the loop could not be rewritten as a While")


# --- TensorArray (V3): state lives in the flow value -------------------------------------------

def tensor_array(size: torch.Tensor, dtype: Optional[torch.dtype], element_shape: Optional[List[int]],
                 dynamic_size: bool) -> Tuple[TensorList, TensorList]:
    n = int(size)
    array = TensorList([None] * n, element_shape, dtype)
    return array, array


def tensor_array_write(handle: Any, index: torch.Tensor, value: torch.Tensor, flow: TensorList) -> TensorList:
    items = list(flow.items)
    i = int(index)
    if i >= len(items):
        items += [None] * (i + 1 - len(items))  # dynamic_size arrays grow
    items[i] = value
    return flow.replace(items)


def tensor_array_read(handle: Any, index: torch.Tensor, flow: TensorList) -> torch.Tensor:
    return flow.materialize(int(index))


def tensor_array_gather(handle: Any, indices: torch.Tensor, flow: TensorList) -> torch.Tensor:
    return tensor_list_gather(flow, indices)


def tensor_array_scatter(handle: Any, indices: torch.Tensor, value: torch.Tensor, flow: TensorList) -> TensorList:
    items = list(flow.items)
    for row, i in enumerate(int(v) for v in indices.reshape(-1).tolist()):
        if i >= len(items):
            items += [None] * (i + 1 - len(items))
        items[i] = value[row]
    return flow.replace(items)


def tensor_array_size(handle: Any, flow: TensorList) -> torch.Tensor:
    return torch.tensor(len(flow), dtype=torch.int32)


def tensor_array_concat(handle: Any, flow: TensorList) -> Tuple[torch.Tensor, torch.Tensor]:
    parts = [flow.materialize(i) for i in range(len(flow))]
    lengths = torch.tensor([p.shape[0] for p in parts], dtype=torch.int32)
    return (torch.cat(parts) if parts else torch.zeros(0)), lengths


def tensor_array_split(handle: Any, value: torch.Tensor, lengths: torch.Tensor, flow: TensorList) -> TensorList:
    sizes = [int(v) for v in lengths.reshape(-1).tolist()]
    return flow.replace(list(torch.split(value, sizes, dim=0)))


def _element_shape(node: OpNode) -> Optional[List[int]]:
    shape = node.attr("element_shape")
    if not isinstance(shape, (list, tuple)) or any(d is None or int(d) < 0 for d in shape):
        return None
    return [int(d) for d in shape]


@register_op("TensorArrayV3", output_args=("handle", "flow"))
def tensor_array_op(node: OpNode) -> List[Value]:
    dtype = node.attr_dtype("dtype")
    result = node.call(tensor_array, node.input(0), dtype if isinstance(dtype, torch.dtype) else None,
                       _element_shape(node), node.attr_bool("dynamic_size"), fold=False)
    return node.outputs(result, 2)


@register_op("TensorArrayWriteV3")
def tensor_array_write_op(node: OpNode) -> Value:
    return node.call(tensor_array_write, node.input(0), node.input(1), node.input(2), node.input(3), fold=False)


@register_op("TensorArrayReadV3")
def tensor_array_read_op(node: OpNode) -> Value:
    return node.call(tensor_array_read, node.input(0), node.input(1), node.input(2), fold=False)


@register_op("TensorArrayGatherV3")
def tensor_array_gather_op(node: OpNode) -> Value:
    return node.call(tensor_array_gather, node.input(0), node.input(1), node.input(2), fold=False)


@register_op("TensorArrayScatterV3")
def tensor_array_scatter_op(node: OpNode) -> Value:
    return node.call(tensor_array_scatter, node.input(0), node.input(1), node.input(2), node.input(3),
                     fold=False)


@register_op("TensorArraySizeV3")
def tensor_array_size_op(node: OpNode) -> Value:
    return node.call(tensor_array_size, node.input(0), node.input(1), fold=False)


@register_op("TensorArrayConcatV3", output_args=("value", "lengths"))
def tensor_array_concat_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(tensor_array_concat, node.input(0), node.input(1), fold=False), 2)


@register_op("TensorArraySplitV3")
def tensor_array_split_op(node: OpNode) -> Value:
    return node.call(tensor_array_split, node.input(0), node.input(1), node.input(2), node.input(3),
                     fold=False)


@register_op("TensorArrayCloseV3")
def tensor_array_close_op(node: OpNode) -> Value:
    return node.call(gate, None, node.input(0), fold=False)
