"""A model call leaves no reference cycles behind.

CPython frees a call's activations the moment their last reference goes, unless they sit in a
reference cycle: then they wait for the cycle collector, memory grows call after call (a
LayersModel of nsfwjs reached 1.2 GB from 320 MB) and every call page-faults on fresh memory.
The check: with the collector off, one call, then ``gc.collect()`` must find nothing to free.
"""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

import torch_tfjs
from fixture_cases import discover, positional_inputs


def _cases():
    out = []
    for kind in ("models", "layers"):
        for case in discover(kind):
            if case.meta.get("expectError") or case.meta.get("xfail"):
                continue
            if any(x.dtype == object for x in case.inputs()):
                continue
            if kind == "layers" and case.family not in ("conv", "recurrent", "merge", "normalization",
                                                        "wrappers", "embeddings"):
                continue  # one call path per family is enough: these own closures and state
            out.append(pytest.param(case, id=case.id))
    return out


def _garbage_of_one_call(model: torch.nn.Module, inputs: tuple, grad: bool) -> int:
    with torch.set_grad_enabled(grad):
        model(*inputs)  # first calls make lazy caches (fold plans, derived weights)
        model(*inputs)
    gc.collect()
    gc.disable()
    try:
        with torch.set_grad_enabled(grad):
            out = model(*inputs)
        del out
        return gc.collect(0)  # the call's objects: the collector was off, none left generation 0
    finally:
        gc.enable()


@pytest.mark.parametrize("case", _cases())
def test_inference_call_leaves_no_cycles(case):
    model = torch_tfjs.load(case.path).eval()
    assert _garbage_of_one_call(model, positional_inputs(model, case), grad=False) == 0


@pytest.mark.parametrize("case", [c for c in _cases() if c.values[0].path.parent.name == "models"])
def test_training_call_leaves_no_cycles(case):
    model = torch_tfjs.load(case.path).train()
    inputs = positional_inputs(model, case)
    if not any(p.requires_grad for p in model.parameters()):
        pytest.skip("no trainable weights")
    assert _garbage_of_one_call(model, inputs, grad=True) == 0


def test_activations_are_dropped_during_the_call():
    """A LayersModel call drops each activation after its last reader, as torch.fx code does
    (memory reused while still in cache), not at the end of the call."""
    case = next(c for c in discover("models") if c.name == "mobilenet_like")
    model = torch_tfjs.load(case.path).eval()
    seen = {}

    def keep_weak(name):
        def hook(_module, _inputs, output):
            seen[name] = weakref.ref(output)
        return hook

    def check(_module, _inputs, _output):
        seen["alive at the end"] = [n for n in ("stem_relu", "b1_dw_relu", "b2_expand_relu")
                                    if seen[n]() is not None]

    for name in ("stem_relu", "b1_dw_relu", "b2_expand_relu"):
        model.get_layer(name).register_forward_hook(keep_weak(name))
    model.get_layer("logits").register_forward_hook(check)
    with torch.no_grad():  # (with autograd on, the graph keeps what backward needs)
        model(*positional_inputs(model, case))
    assert seen["alive at the end"] == []
