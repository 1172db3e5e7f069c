"""Control flow v2 (If / While over library functions, TensorList ops), on hand-built graphs.
Converter-made fixtures (tf.cond / tf.while_loop) live under tests/fixtures/graph/control/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.graph import register_op
from torch_tfjs.graph.registry import _EMITTERS
from torch_tfjs.io import encode_weights


@pytest.fixture(autouse=True)
def test_ops():
    ops = {"TLess": torch.lt, "TAdd": torch.add, "TMul": torch.mul}
    for name, fn in ops.items():
        register_op(name, override=True)(lambda n, fn=fn: n.call(fn, n.input(0), n.input(1)))
    yield
    for name in ops:
        _EMITTERS.pop(name, None)


def fn(name, inputs, outputs, nodes, ret):
    return {"signature": {"name": name, "inputArg": [{"name": a} for a in inputs],
                          "outputArg": [{"name": o} for o in outputs]}, "nodeDef": nodes, "ret": ret}


def write(folder: Path, nodes, library, weights, outputs):
    folder.mkdir(parents=True, exist_ok=True)
    data, specs = encode_weights(list(weights.items()))
    (folder / "w.bin").write_bytes(data)
    (folder / "model.json").write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": nodes, "library": {"function": library}},
        "signature": {"inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT"}},
                      "outputs": {f"o{i}": {"name": o} for i, o in enumerate(outputs)}},
        "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}))
    return folder


def const(name, dtype="DT_INT32"):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}}


def test_while_loop_with_tensor_list(tmp_path):
    # i = 0; acc = x; tl = reserve(4); while i < 4: tl[i] = acc; acc = acc * 2; i = i + 1
    cond = fn("cond", ["i", "acc", "tl"], ["out"],
              [const("cond/n"), {"name": "less", "op": "TLess", "input": ["i", "cond/n"]}], {"out": "less:z:0"})
    body = fn("body", ["i", "acc", "tl"], ["i_out", "acc_out", "tl_out"],
              [const("body/one"), const("body/two", "DT_FLOAT"),
               {"name": "set", "op": "TensorListSetItem", "input": ["tl", "i", "acc"]},
               {"name": "mul", "op": "TMul", "input": ["acc", "body/two"]},
               {"name": "inc", "op": "TAdd", "input": ["i", "body/one"]}],
              {"i_out": "inc:z:0", "acc_out": "mul:z:0", "tl_out": "set:output_handle:0"})
    nodes = [{"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
             const("zero"), const("shape"), const("n4"),
             {"name": "reserve", "op": "TensorListReserve", "input": ["shape", "n4"],
              "attr": {"element_dtype": {"type": "DT_FLOAT"}}},
             {"name": "loop", "op": "StatelessWhile", "input": ["zero", "x", "reserve"],
              "attr": {"cond": {"func": {"name": "cond"}}, "body": {"func": {"name": "body"}}}},
             {"name": "stack", "op": "TensorListStack", "input": ["loop:2", "shape"]}]
    weights = {"zero": np.array(0, np.int32), "shape": np.array([2], np.int32), "n4": np.array(4, np.int32),
               "cond/n": np.array(4, np.int32), "body/one": np.array(1, np.int32),
               "body/two": np.array(2.0, np.float32)}
    model = torch_tfjs.load_graph_model(write(tmp_path, nodes, [cond, body], weights, ["loop:1", "stack:0"]))
    x = torch.tensor([1.0, -3.0])
    acc, stacked = model(x)
    assert torch.equal(acc, x * 16)
    assert torch.equal(stacked, torch.stack([x, 2 * x, 4 * x, 8 * x]))


@pytest.mark.parametrize("value,expected", [(1.0, 3.0), (-1.0, -2.0)])
def test_if_picks_branch(tmp_path, value, expected):
    then_fn = fn("then", ["a"], ["o"], [const("then/c", "DT_FLOAT"), {"name": "add", "op": "TAdd", "input": ["a", "then/c"]}],
                 {"o": "add:z:0"})
    else_fn = fn("else", ["a"], ["o"], [{"name": "dbl", "op": "TAdd", "input": ["a", "a"]}], {"o": "dbl:z:0"})
    nodes = [{"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}}, const("zero", "DT_FLOAT"),
             {"name": "pred", "op": "TLess", "input": ["zero", "x"]},
             {"name": "if", "op": "StatelessIf", "input": ["pred", "x"],
              "attr": {"then_branch": {"func": {"name": "then"}}, "else_branch": {"func": {"name": "else"}},
                       "Tout": {"list": {"type": ["DT_FLOAT"]}}}}]
    weights = {"zero": np.array(0.0, np.float32), "then/c": np.array(2.0, np.float32)}
    model = torch_tfjs.load_graph_model(write(tmp_path, nodes, [then_fn, else_fn], weights, ["if:0"]))
    assert float(model(torch.tensor(value))) == expected
    # the branch's float Const is a parameter, like any other weight
    assert any("then" in n for n, _ in model.named_parameters())
