"""Convolution layers beyond the tfjs fixtures: Keras-only configs (causal Conv1D, transposed
convolutions with output_padding, 1-D depthwise/separable/transposed), zero-copy layout,
gradients. References are independent torch expressions of Keras's definitions."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F

import torch_tfjs
from fixture_cases import FIXTURES

from test_builder import write

RNG = np.random.default_rng(3)


def seq(layer_cfg, class_name, shape):
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": class_name, "config": {"name": "c", "batch_input_shape": [None, *shape], **layer_cfg}}]}}


def test_causal_conv1d_keras_semantics(tmp_path):
    k = RNG.standard_normal((3, 2, 4)).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    cfg = {"filters": 4, "kernel_size": [3], "padding": "causal", "dilation_rate": [2], "strides": [1]}
    model = torch_tfjs.load(write(tmp_path, seq(cfg, "Conv1D", [8, 2]), {"c/kernel": k, "c/bias": b},
                                  generatedBy="keras v2.15.0"))
    x = torch.randn(2, 8, 2)
    # Keras: left-pad (k-1)*d zeros, then a valid dilated conv
    ref = F.conv1d(F.pad(x.transpose(1, 2), [4, 0]), torch.from_numpy(k).permute(2, 1, 0), torch.from_numpy(b),
                   dilation=2).transpose(1, 2)
    assert torch.allclose(model(x), ref, atol=1e-5)
    assert model(x).shape == (2, 8, 4)


@pytest.mark.parametrize("cls,rank2_fixture", [("DepthwiseConv1D", None), ("SeparableConv1D", None)])
def test_keras_only_1d_variants_match_2d_math(tmp_path, cls, rank2_fixture):
    x = torch.randn(2, 9, 3)
    dw = RNG.standard_normal((3, 3, 2)).astype(np.float32)
    weights = {"c/depthwise_kernel": dw, "c/bias": RNG.standard_normal(6 if cls == "DepthwiseConv1D" else 4).astype(np.float32)}
    cfg = {"kernel_size": [3], "strides": [2], "padding": "same", "depth_multiplier": 2}
    if cls == "SeparableConv1D":
        weights = {"c/depthwise_kernel": dw, "c/pointwise_kernel": RNG.standard_normal((1, 6, 4)).astype(np.float32),
                   "c/bias": weights["c/bias"]}
        cfg["filters"] = 4
    model = torch_tfjs.load(write(tmp_path, seq(cfg, cls, [9, 3]), weights, generatedBy="keras v3.4.1"))
    # reference: the same kernel as a 2-D conv over a height-1 image
    x2 = x.unsqueeze(1)  # (N, 1, W, C)
    w = torch.from_numpy(dw).permute(1, 2, 0).reshape(6, 1, 1, 3)
    y = F.conv2d(F.pad(x2.permute(0, 3, 1, 2), [1, 1]), w, stride=(1, 2), groups=3)
    if cls == "SeparableConv1D":
        y = F.conv2d(y, torch.from_numpy(weights["c/pointwise_kernel"]).permute(2, 1, 0).unsqueeze(-1))
    y = y + torch.from_numpy(weights["c/bias"]).reshape(1, -1, 1, 1)
    assert torch.allclose(model(x), y.squeeze(2).transpose(1, 2), atol=1e-5)


def test_conv1d_transpose_keras_output_size(tmp_path):
    k = RNG.standard_normal((3, 2, 3)).astype(np.float32)  # (k, out, in)
    cfg = {"filters": 2, "kernel_size": [3], "strides": [2], "padding": "same", "use_bias": False}
    model = torch_tfjs.load(write(tmp_path, seq(cfg, "Conv1DTranspose", [5, 3]), {"c/kernel": k}))
    x = torch.randn(1, 5, 3)
    full = F.conv_transpose1d(x.transpose(1, 2), torch.from_numpy(k).permute(2, 1, 0), stride=2)  # 11 long
    assert torch.allclose(model(x), full[:, :, 0:10].transpose(1, 2), atol=1e-5)


def test_conv_does_not_copy_activations():
    model = torch_tfjs.load_layers_model(FIXTURES / "layers" / "conv" / "conv2d_k3_same_s1")
    conv = model.layers[1]
    assert conv.kernel.is_contiguous(memory_format=torch.channels_last)
    seen = {}

    def spy(fn):
        def wrapper(x, *args, **kwargs):
            seen["in"] = x
            out = fn(x, *args, **kwargs)
            seen["out"] = out
            return out
        return wrapper

    import torch_tfjs._padding as conv_module  # tf_conv dispatches through its _CONV table
    original = conv_module._CONV[2]
    conv_module._CONV[2] = spy(original)
    try:
        x = torch.randn(2, 7, 6, 3)
        y = model(x)
    finally:
        conv_module._CONV[2] = original
    assert seen["in"].data_ptr() == x.data_ptr()           # the NHWC input, viewed as NCHW
    assert seen["out"].is_contiguous(memory_format=torch.channels_last)
    assert y.data_ptr() == seen["out"].data_ptr() and y.is_contiguous()  # viewed back, no copy


def test_gradients_reach_conv_parameters():
    model = torch_tfjs.load_layers_model(FIXTURES / "layers" / "conv" / "separable_k3_same")
    model.train()
    model(torch.randn(2, 6, 6, 3)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# --- transposed convolutions: Keras output size, output_padding ---------------------------------

def _keras_transposed_length(n, k, s, d, padding, output_padding):
    """Keras's deconv_output_length (k dilated)."""
    k = (k - 1) * d + 1
    if output_padding is None:
        return n * s if padding == "same" else n * s + max(k - s, 0)
    return (n - 1) * s + (k % 2 if padding == "same" else k) + output_padding


