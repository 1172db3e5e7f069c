"""``export_onnx`` / ``torch-tfjs convert SRC out.onnx``: ONNX Runtime matches torch_tfjs eager
on fixture models of both formats, free spatial axes stay dynamic, errors name what failed.
Skipped without the ``onnx`` extra (onnx, onnxscript, onnxruntime)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

import torch_tfjs  # noqa: E402
from torch_tfjs import export  # noqa: E402
from torch_tfjs.cli import main  # noqa: E402
from torch_tfjs.errors import ExportError  # noqa: E402
from fixture_cases import FIXTURES  # noqa: E402

MODELS = FIXTURES / "models"


def _outputs(value):
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _compare(path, model, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
    got = session.run(None, feeds)
    with torch.no_grad():
        want = [t.numpy() for t in _outputs(model(*inputs))]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        bound = 1e-4 * max(1.0, float(np.abs(w).max()) if w.size else 1.0)
        assert float(np.abs(g.astype(np.float64) - w).max()) <= bound


def _stored_inputs(folder):
    return [torch.from_numpy(np.load(f)) for f in sorted(folder.glob("input_*.npy"))]


@pytest.mark.parametrize("case", [
    "models/mobilenet_like",                   # layers CNN
    "models/embedding_lstm_text",              # layers Embedding + LSTM
    "graph_cnn",
    "graph_mobilenet_like",
    "graph_transformer_block",
])
def test_onnx_runtime_matches_eager(case, tmp_path):
    folder = MODELS / case
    model = torch_tfjs.load(folder).eval()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch noise for the user
        export.export_onnx(model, path)
    inputs = _stored_inputs(folder)
    _compare(path, model, inputs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(model.signature.input_names)
    if model.signature.free_dims()[0] and 0 in model.signature.free_dims()[0]:  # batch stays dynamic
        _compare(path, model, [torch.cat([x, x, x]) for x in inputs])


def test_free_spatial_axes_run_at_two_sizes(free_hw, tmp_path):
    model = torch_tfjs.load(free_hw).eval()
    path = tmp_path / "m.onnx"
    export.export_onnx(model, path)
    for shape in [(1, 17, 23, 3), (3, 40, 8, 3)]:
        _compare(path, model, [torch.randn(*shape)])


def test_cli_convert_onnx(free_hw, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["convert", str(free_hw), str(out), "--input-shape", "1,20,20,3",
                 "--dynamic", "0"]) == 0
    printed = capsys.readouterr().out
    assert "ONNX" in printed and "20, 20, 3]" in printed
    model = torch_tfjs.load(free_hw).eval()
    _compare(out, model, [torch.randn(4, 20, 20, 3)])  # batch dynamic, H / W static
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception):
        session.run(None, {session.get_inputs()[0].name: np.zeros((1, 16, 20, 3), np.float32)})


def test_errors_name_what_failed(free_hw, tmp_path, monkeypatch):
    model = torch_tfjs.load(free_hw).eval()
    with pytest.raises(ExportError, match="unknown input"):
        export.export_onnx(model, tmp_path / "m.onnx", dynamic_shapes={"nope": [0]})

    import builtins
    real_import = builtins.__import__

    def no_onnxscript(name, *args, **kwargs):
        if name == "onnxscript":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxscript)
    with pytest.raises(ExportError, match=r"onnxscript.*pip install torch_tfjs\[onnx\]"):
        export.export_onnx(model, tmp_path / "m.onnx")
