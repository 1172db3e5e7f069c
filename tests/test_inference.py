"""optimize_for_inference: inductor with frozen weights reproduces the tfjs references for both
model kinds, leaves the loaded model trainable, and runs without autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import FIXTURES, assert_matches, discover


def _case(kind: str, name: str):
    for case in discover(kind):
        if case.name == name:
            return case
    raise LookupError(name)


@pytest.mark.parametrize("kind,name", [("models", "graph_mobilenet_like"), ("models", "mobilenet_like")])
def test_matches_tfjs_reference(kind, name):
    case = _case(kind, name)
    model = torch_tfjs.load(case.path)
    torch._dynamo.reset()
    fast = torch_tfjs.optimize_for_inference(model, backend="inductor")
    x = torch.from_numpy(np.ascontiguousarray(case.inputs()[0]))
    out = fast(x)
    assert not out.requires_grad
    assert_matches(out, case.outputs()[0], case.tolerance, f"{name} optimize_for_inference")
    # the loaded model is shared (eval mode) and still trains: its parameters keep requires_grad
    assert not model.training
    params = [p for p in model.parameters() if p.is_floating_point()]
    assert params and all(p.requires_grad for p in params)
    # compiling did not alter (or discard) the model's own weights
    with torch.no_grad():
        assert_matches(model(x), case.outputs()[0], case.tolerance, f"{name} eager after compiling")


def test_new_batch_size_recompiles_and_matches():
    case = _case("models", "graph_mobilenet_like")
    model = torch_tfjs.load(case.path)
    torch._dynamo.reset()
    fast = torch_tfjs.optimize_for_inference(model, backend="aot_eager")  # no C++ build: quick
    x = torch.from_numpy(np.ascontiguousarray(case.inputs()[0]))
    for batch in (1, 3):
        xb = x[:1].repeat(batch, *([1] * (x.dim() - 1)))
        with torch.no_grad():
            expected = model(xb)
        torch.testing.assert_close(fast(xb), expected, rtol=1e-5, atol=1e-6)
