"""Basic math ops (tfjs op list ``basic_math``): Abs, Acos, Asin, Atan, Atan2, Ceil,
ClipByValue, Complex, ComplexAbs, Cos, Cosh, Elu, Exp, Floor, Log, Imag, Neg, Real, Prelu, Relu,
Relu6, Selu, Sigmoid, Sin, Sinh, Sqrt, Rsqrt, Square, Tan, Tanh, Sign, Round, Expm1, Log1p,
Reciprocal, Softplus, Asinh, Acosh, Atanh, Erf, LeakyRelu, IsNan, IsFinite, IsInf."""

from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F

from ...activations import relu6
from ..node import OpNode, Static, Value
from ..registry import elementwise, register_op


def elu(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x, alpha=1.0)


def selu(x: torch.Tensor) -> torch.Tensor:
    return torch.selu(x)  # same scale/alpha constants as TF


def square(x: torch.Tensor) -> torch.Tensor:
    return x * x  # keeps integer dtypes


def softplus(x: torch.Tensor) -> torch.Tensor:
    return F.softplus(x)  # stable: x itself for large x


# Complex values are complex64 (complex128 in a float64 model: torch has no half-precision complex
# kernels on CPU); the complex → real ops give the model's float dtype (``anchor``, see
# ``OpNode.float_anchor``), so a float16 model's Real(FFT(x)) is float16 again.
def _real_dtype(anchor: Optional[torch.Tensor]) -> torch.dtype:
    return torch.float32 if anchor is None else anchor.dtype


def real(x: torch.Tensor, anchor: Optional[torch.Tensor] = None) -> torch.Tensor:
    return torch.real(x).to(_real_dtype(anchor)) if x.is_complex() else x


def imag(x: torch.Tensor, anchor: Optional[torch.Tensor] = None) -> torch.Tensor:
    return torch.imag(x).to(_real_dtype(anchor)) if x.is_complex() else torch.zeros_like(x)


def complex_abs(x: torch.Tensor, anchor: Optional[torch.Tensor] = None) -> torch.Tensor:
    return torch.abs(x).to(_real_dtype(anchor))


elementwise(real, imag, complex_abs)


@register_op("Real", "Imag", "ComplexAbs")
def complex_part_op(node: OpNode) -> Value:
    fn = {"Real": real, "Imag": imag, "ComplexAbs": complex_abs}[node.op]
    if isinstance(node.input(0), Static):
        return node.call(fn, node.input(0))
    return node.call(fn, node.input(0), node.float_anchor())


_UNARY: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Abs": torch.abs, "Acos": torch.acos, "Asin": torch.asin, "Atan": torch.atan,
    "Ceil": torch.ceil, "Cos": torch.cos, "Cosh": torch.cosh, "Elu": elu,
    "Exp": torch.exp, "Floor": torch.floor, "Log": torch.log, "Neg": torch.neg,
    "Relu": torch.relu, "Relu6": relu6, "Selu": selu, "Sigmoid": torch.sigmoid,
    "Sin": torch.sin, "Sinh": torch.sinh, "Sqrt": torch.sqrt, "Rsqrt": torch.rsqrt,
    "Square": square, "Tan": torch.tan, "Tanh": torch.tanh, "Sign": torch.sign,
    "Round": torch.round,  # half to even, as TF
    "Expm1": torch.expm1, "Log1p": torch.log1p, "Reciprocal": torch.reciprocal,
    "Softplus": softplus, "Asinh": torch.asinh, "Acosh": torch.acosh, "Atanh": torch.atanh,
    "Erf": torch.erf, "IsNan": torch.isnan, "IsFinite": torch.isfinite, "IsInf": torch.isinf,
}


elementwise(*_UNARY.values())


@register_op(*_UNARY)
def unary(node: OpNode) -> Value:
    return node.call(_UNARY[node.op], node.input(0))


def leaky_relu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.where(x < 0, x * alpha, x)


elementwise(leaky_relu)


@register_op("LeakyRelu")
def leaky_relu_op(node: OpNode) -> Value:
    return node.call(leaky_relu, node.input(0), node.attr_float("alpha", 0.2))


def prelu(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return torch.where(x < 0, alpha * x, x)


elementwise(prelu)


@register_op("Prelu")
def prelu_op(node: OpNode) -> Value:
    return node.call(prelu, node.input(0), node.input(1))


def atan2(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.atan2(y, x)


@register_op("Atan2")
def atan2_op(node: OpNode) -> Value:
    return node.call(atan2, node.input(0), node.input(1))


def clip_by_value(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    lo, hi = torch.as_tensor(lo, dtype=x.dtype), torch.as_tensor(hi, dtype=x.dtype)
    return torch.minimum(torch.maximum(x, lo.to(x.device)), hi.to(x.device))


elementwise(clip_by_value)


@register_op("ClipByValue")
def clip_by_value_op(node: OpNode) -> Value:
    return node.call(clip_by_value, node.input(0), node.input(1), node.input(2))


def make_complex(re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
    dtype = torch.float64 if torch.float64 in (re.dtype, im.dtype) else torch.float32  # complex128 / 64
    re, im = torch.broadcast_tensors(re.to(dtype), im.to(dtype))
    return torch.complex(re, im)


@register_op("Complex")
def complex_op(node: OpNode) -> Value:
    return node.call(make_complex, node.input(0), node.input(1))
