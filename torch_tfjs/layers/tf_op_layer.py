"""tf.keras ``TensorFlowOpLayer``: a raw TF op called on Keras tensors (TF 2.0-2.3 functional
models, and graph mode since), saved as its NodeDef plus constant inputs. The common ops
(elementwise math, Cast, Reshape, Transpose, ConcatV2, Pack, StridedSlice, reductions, MatMul,
resizes, pads ...) run with TF's semantics; tfjs-layers cannot load these models at all.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .._loading import add_dtype_marker
from .._image import resize_bilinear, resize_nearest
from .._tfops import mirror_pad, strided_slice, strided_slice_index
from ..errors import LayerConfigError
from .base import KerasLayer, LayerSpec
from .ops import relu6
from .registry import register_layer

# tf.keras wrapped a raw TF op called on Keras tensors in a ``TensorFlowOpLayer`` (functional
# models in TF 2.0-2.3, and in graph mode ever since; TF >= 2.4 eager writes TFOpLambda). Its
# config (tf_keras ``engine/base_layer.py``: ``TensorFlowOpLayer.get_config``) is
#   {"name": <node name>, "node_def": NodeDef as json_format.MessageToDict writes it:
#        {"name", "op", "input": [...], "attr": {"T": {"type": "DT_FLOAT"}, "keep_dims": {"b": true},
#         "begin_mask": {"i": "1"}, "squeeze_dims": {"list": {"i": ["1"]}}, ...}},
#    "constants": {"<input index>": value}}
# and the layer is named "tf_op_layer_<name>". ``_make_op`` rebuilds the op with the layer's
# tensor inputs in order and each constant inserted at its index. tfjs-layers has no such class.

_TF_OP_LAYER_PREFIX = "tf_op_layer_"

_TF_DTYPES: Dict[str, torch.dtype] = {
    "DT_FLOAT": torch.float32, "DT_DOUBLE": torch.float64, "DT_HALF": torch.float16,
    "DT_BFLOAT16": torch.bfloat16, "DT_INT32": torch.int32, "DT_INT64": torch.int64,
    "DT_INT16": torch.int16, "DT_INT8": torch.int8, "DT_UINT8": torch.uint8, "DT_BOOL": torch.bool,
}


def _attr_value(value: Any) -> Any:
    """One NodeDef ``AttrValue`` as ``json_format.MessageToDict`` writes it → a Python value
    (int64 values arrive as strings, bytes as base64)."""
    if not isinstance(value, dict) or not value:
        return None
    if "list" in value:
        items = value["list"] or {}
        for key in ("i", "f", "b", "type", "s"):
            if key in items:
                return [_attr_value({key: v}) for v in items[key]]
        return []
    key, raw = next(iter(value.items()))
    if key == "i":
        return int(raw)
    if key == "f":
        return float(raw)
    if key == "b":
        return bool(raw)
    if key == "s":
        return base64.b64decode(raw).decode("utf-8", "replace")
    return raw  # "type" (a DT_* name); shapes and tensors are not read by the ops below


def _constant_value(value: Any) -> np.ndarray:
    """A TensorFlowOpLayer constant: newer tf.keras writes arrays as ``{"class_name":
    "__numpy__", "config": {"value", "dtype"}}``, older ones (TF 2.0-2.3) as plain (nested)
    lists; scalars are plain numbers in both."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        config = value.get("config") or {}
        return np.asarray(config.get("value"), dtype=config.get("dtype") or None)
    return np.asarray(value)


