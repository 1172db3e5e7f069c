"""convolution emitters against direct numpy statements of TF's formulas (loops over windows)."""

import itertools
import math

import numpy as np
import pytest
import torch

from single_op import run_single_op, single_op_model
from torch_tfjs.errors import GraphError
from torch_tfjs.graph.ops.convolution import fused_conv_nd

RNG = np.random.default_rng(11)
TOL = dict(rtol=1e-5, atol=1e-5)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# --- numpy references ---------------------------------------------------------------------------

def tf_pads(size, k, s, d, padding, explicit=None):
    """TF (before, after) pads of one axis: SAME puts the odd cell after."""
    if padding == "SAME":
        eff = (k - 1) * d + 1
        total = max((math.ceil(size / s) - 1) * s + eff - size, 0)
        return total // 2, total - total // 2
    return explicit if padding == "EXPLICIT" else (0, 0)


def ref_conv(x, w, strides, dilations, pads):
    """x (N, *spatial, I), w (*k, I, O): out[n, o..., :] = Σ_window x_pad[...] @ w[k...]."""
    rank = x.ndim - 2
    xp = np.pad(x, [(0, 0)] + list(pads) + [(0, 0)])
    ks = w.shape[:rank]
    outs = [(xp.shape[1 + i] - (ks[i] - 1) * dilations[i] - 1) // strides[i] + 1 for i in range(rank)]
    out = np.zeros((x.shape[0], *outs, w.shape[-1]), np.float64)
    for o in itertools.product(*[range(n) for n in outs]):
        for kk in itertools.product(*[range(k) for k in ks]):
            idx = tuple(o[i] * strides[i] + kk[i] * dilations[i] for i in range(rank))
            out[(slice(None), *o)] += xp[(slice(None), *idx)] @ w[kk]
    return out


def ref_depthwise(x, w, strides, dilations, pads):
    """w (H, W, C, M): output channel c*M + m convolves channel c with w[..., c, m]."""
    c, m = w.shape[2:]
    outs = [ref_conv(x[..., ci:ci + 1], w[:, :, ci:ci + 1, mi:mi + 1], strides, dilations, pads)
            for ci in range(c) for mi in range(m)]
    return np.concatenate(outs, axis=-1)


def ref_backprop_input(sizes, w, dy, strides, dilations, pads):
    """The input gradient of conv2d: scatter every dy cell back through its window."""
    n, h, wd, _ = sizes
    (pt, _), (pl, _) = pads
    kh, kw = w.shape[:2]
    big = np.zeros((n, pt + h + kh * dilations[0] + dy.shape[1] * strides[0],
                    pl + wd + kw * dilations[1] + dy.shape[2] * strides[1], w.shape[2]))
    for oy, ox, ky, kx in itertools.product(range(dy.shape[1]), range(dy.shape[2]), range(kh), range(kw)):
        y, x = oy * strides[0] + ky * dilations[0], ox * strides[1] + kx * dilations[1]
        big[:, y, x] += dy[:, oy, ox] @ w[ky, kx].T
    return big[:, pt:pt + h, pl:pl + wd]


def windows(size, k, s, padding, d=1):
    """Per output position, the valid input indices of its window (padding excluded)."""
    before, _ = tf_pads(size, k, s, d, padding)
    n_out = math.ceil(size / s) if padding == "SAME" else (size - (k - 1) * d - 1) // s + 1
    return [[o * s - before + j * d for j in range(k) if 0 <= o * s - before + j * d < size]
            for o in range(n_out)]


def ref_pool(x, ks, strides, padding, reduce):
    """x (N, *spatial, C); reduce over the valid cells of each window (TF: pads don't count)."""
    rank = x.ndim - 2
    wins = [windows(x.shape[1 + i], ks[i], strides[i], padding) for i in range(rank)]
    out = np.zeros((x.shape[0], *[len(w) for w in wins], x.shape[-1]), np.float64)
    for o in itertools.product(*[range(len(w)) for w in wins]):
        cells = x[(slice(None), *np.ix_(*[wins[i][o[i]] for i in range(rank)]), slice(None))]
        out[(slice(None), *o)] = reduce(cells.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return out


ACTS = {"Relu": lambda x, a: np.maximum(x, 0), "Relu6": lambda x, a: np.clip(x, 0, 6),
        "Elu": lambda x, a: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        "Sigmoid": lambda x, a: 1 / (1 + np.exp(-x)),
        "LeakyRelu": lambda x, a: np.where(x > 0, x, a * x),
        "Prelu": lambda x, a: np.where(x > 0, x, a * x), None: lambda x, a: x,
        # TF grappler's fusion of Keras hard_swish (MobileNetV3); tfjs cannot run it, TF can
        "_FusedHardSwish": lambda x, a: x * np.clip(x + 3, 0, 6) / 6}


def conv_attrs(padding, s=1, d=1, explicit=None, fmt="NHWC"):
    attrs = {"strides": [1, s, s, 1], "padding": padding, "dilations": [1, d, d, 1], "data_format": fmt}
    if fmt == "NCHW":
        attrs.update(strides=[1, 1, s, s], dilations=[1, 1, d, d])
    if explicit is not None:
        attrs["explicit_paddings"] = explicit
    return attrs


# --- Conv2D ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("size,k,s,d,padding", [
    (7, 3, 1, 1, "SAME"), (7, 3, 2, 1, "SAME"), (8, 3, 2, 1, "SAME"), (8, 4, 2, 1, "SAME"),
    (7, 3, 1, 2, "SAME"), (8, 3, 2, 1, "VALID"), (9, 2, 3, 1, "VALID"), (7, 3, 1, 2, "VALID")])
