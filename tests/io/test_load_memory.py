"""Peak memory of a whole load: a fresh process loads a generated ~16 MB model (several 4 MiB
shards, written by the project's own writer) and its peak RSS may exceed its RSS before the
load by at most 1.3x the weight bytes plus a fixed slack: the weights exist once, plus at most
one weight being transformed into torch's layout at a time.

The bound: ``delta <= 1.3 * weight_bytes + SLACK``. The child first loads a tiny model of the
same kind, so one-time costs (libtorch code pages first touched by a load, ~4 MB, lazy
initialisation) are in the baseline. ``SLACK`` = 4 MiB covers what a load holds besides the
weights: the model's Python objects (fx graph and its generated code, modules; < 1 MB here),
malloc arenas and page granularity. The old reader (shards + joined copy, decoded conv filters
kept beside their transposed parameters) needed ~2.2x the weight bytes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from fixture_cases import FIXTURES
from torch_tfjs.io import write_artifact

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/status")

SLACK = 4 * 1024 * 1024
CHANNELS, CONVS, CLASSES = 256, 6, 1000   # 6 x 2.36 MB filters + 1 MB dense: 15.2 MB

CHILD = r"""
import gc, json, sys
import torch, torch_tfjs
import torch_tfjs.graph.importer, torch_tfjs.layers.build

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

kind, folder, warm = sys.argv[1:4]
load = torch_tfjs.load_graph_model if kind == "graph" else torch_tfjs.load_layers_model
model = load(warm)
del model
gc.collect()
try:  # reset the high-water mark to the current RSS (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    pass  # VmHWM then still holds any earlier peak: the check can only get stricter
base = status("VmRSS")
model = load(folder)
peak = status("VmHWM")
print(json.dumps({"delta": peak - base, "params": sum(p.numel() for p in model.parameters())}))
"""


def _attr_s(text: str) -> Dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values: List[int]) -> Dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


def _shape(dims: List[int]) -> Dict[str, Any]:
    return {"dim": [{"size": str(d)} for d in dims]}


def _const(name: str, shape: List[int], dtype: str = "DT_FLOAT") -> Dict[str, Any]:
    value = {"tensor": {"dtype": dtype, "tensorShape": _shape(shape)}}
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}, "value": value}}


def _op(name: str, op: str, inputs: List[str], **attrs: Any) -> Dict[str, Any]:
    return {"name": name, "op": op, "input": inputs, "attr": {"T": {"type": "DT_FLOAT"}, **attrs}}


def _random(shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal(shape) * 0.02).astype(np.float32)


def _graph_model(folder: Path) -> int:
    """x → 6 x (Conv2D 3x3 256→256, BiasAdd, Relu) → Mean → MatMul 256→1000."""
    rng = np.random.default_rng(0)
    c = CHANNELS
    placeholder = {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": _shape([1, 4, 4, c])}}
    nodes: List[Dict[str, Any]] = [{"name": "x", "op": "Placeholder", "attr": placeholder}]
    named: List[Tuple[str, np.ndarray]] = []
    conv = {"strides": _ints([1, 1, 1, 1]), "dilations": _ints([1, 1, 1, 1]),
            "padding": _attr_s("SAME"), "data_format": _attr_s("NHWC")}
    prev = "x"
    for i in range(CONVS):
        w, b = f"conv{i}/w", f"conv{i}/b"
        nodes += [_const(w, [3, 3, c, c]), _const(b, [c]),
                  _op(f"conv{i}", "Conv2D", [prev, w], **conv),
                  _op(f"bias{i}", "BiasAdd", [f"conv{i}", b]),
                  _op(f"relu{i}", "Relu", [f"bias{i}"])]
        named += [(w, _random((3, 3, c, c), rng)), (b, np.zeros(c, np.float32))]
        prev = f"relu{i}"
    nodes += [_const("axes", [2], "DT_INT32"),
              _op("pool", "Mean", [prev, "axes"], Tidx={"type": "DT_INT32"},
                  keep_dims={"b": False}),
              _const("dense/w", [c, CLASSES]),
              _op("logits", "MatMul", ["pool", "dense/w"], transpose_a={"b": False},
                  transpose_b={"b": False}),
              _op("Identity", "Identity", ["logits"])]
    named += [("axes", np.array([1, 2], np.int32)), ("dense/w", _random((c, CLASSES), rng))]
    topology = {"node": nodes, "versions": {"producer": 1}}
    write_artifact(folder, {"format": "graph-model", "modelTopology": topology}, named)
    return sum(a.nbytes for _, a in named)


def _layers_model(folder: Path) -> int:
    """Sequential: 6 x Conv2D(256, 3x3, relu) → GlobalAveragePooling2D → Dense(1000)."""
    rng = np.random.default_rng(0)
    c = CHANNELS
    layers: List[Dict[str, Any]] = []
    named: List[Tuple[str, np.ndarray]] = []
    for i in range(CONVS):
        config: Dict[str, Any] = {
            "name": f"conv{i}", "filters": c, "kernel_size": [3, 3], "strides": [1, 1],
            "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1],
            "activation": "relu", "use_bias": True, "trainable": True}
        if i == 0:
            config["batch_input_shape"] = [None, 4, 4, c]
        layers.append({"class_name": "Conv2D", "config": config})
        named += [(f"conv{i}/kernel", _random((3, 3, c, c), rng)),
                  (f"conv{i}/bias", np.zeros(c, np.float32))]
    dense = {"name": "dense", "units": CLASSES, "activation": "linear", "use_bias": True,
             "trainable": True}
    layers += [{"class_name": "GlobalAveragePooling2D", "config": {"name": "pool"}},
               {"class_name": "Dense", "config": dense}]
    named += [("dense/kernel", _random((c, CLASSES), rng)),
              ("dense/bias", np.zeros(CLASSES, np.float32))]
    topology = {"class_name": "Sequential", "config": {"name": "big", "layers": layers},
                "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js"}
    write_artifact(folder, {"format": "layers-model", "modelTopology": topology,
                            "generatedBy": "TensorFlow.js tfjs-layers v4.22.0"}, named)
    return sum(a.nbytes for _, a in named)


@pytest.mark.parametrize("kind", ["graph", "layers"])
def test_peak_rss_of_a_load_is_the_weights_once(kind, tmp_path):
    weight_bytes = (_graph_model if kind == "graph" else _layers_model)(tmp_path)
    assert len(list(tmp_path.glob("group1-shard*.bin"))) >= 4
    warm = FIXTURES / "models" / ("graph_mobilenet_like" if kind == "graph"
                                  else "models/mobilenet_like")
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(tmp_path), str(warm)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["params"] * 4 >= weight_bytes - 16  # every float weight became a parameter
    bound = 1.3 * weight_bytes + SLACK
    assert result["delta"] <= bound, (
        f"loading {weight_bytes / 1e6:.1f} MB of weights raised peak RSS by "
        f"{result['delta'] / 1e6:.1f} MB (bound {bound / 1e6:.1f} MB)")
