"""Shape-arithmetic simplification of imported graphs.

Keras layers that reshape with a dynamic batch size (``Reshape``, squeeze-excite blocks) become
``Shape → StridedSlice → Pack → Reshape`` in TF: per call, the shape is turned into a tensor,
sliced, stacked with constants and read back into Python. When the shape read is that of the
tensor being reshaped, the target is known up to the tensor's own dimensions, so the chain
becomes one ``reshape_own_dims`` call (same result and the same error for a bad shape).
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import fx

from .ops.graph import _shape
from .ops.slice_join import strided_slice
from .ops.transformation import reshape_dynamic

#: An entry of a reshape target: a constant size, or ``(i,)``: the input's own dimension i.
DimSpec = Union[int, Tuple[int]]


def reshape_own_dims(x: torch.Tensor, dims: List[DimSpec]) -> torch.Tensor:
    """``x.reshape`` to ``dims``, where ``(i,)`` stands for ``x.shape[i]``."""
    return x.reshape([x.shape[d[0]] if isinstance(d, tuple) else d for d in dims])


def simplify_shapes(graph: fx.Graph, root: torch.nn.Module) -> None:
    """Rewrite ``graph`` in place (see the module docstring)."""
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not reshape_dynamic or node.kwargs:
            continue
        x, target = node.args
        if not isinstance(x, fx.Node) or not isinstance(target, fx.Node):
            continue
        dims = _own_dims_target(target, x, root)
        if dims is None:
            continue
        with graph.inserting_before(node):
            new = graph.call_function(reshape_own_dims, (x, dims))
        node.replace_all_uses_with(new)
        graph.erase_node(node)
    for node in reversed(list(graph.nodes)):  # the shape chains nobody reads any more
        if node.op == "call_function" and node.target in _PURE and not node.users:
            graph.erase_node(node)


_PURE = (_shape, strided_slice, torch.stack)


def _own_dims_target(target: fx.Node, x: fx.Node, root: torch.nn.Module) -> Optional[List[DimSpec]]:
    """The entries of ``torch.stack([...], 0)`` as constants or dimensions of ``x``, or None."""
    if target.op != "call_function" or target.target is not torch.stack or target.kwargs:
        return None
    if len(target.args) != 2 or target.args[1] != 0 or not isinstance(target.args[0], (list, tuple)):
        return None
    dims: List[DimSpec] = []
    for item in target.args[0]:
        if not isinstance(item, fx.Node):
            return None
        if item.op == "call_function" and item.target is strided_slice:
            shape_node, index = item.args
            if not (isinstance(shape_node, fx.Node) and shape_node.op == "call_function"
                    and shape_node.target is _shape and shape_node.args == (x,)):
                return None
            if not (isinstance(index, (list, tuple)) and len(index) == 1 and isinstance(index[0], int)
                    and not isinstance(index[0], bool)):
                return None
            dims.append((index[0],))
        elif item.op == "get_attr":
            value = _buffer(root, str(item.target))
            if value is None or value.dim() != 0 or value.dtype not in (torch.int32, torch.int64):
                return None
            dims.append(int(value))
        else:
            return None
    return dims


def _buffer(root: torch.nn.Module, name: str) -> Optional[torch.Tensor]:
    value = getattr(root, name, None)
    return value if isinstance(value, torch.Tensor) else None
