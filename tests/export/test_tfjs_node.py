"""Acceptance: tfjs itself (Node, pure-JS @tensorflow/tfjs) loads folders saved by torch_tfjs —
``tf.loadLayersModel`` + ``predict`` for layers models, ``tf.loadGraphModel`` +
``executeAsync`` for graph models — and its outputs match the torch model's.

Runs only where ``node`` and ``scripts/node_modules/@tensorflow/tfjs`` exist."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import FIXTURES, assert_matches

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
CHECK = SCRIPTS / "tfjs" / "check_saved.mjs"


def _node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (SCRIPTS / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        pytest.skip("scripts/node_modules/@tensorflow/tfjs is not installed (npm install in scripts/)")
    return node


def _sgd_step(model, inputs, lr=0.05):
    model.eval()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    out = model(*inputs)
    outs = out if isinstance(out, list) else [out]
    loss = sum((o ** 2).mean() for o in outs if o.is_floating_point())
    opt.zero_grad()
    loss.backward()
    opt.step()


def _run(model, inputs):
    model.eval()
    with torch.no_grad():
        out = model(*inputs)
    return [o.numpy() for o in (out if isinstance(out, list) else [out])]


@pytest.mark.parametrize("case_id,quantize", [
    ("models/models/mobilenet_like", None),
    ("layers/recurrent/lstm_default", None),
    ("layers/recurrent/lstm_return_state", None),
    ("models/graph_cnn", None),
    ("models/graph_cnn", "uint8"),
    ("graph/convolution/depthwise_bias_relu", None),
])
def test_tfjs_loads_saved_finetuned_model(case_id, quantize, tmp_path):
    node = _node_or_skip()
    folder = FIXTURES / case_id
    meta = json.loads((folder / "case.json").read_text())
    input_files = [folder / i["file"] for i in meta["inputs"]]
    inputs = [torch.from_numpy(np.load(f)) for f in input_files]
    model = torch_tfjs.load(folder)
    before = _run(model, inputs)
    _sgd_step(model, inputs)
    assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(before, _run(model, inputs)))
    saved = tmp_path / "saved"
    torch_tfjs.save_model(model, saved, quantize=quantize, shard_size=4096)
    # quantized: tfjs must match the torch model reloaded from the same (quantized) save
    reference = torch_tfjs.load(saved) if quantize else model
    expected = _run(reference, inputs)
    proc = subprocess.run([node, str(CHECK), str(saved), *map(str, input_files)], cwd=SCRIPTS,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(expected) == len(list(saved.glob("tfjs_output_*.npy")))
    for i, want in enumerate(expected):
        got = np.load(saved / f"tfjs_output_{i}.npy")
        err = assert_matches(got, want, 1e-4, f"{case_id} output {i}")
        print(f"{case_id} quantize={quantize} output {i}: max|tfjs - torch| = {err:.3g}")


def test_tfjs_restores_saved_adam_state(tmp_path):
    """A training fixture (trainingConfig: Adam) fine-tuned with torch Adam and saved with
    include_optimizer: tfjs compiles it, restores the optimizer weights and predicts the same."""
    node = _node_or_skip()
    folder = FIXTURES / "training" / "cnn_adam" / "mid"
    if not (folder / "model.json").is_file():
        pytest.skip("tests/fixtures/training/cnn_adam is not present")
    x_file = folder.parent / "x.npy"
    x = torch.from_numpy(np.load(x_file))
    model = torch_tfjs.load(folder)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01, eps=1e-7)
    for _ in range(2):
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    saved = tmp_path / "saved"
    written = torch_tfjs.save_layers_model(model, saved, include_optimizer=True, optimizer=opt)
    n_opt = sum(1 for w in written["weightsManifest"][0]["weights"] if w.get("group") == "optimizer")
    proc = subprocess.run([node, str(CHECK), str(saved), str(x_file)], cwd=SCRIPTS,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"optimizer"')]
    assert info and info[0]["optimizer"] == "Adam" and info[0]["weights"] == n_opt
    assert info[0]["iterations"] == 2
    err = assert_matches(np.load(saved / "tfjs_output_0.npy"), _run(model, [x])[0], 1e-4, "cnn_adam")
    print(f"cnn_adam + Adam state: max|tfjs - torch| = {err:.3g}, {n_opt} optimizer weights restored")
