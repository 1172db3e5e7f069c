"""``torch-tfjs convert`` to every output kind (loaded back and run) and ``torch-tfjs verify``
exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.cli import build_parser, main
from fixture_cases import FIXTURES, assert_matches

CASES = ["models/models/mobilenet_like", "layers/recurrent/lstm_default", "models/graph_cnn"]


def _case(case_id):
    folder = FIXTURES / case_id
    meta = json.loads((folder / "case.json").read_text())
    inputs = [folder / i["file"] for i in meta["inputs"]]
    outputs = [folder / o["file"] for o in meta["outputs"]]
    return folder, inputs, outputs


def _run(module, input_files):
    inputs = [torch.from_numpy(np.load(f)) for f in input_files]
    with torch.no_grad():
        out = module(*inputs)
    return out if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("case_id", CASES)
@pytest.mark.parametrize("kind", ["w.safetensors", "m.pt", "m.pt2", "folder", "folder_q"])
def test_convert(case_id, kind, tmp_path, capsys):
    folder, inputs, outputs = _case(case_id)
    out = tmp_path / kind
    extra = ["--quantize", "uint16", "--shard-size", "2048"] if kind == "folder_q" else []
    assert main(["convert", str(folder), str(out), *extra]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    if kind.endswith(".safetensors"):
        model = torch_tfjs.load(folder)
        torch_tfjs.load_safetensors(model, out)
        result = _run(model, inputs)
    elif kind.endswith(".pt2"):
        result = _run(torch.export.load(str(out)).module(), inputs)
    elif kind.endswith(".pt"):
        result = _run(torch.jit.load(str(out)), inputs)
    else:
        result = _run(torch_tfjs.load(out).eval(), inputs)
        manifest = json.loads((out / "model.json").read_text())["weightsManifest"][0]
        if kind == "folder_q":
            assert any(w.get("quantization", {}).get("dtype") == "uint16" for w in manifest["weights"])
    tolerance = 1e-3 if kind == "folder_q" else 1e-4
    for got, file in zip(result, outputs):
        assert_matches(got, np.load(file), tolerance, f"{case_id} -> {kind}")


@pytest.mark.parametrize("case_id", CASES)
def test_verify_exit_codes(case_id, tmp_path, capsys):
    folder, inputs, outputs = _case(case_id)
    args = ["verify", str(folder), "--inputs", *map(str, inputs), "--expected", *map(str, outputs)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "max|delta|" in text and "bound" in text and "OK" in text
    wrong = []
    for i, file in enumerate(outputs):
        ref = np.load(file)
        bad = ref + np.float32(0.01) * np.maximum(1.0, np.abs(ref).max())
        wrong.append(tmp_path / f"wrong_{i}.npy")
        np.save(wrong[-1], bad.astype(ref.dtype))
    args_bad = ["verify", str(folder), "--inputs", *map(str, inputs), "--expected", *map(str, wrong)]
    assert main(args_bad) == 1
    assert "MISMATCH" in capsys.readouterr().out
    # a looser tolerance accepts the perturbation
    assert main(args_bad + ["--tolerance", "0.02"]) == 0


def test_verify_runs_converted_files(tmp_path, capsys):
    folder, inputs, outputs = _case("models/graph_cnn")
    for name in ("m.pt", "m.pt2"):
        assert main(["convert", str(folder), str(tmp_path / name)]) == 0
        assert main(["verify", str(tmp_path / name), "--inputs", *map(str, inputs),
                     "--expected", *map(str, outputs)]) == 0


def test_verify_output_count_mismatch(capsys):
    folder, inputs, outputs = _case("models/graph_cnn")
    assert main(["verify", str(folder), "--inputs", *map(str, inputs),
                 "--expected", str(outputs[0]), str(outputs[0])]) == 1


def test_help_texts(capsys):
    parser = build_parser()
    for command in ("convert", "verify"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([command, "--help"])
        assert exc.value.code == 0
    text = capsys.readouterr().out
    for word in (".safetensors", ".pt2", "torch.jit.trace", "--quantize", "--shard-size", "--tolerance",
                 "--expected", "Exit status 0"):
        assert word in text
    with pytest.raises(SystemExit):
        parser.parse_args(["convert", "a", "b", "--quantize", "int4"])


@pytest.mark.parametrize("case_id", ["models/models/mobilenet_like", "models/graph_cnn"])
def test_run_prints_and_saves(case_id, tmp_path, capsys):
    folder, inputs, outputs = _case(case_id)
    out = tmp_path / "out.npz"
    assert main(["run", str(folder), "--inputs", *map(str, inputs), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "shape" in text and "mean" in text and f"wrote {out}" in text
    saved = np.load(out)
    assert len(saved.files) == len(outputs)
    for key, file in zip(saved.files, outputs):
        ref = np.load(file)
        assert_matches(saved[key], ref, 1e-4, f"{case_id} run")
        if ref.ndim == 2 and ref.shape[1] >= 2:
            assert "top-5" in text and f"{int(np.argmax(ref[0]))}: " in text


def test_run_image_needs_pillow_or_reads_it(tmp_path, capsys, monkeypatch):
    folder, _, _ = _case("models/models/mobilenet_like")
    import builtins
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    assert main(["run", str(folder), "--image", str(tmp_path / "cat.jpg")]) == 2
    assert "pip install Pillow" in capsys.readouterr().err


def test_verify_onnx_without_onnxruntime_names_the_extra(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    (tmp_path / "m.onnx").write_bytes(b"")
    folder, inputs, outputs = _case("models/graph_cnn")
    assert main(["verify", str(tmp_path / "m.onnx"), "--inputs", *map(str, inputs),
                 "--expected", *map(str, outputs)]) == 2
    err = capsys.readouterr().err
    assert "ExportError" in err and "onnxruntime" in err and "pip install torch_tfjs[onnx]" in err