def test_conv2d(tmp_path, size, k, s, d, padding):
    x, w = f32(2, size, size + 1, 3), f32(k, k, 3, 4)
    pads = [tf_pads(size, k, s, d, padding), tf_pads(size + 1, k, s, d, padding)]
    out = run_single_op(tmp_path, "Conv2D", [(x, False), (w, True)], conv_attrs(padding, s, d))
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, [s, s], [d, d], pads), **TOL)


def test_conv2d_explicit(tmp_path):
    x, w = f32(1, 6, 5, 2), f32(3, 2, 2, 3)
    explicit = [0, 0, 1, 2, 0, 3, 0, 0]
    out = run_single_op(tmp_path, "Conv2D", [(x, False), (w, True)],
                        conv_attrs("EXPLICIT", 2, 1, explicit))
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, [2, 2], [1, 1], [(1, 2), (0, 3)]), **TOL)


def test_conv2d_nchw(tmp_path):
    x, w = f32(2, 7, 6, 3), f32(3, 3, 3, 5)
    out = run_single_op(tmp_path, "Conv2D", [(x.transpose(0, 3, 1, 2).copy(), False), (w, True)],
                        conv_attrs("SAME", 2, 1, fmt="NCHW"))
    ref = ref_conv(x, w, [2, 2], [1, 1], [tf_pads(7, 3, 2, 1, "SAME"), tf_pads(6, 3, 2, 1, "SAME")])
    np.testing.assert_allclose(out.numpy(), ref.transpose(0, 3, 1, 2), **TOL)


def test_conv2d_dynamic_filter(tmp_path):
    x, w = f32(1, 5, 5, 2), f32(3, 3, 2, 2)
    out = run_single_op(tmp_path, "Conv2D", [(x, False), (w, False)], conv_attrs("SAME"))
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, [1, 1], [1, 1], [(1, 1), (1, 1)]), **TOL)


def test_conv2d_filter_stored_pre_transformed(tmp_path):
    x, w = f32(1, 5, 5, 2), f32(3, 3, 2, 4)
    model, _ = single_op_model(tmp_path, "Conv2D", [(x, False), (w, True)], conv_attrs("SAME"))
    params = dict(model.named_parameters())
    assert len(params) == 1
    (param,) = params.values()
    assert tuple(param.shape) == (4, 2, 3, 3)  # OIHW: no per-call permute needed
    np.testing.assert_array_equal(param.detach().numpy(), w.transpose(3, 2, 0, 1))
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, [1, 1], [1, 1], [(1, 1), (1, 1)]), **TOL)


# --- _FusedConv2D / FusedDepthwiseConv2dNative -----------------------------------------------------

@pytest.mark.parametrize("act", [None, "Relu", "Relu6", "Elu", "LeakyRelu", "Prelu", "Sigmoid",
                                 "_FusedHardSwish"])
