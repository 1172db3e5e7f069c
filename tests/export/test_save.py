"""Saving converted models back to tfjs folders and to safetensors: bit-exact round trips,
fine-tuned values surviving a save, quantization as the tensorflowjs converter writes it,
sharding, optimizer state, and typed errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import ExportError, WeightMismatchError
from torch_tfjs.io import quantize_array, read_artifact
from fixture_cases import FIXTURES

REPO = Path(__file__).resolve().parents[2]
LAYERS_CASES = ["models/models/mobilenet_like", "layers/recurrent/lstm_default",
                "layers/recurrent/gru_default", "layers/recurrent/lstm_return_state",
                "keras/keras2_cnn", "keras/keras2_cnn_uint8", "keras/keras3_lstm",
                "models/models/embedding_lstm_text", "models/models/nested_shared_sequential"]
GRAPH_CASES = ["models/graph_cnn", "graph/convolution/conv2d_bias", "graph/convolution/depthwise_bias_relu",
               "graph/convolution/conv3d", "graph/convolution/conv2d_transpose"]


def _inputs(folder: Path):
    meta = json.loads((folder / "case.json").read_text())
    return [torch.from_numpy(np.load(folder / i["file"])) for i in meta["inputs"]]


def _run(model, inputs):
    model.eval()
    with torch.no_grad():
        out = model(*inputs)
    return [o.detach().clone() for o in (out if isinstance(out, list) else [out])]


def _sgd_step(model, inputs, lr=0.05):
    """One SGD step (eval-mode forward, sum of squares of the float outputs)."""
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr)
    out = model(*inputs)
    outs = out if isinstance(out, list) else [out]
    loss = sum((o.float() ** 2).mean() for o in outs if o.is_floating_point())
    opt.zero_grad()
    loss.backward()
    opt.step()
    return opt


def _weights_of(model):
    if isinstance(model, torch_tfjs.LayersModel):
        return {n: t.detach().numpy().copy() for n, t in model.keras_weights()}
    from torch_tfjs.export import graph_weights
    return dict(graph_weights(model))


def _assert_same_outputs(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x, y), f"max diff {(x.double() - y.double()).abs().max().item()}"


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", LAYERS_CASES + GRAPH_CASES)
def test_roundtrip_is_bit_exact(case_id, tmp_path):
    folder = FIXTURES / case_id
    model = torch_tfjs.load(folder)
    inputs = _inputs(folder)
    before = _run(model, inputs)
    written = torch_tfjs.save_model(model, tmp_path / "saved")
    reloaded = torch_tfjs.load(tmp_path / "saved")
    _assert_same_outputs(before, _run(reloaded, inputs))
    w0, w1 = _weights_of(model), _weights_of(reloaded)
    assert list(w0) == list(w1)
    for name in w0:
        assert w0[name].dtype == w1[name].dtype and np.array_equal(w0[name], w1[name]), name
    # topology and every other key as loaded; same weight names, order, shapes and dtypes
    original = json.loads((folder / "model.json").read_text())
    assert {k: v for k, v in written.items() if k != "weightsManifest"} == \
        {k: v for k, v in original.items() if k != "weightsManifest"}
    on_disk = json.loads((tmp_path / "saved" / "model.json").read_text())
    assert on_disk == json.loads(json.dumps(written))
    orig_specs = [w for g in original["weightsManifest"] for w in g["weights"]]
    new_specs = on_disk["weightsManifest"][0]["weights"]
    assert [(w["name"], w["shape"], w["dtype"]) for w in orig_specs] == \
        [(w["name"], w["shape"], w["dtype"]) for w in new_specs]
    assert on_disk["weightsManifest"][0]["paths"] == ["group1-shard1of1.bin"]


@pytest.mark.parametrize("case_id", GRAPH_CASES)
def test_graph_save_writes_tf_layout_as_read(case_id, tmp_path):
    """Unchanged graph weights (conv filters pre-transformed to OIHW inside) are written back
    byte for byte as the original artifact held them."""
    folder = FIXTURES / case_id
    model = torch_tfjs.load(folder)
    torch_tfjs.save_graph_model(model, tmp_path / "g")
    a, b = read_artifact(folder), read_artifact(tmp_path / "g")
    assert list(a.weights) == list(b.weights)
    for name in a.weights:
        assert a.weights[name].dtype == b.weights[name].dtype
        assert np.array_equal(a.weights[name], b.weights[name]), name


@pytest.mark.parametrize("case_id", ["models/models/mobilenet_like", "layers/recurrent/lstm_default",
                                     "models/graph_cnn", "graph/convolution/depthwise_bias_relu"])
def test_finetuned_values_survive_save(case_id, tmp_path):
    folder = FIXTURES / case_id
    model = torch_tfjs.load(folder)
    inputs = _inputs(folder)
    original = _run(model, inputs)
    _sgd_step(model, inputs)
    tuned = _run(model, inputs)
    assert any(not torch.equal(a, b) for a, b in zip(original, tuned)), "the step changed nothing"
    torch_tfjs.save_model(model, tmp_path / "tuned")
    reloaded = torch_tfjs.load(tmp_path / "tuned")
    _assert_same_outputs(tuned, _run(reloaded, inputs))


# --------------------------------------------------------------------------------------------
# quantization
# --------------------------------------------------------------------------------------------

def _converter_quantization():
    """tensorflowjs's own quantization.py (numpy only) when the converter env is present."""
    path = REPO / "scripts" / ".tfenv" / "lib" / "python3.11" / "site-packages" / "tensorflowjs" / "quantization.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_tfjs_quantization", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_quantize_array_matches_the_converter(dtype):
    reference = _converter_quantization()
    if reference is None:
        pytest.skip("tensorflowjs converter (scripts/.tfenv) not installed")
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(7, 5)).astype(np.float32), rng.uniform(0.5, 2, size=30).astype(np.float32),
              rng.uniform(-3, -1, size=(4, 4)).astype(np.float32), np.full((3,), 0.7, np.float32),
              np.array([0.0, 1.0], np.float32)]
    for a in arrays:
        codes, meta = quantize_array(a, dtype)
        ref_codes, ref_meta = reference.quantize_weights(a, reference.QUANTIZATION_OPTION_TO_DTYPES[dtype])
        assert codes.dtype == ref_codes.dtype and np.array_equal(codes, ref_codes)
        assert meta["dtype"] == dtype and meta["original_dtype"] == "float32"
        for key in ("min", "scale"):
            if key in ref_meta:
                assert meta[key] == float(ref_meta[key])


