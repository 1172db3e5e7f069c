"""Convolution ops (tfjs op list ``convolution``): AvgPool, MaxPool, MaxPoolWithArgmax, AvgPool3D,
MaxPool3D, Conv1D, Conv2D, _FusedConv2D, Conv2DBackpropInput, DepthwiseConv2d,
DepthwiseConv2dNative, FusedDepthwiseConv2dNative, Conv3D, Dilation2D.

Data is channels-last (NHWC) unless ``data_format`` says NCHW. A channels-last tensor is viewed as
NCHW in channels_last memory (``_layout.to_channels_first``), so torch's NHWC kernels run on it
without copies; Const filters are stored pre-transformed by the importer (``param_layouts``).
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..._layout import to_channels_first, to_channels_last
from ..._padding import (needs_pad, same_pads_nd, spatial_sizes, split_symmetric, static_shape, tf_avg_pool,
                         tf_conv, tf_max_pool)
from ..node import OpNode, Value
from ..registry import channels_last_flag, layout_rewrite, register_op
from .matrices import apply_fused_activation, split_fused_ops
from .transformation import pairs

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
Pads = List[Tuple[int, int]]


# --- runtime functions (module-level so fx graphs can call them) ---------------------------------

def _pads(sizes: Sequence[int], kernels: Sequence[int], strides: Sequence[int],
          dilations: Sequence[int], padding: str, explicit: Optional[Pads]) -> Pads:
    """Per-spatial-axis (before, after) padding of TF SAME / VALID / EXPLICIT."""
    if padding == "same":
        return same_pads_nd(sizes, kernels, strides, dilations)
    if padding == "explicit":
        return list(explicit or [])
    return [(0, 0)] * len(sizes)


def conv_nd(x: torch.Tensor, w: torch.Tensor, bias: Optional[torch.Tensor], rank: int,
            strides: List[int], padding: str, explicit: Optional[Pads], dilations: List[int],
            groups: int, channels_last: bool) -> torch.Tensor:
    """TF convolution; ``w`` is already in torch layout (out, in/groups, *spatial)."""
    if channels_last:
        x = to_channels_first(x)
    if groups < 0:  # depthwise: one group per input channel (a count the filter fixes, so read
        groups = static_shape(x)[1]  # untraced: a traced groups keeps TorchScript from folding)
    if padding == "explicit":
        symmetric, extra = split_symmetric(explicit or [])
        if needs_pad(extra):
            x = F.pad(x, extra)
        y = _CONV[rank](x, w, bias, tuple(strides), tuple(symmetric), tuple(dilations), groups)
    else:
        y = tf_conv(x, w, bias, rank, strides, padding, dilations, groups)
    return to_channels_last(y) if channels_last else y


def split_fused_bias(bias: Optional[torch.Tensor], channels: int, rank: int,
                     channels_last: bool) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """A fused conv's bias argument as (a ``(channels,)`` vector the conv kernel adds, the rest
    to add to the output afterwards), one of them None.

    tfjs adds a 1-D bias along the channel axis (BiasAdd; for NCHW too) and any other bias with
    numpy broadcasting against the output in the node's data format. TF >= 2.16 folds Keras 3's
    BatchNormalization (axis=3) into the conv and fuses the ``[1, 1, 1, C]`` shift it adds as
    the "BiasAdd": a bias of ones but at the channel axis (``channels_last`` says where that
    is, right-aligned) is that same vector. A scalar (``conv + 3``) is expanded to one."""
    if bias is None:
        return None, None
    shape = static_shape(bias)  # a weight: decide once, not per traced size
    numel = math.prod(shape)  # not np.prod: Dynamo would trace it as a tensor op
    if numel == 1 and channels != 1:
        return bias.reshape(1).expand(channels), None
    if len(shape) <= 1:
        return bias.reshape(-1), None
    if len(shape) <= rank + 2:
        axis = len(shape) - 1 if channels_last else len(shape) - rank - 1
        if axis >= 0 and shape[axis] == channels and numel == channels:
            return bias.reshape(-1), None
    return None, bias


def _bias_in_layout(bias: torch.Tensor, rank: int, channels_last: bool) -> torch.Tensor:
    """A bias shaped to broadcast against a rank-``rank`` conv output in one layout, viewed to
    broadcast the same way against the output in the other one (``channels_last``: the target
    layout; the layout pass runs convs on NCHW views of channels-last graphs)."""
    if bias.dim() < rank + 2:
        bias = bias.reshape((1,) * (rank + 2 - bias.dim()) + tuple(bias.shape))
    return to_channels_last(bias) if channels_last else to_channels_first(bias)


def fused_conv_nd(x: torch.Tensor, w: torch.Tensor, bias: Optional[torch.Tensor], rank: int,
                  strides: List[int], padding: str, explicit: Optional[Pads], dilations: List[int],
                  groups: int, channels_last: bool, batch_norm: Optional[Sequence[torch.Tensor]],
                  epsilon: float, activation: str, alpha: Any,
                  bias_channels_last: bool) -> torch.Tensor:
    """conv → (bias | batch norm (scale, offset, mean, variance)) → activation.

    ``bias_channels_last`` is the node's own data format, which the bias is shaped for; the
    layout pass flips only ``channels_last``, to run the conv on NCHW views. See
    :func:`split_fused_bias` for the bias shapes taken."""
    vector, rest = split_fused_bias(bias, static_shape(w)[0], rank, bias_channels_last)
    y = conv_nd(x, w, vector, rank, strides, padding, explicit, dilations, groups, channels_last)
    if rest is not None:  # a bias that varies along more than the channel axis
        if bias_channels_last != channels_last:
            rest = _bias_in_layout(rest, rank, channels_last)
        y = y + rest
    if batch_norm is not None:  # per-channel vectors, whatever their broadcast shape
        shape = (-1,) if channels_last else (-1,) + (1,) * rank
        scale, offset, mean, var = (t.reshape(shape) for t in batch_norm)
        y = (y - mean) * (scale * torch.rsqrt(var + epsilon)) + offset
    return apply_fused_activation(y, activation, alpha)


for _fn in (conv_nd, fused_conv_nd):
    channels_last_flag(_fn)


def space_to_batch_pads(paddings: Any, crops: Any) -> Pads:
    """Per-axis (before, after) padding of the dilated conv that ``SpaceToBatchND(paddings)`` →
    stride-1 VALID conv → ``BatchToSpaceND(crops)`` computes: ``paddings - crops``. Output
    position o of the chain reads x[o - (pad_before - crop_before) + t·block] for filter tap t,
    i.e. a conv with dilation = block over x padded by (before - crop_before) and, for the
    output length to agree, (after - crop_after). A negative value crops x."""
    return [(p[0] - c[0], p[1] - c[1]) for p, c in zip(pairs(paddings), pairs(crops))]


def space_to_batch_conv(x: torch.Tensor, w: torch.Tensor, bias: Optional[torch.Tensor],
                        paddings: Any, crops: Any, dilations: List[int], groups: int,
                        batch_norm: Optional[Sequence[torch.Tensor]], epsilon: float,
                        activation: str, alpha: Any, bias_channels_last: bool = True) -> torch.Tensor:
    """The SpaceToBatchND → conv → BatchToSpaceND idiom (how TF runs a dilated conv; its
    paddings and crops computed at run time when H/W were unknown at export) as one dilated
    conv on NHWC ``x``. Bias, batch norm and activation are per channel, so they commute with
    BatchToSpaceND's reshuffle and crop."""
    pads = space_to_batch_pads(paddings, crops)
    if any(b < 0 or a < 0 for b, a in pads):  # crop x first (F.pad crops on negative values)
        crop = [(min(b, 0), min(a, 0)) for b, a in pads]
        x = F.pad(x, [0, 0] + [v for pair in reversed(crop) for v in pair])
        pads = [(max(b, 0), max(a, 0)) for b, a in pads]
    return fused_conv_nd(x, w, bias, 2, [1, 1], "explicit", pads, dilations, groups, True,
                         batch_norm, epsilon, activation, alpha, bias_channels_last)


