"""Conv epilogues written as separate TF ops (graphs that grappler did not fuse: human's FaceRes,
models converted from other frameworks) become one op each: ``Conv2D → AddV2(bias)`` the conv's
bias, ``Relu → Minimum(6) → Maximum(0)`` one clamp or the conv's fused ReLU6, ``Mul → AddV2``
with per-channel constants one ``addcmul``.

Each op of the unfused chain is checked against tfjs by the per-op fixtures, and the FaceRes model
of the real-world suite (``-m realworld``) against tfjs itself; here: the folded graph computes
what the unfolded one does (to float32 round-off: a conv adds its bias inside), NaN and
infinities included, and the folds happen only where
they are exact (int chains, a constant that is not per channel, a value read twice).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.graph import idioms
from torch_tfjs.graph.ops.convolution import conv_nd, fused_conv_nd
from torch_tfjs.io import encode_weights
from single_op import attr

RNG = np.random.default_rng(7)


class GraphBuilder:
    """A hand-written graph model.json: one Placeholder ``x``, consts and ops."""

    def __init__(self, dtype: str = "DT_FLOAT") -> None:
        self.nodes: List[Dict[str, Any]] = [{"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": dtype}}}]
        self.weights: List[Any] = []

    def const(self, name: str, value: Any) -> str:
        array = np.asarray(value)
        dtype = "DT_FLOAT" if array.dtype.kind == "f" else "DT_INT32"
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}})
        self.weights.append((name, array.astype(np.float32 if dtype == "DT_FLOAT" else np.int32)))
        return name

    def op(self, name: str, op: str, inputs: List[str], **attrs: Any) -> str:
        node = {"name": name, "op": op, "input": inputs, "attr": {k: attr(v) for k, v in attrs.items()}}
        if "T" not in attrs:
            node["attr"]["T"] = {"type": "DT_FLOAT"}
        self.nodes.append(node)
        return name

    def save(self, folder: Path, outputs: List[str]):
        folder.mkdir(parents=True, exist_ok=True)
        data, specs = encode_weights(self.weights)
        (folder / "w.bin").write_bytes(data)
        sig = {"inputs": {"x": {"name": "x:0"}},
               "outputs": {f"out{i}": {"name": f"{o}:0"} for i, o in enumerate(outputs)}}
        (folder / "model.json").write_text(json.dumps({
            "format": "graph-model", "modelTopology": {"node": self.nodes}, "signature": sig,
            "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}))
        return folder


def _conv(g: GraphBuilder, name: str, x: str, cin: int, cout: int, depthwise: bool = False) -> str:
    if depthwise:
        w = g.const(name + "_w", RNG.normal(size=(3, 3, cin, 1)).astype(np.float32))
        return g.op(name, "DepthwiseConv2dNative", [x, w], strides=[1, 1, 1, 1], padding="SAME",
                    dilations=[1, 1, 1, 1], data_format="NHWC")
    w = g.const(name + "_w", RNG.normal(size=(3, 3, cin, cout)).astype(np.float32))
    return g.op(name, "Conv2D", [x, w], strides=[1, 1, 1, 1], padding="SAME", dilations=[1, 1, 1, 1],
                data_format="NHWC")


def _faceres_like(folder: Path) -> Path:
    """conv → Add(bias) → Relu → Minimum(6) → Maximum(0) → depthwise → Mul(s) → Add(t) →
    Minimum(6) → Maximum(0) → Relu, that Relu read by two ops (which are not merged into it)."""
    g = GraphBuilder()
    six, zero = g.const("six", np.float32(6.0)), g.const("zero", np.float32(0.0))
    y = _conv(g, "c1", "x", 3, 8)
    y = g.op("bias", "AddV2", [y, g.const("b1", RNG.normal(size=(8,)))])
    y = g.op("relu", "Relu", [y])
    y = g.op("min6", "Minimum", [y, six])
    y = g.op("max0", "Maximum", [zero, y])  # constant first: either order
    y = _conv(g, "dw", y, 8, 8, depthwise=True)
    y = g.op("bn_mul", "Mul", [y, g.const("s", RNG.normal(size=(8,)))])
    y = g.op("bn_add", "AddV2", [g.const("t", RNG.normal(size=(8,))), y])
    y = g.op("min6b", "Minimum", [y, six])
    y = g.op("clip", "Maximum", [y, zero])
    shared = g.op("relu_shared", "Relu", [y])  # read by two ops: stays
    a = g.op("min_a", "Minimum", [shared, g.const("three", np.float32(3.0))])
    b = g.op("neg", "Neg", [shared])
    return g.save(folder, [a, b])


def _unfolded(monkeypatch, folder: Path):
    with monkeypatch.context() as m:
        for fold in ("_fold_conv_bias", "_fold_scale_shift", "_fold_clamp_chain"):
            m.setattr(idioms, fold, lambda *args: False)
        return torch_tfjs.load_graph_model(folder)


def _targets(model) -> List[Any]:
    return [n.target for n in model.graph_module.graph.nodes if n.op == "call_function"]


def test_folded_epilogues_compute_what_the_ops_do(tmp_path, monkeypatch):
    folder = _faceres_like(tmp_path / "m")
    folded, plain = torch_tfjs.load_graph_model(folder), _unfolded(monkeypatch, folder)
    targets = _targets(folded)
    # conv + bias + relu6 clamp: one fused conv; Mul + Add: one addcmul; Minimum + Maximum: one clamp
    assert targets.count(fused_conv_nd) == 1 and targets.count(conv_nd) == 1, targets
    assert targets.count(idioms.scale_shift) == 1 and targets.count(idioms.clamp_between) == 1, targets
    # Minimum → Maximum → Relu (read twice) is one clamp; the Minimum(3) reading it stays apart
    from torch_tfjs.graph.ops.arithmetic import minimum
    assert minimum in targets and torch.relu not in targets, targets
    x = torch.from_numpy(RNG.normal(size=(2, 7, 9, 3)).astype(np.float32)) * 3
    x[0, 1, 2, 0] = math.nan
    x[1, 3, 4, 1] = math.inf
    x[1, 5, 6, 2] = -math.inf
    with torch.no_grad():
        want, got = plain(x), folded(x)
    for w, g in zip(want, got):
        assert torch.isnan(w).any()  # the NaN / inf inputs reached the outputs
        # the conv adding its bias inside rounds differently from a separate add: round-off only
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_clamp_chain_bounds_compose_in_order(tmp_path):
    """Minimum(2) → Maximum(-1) → Minimum(5) → Maximum(0.5) on a plain float input: clamp to
    [0.5, 2]; a chain of Relu alone on an int input is left alone (int stays int)."""
    g = GraphBuilder()
    y = g.op("m1", "Minimum", ["x", g.const("two", np.float32(2.0))])
    y = g.op("m2", "Maximum", [y, g.const("minus1", np.float32(-1.0))])
    y = g.op("m3", "Minimum", [y, g.const("five", np.float32(5.0))])
    y = g.op("m4", "Maximum", [y, g.const("half", np.float32(0.5))])
    model = torch_tfjs.load_graph_model(g.save(tmp_path / "f", [y]))
    assert _targets(model) == [idioms.clamp_between], _targets(model)
    x = torch.linspace(-4, 4, 33)
    torch.testing.assert_close(model(x), x.clamp(0.5, 2.0), rtol=0, atol=0)

    gi = GraphBuilder("DT_INT32")
    y = gi.op("r1", "Relu", ["x"], T="DT_INT32")
    y = gi.op("r2", "Relu", [y], T="DT_INT32")
    model = torch_tfjs.load_graph_model(gi.save(tmp_path / "i", [y]))
    assert idioms.clamp_between not in _targets(model)
    out = model(torch.tensor([-3, 0, 4], dtype=torch.int32))
    assert out.dtype == torch.int32 and out.tolist() == [0, 0, 4]


@pytest.mark.parametrize("bias_shape", [(1, 1, 1, 8), (8,)])
def test_conv_bias_fold_takes_per_channel_constants_only(tmp_path, bias_shape):
    g = GraphBuilder()
    y = _conv(g, "c", "x", 3, 8)
    y = g.op("add", "AddV2", [y, g.const("b", RNG.normal(size=bias_shape))])
    z = _conv(g, "c2", "x", 3, 8)
    z = g.op("add2", "AddV2", [z, g.const("b2", RNG.normal(size=(1, 5, 1, 8)))])  # varies along H
    model = torch_tfjs.load_graph_model(g.save(tmp_path / "m", [y, z]))
    targets = _targets(model)
    assert targets.count(fused_conv_nd) == 1 and targets.count(conv_nd) == 1, targets
    x = torch.from_numpy(RNG.normal(size=(1, 5, 6, 3)).astype(np.float32))
    manual_w = torch.from_numpy(g.weights[0][1]).permute(3, 2, 0, 1)
    want = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), manual_w, padding=1).permute(0, 2, 3, 1)
    want = want + torch.from_numpy(g.weights[1][1])
    with torch.no_grad():
        got = model(x)[0]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
