"""``export_onnx`` / ``torch-tfjs convert SRC out.onnx``: free spatial axes stay dynamic, the CLI
writes ONNX, errors name what failed. ONNX Runtime against eager on the fixture models:
test_export_matrix.py. Skipped without the ``onnx`` extra (onnx, onnxscript, onnxruntime)."""

from __future__ import annotations

import json

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


def test_verify_runs_an_onnx_file(tmp_path, capsys):
    """``verify out.onnx`` runs the file in ONNX Runtime against tfjs's stored outputs: two
    inputs, two outputs; a perturbed reference fails; wrong inputs are exit 2, named."""
    folder = FIXTURES / "models" / "models" / "multi_io_shared"
    meta = json.loads((folder / "case.json").read_text())
    inputs = [str(folder / i["file"]) for i in meta["inputs"]]
    outputs = [str(folder / o["file"]) for o in meta["outputs"]]
    out = tmp_path / "m.onnx"
    assert main(["convert", str(folder), str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--inputs", *inputs, "--expected", *outputs]) == 0
    printed = capsys.readouterr().out
    assert printed.count("OK") == 2 and "MISMATCH" not in printed

    wrong = tmp_path / "wrong.npy"
    ref = np.load(outputs[1])
    np.save(wrong, ref + np.float32(0.01) * np.float32(max(1.0, float(np.abs(ref).max()))))
    assert main(["verify", str(out), "--inputs", *inputs, "--expected", outputs[0], str(wrong)]) == 1
    assert "output 1" in capsys.readouterr().out.split("MISMATCH")[0].splitlines()[-1]

    assert main(["verify", str(out), "--inputs", inputs[0], "--expected", *outputs]) == 2
    err = capsys.readouterr().err
    assert "ModelInputError" in err and "in_a" in err and "in_b" in err

    short = tmp_path / "short.npy"
    np.save(short, np.load(inputs[0])[:, :3])  # 3 features where the model takes 6
    assert main(["verify", str(out), "--inputs", str(short), inputs[1], "--expected", *outputs]) == 2
    assert "running" in capsys.readouterr().err


def test_verify_names_an_unreadable_onnx_file(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 4), np.float32))
    assert main(["verify", str(bad), "--inputs", str(x), "--expected", str(x)]) == 2
    err = capsys.readouterr().err
    assert "ArtifactError" in err and "bad.onnx" in err
