"""Normalization ops (tfjs op list ``normalization``): EuclideanNorm, FusedBatchNorm,
FusedBatchNormV2, FusedBatchNormV3, LRN, Softmax, LogSoftmax."""

from __future__ import annotations

from typing import List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from ..node import OpNode, Value
from ..registry import register_op


def euclidean_norm(x: torch.Tensor, axes: Union[Sequence[int], torch.Tensor], keep_dims: bool) -> torch.Tensor:
    if isinstance(axes, torch.Tensor):
        axes = axes.reshape(-1).tolist()
    dims = sorted({int(a) % x.dim() for a in axes}) if x.dim() else []
    if not dims:
        return x
    xf = x if (x.is_floating_point() or x.is_complex()) else x.to(torch.float64)
    out = torch.sqrt(torch.sum(xf.abs() ** 2, dim=dims, keepdim=keep_dims))
    return out if xf is x else out.to(x.dtype)  # integer norms truncate, as TF's cast


@register_op("EuclideanNorm")
def euclidean_norm_op(node: OpNode) -> Value:
    axes = node.static_list(1)
    keep = node.attr_bool("keep_dims", node.attr_bool("keepDims", False))
    return node.call(euclidean_norm, node.input(0), node.input(1) if axes is None else [int(a) for a in axes], keep)


def fused_batch_norm(x: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, mean: torch.Tensor,
                     variance: torch.Tensor, epsilon: float, channel_axis: int
                     ) -> Tuple[torch.Tensor, ...]:
    """Inference batch norm; returns TF's outputs (y, batch_mean, batch_variance,
    reserve_space_1..3): inference passes the given moments through."""
    if mean.numel() == 0:  # is_training graphs feed empty moments: use the batch's own
        dims = [d for d in range(x.dim()) if d != channel_axis % x.dim()]
        mean, variance = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
    shape = [1] * x.dim()
    shape[channel_axis] = -1
    inv = torch.rsqrt(variance.reshape(shape) + epsilon) * scale.reshape(shape)
    y = (x - mean.reshape(shape)) * inv + offset.reshape(shape)
    mean, variance = mean.clone(), variance.clone()  # fresh outputs, never the parameters
    return y, mean, variance, mean, variance, torch.zeros(0, dtype=x.dtype, device=x.device)


_BN_OUTPUTS = ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2",
               "reserve_space_3")


@register_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", output_args=_BN_OUTPUTS)
def fused_batch_norm_op(node: OpNode) -> List[Value]:
    fmt = node.attr_str("data_format", "nhwc") or "nhwc"
    channel_axis = 1 if fmt.startswith("nc") else -1
    epsilon = node.attr_float("epsilon", 1e-3)  # tfjs-converter op map default
    out = node.call(fused_batch_norm, *[node.input(i) for i in range(5)], epsilon, channel_axis)
    return node.outputs(out, len(_BN_OUTPUTS))


def lrn(x: torch.Tensor, depth_radius: int, bias: float, alpha: float, beta: float) -> torch.Tensor:
    """x / (bias + alpha * sum of x² over channels within depth_radius) ** beta (last axis)."""
    sq = F.pad(x * x, (depth_radius, depth_radius))
    window = sq.unfold(-1, 2 * depth_radius + 1, 1).sum(-1)
    return x / (bias + alpha * window) ** beta


@register_op("LRN")
def lrn_op(node: OpNode) -> Value:
    return node.call(lrn, node.input(0), node.attr_int("depth_radius", 5), node.attr_float("bias", 1.0),
                     node.attr_float("alpha", 1.0), node.attr_float("beta", 0.5))


def softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def log_softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(x, dim=-1)


@register_op("Softmax", "LogSoftmax")
def softmax_op(node: OpNode) -> Value:
    return node.call(softmax if node.op == "Softmax" else log_softmax, node.input(0))
