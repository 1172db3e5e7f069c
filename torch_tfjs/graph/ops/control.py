"""Control-flow ops (tfjs op list ``control``).

v2 (``--control_flow_v2``): If / StatelessIf and While / StatelessWhile call library functions
(converted to GraphModules by the importer); TensorList* ops work on :class:`TensorList`, an
immutable Python list of tensors, so loop bodies stay functional. Under ``torch.compile`` an If
whose branches agree on output shapes becomes ``torch.cond``; a While runs as a Python loop
(a graph break).

v1 (Switch / Merge / Enter / Exit / NextIteration / LoopCond, TensorArray*) is handled by
:mod:`torch_tfjs.graph.ops.control_v1`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ..node import OpNode, Value
from ..registry import register_op


def truthy(cond: torch.Tensor) -> bool:
    """TF's rule for an If/While condition: a scalar is true when non-zero; a non-scalar when
    it has elements."""
    if cond.dim() == 0:
        return bool(cond.item())
    return cond.numel() > 0


def run_if(cond: torch.Tensor, then_fn: Any, else_fn: Any, *args: Any) -> Tuple[Any, ...]:
    if torch.compiler.is_compiling() and cond.numel() == 1 and all(isinstance(a, torch.Tensor) for a in args):
        return tuple(torch.cond(cond.reshape(()).bool(), _as_tuple_fn(then_fn), _as_tuple_fn(else_fn), tuple(args)))
    return tuple((then_fn if truthy(cond) else else_fn)(*args))


class _as_tuple_fn:  # noqa: N801 - a callable adapter
    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, *args: Any) -> Tuple[Any, ...]:
        return tuple(self.fn(*args))


@register_op("If", "StatelessIf")
def if_op(node: OpNode) -> List[Value]:
    n_out = len(node.attr_list("Tout"))
    result = node.call(run_if, node.input(0), node.function("then_branch"), node.function("else_branch"),
                       *node.inputs[1:])
    return node.outputs(result, n_out)


def run_while(cond_fn: Any, body_fn: Any, *loop_vars: Any) -> Tuple[Any, ...]:
    """TF While: a Python loop. Under ``torch.compile`` it runs eagerly (see :func:`eagerly`):
    Dynamo would otherwise trace into it, break the graph at every evaluation of the condition
    and compile each iteration's body anew (handtrack's SSD detector: over 10 minutes and 5 GB
    before its first output). The ops around the loop still compile."""
    if torch.compiler.is_compiling():
        return eagerly(_while_loop)(cond_fn, body_fn, *loop_vars)
    return _while_loop(cond_fn, body_fn, *loop_vars)


def _while_loop(cond_fn: Any, body_fn: Any, *loop_vars: Any) -> Tuple[Any, ...]:
    values = tuple(loop_vars)
    while truthy(cond_fn(*values)[0]):
        values = tuple(body_fn(*values))
    return values


_EAGER: Dict[Any, Any] = {}


def eagerly(fn: Any) -> Any:
    """``torch.compiler.disable(fn)``, made on first use: Dynamo graph-breaks at the call and runs
    ``fn`` eagerly. Made lazily because the decorator imports torch._dynamo (about 1 s and 70 MB),
    which a process that never compiles should not pay; a compiling one has imported it."""
    wrapped = _EAGER.get(fn)
    if wrapped is None:
        wrapped = _EAGER[fn] = torch.compiler.disable(fn)
    return wrapped


@register_op("While", "StatelessWhile")
def while_op(node: OpNode) -> List[Value]:
    result = node.call(run_while, node.function("cond"), node.function("body"), *node.inputs)
    return node.outputs(result, node.num_inputs)


# --- TensorList ---------------------------------------------------------------------------------

class TensorList:
    """TF's TensorList variant: items (None = not yet set), the element shape and dtype."""

    __slots__ = ("items", "element_shape", "dtype")

    def __init__(self, items: Sequence[Optional[torch.Tensor]], element_shape: Optional[List[int]],
                 dtype: Optional[torch.dtype]):
        self.items = list(items)
        self.element_shape = element_shape
        self.dtype = dtype

    def replace(self, items: Sequence[Optional[torch.Tensor]]) -> "TensorList":
        return TensorList(items, self.element_shape, self.dtype)

    def materialize(self, i: int) -> torch.Tensor:
        item = self.items[i]
        if item is not None:
            return item
        known = [t for t in self.items if t is not None]
        if known:
            return torch.zeros_like(known[0])
        if self.element_shape is None or any(d < 0 for d in self.element_shape):
            raise ValueError("TensorList element never set and its shape is unknown")
        return torch.zeros(self.element_shape, dtype=self.dtype or torch.float32)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:  # pragma: no cover
        return f"TensorList(len={len(self.items)}, shape={self.element_shape})"


