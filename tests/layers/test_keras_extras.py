"""Keras-only layers beyond tfjs-layers (attention, GroupNormalization / UnitNormalization /
Identity, image augmentation): training-mode behaviour and gradients. Inference parity with
Keras is checked by the tests/keras fixtures (keras*_attention*, keras*_norm_extras,
keras*_augment)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import torch_tfjs

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
def test_geometric_augmentation_training_draws_per_image_and_seed(fixture, layer):
    # rotate: factor 0.2, zoom: 0.2, translate: (0.1, 0.1) — non-degenerate ranges
    module = load(fixture).get_layer(layer)
    x = images(n=1).expand(4, -1, -1, -1).contiguous()  # four copies of one image
    assert torch.equal(module(x, training=False), x)
    torch.manual_seed(7)
    y = module(x, training=True)
    torch.manual_seed(7)
    assert torch.equal(module(x, training=True), y), "not reproducible with torch.manual_seed"
    torch.manual_seed(8)
    assert not torch.equal(module(x, training=True), y), "another seed gave the same output"
    assert y.shape == x.shape and y.dtype == torch.float32
    assert not torch.equal(y[0], y[1]) and not torch.equal(y[1], y[2]), "one draw for the batch"
    # reflect fill + bilinear: values stay within the input's range
    assert float(y.min()) >= float(x.min()) - 1e-3 and float(y.max()) <= float(x.max()) + 1e-3


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
def test_geometric_draws_stay_in_factor_ranges(fixture):
    model = load(fixture)
    torch.manual_seed(0)
    n, h, w = 2000, 12, 12
    rot = model.get_layer("rotate")._transforms(n, h, w, torch.device("cpu"))
    angle = torch.atan2(rot[:, 3], rot[:, 0])  # factor 0.2 turn: |angle| <= 0.4 pi
    assert 0.35 * torch.pi < float(angle.abs().max()) <= 0.4 * torch.pi + 1e-5
    assert float(angle.min()) < 0 < float(angle.max())
    # zoom: height_factor 0.2, width_factor None
    zoom = model.get_layer("zoom")._transforms(n, h, w, torch.device("cpu"))
    assert torch.equal(zoom[:, 0], zoom[:, 4]), "width_factor None keeps the aspect ratio"
    assert float(zoom[:, 0].min()) >= 0.8 - 1e-6 and float(zoom[:, 0].max()) <= 1.2 + 1e-6
    assert float(zoom[:, 0].min()) < 0.85 and float(zoom[:, 0].max()) > 1.15
    shift = model.get_layer("translate")._transforms(n, h, w, torch.device("cpu"))  # (0.1, 0.1)
    dx, dy = -shift[:, 2], -shift[:, 5]
    for d in (dx, dy):
        assert float(d.abs().max()) <= 0.1 * 12 + 1e-5
        assert float(d.min()) < -1.0 and float(d.max()) > 1.0
    assert not torch.equal(dx, dy), "height and width shifts are separate draws"


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
@pytest.mark.parametrize("layer", ["rotate", "zoom", "translate"])
def test_geometric_augmentation_gradients_reach_input(fixture, layer):
    module = load(fixture).get_layer(layer)
    x = images(n=3).requires_grad_(True)
    torch.manual_seed(3)
    module(x, training=True).square().sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0.0


@pytest.mark.parametrize("fixture", ["keras2_augment_train", "keras3_augment_train"])
def test_geometric_augmentation_unbatched_matches_batched(fixture):
    model = load(fixture)  # degenerate ranges: deterministic transforms
    x = images(n=2)[:, :9]
    for name in ("rot_wrap", "zoom_reflect_bilinear", "shift_nearest_bilinear"):
        layer = model.get_layer(name)
        batched = layer(x, training=True)
        assert torch.equal(layer(x[1], training=True), batched[1])


@pytest.mark.parametrize("fixture", ["keras2_augment", "keras3_augment"])
def test_model_trains_through_augmentation(fixture):
    model = load(fixture).train()
    x = images(n=2).requires_grad_(True)
    torch.manual_seed(0)
    model(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0.0
    assert model.get_layer("conv").kernel.grad is not None


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
