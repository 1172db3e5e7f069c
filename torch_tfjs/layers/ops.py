"""Operation layers: calls of backend functions that functional Keras models save as layers.

- Keras 3: ``keras.ops.not_equal(tokens, 0)`` is saved as a layer named after the op. The
  elementwise comparisons such models use for masks are supported (arithmetic op names such as
  ``Add`` belong to the Keras merge layers); literal arguments arrive in position among the
  tensors.
- Keras 2: ``TFOpLambda`` names a TF function (``math.multiply``) with call kwargs; a fixed set
  of elementwise functions is supported.
- Keras 3 elementwise and reduction ops (``Exp``, ``Relu6``, ``TrueDivide``, ``Mean`` ...),
  which the converter saves like layers; arithmetic ones named like merge layers (``Add``,
  ``Multiply``, ``Maximum``) are run by those.
- tf.keras ``TensorFlowOpLayer``: see :mod:`.tf_op_layer`.
- Keras 3 structural ops: ``Transpose``, ``Matmul``, ``Stack``, ``Where``, ``Clip``, ``Cast``
  (``keras.ops.reshape`` is saved as ``Reshape`` with ``newshape`` and runs in core.Reshape).
- ``LayerScale``, the one custom layer of keras.applications (ConvNeXt).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch

from .._loading import add_dtype_marker
from ..activations import relu6
from ..errors import LayerConfigError
from .base import KerasLayer, LayerSpec
from .registry import register_layer

_BINARY: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "NotEqual": torch.ne, "Equal": torch.eq, "Greater": torch.gt, "GreaterEqual": torch.ge,
    "Less": torch.lt, "LessEqual": torch.le,
    "LogicalAnd": torch.logical_and, "LogicalOr": torch.logical_or,  # Keras 3 mask merging
}


def _as_tensor(value: Any, like: torch.Tensor) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=like.dtype, device=like.device)


@register_layer(*_BINARY)
class KerasBinaryOp(KerasLayer):
    """``op(a, b)`` with numpy broadcasting; one side may be a Python literal."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.fn = _BINARY[spec.class_name]

    def forward(self, inputs: List[Any], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError(f"layer '{self.keras_name}' ({self.keras_class}) takes two arguments")
        a, b = inputs
        like = a if isinstance(a, torch.Tensor) else b
        return self.fn(_as_tensor(a, like), _as_tensor(b, like))


def _add(x: Any, y: Any) -> Any:
    return x + y


def _subtract(x: Any, y: Any) -> Any:
    return x - y


def _multiply(x: Any, y: Any) -> Any:
    return x * y


def _divide(x: Any, y: Any) -> Any:
    return x / y


#: TF functions a Keras 2 ``TFOpLambda`` may name that map onto torch without running code from
#: the artifact: (callable, names of its tensor/number arguments after ``x``).
_TF_FUNCTIONS: Dict[str, Tuple[Callable[..., Any], Tuple[str, ...]]] = {
    "__operators__.add": (_add, ("y",)), "math.add": (_add, ("y",)),
    "__operators__.sub": (_subtract, ("y",)), "math.subtract": (_subtract, ("y",)),
    "math.multiply": (_multiply, ("y",)), "__operators__.mul": (_multiply, ("y",)),
    "math.truediv": (_divide, ("y",)), "__operators__.truediv": (_divide, ("y",)),
    "math.divide": (_divide, ("y",)),
    "math.maximum": (torch.maximum, ("y",)), "math.minimum": (torch.minimum, ("y",)),
    "math.pow": (torch.pow, ("y",)),
    "nn.relu": (torch.relu, ()), "nn.relu6": (relu6, ()),
    "math.sigmoid": (torch.sigmoid, ()), "nn.sigmoid": (torch.sigmoid, ()),
    "math.tanh": (torch.tanh, ()), "nn.silu": (torch.nn.functional.silu, ()),
    "nn.swish": (torch.nn.functional.silu, ()), "math.exp": (torch.exp, ()),
    "math.sqrt": (torch.sqrt, ()), "math.negative": (torch.neg, ()),
}


@register_layer("TFOpLambda")
class TFOpLambda(KerasLayer):
    """A Keras 2 functional model's call of a TF function (``tf.math.multiply(x, 1/6)`` in
    MobileNetV3, ``x + y`` in ConvNeXt), saved by name. Only the named functions above are
    supported — torch equivalents, never code from the artifact; others are refused at load."""

    accepts_call_kwargs = True

    @staticmethod
    def unsupported(config: Dict[str, Any]) -> Optional[str]:
        function = str(config.get("function"))
        return None if function in _TF_FUNCTIONS else f"TFOpLambda(tf.{function})"

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.function = str(spec.require("function"))
        if self.function not in _TF_FUNCTIONS:
            raise spec.error(f"TF function 'tf.{self.function}' is not supported")
        self.fn, self.arg_names = _TF_FUNCTIONS[self.function]

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None,
                call_kwargs: Optional[Dict[str, Any]] = None) -> torch.Tensor:
        positional = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        kwargs = dict(call_kwargs or {})
        x = positional.pop(0)
        args = []
        for name in self.arg_names:
            if name in kwargs:
                args.append(kwargs.pop(name))
            elif positional:
                args.append(positional.pop(0))
            else:
                raise TypeError(f"layer '{self.keras_name}' (tf.{self.function}) lacks argument '{name}'")
        return self.fn(x, *[_as_tensor(a, x) for a in args])