class _OpCall:
    """One run of a wrapped op: its inputs in NodeDef order and its attributes."""

    def __init__(self, layer: "TensorFlowOpLayer", values: List[torch.Tensor]):
        self.layer = layer
        self.values = values
        self.attrs = layer.attrs

    def attr(self, key: str, default: Any = None) -> Any:
        value = self.attrs.get(key)
        return default if value is None else value

    def data(self, i: int, type_attr: str = "T") -> torch.Tensor:
        """Input ``i`` as a data tensor; a constant takes the op's element type (TF requires
        every input of type ``T`` to have it; JSON loses float32 vs float64)."""
        value = self.values[i]
        dtype = _TF_DTYPES.get(str(self.attrs.get(type_attr)))
        if i in self.layer.constant_positions and dtype is not None:
            if dtype == torch.float32:  # a model cast to another float dtype: follow its tensors
                dtype = next((v.dtype for j, v in enumerate(self.values)
                              if j not in self.layer.constant_positions
                              and isinstance(v, torch.Tensor) and v.is_floating_point()),
                             self.layer.float_dtype_marker.dtype)  # none (Fill): the model's
            value = value.to(dtype)
        return value

    def ints(self, i: int) -> List[int]:
        """Input ``i`` (an index-like tensor: axes, shape, perm, begin ...) as Python ints."""
        return [int(v) for v in self.values[i].reshape(-1).tolist()]

    def axis(self, i: int) -> int:
        return self.ints(i)[0]

    def datas(self, count: int, start: int = 0) -> List[torch.Tensor]:
        return [self.data(start + k) for k in range(count)]


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[_OpCall], torch.Tensor]:
    return lambda call: fn(call.data(0))


def _binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[_OpCall], torch.Tensor]:
    return lambda call: fn(call.data(0), call.data(1))


def _tf_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """TF ``Div``: true division for floats, C++ (truncating) division for integers."""
    return a / b if a.is_floating_point() else torch.div(a, b, rounding_mode="trunc")


def _reduce(kind: str) -> Callable[[_OpCall], torch.Tensor]:
    """TF Sum / Mean / Max / Min / Prod / Any / All: ``keep_dims`` attr, axes input (an empty
    list reduces nothing); integer results stay in the input's type (Mean truncates)."""

    def run(call: _OpCall) -> torch.Tensor:
        x = call.data(0)
        axes = sorted({a % x.dim() for a in call.ints(1)}) if x.dim() else []
        keep = bool(call.attr("keep_dims", False))
        if not axes:
            return x.clone()
        if kind in ("Max", "Min"):
            return (torch.amax if kind == "Max" else torch.amin)(x, dim=axes, keepdim=keep)
        if kind in ("Prod", "Any", "All"):
            fn = {"Prod": torch.prod, "Any": torch.any, "All": torch.all}[kind]
            for axis in reversed(axes):  # these take one axis at a time
                x = fn(x, dim=axis, keepdim=keep)
            return x
        total = torch.sum(x, dim=axes, keepdim=keep)
        if kind == "Sum":
            return total.to(x.dtype)
        if x.is_floating_point():
            return torch.mean(x, dim=axes, keepdim=keep)
        count = int(np.prod([x.shape[a] for a in axes]))
        return torch.div(total, count, rounding_mode="trunc").to(x.dtype)

    return run


def _arg_reduce(fn: Callable[..., torch.Tensor]) -> Callable[[_OpCall], torch.Tensor]:
    def run(call: _OpCall) -> torch.Tensor:
        out_type = _TF_DTYPES.get(str(call.attr("output_type", "DT_INT64")), torch.int64)
        return fn(call.data(0), dim=call.axis(1)).to(out_type)
    return run


def _expand_dims(call: _OpCall) -> torch.Tensor:
    x = call.data(0)
    axis = call.axis(1)
    return x.unsqueeze(axis if axis >= 0 else axis + x.dim() + 1)


def _squeeze(call: _OpCall) -> torch.Tensor:
    """TF Squeeze: ``squeeze_dims`` (every size-1 axis when empty)."""
    x = call.data(0)
    axes = call.attr("squeeze_dims", []) or [a for a in range(x.dim()) if x.shape[a] == 1]
    for axis in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(axis)
    return x


def _matmul(call: _OpCall) -> torch.Tensor:
    a, b = call.data(0), call.data(1)
    a = a.transpose(-1, -2) if call.attr("transpose_a", False) else a
    b = b.transpose(-1, -2) if call.attr("transpose_b", False) else b
    return torch.matmul(a, b)


