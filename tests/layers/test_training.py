"""Training semantics on the tfjs fixture corpus and on small hand-made models: gradients reach
every trainable parameter and no frozen one, train/eval switch Dropout-family layers and
BatchNormalization as Keras does, and the Keras-only behaviours we chose where tfjs is broken."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import discover, params

def _has_weights(case) -> bool:
    manifest = json.loads((case.path / "model.json").read_text()).get("weightsManifest") or []
    return any(group.get("weights") for group in manifest)


# A case's "xfail" is about its outputs matching tfjs (a tfjs bug), not about training: no marks.
LAYER_CASES = [pytest.param(p.values[0], id=p.id) for p in params("layers") + params("models")
               if p.values[0].meta.get("kind", "layers-model") == "layers-model"
               and not p.values[0].meta.get("expectError") and _has_weights(p.values[0])]


def _perturbed(x: torch.Tensor) -> torch.Tensor:
    if x.is_floating_point():
        return x * 0.5 + 0.25 * torch.randn_like(x)
    return x.flip(0)  # ids / categories: another valid sample


def _float_outputs(out):
    outs = out if isinstance(out, list) else [out]
    return [o for o in outs if o.is_floating_point()]


def _sgd_step(model, case):
    """One SGD step on a two-sample batch; returns (trainable params before, gradients)."""
    torch.manual_seed(0)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not trainable:
        pytest.skip("no trainable parameters")
    before = {n: p.detach().clone() for n, p in trainable.items()}
    # A second, different sample: with batch statistics a batch of one can make a block's output
    # independent of its input (BatchNorm then global pooling).
    inputs = [torch.cat([x, _perturbed(x)]) for x in map(torch.from_numpy, case.inputs())]
    outs = _float_outputs(model(*inputs))
    loss = sum((o.float() ** 2).mean() + o.float().mean() for o in outs)
    loss.backward()
    grads = {n: p.grad for n, p in trainable.items()}
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    changed = {n for n, p in trainable.items() if not torch.equal(p.detach(), before[n])}
    return trainable, grads, changed


@pytest.mark.parametrize("case", LAYER_CASES)
def test_training_step_updates_every_trainable_parameter(case):
    """Fine-tuning with moving statistics (eval mode) moves every trainable parameter."""
    if case.meta.get("zero_gradient"):  # e.g. a length-1 sequence never uses a recurrent kernel
        pytest.skip(f"a weight's gradient is exactly zero: {case.meta['zero_gradient']}")
    model = torch_tfjs.load_layers_model(case.path).eval()
    trainable, _, changed = _sgd_step(model, case)
    assert set(trainable) == changed, f"not updated: {sorted(set(trainable) - changed)}"


@pytest.mark.parametrize("case", LAYER_CASES)
def test_gradients_reach_every_parameter_in_train_mode(case):
    """In train mode (batch statistics, dropout) every trainable parameter gets a gradient.

    Some may be exactly zero for a mathematical reason (a BatchNorm beta followed by a conv and
    another BatchNorm in train mode cancels), so only connectivity is asserted here."""
    model = torch_tfjs.load_layers_model(case.path).train()
    trainable, grads, _ = _sgd_step(model, case)
    missing = [n for n, g in grads.items() if g is None]
    assert not missing, f"no gradient reaches {missing}"
    assert all(torch.isfinite(g).all() for g in grads.values())


def _tiny_bn_model(tmp_path, trainable_bn: bool = True):
    from torch_tfjs.io import encode_weights
    layers = [
        {"class_name": "Dense", "config": {"name": "d", "units": 3, "use_bias": True,
                                           "activation": "linear", "batch_input_shape": [None, 2]}},
        {"class_name": "BatchNormalization", "config": {"name": "bn", "momentum": 0.9, "epsilon": 1e-3,
                                                        "trainable": trainable_bn}},
        {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.5}},
    ]
    rng = np.random.default_rng(3)
    weights = [("d/kernel", rng.standard_normal((2, 3)).astype(np.float32)),
               ("d/bias", np.zeros(3, np.float32)),
               ("bn/gamma", np.ones(3, np.float32)), ("bn/beta", np.zeros(3, np.float32)),
               ("bn/moving_mean", np.full(3, 0.5, np.float32)),
               ("bn/moving_variance", np.full(3, 2.0, np.float32))]
    data, specs = encode_weights(weights)
    (tmp_path / "w.bin").write_bytes(data)
    (tmp_path / "model.json").write_text(json.dumps({
        "format": "layers-model", "modelTopology": {"class_name": "Sequential", "config": {"name": "s", "layers": layers}},
        "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}))
    return torch_tfjs.load_layers_model(tmp_path)


def test_batchnorm_keras_momentum_and_batch_statistics(tmp_path):
    model = _tiny_bn_model(tmp_path)
    bn = model.get_layer("bn")
    x = torch.randn(16, 2)
    dense_out = model.get_layer("d")(x)
    model.train()
    model.get_layer("drop").eval()  # isolate BN
    out = bn(dense_out)
    mean = dense_out.mean(0)
    var = dense_out.var(0, unbiased=False)
    expected = (dense_out - mean) / torch.sqrt(var + 1e-3)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.moving_mean, 0.5 * 0.9 + mean.detach() * 0.1)
    torch.testing.assert_close(bn.moving_variance, 2.0 * 0.9 + var.detach() * 0.1)


def test_frozen_batchnorm_runs_in_inference_mode(tmp_path):
    """Keras: a BatchNormalization with trainable=False uses moving statistics even in training."""
    model = _tiny_bn_model(tmp_path, trainable_bn=False)
    bn = model.get_layer("bn")
    model.train()
    x = torch.randn(8, 3)
    out = bn(x)
    torch.testing.assert_close(out, (x - 0.5) / torch.sqrt(torch.tensor(2.0 + 1e-3)))
    torch.testing.assert_close(bn.moving_mean, torch.full((3,), 0.5))


def test_dropout_only_in_training(tmp_path):
    model = _tiny_bn_model(tmp_path)
    drop = model.get_layer("drop")
    x = torch.ones(1000)
    drop.eval()
    assert torch.equal(drop(x), x)
    drop.train()
    y = drop(x)
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0} and 300 < int((y == 0).sum()) < 700


@pytest.mark.parametrize("case_id", ["layers/noise/noise_layers_inference"])
def test_noise_layers_active_only_in_training(case_id):
    case = next(c for c in discover("layers") if c.id == case_id)
    model = torch_tfjs.load_layers_model(case.path)
    x = torch.from_numpy(case.inputs()[0])
    model.eval()
    a, b = model(x), model(x)
    assert torch.equal(a, b)
    model.train()
    torch.manual_seed(1)
    assert not torch.allclose(model(x), a)


def _single_layer(tmp_path, class_name, config, input_shape):
    layers = [{"class_name": class_name, "config": {"name": "l", "batch_input_shape": [None, *input_shape], **config}}]
    (tmp_path / "model.json").write_text(json.dumps({
        "format": "layers-model", "modelTopology": {"class_name": "Sequential", "config": layers},
        "weightsManifest": []}))
    return torch_tfjs.load_layers_model(tmp_path)


def test_random_width_is_identity_in_eval_and_random_in_training(tmp_path):
    """tfjs 4.22 resizes randomly even in predict; we follow Keras (identity at inference)."""
    model = _single_layer(tmp_path, "RandomWidth", {"factor": 0.5}, [4, 6, 1])
    x = torch.randn(2, 4, 6, 1)
    model.eval()
    assert torch.equal(model(x), x)
    model.train()
    torch.manual_seed(0)
    widths = {model(x).shape[2] for _ in range(10)}
    assert widths - {6} and all(3 <= w <= 9 for w in widths)


def test_center_crop_odd_width_difference_follows_keras(tmp_path):
    """tfjs 4.22 shifts the window one column right when widths differ by one; Keras starts at
    (in - target) // 2. We follow Keras."""
    model = _single_layer(tmp_path, "CenterCrop", {"height": 2, "width": 4}, [4, 5, 1])
    x = torch.arange(20, dtype=torch.float32).reshape(1, 4, 5, 1)
    assert torch.equal(model(x), x[:, 1:3, 0:4, :])