def _shape(t: Any) -> Optional[List[int]]:
    if t is None:
        return None
    values = [int(v) for v in torch.as_tensor(t).reshape(-1).tolist()]
    return None if values == [-1] and torch.as_tensor(t).dim() == 0 else values


def empty_tensor_list(element_shape: torch.Tensor, dtype: Optional[torch.dtype]) -> TensorList:
    return TensorList([], _shape(element_shape), dtype)


def tensor_list_reserve(element_shape: torch.Tensor, num: torch.Tensor, dtype: Optional[torch.dtype]) -> TensorList:
    return TensorList([None] * int(num), _shape(element_shape), dtype)


def tensor_list_from_tensor(tensor: torch.Tensor, element_shape: torch.Tensor) -> TensorList:
    return TensorList(list(torch.unbind(tensor, 0)), list(tensor.shape[1:]), tensor.dtype)


def tensor_list_set_item(tl: TensorList, index: torch.Tensor, item: torch.Tensor) -> TensorList:
    items = list(tl.items)
    i = int(index)
    if i >= len(items):
        raise IndexError(f"TensorListSetItem index {i} out of range for a list of {len(items)}")
    items[i] = item
    return tl.replace(items)


def tensor_list_get_item(tl: TensorList, index: torch.Tensor) -> torch.Tensor:
    return tl.materialize(int(index))


def tensor_list_stack(tl: TensorList) -> torch.Tensor:
    if len(tl) == 0:
        shape = tl.element_shape or []
        return torch.zeros([0] + [max(d, 0) for d in shape], dtype=tl.dtype or torch.float32)
    return torch.stack([tl.materialize(i) for i in range(len(tl))])


def tensor_list_gather(tl: TensorList, indices: torch.Tensor) -> torch.Tensor:
    idx = [int(i) for i in indices.reshape(-1).tolist()]
    if not idx:
        return tensor_list_stack(tl.replace([]))
    return torch.stack([tl.materialize(i) for i in idx])


def tensor_list_scatter(tensor: torch.Tensor, indices: torch.Tensor, element_shape: torch.Tensor,
                        num_elements: Optional[torch.Tensor]) -> TensorList:
    idx = [int(i) for i in indices.reshape(-1).tolist()]
    size = max(idx) + 1 if idx else 0
    if num_elements is not None and int(num_elements) >= 0:
        size = max(size, int(num_elements))
    items: List[Optional[torch.Tensor]] = [None] * size
    for row, i in enumerate(idx):
        items[i] = tensor[row]
    return TensorList(items, list(tensor.shape[1:]), tensor.dtype)


def tensor_list_length(tl: TensorList) -> torch.Tensor:
    return torch.tensor(len(tl), dtype=torch.int32)


def tensor_list_push_back(tl: TensorList, item: torch.Tensor) -> TensorList:
    return tl.replace(list(tl.items) + [item])