def _tf_conv_nd(z, w, strides, dilation, padding):
    """TF's forward convolution (channels-first), SAME padded the TF way (extra after)."""
    if padding == "same":
        pads = []
        for n, k, s, d in zip(z.shape[2:], w.shape[2:], strides, dilation):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        z = F.pad(z, [p for pair in reversed(pads) for p in pair])
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[z.dim() - 2]
    return conv(z, w, stride=strides, dilation=dilation)


def _reference_transposed(x, kernel, bias, strides, dilation, padding, output_padding):
    """TF defines conv_transpose as the gradient of the forward convolution with respect to its
    input (of Keras's output size): an independent reference, computed with autograd."""
    rank = x.dim() - 2
    lengths = [_keras_transposed_length(n, k, s, d, padding, p) for n, k, s, d, p in
               zip(x.shape[1:-1], kernel.shape[:rank], strides, dilation, output_padding)]
    w = kernel.permute(rank + 1, rank, *range(rank))  # Keras (*k, out, in) -> forward (in, out, *k)
    z = torch.zeros(x.shape[0], kernel.shape[rank], *lengths, requires_grad=True)
    y = _tf_conv_nd(z, w, strides, dilation, padding)
    assert tuple(y.shape[2:]) == tuple(x.shape[1:-1]), "Keras's output size does not invert the conv"
    (grad,) = torch.autograd.grad(y, z, x.movedim(-1, 1))
    out = grad.movedim(1, -1)
    return out if bias is None else out + bias


TRANSPOSED = [
    # (class, input spatial, kernel, strides, dilation, padding, output_padding)
    ("Conv2DTranspose", (5, 6), (3, 3), (2, 2), (1, 1), "same", (0, 1)),
    ("Conv2DTranspose", (5, 6), (4, 4), (2, 2), (1, 1), "same", (1, 1)),
    ("Conv2DTranspose", (4, 5), (3, 4), (2, 3), (1, 1), "valid", (1, 2)),
    ("Conv2DTranspose", (4, 5), (2, 2), (3, 3), (1, 1), "valid", None),
    ("Conv2DTranspose", (4, 5), (3, 3), (1, 1), (2, 2), "same", None),
    ("Conv2DTranspose", (4, 5), (3, 2), (1, 1), (2, 3), "valid", (0, 0)),
    ("Conv1DTranspose", (7,), (3,), (3,), (1,), "same", (1,)),
    ("Conv1DTranspose", (7,), (2,), (3,), (1,), "valid", (2,)),
    ("Conv1DTranspose", (6,), (5,), (4,), (1,), "same", (3,)),
    ("Conv3DTranspose", (3, 4, 3), (3, 3, 3), (2, 2, 2), (1, 1, 1), "same", (1, 0, 1)),
    ("Conv3DTranspose", (3, 4, 3), (2, 2, 2), (1, 2, 2), (1, 1, 1), "valid", (0, 1, 0)),
]


@pytest.mark.parametrize("cls,spatial,kernel,strides,dilation,padding,output_padding", TRANSPOSED)
def test_transposed_conv_is_the_gradient_of_conv(tmp_path, cls, spatial, kernel, strides, dilation,
                                                 padding, output_padding):
    cin, cout = 3, 2
    k = RNG.standard_normal((*kernel, cout, cin)).astype(np.float32)
    b = RNG.standard_normal(cout).astype(np.float32)
    cfg = {"filters": cout, "kernel_size": list(kernel), "strides": list(strides), "padding": padding,
           "dilation_rate": list(dilation)}
    if output_padding is not None:
        cfg["output_padding"] = list(output_padding)
    model = torch_tfjs.load(write(tmp_path, seq(cfg, cls, [*spatial, cin]), {"c/kernel": k, "c/bias": b},
                                  generatedBy="keras v2.15.0"))
    x = torch.randn(2, *spatial, cin)
    ref = _reference_transposed(x, torch.from_numpy(k), torch.from_numpy(b), strides, dilation, padding,
                                (output_padding or (None,) * len(spatial)))
    y = model(x)
    assert y.shape == ref.shape
    assert torch.allclose(y, ref, atol=1e-5)


def test_output_padding_not_below_strides_is_refused(tmp_path):
    k = RNG.standard_normal((3, 3, 2, 3)).astype(np.float32)
    cfg = {"filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "use_bias": False,
           "output_padding": [2, 0]}
    with pytest.raises(torch_tfjs.errors.LayerConfigError, match="'c'.*output_padding"):
        torch_tfjs.load(write(tmp_path, seq(cfg, "Conv2DTranspose", [4, 4, 3]), {"c/kernel": k}))


def test_output_padding_follows_keras_where_tfjs_ignores_it():
    """The tfjs-made fixture (xfail against tfjs's 8x10) runs at Keras's size, 7x10: SAME with an
    odd kernel and output_padding 0 crops one row in front of the default output."""
    case = FIXTURES / "layers" / "conv" / "conv2d_transpose_output_padding_ignored"
    model = torch_tfjs.load_layers_model(case)
    x = torch.from_numpy(np.load(case / "input_0.npy"))
    layer = model.layers[1]
    y = model(x)
    assert y.shape == (2, 7, 10, 2) and np.load(case / "output_0.npy").shape == (2, 8, 10, 2)
    kernel = torch.from_numpy(layer.keras_weights()[0][1].detach().numpy())
    ref = _reference_transposed(x, kernel, layer.bias.detach(), (2, 2), (1, 1), "same", (0, 1))
    assert torch.allclose(y, ref, atol=1e-5)