@pytest.mark.parametrize("op", ["_FusedConv2D", "FusedDepthwiseConv2dNative"])
def test_fused_conv_bias(tmp_path, op, act):
    x = f32(1, 6, 5, 3) * 2
    w = f32(3, 3, 3, 4) if op == "_FusedConv2D" else f32(3, 3, 3, 2)
    c_out = 4 if op == "_FusedConv2D" else 6
    bias, alpha = f32(c_out), np.abs(f32(c_out)) * 0.5
    inputs = [(x, False), (w, True), (bias, True)] + ([(alpha, True)] if act == "Prelu" else [])
    attrs = conv_attrs("SAME", 2)
    attrs.update(fused_ops=["BiasAdd"] + ([act] if act else []), num_args=len(inputs) - 2,
                 epsilon=0.0, leakyrelu_alpha=0.3)
    out = run_single_op(tmp_path, op, inputs, attrs)
    pads = [tf_pads(6, 3, 2, 1, "SAME"), tf_pads(5, 3, 2, 1, "SAME")]
    conv = ref_conv if op == "_FusedConv2D" else ref_depthwise
    ref = conv(x, w, [2, 2], [1, 1], pads) + bias
    ref = ACTS[act](ref, 0.3 if act == "LeakyRelu" else alpha)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


def test_fused_conv_scalar_bias(tmp_path):
    """Grappler fuses ``conv + 3.0`` (Keras hard_sigmoid) as a BiasAdd with a 0-d argument."""
    x, w = f32(1, 5, 5, 3), f32(1, 1, 3, 4)
    attrs = conv_attrs("VALID")
    attrs.update(fused_ops=["BiasAdd", "Relu6"], num_args=1)
    out = run_single_op(tmp_path, "_FusedConv2D", [(x, False), (w, True), (np.array(3.0, np.float32), True)], attrs)
    ref = np.clip(ref_conv(x, w, [1, 1], [1, 1], [(0, 0), (0, 0)]) + 3.0, 0, 6)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


def test_fused_depthwise_noop_means_no_bias(tmp_path):
    """The converter writes fused_ops ['NoOp', 'Relu6'] (num_args 0) for a depthwise conv
    without bias followed by an activation (Keras MobileNetV2)."""
    x, w = f32(1, 6, 5, 3) * 3, f32(3, 3, 3, 1)
    attrs = conv_attrs("SAME")
    attrs.update(fused_ops=["NoOp", "Relu6"], num_args=0)
    out = run_single_op(tmp_path, "FusedDepthwiseConv2dNative", [(x, False), (w, True)], attrs)
    pads = [tf_pads(6, 3, 1, 1, "SAME"), tf_pads(5, 3, 1, 1, "SAME")]
    ref = np.clip(ref_depthwise(x, w, [1, 1], [1, 1], pads), 0, 6)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


@pytest.mark.parametrize("act", [None, "Relu"])
def test_fused_conv_batch_norm(tmp_path, act):
    x, w = f32(2, 5, 5, 3), f32(3, 3, 3, 4)
    scale, offset, mean = f32(4), f32(4), f32(4)
    var = np.abs(f32(4)) + 0.5
    attrs = conv_attrs("VALID")
    attrs.update(fused_ops=["FusedBatchNorm"] + ([act] if act else []), num_args=4, epsilon=1e-3)
    out = run_single_op(tmp_path, "_FusedConv2D", [(x, False), (w, True), (scale, True),
                                                   (offset, True), (mean, True), (var, True)], attrs)
    conv = ref_conv(x, w, [1, 1], [1, 1], [(0, 0), (0, 0)])
    ref = ACTS[act]((conv - mean) * scale / np.sqrt(var + 1e-3) + offset, None)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


def test_fused_conv_nchw_bias(tmp_path):
    x, w, bias = f32(1, 5, 4, 2), f32(2, 2, 2, 3), f32(3)
    attrs = conv_attrs("SAME", fmt="NCHW")
    attrs.update(fused_ops=["BiasAdd", "Relu"], num_args=1)
    out = run_single_op(tmp_path, "_FusedConv2D",
                        [(x.transpose(0, 3, 1, 2).copy(), False), (w, True), (bias, True)], attrs)
    ref = np.maximum(ref_conv(x, w, [1, 1], [1, 1], [(0, 1), (0, 1)]) + bias, 0)
    np.testing.assert_allclose(out.numpy(), ref.transpose(0, 3, 1, 2), **TOL)