def conv1d_nwc(x: torch.Tensor, w: torch.Tensor, stride: int, padding: str, dilation: int,
               channels_last: bool) -> torch.Tensor:
    """tfjs Conv1D; filter (W, in, out) → torch (out, in, W) per call (a rare op)."""
    return conv_nd(x, w.permute(2, 1, 0), None, 1, [stride], padding, None, [dilation], 1, channels_last)


def conv2d_backprop_input(input_sizes: Sequence[int], w: torch.Tensor, dy: torch.Tensor,
                          strides: List[int], padding: str, explicit: Optional[Pads],
                          dilations: List[int], channels_last: bool,
                          sizes_channels_last: Optional[bool] = None) -> torch.Tensor:
    """Gradient of a TF conv2d w.r.t. its input = transposed conv, sized exactly ``input_sizes``.
    ``w`` is (out_backprop channels, output channels, H, W) — conv_transpose's layout.
    ``input_sizes`` is NHWC when ``sizes_channels_last`` (default: ``channels_last``)."""
    nhwc_sizes = channels_last if sizes_channels_last is None else sizes_channels_last
    spatial = list(input_sizes)[1:3] if nhwc_sizes else list(input_sizes)[2:4]
    # H / W only: int() on the batch entry (Shape(x)[0] in Keras 3) pins it in torch.export
    sizes = [int(s) for s in spatial]
    if channels_last:
        dy = to_channels_first(dy)
    kernels = static_shape(w)[2:]
    pads = _pads(sizes, kernels, strides, dilations, padding, explicit)
    torch_pad: List[int] = []
    out_pad: List[int] = []
    crop: List[Tuple[int, int]] = []  # what is still to cut (+) or zero-fill (-) per side
    for n, m, k, s, d, (before, _) in zip(sizes, spatial_sizes(dy), kernels, strides, dilations, pads):
        full = (m - 1) * s + (k - 1) * d + 1  # conv_transpose's length with no padding
        after = full - before - n  # the forward conv's window coverage past the input
        if 0 <= before - after < max(s, d):  # torch can do it alone (output_padding adds the end)
            torch_pad.append(before)
            out_pad.append(before - after)
            crop.append((0, 0))
        else:
            p = max(min(before, after), 0)
            torch_pad.append(p)
            out_pad.append(0)
            crop.append((before - p, after - p))
    y = F.conv_transpose2d(dy, w, None, tuple(strides), tuple(torch_pad), tuple(out_pad), 1,
                           tuple(dilations))
    if any(c for pair in crop for c in pair):
        f_pad: List[int] = []
        for before, after in reversed(crop):
            f_pad += [-before, -after]  # F.pad crops with negative pads, zero-fills with positive
        y = F.pad(y, f_pad)
    return to_channels_last(y) if channels_last else y