@register_layer("LayerScale")
class LayerScale(KerasLayer):
    """keras.applications ConvNeXt's ``LayerScale``: ``x * gamma`` (per channel)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.add_keras_weight("gamma", spec.weight("gamma", 0))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return inputs * self.gamma


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x + 3.0, 0.0, 6.0) / 6.0  # Keras 3's definition


def _hard_silu(x: torch.Tensor) -> torch.Tensor:
    return x * _hard_sigmoid(x)


_KERAS3_UNARY: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Exp": torch.exp, "Log": torch.log, "Sqrt": torch.sqrt, "Abs": torch.abs, "Negative": torch.neg,
    "Square": torch.square, "Sin": torch.sin, "Cos": torch.cos, "Floor": torch.floor, "Ceil": torch.ceil,
    "Relu": torch.relu, "Relu6": relu6, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
    "Softplus": torch.nn.functional.softplus, "Silu": torch.nn.functional.silu,
    "HardSigmoid": _hard_sigmoid, "HardSilu": _hard_silu,
    # keras.ops.convert_to_tensor on a tensor (Keras 3 saves it around propagated masks);
    # its ``dtype`` is None in the files seen, so it is the identity.
    "ConvertToTensor": lambda x: x,
}


@register_layer(*_KERAS3_UNARY)
class Keras3UnaryOp(KerasLayer):
    """A Keras 3 elementwise op saved as a layer (``keras.ops.exp(x)``)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.fn = _KERAS3_UNARY[spec.class_name]

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        return self.fn(x)


