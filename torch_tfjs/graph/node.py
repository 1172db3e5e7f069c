"""GraphDef JSON nodes as emitters see them: decoded attributes, inputs, and ``call``.

Attribute encodings handled: proto3 JSON of a TF ``AttrValue`` (what every Python converter writes:
``s`` base64, ``i`` a decimal string, ``f`` a number or "NaN"/"Infinity", ``b``, ``type``
"DT_FLOAT", ``shape``, ``tensor``, ``func``, ``list`` of each) and the JSON of tfjs-converter's
2019 ``pb2json`` tool (``JSON.stringify`` of protobufjs messages): ``s`` as a list of byte values,
``type`` as the numeric enum, ``list`` with every repeated field present and all but one empty.
An attr that fits none of these raises :class:`GraphError` naming node and attr when it is read,
never a default.
"""

from __future__ import annotations

import base64
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


def model_float(dtype: torch.dtype, anchor: Optional[torch.Tensor]) -> torch.dtype:
    """``dtype`` as the model computes it: TF's float types (all read as float32) become the
    dtype of ``anchor`` (:meth:`OpNode.float_anchor`); other dtypes, or no anchor, stay."""
    if anchor is not None and dtype == torch.float32:
        return anchor.dtype
    return dtype


class Static:
    """A value known at import time (a folded constant): a tensor or another Python object."""

    __slots__ = ("value", "name")

    def __init__(self, value: Any, name: str = ""):
        self.value = value
        self.name = name

    def __repr__(self) -> str:  # pragma: no cover
        return f"Static({self.name or type(self.value).__name__})"


Value = Union[fx.Node, Static]


#: TF ``DataType`` enum numbers (tensorflow/core/framework/types.proto). Converters of 2018–2019
#: (tfjs-converter's ``pb2json``) wrote ``{"type": 1}`` where proto3 JSON writes ``"DT_FLOAT"``.
DT_ENUM: Dict[int, str] = {
    0: "DT_INVALID", 1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16",
    6: "DT_INT8", 7: "DT_STRING", 8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 11: "DT_QINT8",
    12: "DT_QUINT8", 13: "DT_QINT32", 14: "DT_BFLOAT16", 15: "DT_QINT16", 16: "DT_QUINT16",
    17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF", 20: "DT_RESOURCE", 21: "DT_VARIANT",
    22: "DT_UINT32", 23: "DT_UINT64",
}
DT_ENUM.update({k + 100: v + "_REF" for k, v in list(DT_ENUM.items()) if k})  # reference types

_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_LIST_KINDS = ("s", "i", "f", "b", "type", "shape", "tensor", "func")