def pool_nd(x: torch.Tensor, kind: str, rank: int, kernel: List[int], strides: List[int],
            padding: str, channels_last: bool) -> torch.Tensor:
    if channels_last:
        x = to_channels_first(x)
    fn = tf_max_pool if kind == "max" else tf_avg_pool
    y = fn(x, rank, kernel, strides, padding)
    return to_channels_last(y) if channels_last else y


channels_last_flag(pool_nd)


@layout_rewrite(conv2d_backprop_input)
def _conv2d_backprop_input_nchw(args: tuple, rank: int, nchw) -> Optional[tuple]:  # type: ignore[no-untyped-def]
    """On the NCHW view of ``dy``; ``input_sizes`` stay NHWC."""
    if len(args) != 8 or nchw(args[2]) is None or args[7] is not True or rank != 4:
        return None
    return args[:2] + (nchw(args[2]),) + args[3:7] + (False, True), True


def max_pool_with_argmax(x: torch.Tensor, kernel: List[int], strides: List[int], padding: str,
                         include_batch_in_index: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """NHWC max pool and TF's flat argmax ((b·H + y)·W + x)·C + c (batch term optional), int32."""
    n, h, w, c = x.shape
    pads = _pads([h, w], kernel, strides, [1, 1], padding, None)
    (top, bottom), (left, right) = pads
    # pad fully here so torch's per-plane indices are in padded coordinates we can undo
    xp = F.pad(to_channels_first(x), [left, right, top, bottom], value=float("-inf"))
    values, idx = F.max_pool2d(xp, tuple(kernel), tuple(strides), return_indices=True)
    wp = w + left + right
    yy, xx = idx // wp - top, idx % wp - left
    flat = (yy * w + xx) * c + torch.arange(c, device=x.device).view(1, c, 1, 1)
    if include_batch_in_index:
        flat = flat + torch.arange(n, device=x.device).view(n, 1, 1, 1) * (h * w * c)
    return to_channels_last(values), to_channels_last(flat).to(torch.int32).contiguous()


def dilation2d(x: torch.Tensor, f: torch.Tensor, strides: List[int], rates: List[int],
               padding: str) -> torch.Tensor:
    """Grayscale morphological dilation: max over the window of input + filter (NHWC; f: HWC)."""
    kh, kw, c = f.shape
    xc = to_channels_first(x)
    pads = _pads(spatial_sizes(xc), [kh, kw], strides, rates, padding, None)
    (top, bottom), (left, right) = pads
    xc = F.pad(xc, [left, right, top, bottom], value=float("-inf"))
    oh = (xc.shape[2] - (kh - 1) * rates[0] - 1) // strides[0] + 1
    ow = (xc.shape[3] - (kw - 1) * rates[1] - 1) // strides[1] + 1
    cols = F.unfold(xc, (kh, kw), dilation=tuple(rates), stride=tuple(strides))  # (N, C·kh·kw, L)
    cols = cols.view(x.shape[0], c, kh * kw, oh * ow) + f.permute(2, 0, 1).reshape(1, c, kh * kw, 1)
    return to_channels_last(cols.amax(dim=2).view(x.shape[0], c, oh, ow)).contiguous()


# --- attribute helpers --------------------------------------------------------------------------

def _channels_last(node: OpNode) -> bool:
    fmt = node.attr_str("data_format", "nhwc") or "nhwc"
    if fmt not in ("nhwc", "nchw", "ndhwc", "ncdhw", "nwc", "ncw"):
        raise node.error(f"unsupported data_format '{fmt}'")
    return not fmt.startswith("nc")


#: Largest window, stride or rate accepted (no real model comes near; a corrupted stride of
#: 65537 made a transposed convolution run for minutes).
MAX_WINDOW = 4096


def _spatial(node: OpNode, key: str, rank: int, channels_last: bool) -> List[int]:
    """The spatial part of a (rank+2)-list attr given in data_format order."""
    values = [int(v) for v in node.attr_list(key)] or [1] * (rank + 2)
    if len(values) != rank + 2:
        raise node.error(f"attr '{key}' must have {rank + 2} values, has {values}")
    spatial = values[1:1 + rank] if channels_last else values[2:2 + rank]
    if any(v < 1 or v > MAX_WINDOW for v in spatial):
        raise node.error(f"attr '{key}' {values}: spatial values must be in 1..{MAX_WINDOW}")
    return spatial


def _padding(node: OpNode, rank: int, channels_last: bool) -> Tuple[str, Optional[Pads]]:
    padding = node.attr_str("padding", "valid") or "valid"
    if padding not in ("same", "valid", "explicit"):
        raise node.error(f"unsupported padding '{padding}'")
    if padding != "explicit":
        return padding, None
    flat = [int(v) for v in node.attr_list("explicit_paddings")]
    if len(flat) != 2 * (rank + 2):
        raise node.error(f"explicit_paddings must have {2 * (rank + 2)} values, has {flat}")
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(rank + 2)]
    return padding, pairs[1:1 + rank] if channels_last else pairs[2:2 + rank]