# TF >= 2.16 folds a Keras 3 BatchNormalization(axis=3) into the conv, and the fused "BiasAdd"
# argument is the [1, 1, 1, C] shift it adds. tfjs adds a 1-D bias along the channel axis and any
# other with numpy broadcasting against the output in the node's data format. Output here:
# (N, H'=3, W'=5, C) with C = 4 (conv) or 6 (depthwise, multiplier 2): every size distinct.
BROADCAST_BIASES = {
    "NHWC": {"c": lambda c: (c,), "1c": lambda c: (1, c), "11c": lambda c: (1, 1, c),
             "111c": lambda c: (1, 1, 1, c), "0d": lambda c: (), "1111": lambda c: (1, 1, 1, 1),
             "1hwc": lambda c: (1, 3, 5, c), "w1": lambda c: (5, 1), "h11": lambda c: (3, 1, 1)},
    "NCHW": {"c": lambda c: (c,), "c11": lambda c: (c, 1, 1), "1c11": lambda c: (1, c, 1, 1),
             "0d": lambda c: (), "11hw": lambda c: (1, 1, 3, 5), "1chw": lambda c: (1, c, 3, 5)},
}


def _broadcast_bias_case(fmt, op, shape_key):
    x = f32(2, 6, 9, 3) * 2
    w = f32(3, 3, 3, 4) if op == "_FusedConv2D" else f32(3, 3, 3, 2)
    c_out = 4 if op == "_FusedConv2D" else 6
    bias = f32(*BROADCAST_BIASES[fmt][shape_key](c_out))
    conv = ref_conv if op == "_FusedConv2D" else ref_depthwise
    ref = conv(x, w, [2, 2], [1, 1], [tf_pads(6, 3, 2, 1, "SAME"), tf_pads(9, 3, 2, 1, "SAME")])
    if fmt == "NCHW":
        x, ref = x.transpose(0, 3, 1, 2).copy(), ref.transpose(0, 3, 1, 2)
        ref = ref + (bias.reshape(-1, 1, 1) if bias.ndim == 1 else bias)  # 1-D: channel axis
    else:
        ref = ref + bias
    return x, w, bias, np.maximum(ref, 0)


@pytest.mark.parametrize("fmt,shape_key", [(f, k) for f in BROADCAST_BIASES for k in BROADCAST_BIASES[f]])
@pytest.mark.parametrize("op", ["_FusedConv2D", "FusedDepthwiseConv2dNative"])
def test_fused_conv_broadcast_bias(tmp_path, op, fmt, shape_key):
    """Imported graphs: NHWC convs run on NCHW views (the layout pass), NCHW ones as they are."""
    x, w, bias, ref = _broadcast_bias_case(fmt, op, shape_key)
    attrs = conv_attrs("SAME", 2, fmt=fmt)
    attrs.update(fused_ops=["BiasAdd", "Relu"], num_args=1)
    out = run_single_op(tmp_path, op, [(x, False), (w, True), (bias, True)], attrs)
    assert tuple(out.shape) == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


@pytest.mark.parametrize("op", ["_FusedConv2D", "FusedDepthwiseConv2dNative"])
def test_fused_conv_residual_as_bias(tmp_path, op):
    """TF 2.21's grappler fuses Keras 3 ResNet50's ``relu(conv(x) + shortcut)`` into a
    _FusedConv2D [BiasAdd, Relu] whose "bias" is the other branch: a fed, full-shaped tensor."""
    x, w, _, _ = _broadcast_bias_case("NHWC", op, "c")
    c_out = 4 if op == "_FusedConv2D" else 6
    residual = f32(2, 3, 5, c_out)
    attrs = conv_attrs("SAME", 2)
    attrs.update(fused_ops=["BiasAdd", "Relu"], num_args=1)
    out = run_single_op(tmp_path, op, [(x, False), (w, True), (residual, False)], attrs)
    conv = ref_conv if op == "_FusedConv2D" else ref_depthwise
    ref = conv(x, w, [2, 2], [1, 1], [tf_pads(6, 3, 2, 1, "SAME"), tf_pads(9, 3, 2, 1, "SAME")])
    np.testing.assert_allclose(out.numpy(), np.maximum(ref + residual, 0), **TOL)


