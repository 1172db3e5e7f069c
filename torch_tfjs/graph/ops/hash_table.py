"""Hash-table ops (tfjs op list ``hash_table``): HashTable(V2), LookupTableImport(V2),
InitializeTable(V2), LookupTableFind(V2), LookupTableSize(V2).

A table is a :class:`LookupTable` (keys → values). As in tfjs, tables live in a per-model
registry keyed by the name of the ``HashTable`` node that creates them
(``GraphImporter.tables``, tfjs's ``ResourceManager``), so the initializer graph
(``modelInitializer``) and the serving graph share them, and ops tied to an initialisation only
by control edges still see a filled table.

Tables are filled at load time: the importer runs ``modelInitializer`` once and emits every
Import / InitializeTable node of the main graph before anything else; with constant keys and
values (the normal case) this happens during import and the table is frozen. Lookups on a
frozen table with numeric keys become pure torch (``searchsorted`` over sorted key / value
buffers, so the model stays compilable and moves with ``.to(device)``); string keys use a dict
lookup over NumPy object arrays (eager only: a graph break under ``torch.compile``). A table
filled from run-time values is filled by a call in the graph, before the ops that read it.

Find returns ``keys.shape + value_shape`` as TF does (tfjs 4.22 flattens the keys first and
returns ``[keys.size] + value_shape``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from ..node import OpNode, Static, Value
from ..registry import register_op
from .string import as_string_array


def _is_string_dtype(dtype: Any) -> bool:
    return dtype == "string"


class LookupTable:
    """A key → value table (the state behind a TF table resource handle)."""

    def __init__(self, key_dtype: Union[torch.dtype, str, None] = None,
                 value_dtype: Union[torch.dtype, str, None] = None, name: str = ""):
        self.key_dtype = key_dtype
        self.value_dtype = value_dtype
        self.name = name
        self.index: Dict[Any, int] = {}
        self.values: Any = None          # tensor [n, *value_shape] or object array of bytes
        #: True once an import is emitted with run-time keys / values (no load-time snapshot).
        self.dynamic = False

    def __repr__(self) -> str:
        return f"LookupTable({self.name!r}, size={len(self.index)})"

    @property
    def string_keys(self) -> bool:
        return _is_string_dtype(self.key_dtype) or (
            self.key_dtype is None and self.index and isinstance(next(iter(self.index)), bytes))

    @property
    def string_values(self) -> bool:
        return isinstance(self.values, np.ndarray) and self.values.dtype == object

    def size(self) -> int:
        return len(self.index)

    def import_(self, keys: Any, values: Any) -> "LookupTable":
        """Replace the contents (tfjs ``HashTable.import``); duplicate keys: the last wins."""
        if isinstance(keys, np.ndarray) and keys.dtype == object or _is_string_dtype(self.key_dtype):
            flat_keys = list(as_string_array(keys).reshape(-1))
        else:
            flat_keys = torch.as_tensor(keys).reshape(-1).tolist()
        if isinstance(values, np.ndarray) and values.dtype == object or _is_string_dtype(self.value_dtype):
            vals: Any = as_string_array(values)
        else:
            vals = torch.as_tensor(values)
            if isinstance(self.value_dtype, torch.dtype) and vals.dtype != self.value_dtype:
                vals = vals.to(self.value_dtype)
        n_values = vals.shape[0] if vals.ndim else 1
        if len(flat_keys) != n_values:
            raise ValueError(f"the number of elements doesn't match: keys has {len(flat_keys)} "
                             f"elements, values has {n_values}")
        self.index = {k: i for i, k in enumerate(flat_keys)}  # dict keeps the last index of a key
        self.values = vals.reshape(1) if vals.ndim == 0 else vals
        return self

    # --- lookups ---------------------------------------------------------------------------------
    def _positions(self, keys: Any) -> Tuple[List[int], Tuple[int, ...]]:
        if self.string_keys:
            arr = as_string_array(keys)
            flat = arr.reshape(-1)
            shape = tuple(arr.shape)
        else:
            t = torch.as_tensor(keys)
            flat = t.reshape(-1).tolist()
            shape = tuple(t.shape)
        return [self.index.get(k, -1) for k in flat], shape

    def find(self, keys: Any, default: Any) -> Any:
        """Values for ``keys`` (shape ``keys.shape + value_shape``), ``default`` where missing."""
        pos, shape = self._positions(keys)
        if self.values is None:  # never filled: every key misses
            if isinstance(default, np.ndarray) and default.dtype == object or _is_string_dtype(self.value_dtype):
                d = as_string_array(default).reshape(-1)[0]
                out = np.empty(len(pos), dtype=object)
                out[:] = [d] * len(pos)
                return out.reshape(shape)
            d = torch.as_tensor(default)
            return d.expand(shape + tuple(d.shape)).clone()
        if self.string_values:
            value_shape = self.values.shape[1:]
            d = as_string_array(default)
            d = d.reshape(value_shape) if d.size == int(np.prod(value_shape)) else np.broadcast_to(d, value_shape)
            out = np.empty((len(pos),) + value_shape, dtype=object)
            if not value_shape:
                d = d.reshape(-1)[0]
            for i, p in enumerate(pos):
                out[i] = self.values[p] if p >= 0 else d
            return out.reshape(shape + value_shape)
        values = self.values
        d = torch.as_tensor(default, dtype=values.dtype, device=values.device)
        d = d.reshape(values.shape[1:]) if d.numel() == values[0].numel() else d.expand(values.shape[1:])
        d = d.unsqueeze(0)
        table = torch.cat([values, d], 0)
        idx = torch.tensor([p if p >= 0 else values.shape[0] for p in pos], dtype=torch.long,
                           device=values.device)
        return table[idx].reshape(shape + tuple(values.shape[1:]))

    def sorted_arrays(self) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """(sorted keys, values in that order) for a numeric-key, numeric-value table."""
        if self.string_keys or self.string_values or self.values is None or not self.index:
            return None
        keys = torch.tensor(list(self.index.keys()))
        rows = torch.tensor(list(self.index.values()), dtype=torch.long)
        order = torch.argsort(keys)
        if isinstance(self.key_dtype, torch.dtype):
            keys = keys.to(self.key_dtype)
        return keys[order].contiguous(), self.values[rows[order]].contiguous()


# --- run-time helpers (module-level so fx can name them) ------------------------------------------


def table_import(table: LookupTable, keys: Any, values: Any) -> LookupTable:
    return table.import_(keys, values)


def table_find(table: LookupTable, keys: Any, default: Any) -> Any:
    return table.find(keys, default)


def table_size(table: LookupTable) -> torch.Tensor:
    return torch.tensor(table.size(), dtype=torch.int32)


def sorted_lookup(keys: torch.Tensor, sorted_keys: torch.Tensor, values: torch.Tensor,
                  default: Any) -> torch.Tensor:
    """Pure-torch lookup in a table given as sorted keys + matching values (compilable)."""
    flat = keys.reshape(-1).to(sorted_keys.dtype)
    pos = torch.searchsorted(sorted_keys, flat).clamp(max=sorted_keys.shape[0] - 1)
    hit = sorted_keys[pos] == flat
    found = values[pos]
    d = torch.as_tensor(default, dtype=values.dtype, device=values.device)
    hit = hit.reshape(hit.shape + (1,) * (values.dim() - 1))
    out = torch.where(hit, found, d)
    return out.reshape(tuple(keys.shape) + tuple(values.shape[1:]))


# --- emitters ------------------------------------------------------------------------------------

_TABLE_OPS = ("HashTable", "HashTableV2")
INIT_OPS = ("LookupTableImport", "LookupTableImportV2", "InitializeTable", "InitializeTableV2")


def _table(node: OpNode) -> Any:
    """The table behind input 0: a LookupTable known at import time, or None (a run-time value)."""
    value = node.static(0)
    if value is None:
        return None
    if not isinstance(value, LookupTable):
        raise node.error(f"input 0 is not a table handle ({type(value).__name__})")
    return value


@register_op(*_TABLE_OPS)
def hash_table(node: OpNode) -> Value:
    """The model's table for this node name (shared with ``modelInitializer``)."""
    tables = node.importer.tables
    if node.name not in tables:
        tables[node.name] = LookupTable(node.attr_dtype("key_dtype", "DT_STRING"),
                                        node.attr_dtype("value_dtype", "DT_INT32"), node.name)
    return Static(tables[node.name], node.name)


