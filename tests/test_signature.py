"""model.signature: one description of inputs and outputs for both model kinds, and the call
rules built on it (matching, checking, casting, output packing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import ModelInputError
from torch_tfjs.export import example_inputs
from torch_tfjs.inspection import inspect_artifact
from torch_tfjs.signature import Signature, TensorSpec

FIXTURES = Path(__file__).parent / "fixtures"
LAYERS = FIXTURES / "models" / "models" / "mobilenet_like"      # image [-1, 32, 32, 3] float32
GRAPH_DYNAMIC = FIXTURES / "graph" / "creation" / "fill_dynamic"  # x0 [-1, 4] float32
GRAPH_FIXED = FIXTURES / "graph" / "graph" / "identity"           # x0 [2, 3] float32
GRAPH_INT = FIXTURES / "graph" / "arithmetic" / "int_add_sub_mul"  # two int32 [4, 6]


@pytest.fixture(scope="module")
def layers_model():
    return torch_tfjs.load(LAYERS)


@pytest.fixture(scope="module")
def graph_fixed():
    return torch_tfjs.load(GRAPH_FIXED)


def test_both_kinds_answer_the_same_way(layers_model, graph_fixed):
    for model in (layers_model, graph_fixed):
        assert isinstance(model.signature, Signature)
        assert all(isinstance(s, TensorSpec) for s in model.signature.inputs + model.signature.outputs)
        assert model.input_names == model.signature.input_names
        assert model.output_names == model.signature.output_names
    assert layers_model.signature.inputs[0].shape == (None, 32, 32, 3)
    assert layers_model.signature.inputs[0].dtype == "float32"
    assert graph_fixed.signature.inputs[0].shape == (2, 3)
    assert graph_fixed.signature.inputs[0].tensor == "x0:0"
    assert graph_fixed.signature.outputs[0].shape == (2, 3)


def test_inspect_reports_the_signature_the_model_uses(layers_model, graph_fixed):
    for path, model in ((LAYERS, layers_model), (GRAPH_FIXED, graph_fixed)):
        report = inspect_artifact(path)
        assert report["inputs"] == [s.to_json() for s in model.signature.inputs]
        assert report["outputs"] == [s.to_json() for s in model.signature.outputs]
        assert report["loadable"] is True


def test_example_inputs_follow_the_signature(layers_model):
    (x,) = example_inputs(layers_model, batch=3)
    assert x.shape == (3, 32, 32, 3) and x.dtype == torch.float32
    ints = torch_tfjs.load(GRAPH_INT)
    assert [t.dtype for t in example_inputs(ints)] == [torch.int32, torch.int32]


@pytest.mark.parametrize("path", [LAYERS, GRAPH_FIXED])
def test_call_forms_agree(path):
    model = torch_tfjs.load(path)
    spec = model.signature.inputs[0]
    x = torch.rand(*[2 if d is None else d for d in spec.shape])
    with torch.no_grad():
        ref = model(x)
        for out in (model([x]), model({spec.name: x}), model(x.numpy()), model(x.double())):
            torch.testing.assert_close(out, ref, rtol=0, atol=0)


@pytest.mark.parametrize("path", [LAYERS, GRAPH_FIXED])
def test_wrong_calls_name_the_input(path):
    model = torch_tfjs.load(path)
    spec = model.signature.inputs[0]
    shape = [2 if d is None else d for d in spec.shape]
    with pytest.raises(ModelInputError, match=rf"'{spec.name}' expects shape .*rank {len(shape)}"):
        model(torch.zeros(shape + [1]))
    wrong = list(shape)
    wrong[-1] += 1
    with pytest.raises(ModelInputError, match=rf"axis {len(shape) - 1} is {wrong[-1]}, not {shape[-1]}"):
        model(torch.zeros(wrong))
    with pytest.raises(ModelInputError, match=r"takes 1 input\(s\).*got 2"):
        model(torch.zeros(shape), torch.zeros(shape))
    with pytest.raises(ModelInputError, match=r"unknown input 'nope'.*missing"):
        model({"nope": torch.zeros(shape)})


def test_graph_checks_the_batch_axis_as_tfjs_does(graph_fixed):
    # tfjs's executor checks every known dimension; a batch of 4 fed to a [2, 3] graph would
    # otherwise come back silently as something else.
    with pytest.raises(ModelInputError, match=r"axis 0 is 4, not 2"):
        graph_fixed(torch.zeros(4, 3))
    dynamic = torch_tfjs.load(GRAPH_DYNAMIC)
    assert dynamic.signature.inputs[0].shape == (None, 4)
    for batch in (1, 5):
        dynamic(torch.zeros(batch, 4))


def test_layers_model_leaves_the_batch_axis_free(layers_model):
    # tfjs LayersModel.predict does not check the batch axis.
    with torch.no_grad():
        assert layers_model(torch.zeros(5, 32, 32, 3)).shape[0] == 5


def test_integer_inputs_refuse_floats_and_take_other_int_widths():
    model = torch_tfjs.load(GRAPH_INT)
    a = torch.arange(24, dtype=torch.int64).reshape(4, 6)
    out64 = model(a, a)
    out32 = model(a.int(), a.int())
    for x, y in zip(out64, out32):
        assert torch.equal(x, y) and x.dtype == torch.int32
    with pytest.raises(ModelInputError, match=r"expects shape \[4, 6\] int32, got a torch.float32 "
                                              r"tensor .*truncate"):
        model(a.float() + 0.5, a)


def test_float_input_takes_integer_images(graph_fixed):
    x = torch.arange(6, dtype=torch.uint8).reshape(2, 3)
    torch.testing.assert_close(graph_fixed(x), graph_fixed(x.float()))


def test_signature_with_outputs_only_feeds_the_placeholders():
    # Real 2019-2021 artifacts: the signature (in userDefinedMetadata) lists outputs only; tfjs
    # then takes the Placeholders as inputs. Inputs and outputs default independently.
    path = FIXTURES / "graph" / "graph" / "signature_outputs_only"
    meta = json.loads((path / "model.json").read_text())
    assert "inputs" not in meta["userDefinedMetadata"]["signature"]
    model = torch_tfjs.load(path)
    assert model.input_names == ["x0"] and model.output_names == ["output_0"]
    assert model.signature.inputs[0].shape == (2, 3)
    x = torch.from_numpy(np.load(path / "input_0.npy"))
    torch.testing.assert_close(model(x), torch.from_numpy(np.load(path / "output_0.npy")))


def test_signature_unit_rules():
    sig = Signature([TensorSpec("a", (None, 2), "float32"), TensorSpec("b", (3,), "bool")],
                    [TensorSpec("y")], model="m")
    a, b = sig.check(sig.bind([[np.zeros((5, 2)), torch.ones(3, dtype=torch.bool)]]))
    assert a.dtype == torch.float32 and b.dtype == torch.bool
    with pytest.raises(ModelInputError, match=r"'b' expects shape \[3\] bool, got a torch.float32"):
        sig.check([torch.zeros(1, 2), torch.zeros(3)])
    with pytest.raises(ModelInputError, match="not numbers"):
        sig.check([np.array(["x", "y"]), torch.zeros(3, dtype=torch.bool)])
    assert sig.pack([1]) == 1 and sig.pack([1, 2]) == [1, 2]
    assert str(sig) == "(a: [-1, 2] float32, b: [3] bool) -> (y: ? ?)"
    assert sig.free_dims() == [{0: "batch"}, {}]
