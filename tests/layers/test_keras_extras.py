"""Keras-only layers beyond tfjs-layers (attention, GroupNormalization / UnitNormalization /
Identity, image augmentation): training-mode behaviour and gradients. Inference parity with
Keras is checked by the tests/keras fixtures (keras*_attention*, keras*_norm_extras,
keras*_augment)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import LayerConfigError

KERAS = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def load(name: str):
    path = KERAS / name
    if not (path / "model.json").exists():
        pytest.skip(f"fixture {name} not generated")
    return torch_tfjs.load_layers_model(path)


def images(seed: int = 0, n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, 12, 12, 3), generator=g) * 255.0


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
def test_random_flip_training_flips_each_image(fixture):
    flip = load(fixture).get_layer("flip")  # mode horizontal_and_vertical
    x = images()
    torch.manual_seed(123)
    y = flip(x, training=True)
    torch.manual_seed(123)
    assert torch.equal(flip(x, training=True), y), "not reproducible with torch.manual_seed"
    seen = set()
    for xi, yi in zip(x, y):
        candidates = {"none": xi, "h": xi.flip(1), "v": xi.flip(0), "hv": xi.flip(0).flip(1)}
        match = [k for k, c in candidates.items() if torch.equal(c, yi)]
        assert match, "output is not a flip of the input"
        seen.add(match[0])
    assert len(seen) >= 3, f"16 images drew only {seen}"
    assert torch.equal(flip(x, training=False), x)


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
@pytest.mark.parametrize("layer", ["rotate", "zoom", "translate"])
def test_geometric_augmentation_raises_in_training(fixture, layer):
    module = load(fixture).get_layer(layer)
    x = images(n=2)
    assert torch.equal(module(x, training=False), x)
    with pytest.raises(LayerConfigError, match="training-time augmentation is not implemented"):
        module(x, training=True)


def test_model_train_mode_reports_unimplemented_augmentation():
    model = load("keras2_augment").train()
    with pytest.raises(LayerConfigError, match="RandomRotation"):
        model(images(n=2))


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
def test_brightness_and_contrast_training(fixture):
    model = load(fixture)
    x = images(n=4)
    torch.manual_seed(0)
    for name in ("brightness", "contrast"):
        layer = model.get_layer(name)
        y = layer(x, training=True)
        assert y.shape == x.shape and not torch.equal(y, x)
        assert float(y.min()) >= 0.0 and float(y.max()) <= 255.0
        assert torch.equal(layer(x, training=False), x)
    # brightness shifts every pixel of one image by the same amount (before clipping)
    mid = torch.full((3, 12, 12, 3), 128.0)
    shifted = model.get_layer("brightness")(mid, training=True) - mid
    for s in shifted:
        assert torch.allclose(s, s.reshape(-1)[0].expand_as(s))
        assert abs(float(s.reshape(-1)[0])) <= 0.2 * 255 + 1e-3


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
def test_random_crop(fixture):
    crop = load(fixture).get_layer("crop")  # 8 x 10 out of 12 x 12
    x = images(n=3)
    torch.manual_seed(1)
    y = crop(x, training=True)
    assert y.shape == (3, 8, 10, 3)
    windows = [x[:, i:i + 8, j:j + 10] for i in range(5) for j in range(3)]
    assert any(torch.equal(w, y) for w in windows)
    inferred = crop(x, training=False)
    if fixture.startswith("keras3"):  # Keras 3 (≤ 3.15) leaves the input unchanged
        assert torch.equal(inferred, x)
    else:  # Keras 2: smart_resize = centred 9 x 12 window resized to 8 x 10
        assert inferred.shape == (3, 8, 10, 3)


@pytest.mark.parametrize("fixture", ["keras2_attention", "keras3_attention"])
def test_multi_head_attention_gets_gradients(fixture):
    model = load(fixture).train()
    inputs = [torch.randn(2, 6, 5)] + ([torch.randn(2, 4, 7)] if "keras3" in fixture else [])
    model(*inputs).square().sum().backward()
    mha = [m for m in model.modules() if type(m).__name__ == "MultiHeadAttention"]
    assert mha
    for layer in mha:
        for name, p in layer.named_parameters():
            assert p.requires_grad and p.grad is not None, name
            assert float(p.grad.abs().sum()) > 0.0, f"{layer.keras_name}.{name} got a zero gradient"


def test_attention_and_einsum_parameters_get_gradients():
    model = load("keras2_attention_layers").train()
    model(torch.randn(2, 5, 4), torch.randn(2, 3, 4)).sum().backward()
    names = {n for n, p in model.named_parameters() if p.grad is not None and float(p.grad.abs().sum()) > 0}
    for expected in ("add_att.scale", "concat_att.scale", "concat_att.concat_score_weight",
                     "einsum.kernel", "einsum.bias", "einsum_reduce.kernel"):
        assert expected in names, (expected, sorted(names))


def test_norm_extras_round_trip_weights():
    model = load("keras2_norm_extras")
    names = [n for n, _ in model.keras_weights()]
    assert "gn/gamma" in names and "gn/beta" in names and "gn_inst/gamma" in names
    x = torch.randn(2, 4, 4, 6, requires_grad=True)
    model.train()(x).sum().backward()
    assert model.get_layer("gn").gamma.grad is not None