def _decode_bytes(value: Any) -> bytes:
    """``AttrValue.s``: base64 text (proto3 JSON), or the byte values as a list (old ``pb2json``,
    which stringified protobufjs ``Uint8Array``s) or as an index-keyed object (a ``Uint8Array``
    stringified without a replacer). Plain text is refused: "SAME" is also valid base64."""
    if isinstance(value, dict) and all(str(k).isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]
    if isinstance(value, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
            raise ValueError(f"byte list with values outside 0..255: {str(value)[:60]}")
        return bytes(value)
    if isinstance(value, str):
        text = "".join(value.split())  # MIME base64 may wrap lines
        if len(text) % 4 == 0 and _B64.match(text):
            return base64.b64decode(text)
        # URL-safe alphabet (protobuf JSON parsers accept it)
        if len(text) % 4 == 0 and re.match(r"^[A-Za-z0-9_-]*={0,2}$", text):
            return base64.urlsafe_b64decode(text)
        raise ValueError(f"string value {value[:40]!r} is not base64")
    raise ValueError(f"string value of type {type(value).__name__}")


def _int(value: Any) -> int:
    """int64 / int32: a JSON number, a decimal string (proto3 JSON) or a long.js object
    ``{low, high, unsigned}`` (a protobufjs ``Long`` stringified without a replacer)."""
    if isinstance(value, bool):
        raise ValueError(f"boolean {value} where an integer is expected")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^[+-]?\d+$", value.strip()):
        return int(value)
    if isinstance(value, dict) and {"low", "high"} <= set(value):
        low, high = int(value["low"]) & 0xFFFFFFFF, int(value["high"]) & 0xFFFFFFFF
        out = (high << 32) | low
        return out if value.get("unsigned") or out < 2 ** 63 else out - 2 ** 64
    raise ValueError(f"{value!r} is not an integer")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"boolean {value} where a float is expected")
    if isinstance(value, str):
        return float({"Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    if value is None:  # JSON.stringify writes NaN and ±Infinity as null: which one is lost
        raise ValueError("null float (NaN or ±Infinity written by JSON.stringify)")
    return float(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} is not a boolean")  # bool("false") would be True


def _dtype(value: Any) -> str:
    """``DT_*`` name from a name or the numeric enum (as a number or a digit string)."""
    if isinstance(value, str) and value.startswith("DT_"):
        return value
    number = _int(value)
    if number not in DT_ENUM:
        raise ValueError(f"unknown DataType enum {number}")
    return DT_ENUM[number]


def _shape(value: Any) -> Optional[List[int]]:
    """TensorShapeProto → sizes (-1 unknown), None for unknown rank. Proto3 JSON omits a size of
    0, so a dim without ``size`` is 0 (the bench's tf2onnx shim meets the same)."""
    if not isinstance(value, dict):
        raise ValueError(f"shape is a {type(value).__name__}, not an object")
    if value.get("unknownRank"):
        return None
    return [_int(d.get("size", 0)) for d in value.get("dim", []) or []]


def _tensor(value: Any) -> Dict[str, Any]:
    """TensorProto JSON, kept as a dict with ``dtype`` normalised to its ``DT_*`` name."""
    if not isinstance(value, dict):
        raise ValueError(f"tensor is a {type(value).__name__}, not an object")
    out = dict(value)
    if "dtype" in out:
        out["dtype"] = _dtype(out["dtype"])
    return out


def _func(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"]
    raise ValueError(f"func without a name: {str(value)[:60]}")


def _string(value: Any) -> Union[str, bytes]:
    data = _decode_bytes(value)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


_SCALAR: Dict[str, Callable[[Any], Any]] = {
    "s": _string, "i": _int, "f": _to_float, "b": _bool, "type": _dtype, "shape": _shape,
    "tensor": _tensor, "func": _func,
}


def _list(raw: Any) -> List[Any]:
    """``AttrValue.list``. protobufjs messages (old ``pb2json``) carry every repeated field,
    mostly empty (``{"s": [], "i": ["1", "2"], "f": [], ...}``): the one non-empty field holds
    the values. Two non-empty fields cannot be told apart and are refused."""
    if not isinstance(raw, dict):
        raise ValueError(f"list is a {type(raw).__name__}, not an object")
    unknown = [k for k in raw if k not in _LIST_KINDS]
    if unknown:
        raise ValueError(f"list with unknown field(s) {unknown}")
    filled = [k for k, v in raw.items() if v]
    if len(filled) > 1:
        raise ValueError(f"list with several non-empty fields {filled}")
    if not filled:
        return []
    kind = filled[0]
    items = raw[kind]
    if not isinstance(items, list):
        raise ValueError(f"list.{kind} is not a JSON list")
    return [_SCALAR[kind](item) for item in items]


def decode_attr(value: Any) -> Any:
    """One ``AttrValue`` JSON object → a Python value: ``s`` → str (bytes when not UTF-8),
    ``i`` → int, ``f`` → float, ``b`` → bool, ``type`` → ``"DT_*"`` name, ``shape`` → list of
    sizes (None: unknown rank), ``tensor`` → dict, ``func`` → name, ``placeholder`` → name,
    ``list`` → list of those. An empty object (no value set) → None. Raises ValueError on
    anything else; :class:`NodeDef` turns that into a :class:`GraphError` when the attr is read."""
    if not isinstance(value, dict):
        raise ValueError(f"AttrValue is a {type(value).__name__}, not an object")
    if not value:
        return None
    if len(value) > 1:
        raise ValueError(f"AttrValue with several values {sorted(value)}")
    key, raw = next(iter(value.items()))
    if key == "list":
        return _list(raw)
    if key == "placeholder":
        if not isinstance(raw, str):
            raise ValueError("placeholder is not a string")
        return raw
    if key not in _SCALAR:
        raise ValueError(f"unknown AttrValue field '{key}'")
    return _SCALAR[key](raw)


class BadAttr:
    """An attr that did not decode: reading it raises :class:`GraphError` (``message``). Kept
    instead of failing the whole load, since most attrs (``_output_shapes``, ``T``) are never
    read."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


class Attrs(Dict[str, Any]):
    """Decoded attrs of one node; ``attrs[key]`` / ``attrs.get(key)`` of an attr that did not
    decode raise :class:`GraphError` naming the node and the attr."""

    def __getitem__(self, key: str) -> Any:
        return self._checked(super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._checked(super().get(key, default))

    @staticmethod
    def _checked(value: Any) -> Any:
        if isinstance(value, BadAttr):
            raise GraphError(value.message)
        return value


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
    attrs: Attrs
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
        if not isinstance(raw, dict):
            raise GraphError(f"{where}: node '{obj['name']}' ({obj['op']}): 'attr' is not an object")
        attrs = Attrs()
        for key, val in raw.items():
            try:
                attrs[key] = decode_attr(val)
            except (ValueError, TypeError) as exc:
                attrs[key] = BadAttr(f"{where}: node '{obj['name']}' ({obj['op']}): cannot decode "
                                     f"attr '{key}': {exc}")
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

    def float_anchor(self) -> fx.Node:
        """A 0-d float buffer that follows ``model.to(dtype)`` (its dtype is the model's)."""

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
        if value is not None and not isinstance(value, str):
            raise self.error(f"attr '{key}' should be a string, is {value!r}")
        return value.lower() if (lower and isinstance(value, str)) else value

    def attr_int(self, key: str, default: Optional[int] = None) -> Optional[int]:
        """Integer attr (tfjs's ``getNumberParam`` also reads a float ``f``: an integral one is
        accepted, any other value is an error rather than a truncation)."""
        value = self.attrs.get(key, default)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"attr '{key}' should be an integer, is {value!r}")
        return value

    def attr_float(self, key: str, default: Optional[float] = None) -> Optional[float]:
        value = self.attrs.get(key, default)
        if value is None:
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.error(f"attr '{key}' should be a number, is {value!r}")
        return float(value)

    def attr_bool(self, key: str, default: bool = False) -> bool:
        value = self.attrs.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"attr '{key}' should be a boolean, is {value!r}")
        return value

    def attr_list(self, key: str, default: Optional[List[Any]] = None) -> List[Any]:
        value = self.attrs.get(key)
        if value is None:
            return list(default or [])
        return list(value) if isinstance(value, list) else [value]

    def attr_dtype(self, key: str, default: str = "DT_FLOAT") -> Union[torch.dtype, str]:
        """The torch dtype (or "string" / "resource" / "variant") of a ``type`` attr."""
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

    def float_anchor(self) -> Value:
        """A 0-d float buffer of the model whose dtype is the one the model computes floats in
        (float32 unless loaded with ``dtype=`` or cast with ``.half()`` / ``.to(dtype)``). Ops that
        name a float dtype (TF's float32: "the model's float type") read it at run time; see
        :func:`model_float`."""
        return self.importer.float_anchor()

    def outputs(self, value: Value, n: int) -> List[Value]:
        """Split a value holding a tuple of ``n`` results into ``n`` values."""
        return self.importer.split(value, n)

    def function(self, attr_key: str) -> Value:
        """The library function named by a ``func`` attr, as a callable module value."""
        return self.importer.function_value(self.attr(attr_key), self)

    def error(self, message: str) -> GraphError:
        where = getattr(self.importer, "where", "")
        return GraphError(f"{where + ': ' if where else ''}node '{self.name}' ({self.op}): {message}")
