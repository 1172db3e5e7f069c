"""The graph importer itself: inputs/outputs, references, folding, parameters, errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import GraphError, ModelInputError, UnsupportedOpError
from torch_tfjs.graph import register_op
from torch_tfjs.graph.node import decode_attr, parse_input
from torch_tfjs.graph.registry import _EMITTERS
from torch_tfjs.io import encode_weights


def const(name: str, dtype: str = "DT_FLOAT") -> Dict[str, Any]:
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}, "value": {"tensor": {"dtype": dtype}}}}


def placeholder(name: str, dtype: str = "DT_FLOAT") -> Dict[str, Any]:
    return {"name": name, "op": "Placeholder", "attr": {"dtype": {"type": dtype}}}


def write_graph(folder: Path, nodes: List[Dict[str, Any]], weights: Dict[str, np.ndarray],
                signature: Optional[Dict[str, Any]] = None, library: Optional[Dict[str, Any]] = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data, specs = encode_weights(list(weights.items()))
    (folder / "w.bin").write_bytes(data)
    topology: Dict[str, Any] = {"node": nodes, "versions": {"producer": 1}}
    if library:
        topology["library"] = library
    model = {"format": "graph-model", "modelTopology": topology,
             "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}
    if signature:
        model["signature"] = signature
    (folder / "model.json").write_text(json.dumps(model))
    return folder


@pytest.fixture()
def custom_ops():
    """Test-only ops, removed afterwards."""
    added = []

    def add(name, fn, **kw):
        register_op(name, **kw)(fn)
        added.append(name)

    yield add
    for name in added:
        _EMITTERS.pop(name, None)


def test_attr_encodings():
    assert decode_attr({"s": base64.b64encode(b"SAME").decode()}) == "SAME"
    assert decode_attr({"s": [78, 72, 87, 67]}) == "NHWC"  # old converters: byte lists
    assert decode_attr({"i": "-3"}) == -3
    assert decode_attr({"f": "NaN"}) != decode_attr({"f": "NaN"})
    assert decode_attr({"f": "-Infinity"}) == float("-inf")
    assert decode_attr({"list": {"i": ["1", "2", "2", "1"]}}) == [1, 2, 2, 1]
    assert decode_attr({"list": {}}) == []
    assert decode_attr({"shape": {"dim": [{"size": "-1"}, {"size": "3"}]}}) == [-1, 3]
    assert decode_attr({"shape": {"unknownRank": True}}) is None
    assert decode_attr({"shape": {}}) == []
    assert decode_attr({"func": {"name": "cond_true_12"}}) == "cond_true_12"
    assert decode_attr({"type": "DT_INT64"}) == "DT_INT64"


def test_input_reference_forms():
    assert parse_input("a") == (parse_input("a:0")[0], False)
    ref, ctrl = parse_input("^init")
    assert ctrl and ref.node == "init"
    ref, _ = parse_input("split:2")
    assert (ref.node, ref.index) == ("split", 2)
    ref, _ = parse_input("TopK:indices:0")
    assert (ref.node, ref.out_arg, ref.index) == ("TopK", "indices", 0)


def test_signature_order_dict_inputs_and_int_consts_fold(tmp_path, custom_ops):
    custom_ops("TestAdd", lambda n: n.call(torch.add, n.input(0), n.input(1)))
    custom_ops("TestReshape", lambda n: n.call(torch.reshape, n.input(0), tuple(n.static_list(1))))
    nodes = [placeholder("a"), placeholder("b"), const("shape", "DT_INT32"), const("w"),
             {"name": "sum", "op": "TestAdd", "input": ["a", "w", "^b"]},
             {"name": "r", "op": "TestReshape", "input": ["sum", "shape"]},
             {"name": "r2", "op": "TestAdd", "input": ["b", "b"]}]
    sig = {"inputs": {"second": {"name": "b:0", "dtype": "DT_FLOAT"},
                      "first": {"name": "a:0", "dtype": "DT_FLOAT"}},
           "outputs": {"out_r": {"name": "r:0"}, "out_b": {"name": "r2:0"}}}
    w = np.arange(6, dtype=np.float32)
    model = torch_tfjs.load_graph_model(write_graph(tmp_path, nodes, {"w": w, "shape": np.array([2, 3], np.int32)}, sig))
    assert model.input_names == ["second", "first"]
    assert model.output_names == ["out_r", "out_b"]
    a, b = torch.ones(6), torch.full((2,), 3.0)
    r, r2 = model(b, a)
    assert torch.equal(r, (a + torch.from_numpy(w)).reshape(2, 3))
    assert torch.equal(r2, b + b)
    r_by_name, _ = model({"first": a, "b:0": b})
    assert torch.equal(r_by_name, r)
    # the float Const is a trainable parameter named after its node; the int one folded away
    assert [n for n, _ in model.named_parameters()] == ["graph_module.w"]
    assert "self.shape" not in model.graph_module.code and "(2, 3)" in model.graph_module.code
    with pytest.raises(ModelInputError, match="unknown input 'c'"):
        model({"c": a})
    with pytest.raises(ModelInputError, match="takes 2 input"):
        model(a)
    # intermediate nodes, tfjs execute-style
    s = model.execute({"first": a, "second": b}, ["sum"])
    assert torch.equal(s[0], a + torch.from_numpy(w))


def test_gradients_reach_const_parameters(tmp_path, custom_ops):
    custom_ops("TestMul", lambda n: n.call(torch.mul, n.input(0), n.input(1)))
    model = torch_tfjs.load_graph_model(write_graph(
        tmp_path, [placeholder("x"), const("k"), {"name": "y", "op": "TestMul", "input": ["x", "k"]}],
        {"k": np.full(3, 2.0, np.float32)}))
    model(torch.ones(3)).sum().backward()
    assert torch.equal(model.graph_module.k.grad, torch.ones(3))


def test_unsupported_ops_listed_all_at_once(tmp_path):
    nodes = [placeholder("x"), {"name": "n1", "op": "FancyOpA", "input": ["x"]},
             {"name": "n2", "op": "FancyOpB", "input": ["n1"]}, {"name": "n3", "op": "FancyOpA", "input": ["n2"]}]
    library = {"function": [{"signature": {"name": "f", "inputArg": [{"name": "a"}], "outputArg": [{"name": "o"}]},
                             "nodeDef": [{"name": "inner", "op": "FancyOpC", "input": ["a"]}],
                             "ret": {"o": "inner:output:0"}}]}
    with pytest.raises(UnsupportedOpError) as info:
        torch_tfjs.load_graph_model(write_graph(tmp_path, nodes, {}, library=library))
    assert info.value.missing == {"FancyOpA": ["n1", "n3"], "FancyOpB": ["n2"], "FancyOpC": ["inner"]}
    assert "3 unsupported op(s)" in str(info.value)


def test_dangling_reference_names_the_node(tmp_path, custom_ops):
    custom_ops("TestNeg", lambda n: n.call(torch.neg, n.input(0)))
    nodes = [placeholder("x"), {"name": "y", "op": "TestNeg", "input": ["ghost"]}]
    sig = {"inputs": {"x": {"name": "x:0"}}, "outputs": {"y": {"name": "y:0"}}}
    with pytest.raises(GraphError, match="node 'y' \(TestNeg\) reads 'ghost', which the graph does not have"):
        torch_tfjs.load_graph_model(write_graph(tmp_path, nodes, {}, sig))


def test_weights_stored_in_the_layout_their_consumers_want(tmp_path, custom_ops):
    def conv(n):
        w = n.input_in_layout(1, "hwio_to_oihw")
        return n.call(_conv_nhwc, n.input(0), w)

    custom_ops("TestConv", conv, param_layouts={1: "hwio_to_oihw"})
    custom_ops("TestConvNoDecl", conv)
    filt = np.random.default_rng(0).standard_normal((3, 3, 2, 4)).astype(np.float32)
    for op in ("TestConv", "TestConvNoDecl"):
        folder = write_graph(tmp_path / op, [placeholder("x"), const("f"),
                                             {"name": "y", "op": op, "input": ["x", "f"]}], {"f": filt})
        model = torch_tfjs.load_graph_model(folder)
        x = torch.randn(1, 5, 5, 2)
        expected = _conv_nhwc(x, torch.from_numpy(filt).permute(3, 2, 0, 1))
        assert torch.allclose(model(x), expected, atol=1e-5)
        param = model.graph_module.f
        if op == "TestConv":  # stored OIHW channels_last, no per-call transform emitted
            assert tuple(param.shape) == (4, 2, 3, 3)
            assert param.is_contiguous(memory_format=torch.channels_last)
            assert "hwio_to_oihw" not in model.graph_module.code
            assert model._importer.param_layouts["f"] == ("hwio_to_oihw", (3, 3, 2, 4))
        else:
            assert tuple(param.shape) == (3, 3, 2, 4)
            assert "hwio_to_oihw" in model.graph_module.code


def _conv_nhwc(x: torch.Tensor, w_oihw: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.conv2d(x.movedim(-1, 1), w_oihw).movedim(1, -1)


def test_library_function_and_named_output_refs(tmp_path, custom_ops):
    custom_ops("TestSplit2", lambda n: n.outputs(n.call(torch.chunk, n.input(0), 2), 2),
               output_args=("first", "second"))
    custom_ops("TestCall", lambda n: n.outputs(n.call(_apply, n.function("f"), n.input(0)), 1))
    library = {"function": [{
        "signature": {"name": "swap", "inputArg": [{"name": "a"}], "outputArg": [{"name": "o"}]},
        "nodeDef": [{"name": "s", "op": "TestSplit2", "input": ["a"]},
                    {"name": "cat", "op": "TestCat", "input": ["s:second:0", "s:first:0"]}],
        "ret": {"o": "cat:output:0"}}]}
    custom_ops("TestCat", lambda n: n.call(torch.cat, [n.input(0), n.input(1)]))
    nodes = [placeholder("x"), {"name": "c", "op": "TestCall", "input": ["x"],
                                "attr": {"f": {"func": {"name": "swap"}}}}]
    model = torch_tfjs.load_graph_model(write_graph(tmp_path, nodes, {}, library=library))
    assert torch.equal(model(torch.arange(4.0)), torch.tensor([2.0, 3.0, 0.0, 1.0]))


def _apply(fn, *args):
    return fn(*args)


def test_structured_outputs_follow_tf_not_tfjs():
    """A dict-returning function converted with use_structured_outputs_names comes back as a
    dict keyed as in TF. tfjs 4.22 pairs the sorted keys with outputs by signature position, and
    the converter writes that signature out of order, so tfjs returns alpha = 2x (wrong)."""
    from fixture_cases import FIXTURES
    folder = FIXTURES / "graph/graph/structured_outputs"
    model = torch_tfjs.load_graph_model(folder)
    x = torch.from_numpy(np.load(folder / "input_0.npy"))
    with torch.no_grad():
        out = model(x)
    assert list(out) == ["alpha", "mid", "zeta"] and model.structured_outputs
    torch.testing.assert_close(out["alpha"], x.sum(1))
    torch.testing.assert_close(out["mid"], x + 1.0)
    torch.testing.assert_close(out["zeta"], x * 2.0)
