"""Convolution layers beyond the tfjs fixtures: Keras-only configs (causal Conv1D, 1-D
depthwise/separable/transposed), zero-copy layout, gradients. References are independent torch
expressions of Keras's definitions."""

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

    import torch_tfjs.layers.conv as conv_module
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