@register_layer("Gelu")
class Keras3Gelu(KerasLayer):
    """``keras.ops.gelu(x, approximate=True)`` (the Keras 3 default is the tanh form)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.approximate = "tanh" if spec.config.get("approximate", True) else "none"

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        return torch.nn.functional.gelu(x, approximate=self.approximate)


_KERAS3_BINARY: Dict[str, Callable[[Any, Any], Any]] = {
    "TrueDivide": _divide, "Divide": _divide, "Power": torch.pow,
    "FloorDivide": torch.floor_divide,
}


@register_layer(*_KERAS3_BINARY)
class Keras3BinaryOp(KerasLayer):
    """A Keras 3 binary op saved as a layer; one operand may be a Python number."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.fn = _KERAS3_BINARY[spec.class_name]

    def forward(self, inputs: List[Any], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        a, b = inputs
        like = a if isinstance(a, torch.Tensor) else b
        return self.fn(_as_tensor(a, like), _as_tensor(b, like))


_KERAS3_REDUCTIONS: Dict[str, Callable[..., torch.Tensor]] = {
    "Mean": torch.mean, "Sum": torch.sum, "Max": torch.amax, "Min": torch.amin,
    "Any": torch.any, "All": torch.all,
}


@register_layer(*_KERAS3_REDUCTIONS)
class Keras3Reduction(KerasLayer):
    """``keras.ops.mean(x, axis, keepdims)`` and friends saved as layers."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.fn = _KERAS3_REDUCTIONS[spec.class_name]
        axis = spec.config.get("axis")
        self.axis = None if axis is None else (tuple(axis) if isinstance(axis, (list, tuple)) else (int(axis),))
        self.keepdims = bool(spec.config.get("keepdims", False))

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if self.axis is None:
            out = self.fn(x)
            return out.reshape([1] * x.dim()) if self.keepdims else out
        if self.fn in (torch.any, torch.all):  # one axis at a time (no tuple dims there)
            for axis in sorted((a % x.dim() for a in self.axis), reverse=True):
                x = self.fn(x, dim=axis, keepdim=self.keepdims)
            return x
        return self.fn(x, dim=self.axis, keepdim=self.keepdims)


_KERAS3_DTYPES = {"bool": torch.bool, "float32": torch.float32, "int32": torch.int32, "int64": torch.int64,
                  "float16": torch.float16, "float64": torch.float64}


@register_layer("ZerosLike", "OnesLike")
class Keras3FillLike(KerasLayer):
    """``keras.ops.zeros_like(x, dtype)`` / ``ones_like``: Keras 3 builds masks with them."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.value = 0 if spec.class_name == "ZerosLike" else 1
        dtype = spec.config.get("dtype")
        self.dtype = _KERAS3_DTYPES.get(dtype) if isinstance(dtype, str) else None

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        return torch.full_like(x, self.value, dtype=self.dtype or x.dtype)


@register_layer("ExpandDims", "Squeeze")
class Keras3ExpandSqueeze(KerasLayer):
    """``keras.ops.expand_dims(x, axis)`` / ``squeeze(x, axis)``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.expand = spec.class_name == "ExpandDims"
        axis = spec.config.get("axis")
        self.axes = None if axis is None else ([int(a) for a in axis] if isinstance(axis, (list, tuple)) else [int(axis)])
        if self.expand and not self.axes:
            raise spec.error("ExpandDims needs an axis")

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if self.expand:
            for axis in sorted(self.axes):  # type: ignore[arg-type]
                x = x.unsqueeze(axis if axis >= 0 else axis + x.dim() + 1)
            return x
        if self.axes is None:
            return x.squeeze()
        for axis in sorted((a % x.dim() for a in self.axes), reverse=True):
            x = x.squeeze(axis)
        return x



def _first(inputs: Any) -> Any:
    return inputs[0] if isinstance(inputs, (list, tuple)) else inputs


@register_layer("Transpose")
class Keras3Transpose(KerasLayer):
    """``keras.ops.transpose(x, axes)`` (all axes, batch included; None reverses them)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        axes = spec.config.get("axes")
        self.axes = None if axes is None else [int(a) for a in axes]

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = _first(inputs)
        return x.permute(self.axes if self.axes is not None else list(reversed(range(x.dim()))))


@register_layer("Matmul")
class Keras3Matmul(KerasLayer):
    """``keras.ops.matmul(a, b)``: numpy matmul (batch broadcasting, 1-D operands)."""

    def forward(self, inputs: List[Any], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        a, b = inputs
        like = a if isinstance(a, torch.Tensor) else b
        return torch.matmul(_as_tensor(a, like), _as_tensor(b, like))


@register_layer("Stack")
class Keras3Stack(KerasLayer):
    """``keras.ops.stack([x, y, ...], axis)``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.axis = int(spec.config.get("axis", 0))

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return torch.stack(tensors, dim=self.axis)


def _index_key(key: Any, layer: str) -> Tuple[Any, ...]:
    """A serialized Keras 3 index key → a Python index: ints, ``None`` (newaxis), ``...`` and
    slices (``{"class_name": "__slice__", "config": {start, stop, step}}``)."""
    items = key if isinstance(key, (list, tuple)) else [key]
    out: List[Any] = []
    for item in items:
        if item is None or (isinstance(item, int) and not isinstance(item, bool)):
            out.append(item)
        elif isinstance(item, Mapping) and item.get("class_name") == "__ellipsis__":
            out.append(Ellipsis)
        elif isinstance(item, Mapping) and item.get("class_name") == "__slice__":
            bounds = item.get("config") or {}
            parts = [bounds.get(k) for k in ("start", "stop", "step")]
            if not all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts):
                raise LayerConfigError(f"layer '{layer}' (GetItem): slice bounds {parts} are not ints")
            if parts[2] is not None and parts[2] <= 0:
                raise LayerConfigError(f"layer '{layer}' (GetItem): slice step {parts[2]} (only "
                                       "positive steps are supported)")
            out.append(slice(*parts))
        else:
            raise LayerConfigError(f"layer '{layer}' (GetItem): cannot read index {item!r}")
    return tuple(out)


@register_layer("GetItem")
class Keras3GetItem(KerasLayer):
    """``x[key]`` in a Keras 3 functional model (NumPy basic indexing with a literal key)."""

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise LayerConfigError(f"layer '{self.keras_name}' (GetItem): expects a tensor and a "
                                   "literal index key")
        return inputs[0][_index_key(inputs[1], self.keras_name)]


@register_layer("Take")
class Keras3Take(KerasLayer):
    """``keras.ops.take(x, indices, axis)`` with literal indices (negative ones count from the
    end); ``axis=None`` takes from the flattened tensor."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        axis = spec.config.get("axis")
        self.axis = None if axis is None else int(axis)

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise LayerConfigError(f"layer '{self.keras_name}' (Take): expects a tensor and indices")
        x, indices = inputs
        index = indices if isinstance(indices, torch.Tensor) else torch.tensor(indices)
        if self.axis is None:
            x, axis = x.reshape(-1), 0
        else:
            axis = self.axis % x.dim()
        index = index.to(device=x.device, dtype=torch.long)
        index = torch.where(index < 0, index + x.shape[axis], index)
        taken = torch.index_select(x, axis, index.reshape(-1))
        return taken.reshape(*x.shape[:axis], *index.shape, *x.shape[axis + 1:])


@register_layer("Where")
class Keras3Where(KerasLayer):
    """``keras.ops.where(condition, x1, x2)``; either branch may be a Python number."""

    def forward(self, inputs: List[Any], mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 3:
            raise TypeError(f"layer '{self.keras_name}' (Where) takes condition, x1 and x2")
        condition, a, b = inputs
        like = a if isinstance(a, torch.Tensor) else b if isinstance(b, torch.Tensor) else condition.float()
        return torch.where(condition.bool(), _as_tensor(a, like), _as_tensor(b, like))


@register_layer("Clip")
class Keras3Clip(KerasLayer):
    """``keras.ops.clip(x, x_min, x_max)``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.low, self.high = spec.require("x_min"), spec.require("x_max")

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return torch.clamp(_first(inputs), self.low, self.high)


@register_layer("Cast")
class Keras3Cast(KerasLayer):
    """``keras.ops.cast(x, dtype)``; float → int truncates toward zero as TF does."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        dtype = spec.require("dtype")
        name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
        if name not in _KERAS3_DTYPES:
            raise spec.error(f"cast to dtype {name!r} is not supported")
        self.dtype = _KERAS3_DTYPES[name]
        add_dtype_marker(self)  # float32 means the model's float dtype (float16 after .half())

    def forward(self, inputs: Any, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        dtype = self.float_dtype_marker.dtype if self.dtype == torch.float32 else self.dtype
        return _first(inputs).to(dtype)

# --- layers that cannot be converted, and why ------------------------------------------------

#: Why a class (the part of an unsupported-layers key before "(") has no converter. Lambda and
#: TFSMLayer carry their computation outside the config; the op layers name TF code by name.
REFUSAL_REASONS: Dict[str, str] = {
    "Lambda": "wraps a Python function (marshalled bytecode or a module path), which a tfjs "
              "artifact cannot carry; torch_tfjs never executes code from an artifact",
    "TFSMLayer": "wraps a TensorFlow SavedModel (a separate folder of graphs and variables), which "
                 "a tfjs layers artifact cannot carry",
    "TFOpLambda": "names a TF function; only the elementwise ones in torch_tfjs.layers.ops run "
                  "(torch_tfjs never executes code from an artifact)",
    "SlicingOpLambda": "names a TF function (tensor slicing), which torch_tfjs does not run",
    "TensorFlowOpLayer": "wraps a raw TF op that has no torch implementation in "
                         "torch_tfjs.layers.tf_op_layer",
}


def unsupported_layers_hint(missing: Mapping[str, List[str]]) -> str:
    """The explanation under an unsupported-layers list: why each refused class cannot be
    converted (naming its layers), then how to supply a converter."""
    lines = []
    for key in sorted(missing):
        reason = REFUSAL_REASONS.get(key.split("(")[0])
        if reason:
            names = ", ".join(f"'{n}'" for n in missing[key][:5]) + (" ..." if len(missing[key]) > 5 else "")
            lines.append(f"{key} ({names}) {reason}.")
    lines.append("Register converters with torch_tfjs.register_layer('<ClassName>') to supply the "
                 "computation.")
    return "\n".join(lines)
