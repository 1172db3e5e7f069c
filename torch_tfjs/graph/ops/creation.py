"""Creation ops (tfjs op list ``creation``): Fill, LinSpace, OneHot, Ones, OnesLike,
RandomStandardNormal, RandomUniform, RandomUniformInt, Range, TruncatedNormal, Zeros, ZerosLike,
Multinomial.

Random ops are never constant-folded (``fold=False``): each run draws anew from torch's global
generator. Their ``seed``/``seed2`` attrs are ignored, so results do not match TF's streams.
"""

from __future__ import annotations

import math
from typing import List, Optional, Union

import torch

from ..node import OpNode, Value
from ..registry import register_op

Shape = Union[List[int], torch.Tensor]


def _dims(shape: Shape) -> List[int]:
    """A static shape list, or a runtime shape tensor read back as ints."""
    if isinstance(shape, torch.Tensor):
        shape = shape.reshape(-1).tolist()
    return [int(d) for d in shape]


def _scalar(x: Union[torch.Tensor, float, int]) -> Union[float, int]:
    return x.reshape(-1)[0].item() if isinstance(x, torch.Tensor) else x


def _shape_arg(node: OpNode, i: int) -> Value:
    static = node.static_list(i)
    return [int(d) for d in static] if static is not None else node.input(i)


def fill(shape: Shape, value: torch.Tensor) -> torch.Tensor:
    return value.reshape(()).expand(_dims(shape)).clone()


@register_op("Fill")
def fill_op(node: OpNode) -> Value:
    return node.call(fill, _shape_arg(node, 0), node.input(1))


def ones(shape: Shape, dtype: torch.dtype) -> torch.Tensor:
    return torch.ones(_dims(shape), dtype=dtype)


def zeros(shape: Shape, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(_dims(shape), dtype=dtype)


@register_op("Ones", "Zeros")
def ones_zeros_op(node: OpNode) -> Value:
    return node.call(ones if node.op == "Ones" else zeros, _shape_arg(node, 0), node.attr_dtype("dtype"))


@register_op("OnesLike", "ZerosLike")
def like_op(node: OpNode) -> Value:
    return node.call(torch.ones_like if node.op == "OnesLike" else torch.zeros_like, node.input(0))


def range_(start: torch.Tensor, limit: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """TF Range: ceil((limit - start) / delta) values, empty when the sign is wrong; int32 when
    all inputs are integers, else the float inputs' dtype (float32, or the model's)."""
    floats = [t.dtype for t in (start, limit, delta) if t.is_floating_point()]
    is_int = not floats
    s, l, d = _scalar(start), _scalar(limit), _scalar(delta)
    n = max(0, math.ceil((l - s) / d))
    dtype = torch.int32 if is_int else floats[0]
    return (torch.arange(n, dtype=torch.float64, device=start.device) * d + s).to(dtype)


@register_op("Range")
def range_op(node: OpNode) -> Value:
    return node.call(range_, node.input(0), node.input(1), node.input(2))


def lin_space(start: torch.Tensor, stop: torch.Tensor, num: Union[int, torch.Tensor]) -> torch.Tensor:
    dtype = start.dtype if start.is_floating_point() else torch.float32
    return torch.linspace(_scalar(start), _scalar(stop), int(_scalar(num)), dtype=dtype,
                          device=start.device)


@register_op("LinSpace")
def lin_space_op(node: OpNode) -> Value:
    num = node.static_list(2)
    return node.call(lin_space, node.input(0), node.input(1), int(num[0]) if num else node.input(2))


def one_hot(indices: torch.Tensor, depth: Union[int, torch.Tensor], on: torch.Tensor,
            off: torch.Tensor, axis: int) -> torch.Tensor:
    """Indices outside [0, depth) give rows of all ``off``; the new axis goes at ``axis``."""
    depth = int(_scalar(depth))
    hot = indices.long().unsqueeze(-1) == torch.arange(depth, device=indices.device)
    if axis != -1:
        hot = torch.movedim(hot, -1, axis)
    return torch.where(hot, on.reshape(()), off.reshape(()).to(on.dtype))


@register_op("OneHot")
def one_hot_op(node: OpNode) -> Value:
    depth = node.static_list(1)
    return node.call(one_hot, node.input(0), int(depth[0]) if depth else node.input(1),
                     node.input(2), node.input(3), node.attr_int("axis", -1))


# --- random ops (never folded) ------------------------------------------------------------------

# ``anchor``: a 0-d buffer of the model (``OpNode.device_anchor``), so draws land on the device the
# model was moved to even when no input tensor says which one.

def random_normal(shape: Shape, dtype: torch.dtype, anchor: torch.Tensor) -> torch.Tensor:
    return torch.randn(_dims(shape), dtype=dtype, device=anchor.device)


def random_uniform(shape: Shape, dtype: torch.dtype, anchor: torch.Tensor) -> torch.Tensor:
    return torch.rand(_dims(shape), dtype=dtype, device=anchor.device)  # [0, 1)


def truncated_normal(shape: Shape, dtype: torch.dtype, anchor: torch.Tensor) -> torch.Tensor:
    out = torch.empty(_dims(shape), dtype=dtype, device=anchor.device)
    return torch.nn.init.trunc_normal_(out, mean=0.0, std=1.0, a=-2.0, b=2.0)


@register_op("RandomStandardNormal", "RandomUniform", "TruncatedNormal")
def random_float_op(node: OpNode) -> Value:
    fn = {"RandomStandardNormal": random_normal, "RandomUniform": random_uniform,
          "TruncatedNormal": truncated_normal}[node.op]
    return node.call(fn, _shape_arg(node, 0), node.attr_dtype("dtype"), node.device_anchor(), fold=False)


def random_uniform_int(shape: Shape, minval: torch.Tensor, maxval: torch.Tensor,
                       anchor: torch.Tensor) -> torch.Tensor:
    """Integers in [minval, maxval), in minval's dtype."""
    return torch.randint(int(_scalar(minval)), int(_scalar(maxval)), _dims(shape),
                         dtype=minval.dtype, device=anchor.device)


@register_op("RandomUniformInt")
def random_uniform_int_op(node: OpNode) -> Value:
    return node.call(random_uniform_int, _shape_arg(node, 0), node.input(1), node.input(2),
                     node.device_anchor(), fold=False)


def multinomial(logits: torch.Tensor, num_samples: Union[int, torch.Tensor],
                out_dtype: Optional[torch.dtype] = torch.int32) -> torch.Tensor:
    """``num_samples`` class indices per row of unnormalized log-probabilities (with replacement)."""
    probs = torch.softmax(logits.to(torch.float32), dim=-1)
    samples = torch.multinomial(probs.reshape(-1, probs.shape[-1]), int(_scalar(num_samples)),
                                replacement=True)
    return samples.reshape(list(logits.shape[:-1]) + [-1]).to(out_dtype)


@register_op("Multinomial")
def multinomial_op(node: OpNode) -> Value:
    num = node.static_list(1)
    return node.call(multinomial, node.input(0), int(num[0]) if num else node.input(1),
                     node.attr_dtype("output_dtype", "DT_INT64"), fold=False)
