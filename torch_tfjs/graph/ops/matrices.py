"""Matrix ops (tfjs op list ``matrices``): _FusedMatMul, MatMul, BatchMatMul, BatchMatMulV2,
Transpose, Einsum, MatrixBandPart."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..._padding import static_shape
from ...activations import relu6
from ..node import OpNode, Value
from ..registry import register_op

IntLike = Union[int, torch.Tensor]


def _to_int(v: IntLike) -> int:
    return int(v.reshape(-1)[0]) if isinstance(v, torch.Tensor) else int(v)


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Broadcasting matmul that keeps integer dtypes (torch has no int matmul on every device)."""
    if a.is_floating_point() or a.is_complex():
        return torch.matmul(a, b)
    out = torch.matmul(a.to(torch.float64), b.to(torch.float64))
    return torch.round(out).to(a.dtype)


def mat_mul(a: torch.Tensor, b: torch.Tensor, transpose_a: bool, transpose_b: bool) -> torch.Tensor:
    return _mm(a.mT if transpose_a else a, b.mT if transpose_b else b)


def batch_mat_mul(x: torch.Tensor, y: torch.Tensor, adj_x: bool, adj_y: bool) -> torch.Tensor:
    return _mm(x.mH if adj_x else x, y.mH if adj_y else y)  # adjoint = conjugate transpose


def apply_fused_activation(x: torch.Tensor, name: str, alpha: Any = None) -> torch.Tensor:
    """tfjs fused activation ``name`` (lower-cased). ``alpha``: the LeakyRelu slope (a float)
    or the Prelu weights (a tensor)."""
    if name in ("", "linear", "identity"):
        return x
    if name == "relu":
        return torch.relu(x)
    if name == "relu6":
        return relu6(x)  # float bounds: TorchScript's optimize_for_inference rejects int ones
    if name == "elu":
        return F.elu(x)
    if name == "selu":
        return F.selu(x)
    if name in ("leakyrelu", "prelu"):
        return torch.where(x > 0, x, x * alpha)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name in ("gelu", "geluexact"):
        return F.gelu(x)
    if name == "geluapproximate":
        return F.gelu(x, approximate="tanh")
    if name == "_fusedhardswish":  # TF grappler's fusion for Keras hard_swish (tfjs lacks it)
        return x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0
    raise ValueError(f"unsupported fused activation '{name}'")


FUSED_ACTIVATIONS = ("relu", "relu6", "elu", "selu", "leakyrelu", "prelu", "sigmoid", "tanh", "gelu",
                     "geluexact", "geluapproximate", "_fusedhardswish")


def fused_mat_mul(a: torch.Tensor, b: torch.Tensor, transpose_a: bool, transpose_b: bool,
                  bias: Optional[torch.Tensor], activation: str, alpha: Any) -> torch.Tensor:
    if _linear_bias(a, b, transpose_b, bias):
        # one F.linear, bias inside: TorchScript's oneDNN Graph fusion (torch 2.13) fails on
        # a matmul followed by a constant add ("vector::_M_range_check"), not on linear
        out = F.linear(a.mT if transpose_a else a, b if transpose_b else b.mT, bias)
    else:
        out = mat_mul(a, b, transpose_a, transpose_b)
        if bias is not None:
            out = out + bias
    return apply_fused_activation(out, activation, alpha)


def _linear_bias(a: torch.Tensor, b: torch.Tensor, transpose_b: bool,
                 bias: Optional[torch.Tensor]) -> bool:
    """Whether ``a @ b + bias`` is a plain ``F.linear``: float, 2-D ``b``, a bias per column."""
    if bias is None or not a.is_floating_point() or b.dim() != 2 or bias.dim() != 1:
        return False
    if not (a.dtype == b.dtype == bias.dtype):
        return False
    columns = static_shape(b)[0 if transpose_b else 1]
    return static_shape(bias)[0] == columns


