"""Numerics at the edge of the tolerance: where torch_tfjs follows tfjs's CPU arithmetic to the bit,
and the bound it reaches where it cannot (accumulation order), on converter + tfjs fixtures.

tfjs's CPU ResizeBilinear computes source coordinates, weights and both lerps in JS doubles and
rounds once to float32; float32 lerps (TF's kernel, torch's interpolate) differ by a few ulps.
A deep decoder behind the resize amplifies that: on MediaPipe BlazePose (lite) the segmentation
sigmoid was off by 1.34e-4 with float32 lerps and is off by 6e-8 (one float32 ulp) with float64
ones. Convolutions are not matched to the bit: tfjs sums each output sequentially, torch in
blocks, which leaves a relative error of a few 1e-7 per conv that does not grow much along a chain.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs import _image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXACT = ["resize_bilinear_exact_half_pixel", "resize_bilinear_exact_align_corners", "resize_bilinear_exact_legacy"]


def _run(case_dir: Path):
    meta = json.loads((case_dir / "case.json").read_text())
    model = torch_tfjs.load_graph_model(str(case_dir))
    xs = [torch.from_numpy(np.load(case_dir / i["file"])) for i in meta["inputs"]]
    with torch.no_grad():
        out = model(*xs)
    outs = out if isinstance(out, list) else [out]
    return [o.numpy() for o in outs], [np.load(case_dir / o["file"]) for o in meta["outputs"]], xs


@pytest.mark.parametrize("name", EXACT)
def test_resize_bilinear_bit_exact_with_tfjs(name):
    """Odd size ratios, values up to 1e4 (float32 lerps are off by ~1e-3 here): equal bits."""
    (got,), (want,), _ = _run(FIXTURES / "graph" / "image" / name)
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.int32), want.view(np.int32))


@pytest.mark.parametrize("name", EXACT)
def test_resize_bilinear_float32_lerps_would_differ(name):
    """The fixtures discriminate: the same resize with float32 weights and lerps misses tfjs."""
    case = FIXTURES / "graph" / "image" / name
    meta = json.loads((case / "case.json").read_text())
    _, (want,), (x,) = _run(case)
    size = want.shape[1:3]
    node = next(n for n in json.loads((case / "model.json").read_text())["modelTopology"]["node"]
                if n["op"] == "ResizeBilinear")
    ac, hp = (node["attr"].get(k, {}).get("b", False) for k in ("align_corners", "half_pixel_centers"))
    y0, y1, fy = _image._bilinear_axis(x.shape[1], size[0], ac, hp, x.device)
    x0, x1, fx = _image._bilinear_axis(x.shape[2], size[1], ac, hp, x.device)
    fy, fx = fy.float().view(1, -1, 1, 1), fx.float().view(1, 1, -1, 1)
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * fx
    bottom = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * fx
    f32 = (top + (bottom - top) * fy).numpy()
    assert meta["tolerance"] == 0.0
    assert not np.array_equal(f32, want)


def test_resize_decoder_bound():
    """Decoder of BlazePose's segmentation-head shape (two bilinear 2x upsamplings, depthwise +
    pointwise convs, logits up to ~500, sigmoid). Resizes are exact; the convs' accumulation order
    leaves ~5e-7 relative on the logits and ~2e-5 absolute on the sigmoid (bound 1e-4): the
    margin this test holds torch_tfjs to."""
    (logits, prob), (want_logits, want_prob), _ = _run(FIXTURES / "models" / "graph_resize_decoder")
    assert np.abs(want_logits).max() > 300  # the case is the large-logit one it claims to be
    rel = np.abs(logits.astype(np.float64) - want_logits).max() / np.abs(want_logits).max()
    assert rel <= 2e-6, rel
    assert np.abs(prob.astype(np.float64) - want_prob).max() <= 5e-5


@pytest.mark.parametrize("name", ["crop_and_resize_bilinear", "crop_and_resize_nearest_extrap"])
def test_crop_and_resize_bit_exact_with_tfjs(name):
    """tfjs's CPU CropAndResize also computes box coordinates and lerps in doubles: equal bits
    (float32 coordinates and lerps were off by an ulp on crop_and_resize_bilinear)."""
    case = FIXTURES / "graph" / "image" / name
    meta = json.loads((case / "case.json").read_text())
    model = torch_tfjs.load_graph_model(str(case))
    feed = {i["name"]: torch.from_numpy(np.load(case / i["file"])) for i in meta["inputs"]}
    with torch.no_grad():
        got = model(feed).numpy()
    want = np.load(case / meta["outputs"][0]["file"])
    assert np.array_equal(got.view(np.int32), want.view(np.int32))