@register_op(*INIT_OPS)
def lookup_table_import(node: OpNode) -> Value:
    table = _table(node)
    keys, values = node.input(1), node.input(2)
    if table is not None and node.is_static(1) and node.is_static(2):
        try:  # constant keys and values: the table is filled now, at load time
            table.import_(node.static(1), node.static(2))
        except (ValueError, TypeError) as exc:
            raise node.error(f"cannot fill table '{table.name}': {exc}") from exc
        return Static(table, node.name)
    if table is not None:
        table.dynamic = True
    return node.call(table_import, node.input(0), keys, values, fold=False)


@register_op("LookupTableFind", "LookupTableFindV2")
def lookup_table_find(node: OpNode) -> Value:
    table = _table(node)
    keys, default = node.input(1), node.input(2)
    if table is not None and not table.dynamic and not node.is_static(1):
        arrays = table.sorted_arrays()
        if arrays is not None:
            return node.call(sorted_lookup, keys, Static(arrays[0], f"{node.name}_keys"),
                             Static(arrays[1], f"{node.name}_values"), default)
    return node.call(table_find, node.input(0), keys, default, fold=table is not None and not table.dynamic)


@register_op("LookupTableSize", "LookupTableSizeV2")
def lookup_table_size(node: OpNode) -> Value:
    table = _table(node)
    if table is not None and not table.dynamic:
        return Static(table_size(table), node.name)
    return node.call(table_size, node.input(0), fold=False)
