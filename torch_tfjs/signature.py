"""What a model takes and returns: :class:`TensorSpec` and :class:`Signature`, shared by both
model kinds and by everything that needs that fact (calls, export, ``inspect``, ``summary``).

Shapes use ``None`` for a free dimension (tfjs writes ``-1`` / ``null``); dtypes are the tfjs
dtype names (``float32``, ``int32``, ``bool``, ``string``, ``complex64``). A call is matched to
the inputs the way tfjs ``predict`` / ``execute`` accept them (positional, a dict by name, a list)
and checked the way tfjs checks it; outputs come back as tfjs returns them.

Conversions done on purpose (tfjs would refuse these; torch users pass them all the time):
a float tensor of another precision becomes the input's float dtype, an integer or bool tensor
fed to a graph model's float input becomes float (exact for images and counts; a LayersModel
passes it on as tfjs-layers does, for Embedding ids), and an integer tensor of another width fed
to an integer input takes its width. A float fed to an integer or bool input
is refused: converting would truncate it silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from .errors import ModelInputError

Shape = Optional[Tuple[Optional[int], ...]]

#: tfjs dtype name → the torch dtype a model computes it in.
TORCH_DTYPES: Dict[str, torch.dtype] = {
    "float32": torch.float32, "int32": torch.int32, "bool": torch.bool,
    "complex64": torch.complex64, "float16": torch.float16, "float64": torch.float64,
    "int64": torch.int64, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16,
}


def shape_from_dims(dims: Optional[Sequence[Any]]) -> Shape:
    """A shape from tfjs / Keras dims: ``None`` or a negative size is a free dimension."""
    if dims is None:
        return None
    out: List[Optional[int]] = []
    for d in dims:
        if d is None:
            out.append(None)
            continue
        size = int(d)
        out.append(None if size < 0 else size)
    return tuple(out)


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its name, shape (``None`` = unknown rank; ``None`` dims free) and
    tfjs dtype (``None`` when the artifact does not say)."""

    name: str
    shape: Shape = None
    dtype: Optional[str] = None
    #: Graph models: the tensor (``node:index``) behind the name; ``None`` for layers models.
    tensor: Optional[str] = None
    #: Other names a dict call may use for this input (a graph input's node name).
    aliases: Tuple[str, ...] = ()

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    @property
    def torch_dtype(self) -> Optional[torch.dtype]:
        return TORCH_DTYPES.get(self.dtype or "")

    def tfjs_shape(self) -> Optional[List[int]]:
        """The shape as tfjs prints it: ``-1`` for free dimensions."""
        return None if self.shape is None else [-1 if d is None else d for d in self.shape]

    def describe(self) -> str:
        """``'x' expects shape [-1, 3] float32``."""
        shape = "of unknown rank" if self.shape is None else f"shape {self.tfjs_shape()}"
        return f"'{self.name}' expects {shape} {self.dtype or 'of any dtype'}"

    def __str__(self) -> str:
        shape = "?" if self.shape is None else str(self.tfjs_shape())
        return f"{self.name}: {shape} {self.dtype or '?'}"

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "shape": self.tfjs_shape(), "dtype": self.dtype}
        if self.tensor is not None:
            out["node"] = self.tensor
        return out

    def example(self, batch: int = 1, free: int = 1, float_dtype: torch.dtype = torch.float32
                ) -> torch.Tensor:
        """Zeros of this shape: the batch axis ``batch``, other free dims ``free``."""
        if self.shape is None:
            raise ModelInputError(f"input '{self.name}' has an unknown rank: pass example inputs yourself")
        dims = [free if d is None else d for d in self.shape]
        if dims and self.shape[0] is None:
            dims[0] = batch
        dtype = self.torch_dtype
        if dtype is None or dtype.is_floating_point:
            dtype = float_dtype
        elif dtype not in (torch.bool, torch.complex64):
            dtype = torch.int32
        return torch.zeros(dims, dtype=dtype)


