"""The topology builder on hand-written configs: envelopes, Keras 2/3 node forms, shared and
nested layers, weight-name fallbacks, and the errors it must raise. Numbers are checked against
plain torch expressions of the same Dense layers (tfjs parity lives in the fixture tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import (GraphError, ModelInputError, UnsupportedLayerError,
                               WeightMismatchError)
from torch_tfjs.io import encode_weights

RNG = np.random.default_rng(0)


def dense(name: str, units: int, inbound=None, activation: str = "linear", **extra) -> Dict[str, Any]:
    layer = {"class_name": "Dense", "name": name,
             "config": {"name": name, "units": units, "activation": activation, "use_bias": True, **extra}}
    if inbound is not None:
        layer["inbound_nodes"] = inbound
    return layer


def input_layer(name: str, shape: List[Any], keras3: bool = False) -> Dict[str, Any]:
    key = "batch_shape" if keras3 else "batch_input_shape"
    return {"class_name": "InputLayer", "name": name,
            "config": {"name": name, key: shape, "dtype": "float32"}, "inbound_nodes": []}


def write(folder: Path, topology: Dict[str, Any], weights: Dict[str, np.ndarray], **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data, specs = encode_weights(list(weights.items()))
    (folder / "weights.bin").write_bytes(data)
    (folder / "model.json").write_text(json.dumps({
        "format": "layers-model", "modelTopology": topology,
        "weightsManifest": [{"paths": ["weights.bin"], "weights": specs}], **extra}))
    return folder


def kw(prefix: str, n_in: int, n_out: int) -> Dict[str, np.ndarray]:
    return {f"{prefix}/kernel": RNG.standard_normal((n_in, n_out)).astype(np.float32),
            f"{prefix}/bias": RNG.standard_normal(n_out).astype(np.float32)}


def ref_dense(x: torch.Tensor, w: Dict[str, np.ndarray], prefix: str) -> torch.Tensor:
    return x @ torch.from_numpy(w[f"{prefix}/kernel"]) + torch.from_numpy(w[f"{prefix}/bias"])


@pytest.mark.parametrize("envelope", ["bare_list", "named", "keras3_input_first", "python_converter"])
def test_sequential_envelopes(tmp_path, envelope):
    w = {**kw("d1", 3, 4), **kw("d2", 4, 2)}
    layers = [dense("d1", 4, batch_input_shape=[None, 3]), dense("d2", 2)]
    if envelope == "bare_list":
        topology = {"class_name": "Sequential", "config": layers}
    elif envelope == "named":
        topology = {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}
    elif envelope == "keras3_input_first":
        first = {"class_name": "InputLayer", "config": {"name": "inp", "batch_shape": [None, 3],
                                                        "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                                                  "config": {"name": "float32"}}}}
        layers[0]["config"].pop("batch_input_shape")
        topology = {"class_name": "Sequential", "config": {"name": "seq", "layers": [first, *layers]}}
    else:
        topology = {"keras_version": "2.15.0", "backend": "tensorflow",
                    "model_config": {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}}
    model = torch_tfjs.load(write(tmp_path, topology, w))
    x = torch.randn(5, 3)
    assert torch.allclose(model(x), ref_dense(ref_dense(x, w, "d1"), w, "d2"), atol=1e-5)
    assert model.output_names == ["d2"]


def _functional(keras3: bool) -> Dict[str, Any]:
    """Two inputs, a Dense shared by both, two outputs; a consumer reads node index 1."""
    def node(*refs):
        if keras3:
            tensors = [{"class_name": "__keras_tensor__",
                        "config": {"shape": [None, 3], "dtype": "float32", "keras_history": list(r)}}
                       for r in refs]
            return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": {}}
        return [[r[0], r[1], r[2], {}] for r in refs]

    layers = [input_layer("in_a", [None, 3], keras3), input_layer("in_b", [None, 3], keras3),
              dense("shared", 3, [node(("in_a", 0, 0)), node(("in_b", 0, 0))]),
              {"class_name": "Add", "name": "add", "config": {"name": "add"},
               "inbound_nodes": [node(("shared", 0, 0), ("shared", 1, 0))]},
              dense("head", 2, [node(("shared", 1, 0))])]
    io_in = [["in_a", 0, 0], ["in_b", 0, 0]]
    io_out = [["add", 0, 0], ["head", 0, 0]]
    return {"class_name": "Functional", "config": {"name": "fn", "layers": layers,
                                                   "input_layers": io_in, "output_layers": io_out}}


@pytest.mark.parametrize("keras3", [False, True], ids=["keras2_nodes", "keras3_nodes"])
def test_functional_shared_layer_multi_io(tmp_path, keras3):
    if torch_tfjs.layers.get_layer_converter("Add") is None:
        pytest.skip("merge family not registered yet")
    w = {**kw("shared", 3, 3), **kw("head", 3, 2)}
    model = torch_tfjs.load(write(tmp_path, _functional(keras3), w))
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    s_a, s_b = ref_dense(a, w, "shared"), ref_dense(b, w, "shared")
    out_add, out_head = model(a, b)
    assert torch.allclose(out_add, s_a + s_b, atol=1e-5)
    assert torch.allclose(out_head, ref_dense(s_b, w, "head"), atol=1e-5)
    assert model.input_names == ["in_a", "in_b"] and model.output_names == ["add", "head"]
    by_name = model({"in_b": b, "in_a": a})
    assert torch.allclose(by_name[1], out_head)


def test_nested_model_and_prefixed_weight_names(tmp_path):
    inner = {"class_name": "Sequential", "name": "inner",
             "config": {"name": "inner", "layers": [dense("i1", 4, batch_input_shape=[None, 3], activation="relu")]},
             "inbound_nodes": [[["x", 0, 0, {}]]]}
    topology = {"class_name": "Model", "config": {
        "name": "outer", "layers": [input_layer("x", [None, 3]), inner, dense("o1", 2, [[["inner", 1, 0, {}]]])],
        "input_layers": [["x", 0, 0]], "output_layers": [["o1", 0, 0]]}}
    w = {**kw("i1", 3, 4), **kw("o1", 4, 2)}
    # the nested model's first call is its node 1 (node 0 is its own input node, as in Keras)
    # Keras 3 under TF >= 2.16 prefixes weights with the model name
    w = {("outer/" + k if k.startswith("o1") else "inner/" + k): v for k, v in w.items()}
    model = torch_tfjs.load(write(tmp_path, topology, w))
    x = torch.randn(2, 3)
    hidden = torch.relu(x @ torch.from_numpy(w["inner/i1/kernel"]) + torch.from_numpy(w["inner/i1/bias"]))
    expected = hidden @ torch.from_numpy(w["outer/o1/kernel"]) + torch.from_numpy(w["outer/o1/bias"])
    assert torch.allclose(model(x), expected, atol=1e-5)
    assert isinstance(model.get_layer("inner"), torch_tfjs.LayersModel)
    assert model.get_layer("inner").get_layer("i1").kernel.shape == (3, 4)  # Keras layout (in, out)


def test_flattened_io_triples_and_keras3_index_weight_names(tmp_path):
    topology = {"class_name": "Functional", "config": {
        "name": "m", "layers": [input_layer("x", [None, 3], keras3=True),
                                dense("d", 2, [{"args": [{"class_name": "__keras_tensor__",
                                                          "config": {"keras_history": ["x", 0, 0]}}],
                                                "kwargs": {}}])],
        "input_layers": ["x", 0, 0], "output_layers": ["d", 0, 0]}}
    k, b = RNG.standard_normal((3, 2)).astype(np.float32), RNG.standard_normal(2).astype(np.float32)
    model = torch_tfjs.load(write(tmp_path, topology, {"d/0": k, "d/1": b}))
    x = torch.randn(2, 3)
    assert torch.allclose(model(x), x @ torch.from_numpy(k) + torch.from_numpy(b), atol=1e-5)


def test_unsupported_layers_listed_all_at_once(tmp_path):
    layers = [dense("d", 2, batch_input_shape=[None, 3]),
              {"class_name": "Fancy", "config": {"name": "f1"}},
              {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Fancy2", "config": {"name": "inner"}}}},
              {"class_name": "Fancy", "config": {"name": "f2"}}]
    with pytest.raises(UnsupportedLayerError) as info:
        torch_tfjs.load(write(tmp_path, {"class_name": "Sequential", "config": {"name": "s", "layers": layers}}, {}))
    missing = info.value.missing
    assert missing["Fancy"] == ["f1", "f2"] and missing["Fancy2"] == ["inner"]


def test_lambda_refused_with_reason(tmp_path):
    layers = [dense("d", 2, batch_input_shape=[None, 3]),
              {"class_name": "Lambda", "config": {"name": "lam", "function": ["4wEAAAAA", None, None]}}]
    with pytest.raises(UnsupportedLayerError, match="never executes code"):
        torch_tfjs.load(write(tmp_path, {"class_name": "Sequential", "config": layers}, kw("d", 3, 2)))


def test_custom_layer_registration(tmp_path):
    @torch_tfjs.register_layer("TimesTwo")
    def times_two(spec):
        return torch.nn.Identity() if spec.config.get("noop") else _TimesTwo()

    try:
        layers = [dense("d", 2, batch_input_shape=[None, 3]), {"class_name": "TimesTwo", "config": {"name": "t"}}]
        w = kw("d", 3, 2)
        model = torch_tfjs.load(write(tmp_path, {"class_name": "Sequential", "config": layers}, w))
        x = torch.randn(2, 3)
        assert torch.allclose(model(x), 2 * ref_dense(x, w, "d"), atol=1e-5)
    finally:
        torch_tfjs.layers.unregister_layer("TimesTwo")


class _TimesTwo(torch.nn.Module):
    def forward(self, x):
        return 2 * x


def test_weight_errors(tmp_path):
    layers = [dense("d", 2, batch_input_shape=[None, 3])]
    topology = {"class_name": "Sequential", "config": layers}
    with pytest.raises(WeightMismatchError, match="layer 'd': no weight 'bias'"):
        torch_tfjs.load(write(tmp_path / "a", topology, {"d/kernel": np.zeros((3, 2), np.float32)}))
    extra = {**kw("d", 3, 2), "ghost/kernel": np.zeros(1, np.float32)}
    with pytest.raises(WeightMismatchError, match="ghost/kernel"):
        torch_tfjs.load(write(tmp_path / "b", topology, extra))
    model = torch_tfjs.load_layers_model(tmp_path / "b", strict=False)
    assert model(torch.zeros(1, 3)).shape == (1, 2)


def test_dangling_node_reference(tmp_path):
    topology = {"class_name": "Functional", "config": {
        "name": "m", "layers": [input_layer("x", [None, 3]), dense("d", 2, [[["nowhere", 0, 0, {}]]])],
        "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]]}}
    with pytest.raises(GraphError, match=r"layer 'd' \(call 0\) reads layer 'nowhere', which the model does not have"):
        torch_tfjs.load(write(tmp_path, topology, kw("d", 3, 2)))


def test_input_shape_checked(tmp_path):
    model = torch_tfjs.load(write(tmp_path, {"class_name": "Sequential",
                                             "config": [dense("d", 2, batch_input_shape=[None, 3])]}, kw("d", 3, 2)))
    with pytest.raises(ModelInputError, match=r"expects shape \[-1, 3\].*got shape \[2, 4\]"):
        model(torch.zeros(2, 4))
    with pytest.raises(ModelInputError, match="takes 1 input"):
        model(torch.zeros(2, 3), torch.zeros(2, 3))


def test_trainable_false_freezes_and_gradients_flow(tmp_path):
    layers = [dense("d1", 4, batch_input_shape=[None, 3]), dense("d2", 2, trainable=False)]
    model = torch_tfjs.load(write(tmp_path, {"class_name": "Sequential", "config": layers},
                                  {**kw("d1", 3, 4), **kw("d2", 4, 2)}))
    model(torch.randn(2, 3)).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert set(grads) == {"d1.kernel", "d1.bias", "d2.kernel", "d2.bias"}
    assert grads["d1.kernel"] is not None and grads["d1.bias"] is not None
    assert grads["d2.kernel"] is None and not model.d2.kernel.requires_grad


def test_keras_weights_round_trip_layout(tmp_path):
    w = kw("d", 3, 2)
    model = torch_tfjs.load(write(tmp_path, {"class_name": "Sequential",
                                             "config": [dense("d", 2, batch_input_shape=[None, 3])]}, w))
    saved = dict(model.keras_weights())
    assert list(saved) == ["d/kernel", "d/bias"]
    assert np.array_equal(saved["d/kernel"].numpy(), w["d/kernel"])


def test_tf_op_lambda_whitelist_and_refusal(tmp_path):
    """Keras 2 TFOpLambda: named elementwise TF functions with constant or tensor operands run;
    any other function is listed as unsupported before anything is built."""
    def op_layer(name, function, inbound):
        return {"class_name": "TFOpLambda", "name": name,
                "config": {"name": name, "function": function}, "inbound_nodes": inbound}
    layers = [input_layer("x", [None, 3]),
              op_layer("add", "__operators__.add", [["x", 0, 0, {"y": 3.0, "name": None}]]),
              op_layer("mul", "math.multiply", [["add", 0, 0, {"y": ["x", 0, 0], "name": None}]])]
    config = {"name": "m", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": [["mul", 0, 0]]}
    model = torch_tfjs.load(write(tmp_path / "ok", {"class_name": "Functional", "config": config}, {}))
    x = torch.randn(2, 3)
    torch.testing.assert_close(model(x), (x + 3.0) * x)
    layers.append(op_layer("odd", "raw_ops.Foo", [["mul", 0, 0, {}]]))
    config["output_layers"] = [["odd", 0, 0]]
    with pytest.raises(UnsupportedLayerError, match=r"TFOpLambda\(tf.raw_ops.Foo\)"):
        torch_tfjs.load(write(tmp_path / "bad", {"class_name": "Functional", "config": config}, {}))


def _keras3_tensor(layer: str) -> Dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"keras_history": [layer, 0, 0]}}


@pytest.mark.parametrize("op,config,args,expected", [
    ("Log", {}, ["T"], lambda x: torch.log(x)),
    ("Sqrt", {}, ["T"], torch.sqrt),
    ("Square", {}, ["T"], torch.square),
    ("HardSigmoid", {}, ["T"], lambda x: torch.clamp(x + 3, 0, 6) / 6),
    ("HardSilu", {}, ["T"], lambda x: x * torch.clamp(x + 3, 0, 6) / 6),
    ("Gelu", {"approximate": False}, ["T"], lambda x: torch.nn.functional.gelu(x)),
    ("Gelu", {}, ["T"], lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    ("Power", {}, ["T", 2.0], lambda x: x ** 2),
    ("TrueDivide", {}, [1.0, "T"], lambda x: 1.0 / x),
    ("Sum", {"axis": [-1], "keepdims": False}, ["T"], lambda x: x.sum(-1)),
    ("Max", {"axis": 1, "keepdims": True}, ["T"], lambda x: x.amax(1, keepdim=True)),
    ("Min", {"axis": None, "keepdims": False}, ["T"], lambda x: x.amin()),
    ("Subtract", {}, [10.0, "T"], lambda x: 10.0 - x),
    ("ExpandDims", {"axis": -1}, ["T"], lambda x: x.unsqueeze(-1)),
    ("Squeeze", {"axis": None}, ["T"], lambda x: x),
    ("ZerosLike", {"dtype": "bool"}, ["T"], lambda x: torch.zeros_like(x, dtype=torch.bool)),
    ("OnesLike", {}, ["T"], torch.ones_like),
    ("Any", {"axis": -1, "keepdims": True}, ["T"], lambda x: torch.ones(2, 1, dtype=torch.bool)),
    ("LogicalOr", {}, ["T", False], lambda x: torch.ones_like(x, dtype=torch.bool)),
])
def test_keras3_op_layers(tmp_path, op, config, args, expected):
    """Keras 3 saves keras.ops calls as layers with literal arguments in place."""
    layers = [input_layer("x", [None, 3], keras3=True),
              {"class_name": op, "name": "op", "config": {"name": "op", **config},
               "inbound_nodes": [{"args": [_keras3_tensor("x") if a == "T" else a for a in args],
                                  "kwargs": {}}]}]
    config_ = {"name": "m", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": [["op", 0, 0]]}
    model = torch_tfjs.load(write(tmp_path, {"class_name": "Functional", "config": config_}, {}))
    x = torch.rand(2, 3) + 0.5
    torch.testing.assert_close(model(x), expected(x))