def tensor_list_pop_back(tl: TensorList) -> Tuple[TensorList, torch.Tensor]:
    if len(tl) == 0:
        raise IndexError("TensorListPopBack on an empty list")
    return tl.replace(tl.items[:-1]), tl.materialize(len(tl) - 1)


def tensor_list_resize(tl: TensorList, size: torch.Tensor) -> TensorList:
    n = int(size)
    items = list(tl.items[:n]) + [None] * max(0, n - len(tl))
    return tl.replace(items)


def tensor_list_split(tensor: torch.Tensor, element_shape: torch.Tensor, lengths: torch.Tensor) -> TensorList:
    sizes = [int(v) for v in lengths.reshape(-1).tolist()]
    return TensorList(list(torch.split(tensor, sizes, dim=0)), None, tensor.dtype)


def tensor_list_concat(tl: TensorList) -> Tuple[torch.Tensor, torch.Tensor]:
    parts = [tl.materialize(i) for i in range(len(tl))]
    lengths = torch.tensor([p.shape[0] for p in parts], dtype=torch.int32)
    return torch.cat(parts) if parts else torch.zeros(0), lengths


def _dtype(node: OpNode) -> Optional[torch.dtype]:
    dtype = node.attr_dtype("element_dtype") if node.attr("element_dtype") else None
    return dtype if isinstance(dtype, torch.dtype) else None


@register_op("EmptyTensorList")
def empty_tensor_list_op(node: OpNode) -> Value:
    return node.call(empty_tensor_list, node.input(0), _dtype(node))


@register_op("TensorListReserve")
def tensor_list_reserve_op(node: OpNode) -> Value:
    return node.call(tensor_list_reserve, node.input(0), node.input(1), _dtype(node))


@register_op("TensorListFromTensor")
def tensor_list_from_tensor_op(node: OpNode) -> Value:
    return node.call(tensor_list_from_tensor, node.input(0), node.input(1))


@register_op("TensorListSetItem")
def tensor_list_set_item_op(node: OpNode) -> Value:
    return node.call(tensor_list_set_item, node.input(0), node.input(1), node.input(2))


@register_op("TensorListGetItem")
def tensor_list_get_item_op(node: OpNode) -> Value:
    return node.call(tensor_list_get_item, node.input(0), node.input(1))


@register_op("TensorListStack")
def tensor_list_stack_op(node: OpNode) -> Value:
    return node.call(tensor_list_stack, node.input(0))


@register_op("TensorListGather")
def tensor_list_gather_op(node: OpNode) -> Value:
    return node.call(tensor_list_gather, node.input(0), node.input(1))


@register_op("TensorListScatter", "TensorListScatterV2")
def tensor_list_scatter_op(node: OpNode) -> Value:
    num = node.input(3) if node.op == "TensorListScatterV2" and node.num_inputs > 3 else None
    return node.call(tensor_list_scatter, node.input(0), node.input(1), node.input(2), num)


@register_op("TensorListLength")
def tensor_list_length_op(node: OpNode) -> Value:
    return node.call(tensor_list_length, node.input(0))


@register_op("TensorListPushBack")
def tensor_list_push_back_op(node: OpNode) -> Value:
    return node.call(tensor_list_push_back, node.input(0), node.input(1))


@register_op("TensorListPopBack", output_args=("output_handle", "tensor"))
def tensor_list_pop_back_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(tensor_list_pop_back, node.input(0)), 2)


@register_op("TensorListResize")
def tensor_list_resize_op(node: OpNode) -> Value:
    return node.call(tensor_list_resize, node.input(0), node.input(1))


@register_op("TensorListSplit")
def tensor_list_split_op(node: OpNode) -> Value:
    return node.call(tensor_list_split, node.input(0), node.input(1), node.input(2))


@register_op("TensorListConcat", "TensorListConcatV2", output_args=("tensor", "lengths"))
def tensor_list_concat_op(node: OpNode) -> List[Value]:
    return node.outputs(node.call(tensor_list_concat, node.input(0)), 2)
