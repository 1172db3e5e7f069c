"""GraphDef JSON nodes as emitters see them: decoded attributes, inputs, and ``call``.

Attribute encodings handled (protobuf ``MessageToDict`` of a TF ``AttrValue``): ``s`` as base64
or as a list of byte values, ``i`` as a JSON string or number, ``f`` (also "NaN"/"Infinity"),
``b``, ``type``, ``shape`` (``unknownRank``), ``tensor``, ``func`` and ``list`` of each.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple, Union

import numpy as np
import torch
import torch.fx as fx

from ..errors import GraphError


#: TF dtype enum → the torch dtype tfjs computes in (tfjs has float32, int32, bool, complex64,
#: string; wider and narrower types map onto those, as ``parseDtypeParam`` does).
TF_DTYPES: Dict[str, Union[torch.dtype, str]] = {
    "DT_FLOAT": torch.float32, "DT_HALF": torch.float32, "DT_DOUBLE": torch.float32,
    "DT_BFLOAT16": torch.float32,
    "DT_INT32": torch.int32, "DT_INT64": torch.int32, "DT_INT8": torch.int32,
    "DT_UINT8": torch.int32, "DT_INT16": torch.int32, "DT_UINT16": torch.int32,
    "DT_UINT32": torch.int32, "DT_UINT64": torch.int32,
    "DT_BOOL": torch.bool,
    "DT_COMPLEX64": torch.complex64, "DT_COMPLEX128": torch.complex64,
    "DT_STRING": "string", "DT_RESOURCE": "resource", "DT_VARIANT": "variant",
}


class Static:
    """A value known at import time (a folded constant): a tensor or another Python object."""

    __slots__ = ("value", "name")

    def __init__(self, value: Any, name: str = ""):
        self.value = value
        self.name = name

    def __repr__(self) -> str:  # pragma: no cover
        return f"Static({self.name or type(self.value).__name__})"


Value = Union[fx.Node, Static]


def _decode_bytes(value: Any) -> bytes:
    if isinstance(value, list):
        return bytes(int(v) & 0xFF for v in value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise ValueError(f"cannot decode string attr {value!r}")


def _to_float(value: Any) -> float:
    if isinstance(value, str):
        return float({"Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    return float(value)


def _shape(value: Any) -> Optional[List[int]]:
    if not isinstance(value, dict) or value.get("unknownRank"):
        return None
    return [int(d.get("size", -1)) for d in value.get("dim", [])]


def decode_attr(value: Any) -> Any:
    """One ``AttrValue`` JSON object → a Python value."""
    if not isinstance(value, dict) or not value:
        return None
    key, raw = next(iter(value.items()))
    if key == "s":
        data = _decode_bytes(raw)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    if key == "i":
        return int(raw)
    if key == "f":
        return _to_float(raw)
    if key == "b":
        return bool(raw)
    if key == "type":
        return raw
    if key == "shape":
        return _shape(raw)
    if key == "func":
        return raw.get("name") if isinstance(raw, dict) else raw
    if key == "tensor":
        return raw
    if key == "placeholder":
        return raw
    if key == "list":
        if not isinstance(raw, dict) or not raw:
            return []
        kind, items = next(iter(raw.items()))
        return [decode_attr({kind: item}) for item in items]
    return raw


_REF = re.compile(r"^(\^)?([^:]+)(?::([^:]+))?(?::(\d+))?$")


@dataclass(frozen=True)
class TensorRef:
    """A reference to one output of a node: ``name``, ``name:k`` or (in functions)
    ``name:out_arg:k``."""

    node: str
    index: int = 0
    out_arg: Optional[str] = None


def parse_input(text: str) -> Tuple[Optional[TensorRef], bool]:
    """(ref, is_control). ``^name`` is a control dependency."""
    if text.startswith("^"):
        return TensorRef(text[1:]), True
    parts = text.split(":")
    if len(parts) == 1:
        return TensorRef(parts[0]), False
    if len(parts) == 2:
        return TensorRef(parts[0], int(parts[1]) if parts[1].isdigit() else 0,
                         None if parts[1].isdigit() else parts[1]), False
    return TensorRef(parts[0], int(parts[2]), parts[1]), False


@dataclass
class NodeDef:
    """A parsed GraphDef node."""

    name: str
    op: str
    inputs: List[TensorRef]
    control_inputs: List[str]
    attrs: Dict[str, Any]
    raw_attrs: Dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, obj: Dict[str, Any], where: str) -> "NodeDef":
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not isinstance(obj.get("op"), str):
            raise GraphError(f"{where}: node without a string 'name' and 'op': {str(obj)[:200]}")
        inputs: List[TensorRef] = []
        controls: List[str] = []
        for text in obj.get("input", []) or []:
            ref, is_control = parse_input(str(text))
            if is_control:
                controls.append(ref.node)  # type: ignore[union-attr]
            else:
                inputs.append(ref)  # type: ignore[arg-type]
        raw = obj.get("attr", {}) or {}
        attrs = {}
        for key, val in raw.items():
            try:
                attrs[key] = decode_attr(val)
            except (ValueError, TypeError) as exc:
                raise GraphError(f"{where}: node '{obj['name']}' ({obj['op']}): cannot decode attr "
                                 f"'{key}': {exc}") from exc
        return cls(obj["name"], obj["op"], inputs, controls, attrs, raw)


class EmitContext(Protocol):
    """What the graph being built offers an emitter, through :class:`OpNode` (the importer
    implements it; emitters never import the importer)."""

    #: Hash tables of this model by the name of the node creating them (hash-table ops).
    tables: Dict[str, Any]

    def static_value(self, value: Value) -> Any:
        """The import-time value of ``value`` (a folded constant), or ``None``."""

    def in_layout(self, value: Value, layout: str, opnode: "OpNode") -> Value:
        """``value`` (a weight) in ``layout`` (see ``_layout.WEIGHT_LAYOUTS``)."""

    def emit_call(self, opnode: "OpNode", fn: Callable[..., Any], args: Tuple[Any, ...],
                  kwargs: Dict[str, Any], fold: bool = True) -> Value:
        """A call of ``fn`` in the graph, folded at import time when every argument is static."""

    def device_anchor(self) -> fx.Node:
        """A 0-d buffer that follows ``model.to(device)``."""

    def split(self, value: Value, n: int) -> List[Value]:
        """``n`` values from one multi-output ``value``."""

    def function_value(self, name: Any, opnode: "OpNode") -> fx.Node:
        """A library function (``attr`` value) as a callable sub-module."""

    def const(self, node: "NodeDef") -> Value:
        """A ``Const`` node: a parameter for float weights, else a static value."""


class OpNode:
    """What an emitter receives: one node, its decoded attrs, its input values, and ``call``."""

    def __init__(self, node: NodeDef, inputs: List[Value], importer: EmitContext):
        self.node = node
        self.name = node.name
        self.op = node.op
        self.attrs = node.attrs
        self._inputs = inputs
        self.importer = importer

    # --- inputs ------------------------------------------------------------------------------
    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    def input(self, i: int) -> Value:
        try:
            return self._inputs[i]
        except IndexError:
            raise self.error(f"expects an input #{i}, has {len(self._inputs)}") from None

    @property
    def inputs(self) -> List[Value]:
        return list(self._inputs)

    def static(self, i: int) -> Any:
        """Input ``i``'s value when known at import time (numpy array / Python object), else
        None. Use for shape-like arguments; the value is baked into the graph."""
        return self.importer.static_value(self.input(i))

    def static_list(self, i: int) -> Optional[List[Any]]:
        value = self.static(i)
        if value is None:
            return None
        return np.asarray(value).reshape(-1).tolist()

    def is_static(self, i: int) -> bool:
        return self.static(i) is not None

    def input_in_layout(self, i: int, layout: str) -> Value:
        """Input ``i`` converted to a weight layout of ``torch_tfjs._layout.WEIGHT_LAYOUTS``:
        free when it is a Const weight the importer already stores that way (declare it with
        ``register_op(..., param_layouts={i: layout})``), else a per-call conversion."""
        return self.importer.in_layout(self.input(i), layout, self)

    # --- attributes ----------------------------------------------------------------------------
    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def attr_str(self, key: str, default: Optional[str] = None, lower: bool = True) -> Optional[str]:
        """String attr, lower-cased by default as tfjs compares them."""
        value = self.attrs.get(key, default)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return value.lower() if (lower and isinstance(value, str)) else value

    def attr_int(self, key: str, default: Optional[int] = None) -> Optional[int]:
        value = self.attrs.get(key, default)
        return None if value is None else int(value)

    def attr_float(self, key: str, default: Optional[float] = None) -> Optional[float]:
        value = self.attrs.get(key, default)
        return None if value is None else float(value)

    def attr_bool(self, key: str, default: bool = False) -> bool:
        return bool(self.attrs.get(key, default))

    def attr_list(self, key: str, default: Optional[List[Any]] = None) -> List[Any]:
        value = self.attrs.get(key)
        if value is None:
            return list(default or [])
        return list(value) if isinstance(value, list) else [value]

    def attr_dtype(self, key: str, default: str = "DT_FLOAT") -> Union[torch.dtype, str]:
        name = self.attrs.get(key, default) or default
        if name not in TF_DTYPES:
            raise self.error(f"unsupported dtype {name} in attr '{key}'")
        return TF_DTYPES[name]

    # --- emitting ----------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, fold: bool = True, **kwargs: Any) -> Value:
        """Emit ``fn(*args, **kwargs)`` as one ``call_function`` node, or evaluate it now when
        every argument is static (constant folding). ``fold=False`` always emits the call (for
        random ops, whose result must differ per run)."""
        return self.importer.emit_call(self, fn, args, kwargs, fold=fold)

    def device_anchor(self) -> Value:
        """A 0-d buffer of the model: ops that create tensors from nothing but a shape (random
        draws) read its ``device`` so they follow ``model.to(device)``."""
        return self.importer.device_anchor()

    def outputs(self, value: Value, n: int) -> List[Value]:
        """Split a value holding a tuple of ``n`` results into ``n`` values."""
        return self.importer.split(value, n)

    def function(self, attr_key: str) -> Value:
        """The library function named by a ``func`` attr, as a callable module value."""
        return self.importer.function_value(self.attr(attr_key), self)

    def error(self, message: str) -> GraphError:
        return GraphError(f"node '{self.name}' ({self.op}): {message}")
