"""TorchScript tracing and ``torch.export`` of converted LayersModels (a CNN and an LSTM text
model from the tfjs corpus) reproduce the eager outputs and tfjs's references."""

from __future__ import annotations

import pytest
import torch

import torch_tfjs
from fixture_cases import assert_matches, discover

EXPORT_CASES = ["models/models/mobilenet_like", "models/models/embedding_lstm_text",
                "layers/wrappers/bidirectional_lstm_concat", "layers/recurrent/conv_lstm2d"]


def _case(case_id):
    return next(c for c in discover(case_id.split("/")[0]) if c.id == case_id)


@pytest.mark.parametrize("case_id", EXPORT_CASES)
def test_jit_trace(case_id):
    case = _case(case_id)
    model = torch_tfjs.load_layers_model(case.path).eval()
    inputs = tuple(torch.from_numpy(x) for x in case.inputs())
    with torch.no_grad():
        traced = torch.jit.trace(model, inputs, check_trace=False)
        out = traced(*inputs)
    assert_matches(out, case.outputs()[0], case.tolerance, case_id)


@pytest.mark.parametrize("case_id", EXPORT_CASES)
def test_torch_export(case_id):
    case = _case(case_id)
    model = torch_tfjs.load_layers_model(case.path).eval()
    inputs = tuple(torch.from_numpy(x) for x in case.inputs())
    exported = torch.export.export(model, inputs)
    with torch.no_grad():
        out = exported.module()(*inputs)
    assert_matches(out, case.outputs()[0], case.tolerance, case_id)


@pytest.mark.parametrize("case_id", EXPORT_CASES[:3])
def test_torch_compile_fullgraph(case_id):
    """LayersModels compile without graph breaks (aot_eager keeps the test fast on CPU)."""
    case = _case(case_id)
    model = torch_tfjs.load_layers_model(case.path).eval()
    inputs = tuple(torch.from_numpy(x) for x in case.inputs())
    torch._dynamo.reset()
    with torch.no_grad():
        out = torch.compile(model, fullgraph=True, backend="aot_eager")(*inputs)
    assert_matches(out, case.outputs()[0], case.tolerance, case_id)