@pytest.mark.parametrize("compute_channels_last", [True, False])
@pytest.mark.parametrize("shape_key", list(BROADCAST_BIASES["NHWC"]))
def test_fused_conv_nd_broadcast_bias_both_layouts(shape_key, compute_channels_last):
    """The runtime function with an NHWC-shaped bias, run channels-last (no layout pass) and on
    the NCHW view (what the layout pass makes of it)."""
    x, w, bias, ref = _broadcast_bias_case("NHWC", "_FusedConv2D", shape_key)
    xt = torch.from_numpy(x)
    wt = torch.from_numpy(w).permute(3, 2, 0, 1)  # HWIO → OIHW
    if not compute_channels_last:
        xt = xt.movedim(-1, 1)
    out = fused_conv_nd(xt, wt, torch.from_numpy(bias), 2, [2, 2], "same", None, [1, 1], 1,
                        compute_channels_last, None, 0.0, "relu", None, True)
    if not compute_channels_last:
        out = out.movedim(1, -1)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_fused_conv_batch_norm_broadcast_args(tmp_path, fmt):
    """FusedBatchNorm arguments shaped to broadcast ([1, 1, 1, C] / [1, C, 1, 1]) are the same
    per-channel vectors."""
    x, w = f32(2, 5, 6, 3), f32(3, 3, 3, 4)
    shape = (1, 1, 1, 4) if fmt == "NHWC" else (1, 4, 1, 1)
    scale, offset, mean = f32(*shape), f32(*shape), f32(*shape)
    var = np.abs(f32(*shape)) + 0.5
    attrs = conv_attrs("VALID", fmt=fmt)
    attrs.update(fused_ops=["FusedBatchNorm", "Relu"], num_args=4, epsilon=1e-3)
    x_in = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2).copy()
    out = run_single_op(tmp_path, "_FusedConv2D", [(x_in, False), (w, True), (scale, True),
                                                   (offset, True), (mean, True), (var, True)], attrs)
    conv = ref_conv(x, w, [1, 1], [1, 1], [(0, 0), (0, 0)])
    v = [t.reshape(-1) for t in (scale, offset, mean, var)]
    ref = np.maximum((conv - v[2]) * v[0] / np.sqrt(v[3] + 1e-3) + v[1], 0)
    np.testing.assert_allclose(out.numpy(), ref if fmt == "NHWC" else ref.transpose(0, 3, 1, 2), **TOL)


@pytest.mark.parametrize("shape", [(1, 1, 1, 5), (5,), (1, 1, 1, 1, 4)])
def test_fused_conv_bias_that_cannot_broadcast_is_named(tmp_path, shape):
    attrs = conv_attrs("SAME")
    attrs.update(fused_ops=["BiasAdd"], num_args=1)
    with pytest.raises(GraphError, match=r"node 'op' \(_FusedConv2D\).*bias of shape"):
        single_op_model(tmp_path, "_FusedConv2D", [(f32(1, 4, 4, 3), False), (f32(3, 3, 3, 4), True),
                                                   (f32(*shape), True)], attrs)


# --- depthwise ------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["DepthwiseConv2d", "DepthwiseConv2dNative"])
@pytest.mark.parametrize("padding,s,d", [("SAME", 1, 1), ("SAME", 2, 1), ("VALID", 1, 2)])
def test_depthwise_multiplier_2(tmp_path, op, padding, s, d):
    x, w = f32(2, 7, 6, 3), f32(3, 3, 3, 2)
    out = run_single_op(tmp_path, op, [(x, False), (w, True)], conv_attrs(padding, s, d))
    pads = [tf_pads(7, 3, s, d, padding), tf_pads(6, 3, s, d, padding)]
    np.testing.assert_allclose(out.numpy(), ref_depthwise(x, w, [s, s], [d, d], pads), **TOL)


def test_depthwise_filter_stored_pre_transformed(tmp_path):
    x, w = f32(1, 4, 4, 3), f32(2, 2, 3, 2)
    model, _ = single_op_model(tmp_path, "DepthwiseConv2dNative", [(x, False), (w, True)],
                               conv_attrs("VALID"))
    (param,) = dict(model.named_parameters()).values()
    assert tuple(param.shape) == (6, 1, 2, 2)


# --- Conv1D / Conv3D ------------------------------------------------------------------------------

@pytest.mark.parametrize("pad,stride,dilation", [("same", 2, 1), ("valid", 1, 2), ("same", 1, 2)])
def test_conv1d(tmp_path, pad, stride, dilation):
    x, w = f32(2, 9, 3), f32(3, 3, 4)
    out = run_single_op(tmp_path, "Conv1D", [(x, False), (w, True)],
                        {"stride": stride, "pad": pad, "dilation": dilation, "data_format": "NWC"})
    pads = [tf_pads(9, 3, stride, dilation, pad.upper())]
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, [stride], [dilation], pads), **TOL)