def _conv_args(node: OpNode, rank: int) -> tuple:
    cl = _channels_last(node)
    padding, explicit = _padding(node, rank, cl)
    return (_spatial(node, "strides", rank, cl), padding, explicit,
            _spatial(node, "dilations", rank, cl), cl)


def _fused_args(node: OpNode) -> tuple:
    """(bias, batch_norm, activation, alpha) of a fused conv's ``fused_ops`` and extra args."""
    num_args = node.attr_int("num_args", node.num_inputs - 2)
    extra = node.inputs[2:2 + num_args]
    ops = [str(o).lower() for o in node.attr_list("fused_ops")]
    if ops and ops[0] == "fusedbatchnorm":  # grappler's conv+BN(+activation): scale, offset, mean, var
        if len(extra) < 4 or len(ops) > 2:
            raise node.error(f"unsupported fused_ops {ops} with {len(extra)} args")
        activation = ops[1] if len(ops) > 1 else ""
        alpha: Any = None
        if activation == "leakyrelu":
            alpha = node.attr_float("leakyrelu_alpha", 0.2)
        elif activation == "prelu":
            alpha = extra[4] if len(extra) > 4 else None
            if alpha is None:
                raise node.error("fused Prelu has no alpha argument")
        return None, list(extra[:4]), activation, alpha
    bias, activation, alpha = split_fused_ops(node, extra)
    return bias, None, activation, alpha


