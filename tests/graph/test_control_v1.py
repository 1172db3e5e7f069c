"""Control flow v1 pieces the converter fixtures do not reach: TensorArrayV3 ops (TF1 graphs;
TF2 lowers TensorArray to TensorList ops), dead-tensor propagation, and the loop rewrite's
errors. Whole lowered loops and conds are matched against tfjs in the fixture corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import GraphError
from torch_tfjs.graph.ops.control_v1 import DEAD, merge, switch
from torch_tfjs.io import encode_weights


def _model(tmp_path, nodes, weights, inputs, outputs):
    data, specs = encode_weights(weights)
    (tmp_path / "w.bin").write_bytes(data)
    sig = {"inputs": {n: {"name": f"{n}:0"} for n in inputs},
           "outputs": {f"out{i}": {"name": o} for i, o in enumerate(outputs)}}
    (tmp_path / "model.json").write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": nodes}, "signature": sig,
        "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}))
    return torch_tfjs.load_graph_model(tmp_path)


def _const(name, dtype="DT_INT32"):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}}


def test_tensor_array_v3_write_read_gather_size(tmp_path):
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        _const("size"), _const("i0"), _const("i1"), _const("idx"),
        {"name": "ta", "op": "TensorArrayV3", "input": ["size"], "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "w0", "op": "TensorArrayWriteV3", "input": ["ta", "i0", "x", "ta:1"]},
        {"name": "w1", "op": "TensorArrayWriteV3", "input": ["ta", "i1", "x", "w0"]},
        {"name": "r1", "op": "TensorArrayReadV3", "input": ["ta", "i1", "w1"]},
        {"name": "g", "op": "TensorArrayGatherV3", "input": ["ta", "idx", "w1"]},
        {"name": "n", "op": "TensorArraySizeV3", "input": ["ta", "w1"]},
    ]
    weights = [("size", np.array(3, np.int32)), ("i0", np.array(0, np.int32)),
               ("i1", np.array(2, np.int32)), ("idx", np.array([2, 1, 0], np.int32))]
    model = _model(tmp_path, nodes, weights, ["x"], ["r1:0", "g:0", "n:0"])
    x = torch.arange(4, dtype=torch.float32)
    r1, g, n = model(x)
    assert torch.equal(r1, x)
    assert torch.equal(g, torch.stack([x, torch.zeros(4), x]))  # unwritten element: zeros
    assert int(n) == 3


def test_dead_tensor_switch_and_merge():
    data = torch.ones(2)
    assert switch(data, torch.tensor(True)) == (DEAD, data)
    assert switch(data, torch.tensor(False))[0] is data
    assert switch(DEAD, torch.tensor(True)) == (DEAD, DEAD)
    out, index = merge(DEAD, data)
    assert out is data and int(index) == 1
    assert merge(DEAD, DEAD) == (DEAD, DEAD)


def test_untaken_branch_is_not_computed(tmp_path):
    """A branch that would fail on its input (wrong shape) is never run when not taken."""
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "p", "op": "Placeholder", "attr": {"dtype": {"type": "DT_BOOL"}}},
        {"name": "sw", "op": "Switch", "input": ["x", "p"]},
        _const("shape"),
        {"name": "bad", "op": "Reshape", "input": ["sw:1", "shape"]},  # fails for 4 elements
        {"name": "ok", "op": "Neg", "input": ["sw"]},
        {"name": "m", "op": "Merge", "input": ["bad", "ok"]},
    ]
    model = _model(tmp_path, nodes, [("shape", np.array([3], np.int32))], ["x", "p"], ["m:0"])
    x = torch.arange(4, dtype=torch.float32)
    assert torch.equal(model(x, torch.tensor(False)), -x)
    with pytest.raises(RuntimeError):
        model(x, torch.tensor(True))


def test_malformed_loop_frame_is_a_typed_error(tmp_path):
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "e", "op": "Enter", "input": ["x"], "attr": {"frame_name": {"s": "Zg=="}}},
        {"name": "out", "op": "Identity", "input": ["e"]},
    ]
    with pytest.raises(GraphError, match="Merge"):
        _model(tmp_path, nodes, [], ["x"], ["out:0"])