@pytest.mark.parametrize("padding,s", [("SAME", 2), ("VALID", 1)])
def test_conv3d(tmp_path, padding, s):
    x, w = f32(1, 5, 4, 6, 2), f32(2, 3, 2, 2, 3)
    attrs = {"strides": [1, s, s, s, 1], "padding": padding, "dilations": [1, 1, 1, 1, 1],
             "data_format": "NDHWC"}
    model, fed = single_op_model(tmp_path, "Conv3D", [(x, False), (w, True)], attrs)
    (param,) = dict(model.named_parameters()).values()
    assert tuple(param.shape) == (3, 2, 2, 3, 2)  # stored OIDHW
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    pads = [tf_pads(n, k, s, 1, padding) for n, k in zip((5, 4, 6), (2, 3, 2))]
    np.testing.assert_allclose(out.numpy(), ref_conv(x, w, [s] * 3, [1] * 3, pads), **TOL)


# --- Conv2DBackpropInput ------------------------------------------------------------------------

@pytest.mark.parametrize("in_hw,k,s,d,padding", [
    ((7, 6), 3, 2, 1, "SAME"), ((5, 5), 3, 2, 1, "SAME"), ((8, 7), 4, 2, 1, "SAME"),
    ((7, 8), 3, 2, 1, "VALID"), ((8, 8), 3, 2, 1, "VALID"), ((6, 7), 3, 1, 2, "SAME"),
    ((9, 9), 2, 3, 1, "VALID"), ((5, 6), 3, 1, 1, "VALID")])
def test_conv2d_backprop_input(tmp_path, in_hw, k, s, d, padding):
    h, wd = in_hw
    sizes = np.array([2, h, wd, 3], np.int32)
    w = f32(k, k, 3, 4)
    pads = [tf_pads(h, k, s, d, padding), tf_pads(wd, k, s, d, padding)]
    oh = math.ceil(h / s) if padding == "SAME" else (h - (k - 1) * d - 1) // s + 1
    ow = math.ceil(wd / s) if padding == "SAME" else (wd - (k - 1) * d - 1) // s + 1
    dy = f32(2, oh, ow, 4)
    out = run_single_op(tmp_path, "Conv2DBackpropInput", [(sizes, True), (w, True), (dy, False)],
                        conv_attrs(padding, s, d))
    assert tuple(out.shape) == (2, h, wd, 3)
    np.testing.assert_allclose(out.numpy(), ref_backprop_input(sizes, w, dy, [s, s], [d, d], pads), **TOL)


def test_conv2d_backprop_input_explicit(tmp_path):
    sizes = np.array([1, 6, 5, 2], np.int32)
    w, pads = f32(3, 3, 2, 3), [(2, 0), (1, 1)]
    oh, ow = (6 + 2 - 3) // 2 + 1, (5 + 2 - 3) // 2 + 1
    dy = f32(1, oh, ow, 3)
    out = run_single_op(tmp_path, "Conv2DBackpropInput", [(sizes, True), (w, True), (dy, False)],
                        conv_attrs("EXPLICIT", 2, 1, [0, 0, 2, 0, 1, 1, 0, 0]))
    np.testing.assert_allclose(out.numpy(), ref_backprop_input(sizes, w, dy, [2, 2], [1, 1], pads), **TOL)


# --- pooling ------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["AvgPool", "MaxPool"])
@pytest.mark.parametrize("size,k,s,padding", [
    (7, 3, 2, "SAME"), (6, 3, 2, "SAME"), (6, 2, 2, "SAME"), (5, 3, 1, "SAME"), (7, 3, 2, "VALID"),
    (6, 2, 2, "VALID")])
def test_pool2d(tmp_path, op, size, k, s, padding):
    x = f32(2, size, size + 1, 3)
    out = run_single_op(tmp_path, op, [(x, False)],
                        {"ksize": [1, k, k, 1], "strides": [1, s, s, 1], "padding": padding})
    ref = ref_pool(x, [k, k], [s, s], padding, np.mean if op == "AvgPool" else np.max)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