def split_fused_ops(node: OpNode, extra: List[Value]) -> tuple:
    """(bias, activation, alpha) from a fused node's ``fused_ops`` and extra ``args`` inputs
    (bias first, then Prelu weights, as TF's remapper orders them)."""
    ops = [str(o).lower() for o in node.attr_list("fused_ops")]
    bias: Optional[Value] = None
    activation, alpha = "", None
    args = list(extra)
    for op in ops:
        if op == "noop":  # the converter's placeholder for "no bias" (depthwise + activation)
            continue
        if op in ("biasadd", "add"):
            if not args:
                raise node.error(f"fused op '{op}' has no argument")
            bias = args.pop(0)
        elif op in FUSED_ACTIVATIONS and not activation:
            activation = op
            if op == "prelu":
                if not args:
                    raise node.error("fused Prelu has no alpha argument")
                alpha = args.pop(0)
            elif op == "leakyrelu":
                alpha = node.attr_float("leakyrelu_alpha", 0.2)
        else:
            raise node.error(f"unsupported fused op '{op}' in fused_ops {ops}")
    return bias, activation, alpha


@register_op("_FusedMatMul")
def fused_mat_mul_op(node: OpNode) -> Value:
    num_args = node.attr_int("num_args", node.num_inputs - 2)
    bias, activation, alpha = split_fused_ops(node, node.inputs[2:2 + num_args])
    return node.call(fused_mat_mul, node.input(0), node.input(1), node.attr_bool("transpose_a"),
                     node.attr_bool("transpose_b"), bias, activation, alpha)


@register_op("MatMul")
def mat_mul_op(node: OpNode) -> Value:
    return node.call(mat_mul, node.input(0), node.input(1), node.attr_bool("transpose_a"),
                     node.attr_bool("transpose_b"))


@register_op("BatchMatMul", "BatchMatMulV2")
def batch_mat_mul_op(node: OpNode) -> Value:
    return node.call(batch_mat_mul, node.input(0), node.input(1), node.attr_bool("adj_x"),
                     node.attr_bool("adj_y"))


def transpose(x: torch.Tensor, perm: Union[Sequence[int], torch.Tensor]) -> torch.Tensor:
    if isinstance(perm, torch.Tensor):
        perm = perm.reshape(-1).tolist()
    return x.permute([int(p) for p in perm]) if len(perm) else x


@register_op("Transpose")
def transpose_op(node: OpNode) -> Value:
    perm = node.static_list(1)
    return node.call(transpose, node.input(0), node.input(1) if perm is None else [int(p) for p in perm])


def einsum(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    return torch.einsum(equation, *operands)


@register_op("Einsum")
def einsum_op(node: OpNode) -> Value:
    equation = node.attr_str("equation", lower=False)
    if not equation:
        raise node.error("missing 'equation' attr")
    return node.call(einsum, equation, *node.inputs)


def matrix_band_part(x: torch.Tensor, num_lower: IntLike, num_upper: IntLike) -> torch.Tensor:
    """Keep the band num_lower below / num_upper above the diagonal (negative: all)."""
    lower, upper = _to_int(num_lower), _to_int(num_upper)
    rows = torch.arange(x.shape[-2], device=x.device).unsqueeze(-1)
    cols = torch.arange(x.shape[-1], device=x.device)
    keep = torch.ones(x.shape[-2:], dtype=torch.bool, device=x.device)
    if lower >= 0:
        keep &= rows - cols <= lower
    if upper >= 0:
        keep &= cols - rows <= upper
    return torch.where(keep, x, torch.zeros_like(x))


@register_op("MatrixBandPart")
def matrix_band_part_op(node: OpNode) -> Value:
    bounds = [node.static_list(i) for i in (1, 2)]
    args = [node.input(i) if b is None else int(b[0]) for i, b in zip((1, 2), bounds)]
    return node.call(matrix_band_part, node.input(0), *args)
