"""``quantize="source"``: a re-saved quantized model keeps each weight's quantization; unchanged
weights give byte-identical shards and manifest entries; tfjs (Node) runs the re-save."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.cli import main
from fixture_cases import FIXTURES, assert_matches

CASES = ["keras/keras2_cnn_uint8", "keras/keras2_cnn_float16", "keras/keras2_cnn_uint16",
         "models/graph_mobilenet_like_uint8", "models/graph_mobilenet_like_float16"]
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _manifest(folder: Path):
    groups = json.loads((folder / "model.json").read_text())["weightsManifest"]
    data = b"".join((folder / p).read_bytes() for g in groups for p in g["paths"])
    return [w for g in groups for w in g["weights"]], data


def _inputs(folder: Path):
    meta = json.loads((folder / "case.json").read_text())
    return [folder / i["file"] for i in meta["inputs"]]


@pytest.mark.parametrize("case_id", CASES)
def test_source_quantization_is_byte_exact(case_id, tmp_path):
    src = FIXTURES / case_id
    torch_tfjs.save_model(torch_tfjs.load(src), tmp_path / "out", quantize="source", shard_size=None)
    want_specs, want_bytes = _manifest(src)
    got_specs, got_bytes = _manifest(tmp_path / "out")
    assert [w.get("quantization") for w in got_specs] == [w.get("quantization") for w in want_specs]
    assert got_bytes == want_bytes
    torch_tfjs.save_model(torch_tfjs.load(src), tmp_path / "f32")  # quantize=None: float32
    assert not any("quantization" in w for w in _manifest(tmp_path / "f32")[0])


@pytest.mark.parametrize("case_id", ["keras/keras2_cnn_uint8", "models/graph_mobilenet_like_float16"])
def test_source_quantization_after_finetuning(case_id, tmp_path):
    src = FIXTURES / case_id
    model = torch_tfjs.load(src)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                p.mul_(1.1)
    torch_tfjs.save_model(model, tmp_path / "out", quantize="source")
    want_specs, want_bytes = _manifest(src)
    got_specs, got_bytes = _manifest(tmp_path / "out")
    assert len(got_bytes) == len(want_bytes)
    assert [w.get("quantization", {}).get("dtype") for w in got_specs] == \
        [w.get("quantization", {}).get("dtype") for w in want_specs]
    inputs = [torch.from_numpy(np.load(f)) for f in _inputs(src)]
    with torch.no_grad():
        a, b = model.eval()(*inputs), torch_tfjs.load(tmp_path / "out").eval()(*inputs)
    a, b = (a if isinstance(a, list) else [a]), (b if isinstance(b, list) else [b])
    for x, y in zip(a, b):
        assert_matches(y.numpy(), x.numpy(), 0.05, case_id)


def test_convert_folder_defaults_to_source(tmp_path, capsys):
    src = FIXTURES / "keras" / "keras2_cnn_uint8"
    assert main(["convert", str(src), str(tmp_path / "out")]) == 0
    assert "weights: source" in capsys.readouterr().out
    assert _manifest(tmp_path / "out")[1] == _manifest(src)[1]
    assert main(["convert", str(src), str(tmp_path / "f32"), "--quantize", "none"]) == 0
    assert len(_manifest(tmp_path / "f32")[1]) == 4 * len(_manifest(src)[1])


@pytest.mark.parametrize("case_id", ["keras/keras2_cnn_uint8", "models/graph_mobilenet_like_float16"])
def test_tfjs_runs_source_quantized_resave(case_id, tmp_path):
    node = shutil.which("node")
    if node is None or not (SCRIPTS / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        pytest.skip("node or scripts/node_modules/@tensorflow/tfjs is not installed")
    src = FIXTURES / case_id
    model = torch_tfjs.load(src).eval()
    saved = tmp_path / "saved"
    torch_tfjs.save_model(model, saved, quantize="source", shard_size=4096)
    files = _inputs(src)
    with torch.no_grad():
        out = model(*[torch.from_numpy(np.load(f)) for f in files])
    expected = out if isinstance(out, list) else [out]
    proc = subprocess.run([node, str(SCRIPTS / "tfjs" / "check_saved.mjs"), str(saved), *map(str, files)],
                          cwd=SCRIPTS, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i, want in enumerate(expected):
        assert_matches(np.load(saved / f"tfjs_output_{i}.npy"), want.numpy(), 1e-4, f"{case_id} output {i}")