def test_quantize_known_values():
    codes, meta = quantize_array(np.array([-1.0, 0.0, 1.0], np.float32), "uint8")
    assert meta["scale"] == pytest.approx(2 / 255)
    # zero is nudged onto a code: min = -round(1/scale)*scale
    assert meta["min"] == pytest.approx(-round(1 / (2 / 255)) * (2 / 255))
    assert codes.tolist() == [0, 128, 255]


@pytest.mark.parametrize("case_id", ["models/models/mobilenet_like", "models/graph_cnn",
                                     "layers/recurrent/lstm_default"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_quantized_save(case_id, dtype, tmp_path):
    folder = FIXTURES / case_id
    model = torch_tfjs.load(folder)
    inputs = _inputs(folder)
    exact = dict(_weights_of(model))
    written = torch_tfjs.save_model(model, tmp_path / "q", quantize=dtype)
    specs = written["weightsManifest"][0]["weights"]
    for spec in specs:
        if spec["dtype"] != "float32":
            assert "quantization" not in spec, "int / bool weights are never quantized"
            continue
        q = spec["quantization"]
        assert q["dtype"] == dtype and q["original_dtype"] == "float32"
        assert set(q) == ({"dtype", "original_dtype"} if dtype == "float16"
                          else {"dtype", "min", "scale", "original_dtype"})
    artifact = read_artifact(tmp_path / "q")
    for spec in specs:
        want, got = exact[spec["name"]], artifact.weights[spec["name"]]
        if "quantization" not in spec:
            assert np.array_equal(got, want), spec["name"]
        elif dtype == "float16":
            np.testing.assert_allclose(got, want, rtol=2 ** -10, atol=6e-8)
        else:
            # the nudged range may clip the extreme value by up to one step
            err = np.abs(got.astype(np.float64) - want.astype(np.float64)).max()
            assert err <= spec["quantization"]["scale"] * 1.0 + 1e-7, (spec["name"], err)
    # the reloaded quantized model stays close to the float one
    reloaded = torch_tfjs.load(tmp_path / "q")
    bound = {"uint8": 0.1, "uint16": 1e-3, "float16": 1e-2}[dtype]
    for a, b in zip(_run(model, inputs), _run(reloaded, inputs)):
        assert (a - b).abs().max().item() <= bound * max(1.0, a.abs().max().item())


def test_several_shards(tmp_path):
    folder = FIXTURES / "models/models/mobilenet_like"
    model = torch_tfjs.load(folder)
    written = torch_tfjs.save_layers_model(model, tmp_path / "s", shard_size=1000)
    paths = written["weightsManifest"][0]["paths"]
    total = sum((tmp_path / "s" / p).stat().st_size for p in paths)
    n = -(-total // 1000)
    assert n > 2 and paths == [f"group1-shard{i}of{n}.bin" for i in range(1, n + 1)]
    sizes = [(tmp_path / "s" / p).stat().st_size for p in paths]
    assert all(s == 1000 for s in sizes[:-1]) and 0 < sizes[-1] <= 1000
    inputs = _inputs(folder)
    _assert_same_outputs(_run(model, inputs), _run(torch_tfjs.load(tmp_path / "s"), inputs))
    # re-saving into the same folder with one shard removes the stale ones
    torch_tfjs.save_layers_model(model, tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").glob("*.bin")) == ["group1-shard1of1.bin"]


def test_bad_options(tmp_path):
    model = torch_tfjs.load(FIXTURES / "models/graph_cnn")
    with pytest.raises(torch_tfjs.errors.WeightDTypeError):
        torch_tfjs.save_graph_model(model, tmp_path / "x", quantize="int4")
    with pytest.raises(torch_tfjs.errors.WeightsError):
        torch_tfjs.save_graph_model(model, tmp_path / "x", shard_size=0)
    with pytest.raises(ExportError):
        torch_tfjs.save_layers_model(model, tmp_path / "x")
    layers = torch_tfjs.load(FIXTURES / "layers/recurrent/lstm_default")
    with pytest.raises(ExportError):
        torch_tfjs.save_graph_model(layers, tmp_path / "x")


# --------------------------------------------------------------------------------------------
# optimizer state
# --------------------------------------------------------------------------------------------

def test_include_optimizer_needs_the_optimizer(tmp_path):
    model = torch_tfjs.load(FIXTURES / "models/models/mobilenet_like")
    with pytest.raises(ExportError, match="optimizer="):
        torch_tfjs.save_layers_model(model, tmp_path / "o", include_optimizer=True)


def test_include_optimizer_adam(tmp_path):
    folder = FIXTURES / "models/models/mobilenet_like"
    model = torch_tfjs.load(folder)
    inputs = _inputs(folder)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        loss = (model(*inputs) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    written = torch_tfjs.save_layers_model(model, tmp_path / "o", include_optimizer=True, optimizer=opt)
    specs = written["weightsManifest"][0]["weights"]
    opt_specs = [s for s in specs if s.get("group") == "optimizer"]
    assert opt_specs[0]["name"] == "iter" and opt_specs[0]["dtype"] == "int32"
    n = (len(opt_specs) - 1) // 2
    assert [s["name"].rsplit("/", 1)[-1] for s in opt_specs[1:]] == ["m"] * n + ["v"] * n
    artifact = read_artifact(tmp_path / "o")
    assert int(artifact.optimizer_weights["iter"]) == 2
    # the model weights still load (optimizer entries are kept apart)
    reloaded = torch_tfjs.load(tmp_path / "o")
    _assert_same_outputs(_run(model, inputs), _run(reloaded, inputs))
    # moments are in Keras layout: same shape as the weight they belong to
    shapes = {s["name"]: s["shape"] for s in specs if s.get("group") != "optimizer"}
    for s in opt_specs[1:]:
        assert s["shape"] == shapes[s["name"].rsplit("/", 1)[0]]


def test_include_optimizer_unsupported(tmp_path):
    model = torch_tfjs.load(FIXTURES / "layers/recurrent/lstm_default")
    opt = torch.optim.RMSprop(model.parameters())
    with pytest.raises(ExportError, match="RMSprop"):
        torch_tfjs.save_layers_model(model, tmp_path / "o", include_optimizer=True, optimizer=opt)


# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", ["models/models/mobilenet_like", "layers/recurrent/lstm_default",
                                     "models/graph_cnn", "graph/convolution/depthwise_bias_relu"])
def test_safetensors_roundtrip(case_id, tmp_path):
    from safetensors.numpy import load_file

    folder = FIXTURES / case_id
    model = torch_tfjs.load(folder)
    inputs = _inputs(folder)
    _sgd_step(model, inputs)
    tuned = _run(model, inputs)
    path = tmp_path / "w.safetensors"
    torch_tfjs.save_safetensors(model, path)
    meta = torch_tfjs.export.safetensors_metadata(path)
    assert meta == {"format": json.loads((folder / "model.json").read_text()).get("format", meta["format"]),
                    "source": str(folder / "model.json"), "torch_tfjs": torch_tfjs.__version__}
    # keys are manifest names, values in the artifact's (Keras / TF) layout
    stored = load_file(str(path))
    manifest = read_artifact(folder)
    for name, value in stored.items():
        assert tuple(value.shape) == tuple(manifest.weights[name].shape), name
    fresh = torch_tfjs.load(folder)
    torch_tfjs.load_safetensors(fresh, path)
    _assert_same_outputs(tuned, _run(fresh, inputs))


def test_safetensors_strict_errors(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = FIXTURES / "models/models/mobilenet_like"
    model = torch_tfjs.load(folder)
    path = tmp_path / "w.safetensors"
    torch_tfjs.save_safetensors(model, path)
    stored = load_file(str(path))
    first = next(iter(stored))
    missing = {k: v for k, v in stored.items() if k != first}
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(WeightMismatchError, match="missing keys.*" + first.replace("/", ".")):
        torch_tfjs.load_safetensors(torch_tfjs.load(folder), tmp_path / "missing.safetensors")
    torch_tfjs.load_safetensors(torch_tfjs.load(folder), tmp_path / "missing.safetensors", strict=False)
    extra = dict(stored, **{"not/a/weight": np.zeros(3, np.float32)})
    save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(WeightMismatchError, match="unexpected keys.*not/a/weight"):
        torch_tfjs.load_safetensors(torch_tfjs.load(folder), tmp_path / "extra.safetensors")
    bad = dict(stored, **{first: np.zeros((1, 2, 3), np.float32)})
    save_file(bad, str(tmp_path / "bad.safetensors"))
    with pytest.raises(WeightMismatchError, match="shape mismatch"):
        torch_tfjs.load_safetensors(torch_tfjs.load(folder), tmp_path / "bad.safetensors", strict=False)
    # a graph model's file does not fit a layers model
    graph = torch_tfjs.load(FIXTURES / "models/graph_cnn")
    torch_tfjs.save_safetensors(graph, tmp_path / "g.safetensors")
    with pytest.raises(WeightMismatchError):
        torch_tfjs.load_safetensors(torch_tfjs.load(folder), tmp_path / "g.safetensors")


def test_include_optimizer_tfjs_exact_round_trip(tmp_path):
    """A tfjs-exact optimizer's state saved with the model is restored by
    ``from_training_config(source=...)``: training on gives the same weights either way."""
    from torch_tfjs.training import from_training_config

    folder = FIXTURES / "training/cnn_adam"
    model = torch_tfjs.load_layers_model(folder)
    setup = from_training_config(model)
    x = torch.from_numpy(np.load(folder / "x.npy"))[:4]
    y = torch.from_numpy(np.load(folder / "y.npy"))[:4]

    def step(m, s):
        m.train()
        s.optimizer.zero_grad()
        s.loss_fn(m(x), y).backward()
        s.optimizer.step()

    step(model, setup)
    torch_tfjs.save_layers_model(model, tmp_path / "o", include_optimizer=True, optimizer=setup.optimizer)
    reloaded = torch_tfjs.load_layers_model(tmp_path / "o")
    resumed = from_training_config(reloaded, source=tmp_path / "o")
    assert resumed.optimizer.iterations == 1
    step(model, setup)
    step(reloaded, resumed)
    for (name, a), (_, b) in zip(model.keras_weights(), reloaded.keras_weights()):
        assert torch.equal(a, b), name