def _batch_matmul(call: _OpCall) -> torch.Tensor:
    """BatchMatMul(V2/V3): ``adj_x`` / ``adj_y`` take the adjoint of the last two axes."""
    a, b = call.data(0, "Ta" if "Ta" in call.attrs else "T"), call.data(1, "Tb" if "Tb" in call.attrs else "T")
    a = a.mH if call.attr("adj_x", False) else a
    b = b.mH if call.attr("adj_y", False) else b
    return torch.matmul(a, b)


def _pairs(values: List[int]) -> List[Tuple[int, int]]:
    return [(values[k], values[k + 1]) for k in range(0, len(values), 2)]


def _pad(call: _OpCall) -> torch.Tensor:
    """Pad / PadV2: ``paddings`` is one (before, after) row per axis; PadV2's third input is
    the fill value."""
    x = call.data(0)
    flat: List[int] = []
    for before, after in reversed(_pairs(call.ints(1))):  # torch lists the last axis first
        flat += [before, after]
    value = call.data(2).item() if len(call.values) > 2 else 0
    return torch.nn.functional.pad(x, flat, value=value)


def _mirror_pad(call: _OpCall) -> torch.Tensor:
    mode = str(call.attr("mode", "REFLECT")).upper()
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise call.layer.config_error(f"MirrorPad mode {mode!r}")
    return mirror_pad(call.data(0), [list(p) for p in _pairs(call.ints(1))], mode == "SYMMETRIC")


def _resize(fn: Callable[..., torch.Tensor]) -> Callable[[_OpCall], torch.Tensor]:
    def run(call: _OpCall) -> torch.Tensor:
        height, width = call.ints(1)
        return fn(call.data(0), height, width, bool(call.attr("align_corners", False)),
                  bool(call.attr("half_pixel_centers", False)))
    return run


def _strided_slice(call: _OpCall) -> torch.Tensor:
    masks = [int(call.attr(k, 0)) for k in
             ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")]
    try:
        index = strided_slice_index(call.ints(1), call.ints(2), call.ints(3), *masks)
    except ValueError as exc:
        raise call.layer.config_error(str(exc)) from None
    return strided_slice(call.data(0), index)


def _slice(call: _OpCall) -> torch.Tensor:
    """TF Slice: ``size`` -1 runs to the end of the axis."""
    index = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(call.ints(1), call.ints(2)))
    return call.data(0)[index]