def test_avg_pool_same_edges_exclude_padding(tmp_path):
    x = np.ones((1, 4, 4, 1), np.float32)
    out = run_single_op(tmp_path, "AvgPool", [(x, False)],
                        {"ksize": [1, 3, 3, 1], "strides": [1, 1, 1, 1], "padding": "SAME"})
    np.testing.assert_allclose(out.numpy(), np.ones_like(x), **TOL)  # pads never dilute the mean


def test_pool_nchw(tmp_path):
    x = f32(1, 5, 6, 2)
    out = run_single_op(tmp_path, "MaxPool", [(x.transpose(0, 3, 1, 2).copy(), False)],
                        {"ksize": [1, 1, 2, 2], "strides": [1, 1, 2, 2], "padding": "SAME",
                         "data_format": "NCHW"})
    ref = ref_pool(x, [2, 2], [2, 2], "SAME", np.max)
    np.testing.assert_allclose(out.numpy(), ref.transpose(0, 3, 1, 2), **TOL)


@pytest.mark.parametrize("op", ["AvgPool3D", "MaxPool3D"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pool3d(tmp_path, op, padding):
    x = f32(1, 5, 4, 6, 2)
    out = run_single_op(tmp_path, op, [(x, False)], {"ksize": [1, 2, 3, 2, 1], "strides": [1, 2, 1, 2, 1],
                                                     "padding": padding, "data_format": "NDHWC"})
    ref = ref_pool(x, [2, 3, 2], [2, 1, 2], padding, np.mean if op == "AvgPool3D" else np.max)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


@pytest.mark.parametrize("include_batch", [False, True])
@pytest.mark.parametrize("padding,size", [("SAME", 5), ("VALID", 6), ("SAME", 6)])
def test_max_pool_with_argmax(tmp_path, include_batch, padding, size):
    n, h, w, c = 2, size, size + 1, 3
    x = f32(n, h, w, c)
    values, argmax = run_single_op(
        tmp_path, "MaxPoolWithArgmax", [(x, False)],
        {"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": padding,
         "include_batch_in_index": include_batch, "Targmax": "DT_INT64"}, n_outputs=2)
    wy, wx = windows(h, 3, 2, padding), windows(w, 3, 2, padding)
    ref_v = np.zeros((n, len(wy), len(wx), c), np.float32)
    ref_i = np.zeros((n, len(wy), len(wx), c), np.int64)
    for b, oy, ox, ch in itertools.product(range(n), range(len(wy)), range(len(wx)), range(c)):
        cells = [(x[b, y, xx, ch], y, xx) for y in wy[oy] for xx in wx[ox]]
        v, y, xx = max(cells, key=lambda t: t[0])
        ref_v[b, oy, ox, ch] = v
        ref_i[b, oy, ox, ch] = ((b * h + y) * w + xx) * c + ch if include_batch else (y * w + xx) * c + ch
    np.testing.assert_allclose(values.numpy(), ref_v, **TOL)
    assert argmax.dtype == torch.int32
    np.testing.assert_array_equal(argmax.numpy(), ref_i)


# --- Dilation2D ---------------------------------------------------------------------------------

@pytest.mark.parametrize("padding,s,r", [("SAME", 1, 1), ("SAME", 2, 1), ("VALID", 1, 2), ("SAME", 1, 2),
                                         ("VALID", 2, 1)])
def test_dilation2d(tmp_path, padding, s, r):
    x, f = f32(2, 7, 6, 3), f32(3, 2, 3)
    out = run_single_op(tmp_path, "Dilation2D", [(x, False), (f, True)],
                        {"strides": [1, s, s, 1], "rates": [1, r, r, 1], "padding": padding})
    (pt, _), (pl, _) = tf_pads(7, 3, s, r, padding), tf_pads(6, 2, s, r, padding)
    oh = math.ceil(7 / s) if padding == "SAME" else (7 - 2 * r - 1) // s + 1
    ow = math.ceil(6 / s) if padding == "SAME" else (6 - 1 * r - 1) // s + 1
    ref = np.full((2, oh, ow, 3), -np.inf, np.float32)
    for oy, ox, dy, dx in itertools.product(range(oh), range(ow), range(3), range(2)):
        y, xx = oy * s + dy * r - pt, ox * s + dx * r - pl
        if 0 <= y < 7 and 0 <= xx < 6:
            ref[:, oy, ox] = np.maximum(ref[:, oy, ox], x[:, y, xx] + f[dy, dx])
    np.testing.assert_allclose(out.numpy(), ref, **TOL)