def _check_fused_bias(node: OpNode, rank: int, channels_last: bool, depthwise: bool) -> None:
    """Refuse, at import, a constant bias that cannot broadcast to the conv's output channels
    (``split_fused_bias`` would otherwise fail on the first call, far from the node)."""
    bias, filt = node.static(2) if node.num_inputs > 2 else None, node.static(1)
    if bias is None or filt is None or np.ndim(filt) != rank + 2:
        return
    shape = tuple(np.shape(bias))
    channels = int(np.prod(np.shape(filt)[-2:])) if depthwise else int(np.shape(filt)[-1])
    if len(shape) <= 1 or int(np.prod(shape)) == 1:
        ok = len(shape) == 0 or shape[0] in (1, channels)
    else:
        axis = len(shape) - 1 if channels_last else len(shape) - rank - 1
        ok = len(shape) <= rank + 2 and axis >= 0 and shape[axis] in (1, channels)
    if not ok:
        raise node.error(f"bias of shape {list(shape)} does not broadcast to the output's "
                         f"{channels} channels")


# --- emitters -----------------------------------------------------------------------------------

@register_op("Conv2D", param_layouts={1: "hwio_to_oihw"})
def conv2d_op(node: OpNode) -> Value:
    strides, padding, explicit, dilations, cl = _conv_args(node, 2)
    return node.call(conv_nd, node.input(0), node.input_in_layout(1, "hwio_to_oihw"), None, 2,
                     strides, padding, explicit, dilations, 1, cl)


@register_op("_FusedConv2D", param_layouts={1: "hwio_to_oihw"})
def fused_conv2d_op(node: OpNode) -> Value:
    strides, padding, explicit, dilations, cl = _conv_args(node, 2)
    bias, bn, activation, alpha = _fused_args(node)
    if bias is not None:
        _check_fused_bias(node, 2, cl, depthwise=False)
    return node.call(fused_conv_nd, node.input(0), node.input_in_layout(1, "hwio_to_oihw"), bias, 2,
                     strides, padding, explicit, dilations, 1, cl, bn,
                     node.attr_float("epsilon", 1e-3), activation, alpha, cl)