def _kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    return "int"


@dataclass
class Signature:
    """Ordered inputs and outputs of a model, and the rules for calling it.

    ``check_batch``: whether the batch axis is checked against a declared size (graph models,
    as tfjs's executor does; tfjs ``LayersModel.predict`` leaves the batch axis free).
    ``structured``: outputs come back as a dict by output name (graph models converted with
    structured outputs), else one tensor or a list in output order."""

    inputs: List[TensorSpec]
    outputs: List[TensorSpec]
    model: str = "model"
    check_batch: bool = True
    structured: bool = False
    #: Integer / bool tensors fed to a float input become float. LayersModels leave them as they
    #: are (tfjs-layers does: Embedding and lookup layers read ids from a float32 InputLayer).
    integers_to_float: bool = True
    #: A single-input model also takes a one-element list of a tensor (Keras / tfjs accept ``[x]``).
    list_of_one: bool = True
    _lookup: Dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for i, spec in enumerate(self.inputs):
            for key in (spec.name, *spec.aliases):
                self._lookup.setdefault(key, i)

    @property
    def input_names(self) -> List[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> List[str]:
        return [s.name for s in self.outputs]

    # --- calls --------------------------------------------------------------------------------
    def bind(self, args: Sequence[Any]) -> List[Any]:
        """A call's arguments → one value per input, in input order: ``f(x)``, ``f(x1, x2)``,
        ``f([x1, x2])``, ``f([x])`` or ``f({"name": x, ...})``."""
        if len(args) == 1 and isinstance(args[0], Mapping):
            values: List[Any] = [None] * len(self.inputs)
            unknown = []
            for key, value in args[0].items():
                index = self._lookup.get(str(key))
                if index is None:
                    unknown.append(key)
                else:
                    values[index] = value
            missing = [s.name for s, v in zip(self.inputs, values) if v is None]
            if unknown or missing:
                problems = ([f"unknown input{'s' if len(unknown) > 1 else ''} "
                             + ", ".join(repr(k) for k in unknown)] if unknown else []) + (
                    [f"missing {', '.join(repr(k) for k in missing)}"] if missing else [])
                raise ModelInputError(f"{self.model}: {'; '.join(problems)} (inputs by name: "
                                      f"{self.input_names})")
            return values
        if len(args) == 1 and isinstance(args[0], (list, tuple)) and (
                len(self.inputs) > 1 or (self.list_of_one and len(args[0]) == 1
                                         and isinstance(args[0][0], (torch.Tensor, np.ndarray)))):
            values = list(args[0])
        else:
            values = list(args)
        if len(values) != len(self.inputs):
            raise ModelInputError(f"{self.model} takes {len(self.inputs)} input(s) "
                                  f"{self.input_names}, got {len(values)}")
        return values

    def check(self, values: Sequence[Any], float_dtype: torch.dtype = torch.float32) -> List[Any]:
        """Each value as a tensor of its input's dtype, its rank and known sizes checked.
        String inputs are returned as given (the graph's string ops take NumPy arrays)."""
        checking = not _tracing()
        out = []
        for spec, value in zip(self.inputs, values):
            if spec.dtype == "string":
                out.append(value)
                continue
            tensor = value if isinstance(value, torch.Tensor) else _as_tensor(value, spec)
            tensor = self._convert(spec, tensor, float_dtype)
            if checking and spec.shape is not None:
                self._check_shape(spec, tensor)
            out.append(tensor)
        return out

    def _convert(self, spec: TensorSpec, tensor: torch.Tensor, float_dtype: torch.dtype) -> torch.Tensor:
        want = spec.torch_dtype
        if want is None:
            return tensor.float() if tensor.dtype == torch.float64 else tensor
        got_kind, want_kind = _kind(tensor.dtype), _kind(want)
        if want_kind == "float":
            target = float_dtype if want == torch.float32 else want
            if got_kind == "complex":
                raise ModelInputError(f"{self.model}: input {spec.describe()}, got a complex tensor")
            if got_kind != "float" and not self.integers_to_float:
                return tensor
            return tensor if tensor.dtype == target else tensor.to(target)
        if tensor.dtype == want:
            return tensor
        if want_kind == "int" and got_kind in ("int", "bool"):
            return tensor.to(want)
        if want_kind == "complex" and got_kind in ("complex", "float"):
            return tensor.to(want)
        raise ModelInputError(f"{self.model}: input {spec.describe()}, got a {tensor.dtype} tensor "
                              f"(shape {list(tensor.shape)}); pass {spec.dtype} values"
                              + (" (converting floats would truncate them)" if got_kind == "float" else ""))

    def _check_shape(self, spec: TensorSpec, tensor: torch.Tensor) -> None:
        shape = spec.shape or ()
        if tensor.dim() != len(shape):
            raise ModelInputError(f"{self.model}: input {spec.describe()} (rank {len(shape)}), "
                                  f"got shape {list(tensor.shape)}")
        start = 0 if self.check_batch else 1
        for axis in range(start, len(shape)):
            want = shape[axis]
            got = tensor.shape[axis]
            if want is not None and isinstance(got, int) and got != want:
                raise ModelInputError(f"{self.model}: input {spec.describe()} (-1 = any size"
                                      + ("" if self.check_batch else "; batch axis free")
                                      + f"), got shape {list(tensor.shape)}: axis {axis} is {got}, "
                                      f"not {want}")

    def pack(self, values: Sequence[Any]) -> Any:
        """Outputs as tfjs returns them: a dict (structured), one value, or a list."""
        values = list(values)
        if self.structured:
            return dict(zip(self.output_names, values))
        return values[0] if len(values) == 1 else values

    # --- description ------------------------------------------------------------------------
    def example_inputs(self, batch: int = 1, free: int = 1,
                       float_dtype: torch.dtype = torch.float32) -> Tuple[torch.Tensor, ...]:
        """Zero inputs: the batch axis ``batch`` where it is free, other free dims ``free``,
        int32 for integer inputs, bool for bool, the float dtype otherwise."""
        strings = [s.name for s in self.inputs if s.dtype == "string"]
        if strings:
            raise ModelInputError(f"{self.model}: string input(s) {strings} have no zero example")
        return tuple(s.example(batch, free, float_dtype) for s in self.inputs)

    def free_dims(self) -> List[Dict[int, str]]:
        """Per input, its free axes (``{axis: name}``), for dynamic-shape export."""
        out = []
        for spec in self.inputs:
            out.append({axis: ("batch" if axis == 0 else f"{spec.name}_dim{axis}")
                        for axis, d in enumerate(spec.shape or ()) if d is None})
        return out

    def to_json(self) -> Dict[str, Any]:
        return {"inputs": [s.to_json() for s in self.inputs],
                "outputs": [s.to_json() for s in self.outputs]}

    def __str__(self) -> str:
        ins = ", ".join(str(s) for s in self.inputs)
        outs = ", ".join(str(s) for s in self.outputs)
        return f"({ins}) -> ({outs})"


def _tracing() -> bool:
    """Whether ``torch.jit.trace`` is recording (shapes are then symbolic, not checked)."""
    return bool(torch.jit.is_tracing())  # type: ignore[attr-defined,no-untyped-call]


def _as_tensor(value: Any, spec: TensorSpec) -> torch.Tensor:
    if value is None:
        raise ModelInputError(f"input {spec.describe()}, got None")
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ModelInputError(f"input {spec.describe()}, cannot make a tensor of "
                              f"{type(value).__name__}: {exc}") from None
    if array.dtype == object or array.dtype.kind in "USV":
        raise ModelInputError(f"input {spec.describe()}, got {array.dtype} data, not numbers")
    return torch.as_tensor(array)