def _split(call: _OpCall) -> Tuple[torch.Tensor, ...]:
    """Split(axis, value) into ``num_split`` equal parts."""
    x = call.data(1)
    axis = call.axis(0)
    return torch.split(x, x.shape[axis] // int(call.attr("num_split", 1)), dim=axis)


def _split_v(call: _OpCall) -> Tuple[torch.Tensor, ...]:
    """SplitV(value, size_splits, axis): one size may be -1 (the rest)."""
    x = call.data(0)
    axis = call.axis(2)
    sizes = call.ints(1)
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return torch.split(x, sizes, dim=axis)


def _gather(call: _OpCall) -> torch.Tensor:
    """GatherV2(params, indices, axis) with ``batch_dims`` 0."""
    if int(call.attr("batch_dims", 0)) != 0:
        raise call.layer.config_error("GatherV2 with batch_dims != 0 is not supported")
    params, indices = call.data(0, "Tparams"), call.values[1].long()
    axis = call.axis(2) % params.dim()
    picked = params.index_select(axis, indices.reshape(-1))
    return picked.reshape(params.shape[:axis] + indices.shape + params.shape[axis + 1:])


def _cast(call: _OpCall) -> torch.Tensor:
    """Cast to ``DstT``; float → int truncates toward zero as TF's static_cast does."""
    dtype = _TF_DTYPES.get(str(call.attr("DstT")))
    if dtype is None:
        raise call.layer.config_error(f"Cast to {call.attr('DstT')!r}")
    if dtype == torch.float32:  # TF's float32 is the model's float type (float16 after .half())
        dtype = call.layer.float_dtype_marker.dtype
    return call.data(0, "SrcT").to(dtype)


def _bias_add(call: _OpCall) -> torch.Tensor:
    x, bias = call.data(0), call.data(1)
    if str(call.attr("data_format", "NHWC")).upper().startswith("NC") and x.dim() > 2:
        return x + bias.reshape([-1] + [1] * (x.dim() - 2))
    return x + bias


def _softmax(log: bool) -> Callable[[_OpCall], torch.Tensor]:
    fn = torch.log_softmax if log else torch.softmax
    return lambda call: fn(call.data(0), dim=-1)


#: TF op name → torch implementation, TF semantics (attrs read from the NodeDef).
_TF_OPS: Dict[str, Callable[[_OpCall], Any]] = {
    # elementwise, one input
    "Identity": _unary(lambda x: x), "StopGradient": _unary(torch.Tensor.detach),
    "Neg": _unary(torch.neg), "Abs": _unary(torch.abs), "Sign": _unary(torch.sign),
    "Square": _unary(torch.square), "Sqrt": _unary(torch.sqrt), "Rsqrt": _unary(torch.rsqrt),
    "Reciprocal": _unary(torch.reciprocal), "Inv": _unary(torch.reciprocal),
    "Exp": _unary(torch.exp), "Expm1": _unary(torch.expm1), "Log": _unary(torch.log),
    "Log1p": _unary(torch.log1p), "Floor": _unary(torch.floor), "Ceil": _unary(torch.ceil),
    "Round": _unary(torch.round),  # both round half to even
    "Sin": _unary(torch.sin), "Cos": _unary(torch.cos), "Erf": _unary(torch.erf),
    "Relu": _unary(torch.relu), "Relu6": _unary(relu6), "Elu": _unary(torch.nn.functional.elu),
    "Selu": _unary(torch.nn.functional.selu), "Sigmoid": _unary(torch.sigmoid),
    "Tanh": _unary(torch.tanh), "Softplus": _unary(torch.nn.functional.softplus),
    "Softsign": _unary(torch.nn.functional.softsign),
    "LeakyRelu": lambda call: torch.nn.functional.leaky_relu(call.data(0), float(call.attr("alpha", 0.2))),
    "LogicalNot": _unary(torch.logical_not),
    "Softmax": _softmax(False), "LogSoftmax": _softmax(True),
    # elementwise, two inputs (numpy broadcasting)
    "Add": _binary(torch.add), "AddV2": _binary(torch.add), "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul), "RealDiv": _binary(torch.true_divide), "Div": _binary(_tf_div),
    "FloorDiv": _binary(torch.floor_divide), "FloorMod": _binary(torch.remainder),
    "Maximum": _binary(torch.maximum), "Minimum": _binary(torch.minimum), "Pow": _binary(torch.pow),
    "SquaredDifference": _binary(lambda a, b: torch.square(a - b)),
    "Equal": _binary(torch.eq), "NotEqual": _binary(torch.ne), "Greater": _binary(torch.gt),
    "GreaterEqual": _binary(torch.ge), "Less": _binary(torch.lt), "LessEqual": _binary(torch.le),
    "LogicalAnd": _binary(torch.logical_and), "LogicalOr": _binary(torch.logical_or),
    "BiasAdd": _bias_add, "BiasAddV1": _bias_add,
    "AddN": lambda call: sum(call.datas(len(call.values))[1:], call.data(0)),
    "SelectV2": lambda call: torch.where(call.values[0].bool(), call.data(1), call.data(2)),
    # types and shapes
    "Cast": _cast,
    "Shape": lambda call: torch.tensor(list(call.values[0].shape), device=call.values[0].device,
                                       dtype=_TF_DTYPES.get(str(call.attr("out_type", "DT_INT32")), torch.int32)),
    "Reshape": lambda call: call.data(0).reshape(call.ints(1)),
    "Transpose": lambda call: call.data(0).permute(call.ints(1)),
    "ExpandDims": _expand_dims, "Squeeze": _squeeze,
    "ConcatV2": lambda call: torch.cat(call.datas(len(call.values) - 1), dim=call.axis(len(call.values) - 1)),
    "Concat": lambda call: torch.cat(call.datas(len(call.values) - 1, 1), dim=call.axis(0)),
    "Pack": lambda call: torch.stack(call.datas(len(call.values)), dim=int(call.attr("axis", 0))),
    "Unpack": lambda call: torch.unbind(call.data(0), dim=int(call.attr("axis", 0))),
    "Split": _split, "SplitV": _split_v,
    "StridedSlice": _strided_slice, "Slice": _slice, "GatherV2": _gather,
    "Tile": lambda call: call.data(0).repeat(call.ints(1)),
    "Pad": _pad, "PadV2": _pad, "MirrorPad": _mirror_pad,
    "ZerosLike": _unary(torch.zeros_like), "OnesLike": _unary(torch.ones_like),
    "Fill": lambda call: call.data(1).reshape(()).expand(call.ints(0)).clone(),  # Fill(dims, value)
    # reductions
    **{kind: _reduce(kind) for kind in ("Sum", "Mean", "Max", "Min", "Prod", "Any", "All")},
    "ArgMax": _arg_reduce(torch.argmax), "ArgMin": _arg_reduce(torch.argmin),
    # linear algebra
    "MatMul": _matmul, "BatchMatMul": _batch_matmul, "BatchMatMulV2": _batch_matmul,
    "BatchMatMulV3": _batch_matmul,
    "Einsum": lambda call: torch.einsum(str(call.attr("equation")), *call.datas(len(call.values))),
    # images (NHWC), TF's sampling rules
    "ResizeBilinear": _resize(resize_bilinear), "ResizeNearestNeighbor": _resize(resize_nearest),
}


def _tf_op_name(config: Dict[str, Any]) -> Optional[str]:
    node_def = config.get("node_def")
    return str(node_def.get("op")) if isinstance(node_def, dict) and node_def.get("op") else None


@register_layer("TensorFlowOpLayer")
class TensorFlowOpLayer(KerasLayer):
    """A raw TF op of a tf.keras functional model (``tf_op_layer_<name>``), run by the torch
    implementation of that op above — never code from the artifact. Ops without one are listed
    (``TensorFlowOpLayer(<op>)``) with every other unsupported layer before anything is built."""

    @staticmethod
    def unsupported(config: Dict[str, Any]) -> Optional[str]:
        op = _tf_op_name(config)
        if op is None:
            return "TensorFlowOpLayer(no node_def op)"
        return None if op in _TF_OPS else f"TensorFlowOpLayer({op})"

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        name = spec.name
        self.layer_name = name if name.startswith(_TF_OP_LAYER_PREFIX) else _TF_OP_LAYER_PREFIX + name
        self.op = _tf_op_name(spec.config)
        if self.op is None or self.op not in _TF_OPS:
            raise self.config_error(f"TF op {self.op!r} is not supported")
        node_def = spec.config["node_def"]
        self.attrs: Dict[str, Any] = {k: _attr_value(v) for k, v in (node_def.get("attr") or {}).items()}
        self.input_count = sum(1 for n in node_def.get("input") or [] if not str(n).startswith("^"))
        constants = spec.config.get("constants") or {}
        self.constant_positions: Dict[int, str] = {}
        for key in sorted(constants, key=int):  # Keras inserts them in index order
            array = _constant_value(constants[key])
            if array.dtype == object or array.dtype.kind in "SU":
                raise self.config_error(f"constant input {key} is not numeric")
            attr = f"const_{int(key)}"
            # a buffer (not saved: it is part of the topology) so it follows .to(device)
            self.register_buffer(attr, torch.from_numpy(np.array(array, copy=True)), persistent=False)
            self.constant_positions[int(key)] = attr
        self.fn = _TF_OPS[self.op]
        add_dtype_marker(self)  # a Cast to float32 gives the model's float dtype

    def config_error(self, message: str) -> LayerConfigError:
        return LayerConfigError(f"layer '{self.layer_name}' (TensorFlowOpLayer {self.op}): {message}")

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> Any:
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        expected = self.input_count - len(self.constant_positions)
        if self.input_count and len(tensors) != expected:
            raise self.config_error(f"takes {expected} tensor input(s), got {len(tensors)}")
        values = list(tensors)
        for position, attr in self.constant_positions.items():
            values.insert(position, getattr(self, attr))
        return self.fn(_OpCall(self, values))

    def extra_repr(self) -> str:
        return f"name={self.layer_name!r}, op={self.op!r}"
