"""tf.keras ``TensorFlowOpLayer`` and the layers that cannot be converted, on hand-written
configs in the exact form tf.keras writes (``TensorFlowOpLayer.get_config``: NodeDef as
``json_format.MessageToDict``, constants keyed by input index). Op semantics against TF live in
the Keras-converted fixtures (tests/fixtures/keras/keras2_tfoplayer_*); these tests pin the
config handling and the errors."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import LayerConfigError, UnsupportedLayerError

from test_builder import dense, input_layer, kw, write


def op_layer(name: str, op: str, inbound: List[Any], inputs: List[str],
             constants: Dict[str, Any] = None, attr: Dict[str, Any] = None) -> Dict[str, Any]:
    """A TensorFlowOpLayer as tf.keras writes it (layer ``tf_op_layer_<name>``)."""
    node_def = {"name": name, "op": op, "input": inputs, "attr": {"T": {"type": "DT_FLOAT"}, **(attr or {})}}
    return {"class_name": "TensorFlowOpLayer", "name": f"tf_op_layer_{name}",
            "config": {"name": name, "trainable": True, "dtype": "float32", "node_def": node_def,
                       "constants": constants or {}},
            "inbound_nodes": [[[source, 0, 0, {}] for source in inbound]]}


def functional(layers: List[Dict[str, Any]], output: str) -> Dict[str, Any]:
    return {"class_name": "Functional", "config": {"name": "m", "layers": [input_layer("x", [None, 3]), *layers],
                                                   "input_layers": [["x", 0, 0]],
                                                   "output_layers": [[output, 0, 0]]}}


def test_constants_go_back_to_their_input_positions(tmp_path):
    """``1 - x`` (constant at index 0), a ConcatV2 with a constant tensor between two inputs and
    its axis last: a constant inserted at the wrong index gives a different result or fails."""
    layers = [op_layer("sub", "Sub", ["x"], ["sub/x", "x"], {"0": 1.0}),
              op_layer("concat", "ConcatV2", ["tf_op_layer_sub", "x"], ["sub", "concat/values_1", "x", "concat/axis"],
                       {"1": [[0.5, 0.25, 2.0]], "3": -1}, {"N": {"i": "3"}, "Tidx": {"type": "DT_INT32"}})]
    model = torch_tfjs.load(write(tmp_path, functional(layers, "tf_op_layer_concat"), {}))
    x = torch.randn(1, 3)
    expected = torch.cat([1.0 - x, torch.tensor([[0.5, 0.25, 2.0]]), x], dim=-1)
    torch.testing.assert_close(model(x), expected)


def test_numpy_constant_form_and_attrs(tmp_path):
    """Newer tf.keras writes array constants as ``__numpy__`` objects; int64 attrs arrive as
    strings and lists as ``{"list": {"i": [...]}}``."""
    perm = {"class_name": "__numpy__", "config": {"value": [1, 0], "dtype": "int32"}}
    layers = [dense("d", 4, [[["x", 0, 0, {}]]]),
              op_layer("t", "Transpose", ["d"], ["d/BiasAdd", "t/perm"], {"1": perm}),
              op_layer("s", "StridedSlice", ["tf_op_layer_t"], ["t", "s/b", "s/e", "s/st"],
                       {"1": [1, 0], "2": [3, 0], "3": [1, 1]},
                       {"begin_mask": {"i": "2"}, "end_mask": {"i": "2"}, "shrink_axis_mask": {"i": "0"},
                        "ellipsis_mask": {"i": "0"}, "new_axis_mask": {"i": "0"}}),
              op_layer("q", "Squeeze", ["tf_op_layer_s"], ["s"], attr={"squeeze_dims": {"list": {"i": ["-1"]}}})]
    weights = kw("d", 3, 4)
    model = torch_tfjs.load(write(tmp_path, functional(layers, "tf_op_layer_q"), weights))
    x = torch.randn(1, 3)
    h = x @ torch.from_numpy(weights["d/kernel"]) + torch.from_numpy(weights["d/bias"])
    torch.testing.assert_close(model(x), h.t()[1:3, :].squeeze(-1))


def test_unsupported_ops_and_code_layers_listed_at_once(tmp_path):
    """Every TF op without an implementation is named by op, together with Lambda and TFSMLayer,
    whose messages say why nothing can run them and name their layers."""
    layers = [op_layer("a", "Foo", ["x"], ["x"]),
              op_layer("b", "Bar", ["tf_op_layer_a"], ["a"]),
              op_layer("c", "Foo", ["tf_op_layer_b"], ["b"]),
              {"class_name": "Lambda", "name": "my_lambda", "inbound_nodes": [[["tf_op_layer_c", 0, 0, {}]]],
               "config": {"name": "my_lambda", "function": ["4wEAAAAA", None, None], "function_type": "lambda"}},
              {"class_name": "TFSMLayer", "name": "saved_part", "inbound_nodes": [[["my_lambda", 0, 0, {}]]],
               "config": {"name": "saved_part", "filepath": "exported/", "call_endpoint": "serve"}}]
    with pytest.raises(UnsupportedLayerError) as info:
        torch_tfjs.load(write(tmp_path, functional(layers, "saved_part"), {}))
    missing = info.value.missing
    assert missing == {"TensorFlowOpLayer(Foo)": ["a", "c"], "TensorFlowOpLayer(Bar)": ["b"],
                       "Lambda": ["my_lambda"], "TFSMLayer": ["saved_part"]}
    message = str(info.value)
    assert "Lambda ('my_lambda') wraps a Python function" in message
    assert "never executes" in message
    assert "TFSMLayer ('saved_part') wraps a TensorFlow SavedModel" in message
    assert "TensorFlowOpLayer(Bar) ('b') wraps a raw TF op" in message


def test_config_errors_name_the_layer(tmp_path):
    layers = [op_layer("p", "MirrorPad", ["x"], ["x", "p/paddings"], {"1": [[0, 0], [1, 1]]},
                       {"mode": {"s": "V1JBUA=="}})]  # base64 "WRAP": no such TF mode
    model = torch_tfjs.load(write(tmp_path / "pad", functional(layers, "tf_op_layer_p"), {}))
    with pytest.raises(LayerConfigError, match=r"layer 'tf_op_layer_p' \(TensorFlowOpLayer MirrorPad\).*'WRAP'"):
        model(torch.randn(2, 3))
    layers = [op_layer("m", "Mul", ["x", "x"], ["x", "m/y"], {"1": 2.0})]  # one tensor too many
    model = torch_tfjs.load(write(tmp_path / "mul", functional(layers, "tf_op_layer_m"), {}))
    with pytest.raises(LayerConfigError, match=r"'tf_op_layer_m'.*takes 1 tensor input"):
        model(torch.randn(2, 3))