@register_op("DepthwiseConv2d", "DepthwiseConv2dNative", param_layouts={1: "hwcm_to_depthwise"})
def depthwise_conv2d_op(node: OpNode) -> Value:
    strides, padding, explicit, dilations, cl = _conv_args(node, 2)
    return node.call(conv_nd, node.input(0), node.input_in_layout(1, "hwcm_to_depthwise"), None, 2,
                     strides, padding, explicit, dilations, -1, cl)


@register_op("FusedDepthwiseConv2dNative", param_layouts={1: "hwcm_to_depthwise"})
def fused_depthwise_conv2d_op(node: OpNode) -> Value:
    strides, padding, explicit, dilations, cl = _conv_args(node, 2)
    bias, bn, activation, alpha = _fused_args(node)
    if bias is not None:
        _check_fused_bias(node, 2, cl, depthwise=True)
    return node.call(fused_conv_nd, node.input(0), node.input_in_layout(1, "hwcm_to_depthwise"),
                     bias, 2, strides, padding, explicit, dilations, -1, cl, bn,
                     node.attr_float("epsilon", 1e-3), activation, alpha, cl)


@register_op("Conv3D", param_layouts={1: "dhwio_to_oidhw"})
def conv3d_op(node: OpNode) -> Value:
    strides, padding, explicit, dilations, cl = _conv_args(node, 3)
    return node.call(conv_nd, node.input(0), node.input_in_layout(1, "dhwio_to_oidhw"), None, 3,
                     strides, padding, explicit, dilations, 1, cl)


@register_op("Conv1D")
def conv1d_op(node: OpNode) -> Value:
    padding = node.attr_str("pad", "valid") or "valid"
    if padding not in ("same", "valid"):
        raise node.error(f"unsupported pad '{padding}'")
    return node.call(conv1d_nwc, node.input(0), node.input(1), node.attr_int("stride", 1), padding,
                     node.attr_int("dilation", 1), _channels_last(node))


@register_op("Conv2DBackpropInput", param_layouts={1: "hwio_to_oihw"})
def conv2d_backprop_input_op(node: OpNode) -> Value:
    strides, padding, explicit, dilations, cl = _conv_args(node, 2)
    sizes = node.static_list(0)
    return node.call(conv2d_backprop_input, node.input(0) if sizes is None else sizes,
                     node.input_in_layout(1, "hwio_to_oihw"), node.input(2), strides, padding,
                     explicit, dilations, cl)


@register_op("AvgPool", "MaxPool", "AvgPool3D", "MaxPool3D")
def pool_op(node: OpNode) -> Value:
    rank = 3 if node.op.endswith("3D") else 2
    cl = _channels_last(node)
    padding = node.attr_str("padding", "valid") or "valid"
    if padding not in ("same", "valid"):
        raise node.error(f"unsupported padding '{padding}'")
    kind = "max" if node.op.startswith("Max") else "avg"
    return node.call(pool_nd, node.input(0), kind, rank, _spatial(node, "ksize", rank, cl),
                     _spatial(node, "strides", rank, cl), padding, cl)


@register_op("MaxPoolWithArgmax", output_args=("output", "argmax"))
def max_pool_with_argmax_op(node: OpNode) -> List[Value]:
    padding = node.attr_str("padding", "valid") or "valid"
    if padding not in ("same", "valid"):
        raise node.error(f"unsupported padding '{padding}'")
    out = node.call(max_pool_with_argmax, node.input(0), _spatial(node, "ksize", 2, True),
                    _spatial(node, "strides", 2, True), padding,
                    node.attr_bool("include_batch_in_index", False))
    return node.outputs(out, 2)


@register_op("Dilation2D")
def dilation2d_op(node: OpNode) -> Value:
    padding = node.attr_str("padding", "valid") or "valid"
    if padding not in ("same", "valid"):
        raise node.error(f"unsupported padding '{padding}'")
    return node.call(dilation2d, node.input(0), node.input(1), _spatial(node, "strides", 2, True),
                     _spatial(node, "rates", 2, True), padding)
