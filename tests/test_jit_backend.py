"""TorchScript-friendly graphs and ``optimize_for_inference(backend="onednn")``.

Every model fixture traces without TracerWarnings, survives ``torch.jit.freeze`` +
``torch.jit.optimize_for_inference`` and still matches its tfjs reference; the oneDNN Graph
backend matches too, and falls back (with a log line) where a trace would be wrong. No C++
compiles: the AOTI fallback is stubbed where a test reaches it.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import assert_matches, discover, positional_inputs
from torch_tfjs import _jit_backend, inference
from torch_tfjs._padding import shape_specialized_trace, tf_conv
from torch_tfjs.errors import ExportError

#: Fixtures a trace cannot record (TF2 / TF1 control flow): refused, see the fallback tests.
UNTRACEABLE = {"graph_control_v1", "graph_control_v2"}
#: Traces that still warn: Conv2DBackpropInput reads its output-gradient sizes from the input.
WARNS = {"graph_keras3_autoencoder"}

CASES = [pytest.param(c, id=c.id) for c in discover("models")
         if c.name not in UNTRACEABLE and not any(x.dtype == object for x in c.inputs())]


def _compare(model, case, out):
    if isinstance(out, dict):  # structured outputs: references are by signature key → node
        key_of_node = {spec.tensor.split(":")[0]: spec.name for spec in model.signature.outputs}
        nodes = [model.artifact_signature["outputs"][o["name"]]["name"].split(":")[0]
                 for o in case.meta["outputs"]]
        out = [out[key_of_node[node]] for node in nodes]
    outs = out if isinstance(out, (list, tuple)) else [out]
    expected = case.outputs()
    assert len(outs) == len(expected)
    for i, (a, e) in enumerate(zip(outs, expected)):
        assert_matches(a, e, case.tolerance, f"{case.id} output {i}")


@pytest.mark.parametrize("case", CASES)
def test_trace_freeze_optimize_matches_reference(case):
    model = torch_tfjs.load(case.path).eval()
    args = positional_inputs(model, case)
    with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(model, args, check_trace=False, strict=False)
        program = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
        out = program(*args)
    tracer = [f"{w.filename}:{w.lineno}" for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    if case.name not in WARNS:
        assert not tracer, f"TracerWarnings: {tracer}"
    _compare(model, case, out)


def _same_conv(x, weight):
    return tf_conv(x, weight, None, 2, [3, 3], "same", [1, 1])


@pytest.mark.parametrize("traced_at,run_at", [(9, 10), (10, 9)])
def test_traced_same_padding_holds_for_other_sizes(traced_at, run_at):
    # kernel 2, stride 3: SAME pads 0 at size 9 and 1 at size 10. Python's max on a traced size
    # recorded either the constant 0 or the unclamped (negative at 9: a crop) arithmetic.
    weight = torch.randn(4, 3, 2, 2)
    traced = torch.jit.trace(lambda x: _same_conv(x, weight), (torch.randn(1, 3, traced_at, traced_at),))
    x = torch.randn(1, 3, run_at, run_at)
    torch.testing.assert_close(traced(x), _same_conv(x, weight))


def test_stride_one_same_padding_is_static():
    # stride 1 needs no size: the trace holds no size arithmetic (and conv pads symmetrically)
    weight = torch.randn(4, 3, 3, 3)
    traced = torch.jit.trace(lambda x: tf_conv(x, weight, None, 2, [1, 1], "same", [1, 1]),
                             (torch.randn(1, 3, 8, 8),))
    kinds = {n.kind() for n in traced.graph.nodes()}
    assert "aten::size" not in kinds and "aten::pad" not in kinds, kinds


def test_shape_specialized_trace_pads_with_ints():
    weight = torch.randn(4, 3, 3, 3)
    x = torch.randn(1, 3, 9, 9)
    general = torch.jit.trace(lambda t: _same_conv(t, weight), (x,))
    with shape_specialized_trace():
        specialized = torch.jit.trace(lambda t: _same_conv(t, weight), (x,))
    assert "aten::size" in {n.kind() for n in general.graph.nodes()}
    assert "aten::size" not in {n.kind() for n in specialized.graph.nodes()}
    torch.testing.assert_close(specialized(x), _same_conv(x, weight))


# --- backend="onednn" ---------------------------------------------------------------------------

def _case(name):
    return next(c for c in discover("models") if c.name == name)


# graph_mobilenet_like / graph_cnn: their _FusedMatMul + bias runs as one F.linear (a matmul then
# a constant add breaks the fusion) and their SAME pads are traced as ints
@pytest.mark.parametrize("name", ["graph_mobilenet_like", "graph_cnn", "graph_keras3_depthwise_bn",
                                  "mobilenet_like", "multi_io_shared"])
def test_onednn_backend_matches_reference(name):
    case = _case(name)
    model = torch_tfjs.load(case.path)
    fast = torch_tfjs.optimize_for_inference(model, backend="onednn", cache_dir=False)
    args = positional_inputs(model, case)
    out = fast(*args)
    assert fast.backend == "onednn"
    assert not torch.jit.onednn_fusion_enabled()  # process-global flag restored after the call
    _compare(model, case, out)
    _compare(model, case, fast(*args))  # the cached program


@pytest.fixture
def no_cpp(monkeypatch):
    """AOTI refuses and inductor becomes eager: the fallback chain runs without compiling."""
    def refuse(*args, **kwargs):
        raise ExportError("stubbed: no C++ compile in unit tests")
    monkeypatch.setattr(inference.aoti, "compile_package", refuse)
    use = inference.InferenceModel._use_torch_compile
    monkeypatch.setattr(inference.InferenceModel, "_use_torch_compile",
                        lambda self, backend: use(self, "eager" if backend == "inductor" else backend))


@pytest.mark.parametrize("name", sorted(UNTRACEABLE))
def test_control_flow_falls_back_before_tracing(name, no_cpp, caplog, monkeypatch):
    case = _case(name)
    model = torch_tfjs.load(case.path)
    traced = []
    monkeypatch.setattr(torch.jit, "trace", lambda *a, **k: traced.append(a))
    fast = torch_tfjs.optimize_for_inference(model, backend="onednn", cache_dir=False)
    feed = {n: torch.from_numpy(np.ascontiguousarray(x)) for n, x in zip(case.input_names(), case.inputs())}
    feed = {n: (v.reshape(()) if v.numel() == 1 and v.dim() == 1 else v) for n, v in feed.items()}
    with caplog.at_level(logging.WARNING, logger="torch_tfjs"):
        out = fast(feed)
    assert not traced, "the model was traced"
    assert fast.backend == "eager"  # onednn → aoti (stubbed refusal) → torch.compile
    text = caplog.text
    assert "backend='onednn' cannot run GraphModel" in text and "While" in text
    with torch.no_grad():
        want = model(feed)
    for a, b in zip(out if isinstance(out, list) else [out], want if isinstance(want, list) else [want]):
        torch.testing.assert_close(a, b)


def test_wrong_trace_falls_back(no_cpp, caplog, monkeypatch):
    # a trace whose outputs differ from eager (here: forced) is not used
    case = _case("graph_keras3_residual")
    model = torch_tfjs.load(case.path)
    real = _jit_backend._warm_up
    monkeypatch.setattr(_jit_backend, "_warm_up",
                        lambda program, args, expected: real(program, args, _plus_one(expected)))
    fast = torch_tfjs.optimize_for_inference(model, backend="onednn", cache_dir=False)
    args = positional_inputs(model, case)
    with caplog.at_level(logging.WARNING, logger="torch_tfjs"):
        out = fast(*args)
    assert fast.backend == "eager"
    assert "differs from eager" in caplog.text
    _compare(model, case, out)


def _plus_one(out):
    return [t + 1 for t in out] if isinstance(out, list) else out + 1


def test_check_close_tolerance():
    want = torch.tensor([100.0, -2.0])
    _jit_backend._check_close(want + 0.009, want)  # 1e-4 * 100
    with pytest.raises(_jit_backend.JitBackendError, match="differs from eager"):
        _jit_backend._check_close(want + 0.02, want)
    with pytest.raises(_jit_backend.JitBackendError, match="outputs"):
        _jit_backend._check_close([want], [want, want])


def test_onednn_is_per_shape_only():
    model = torch_tfjs.load(_case("graph_keras3_residual").path)
    with pytest.raises(ExportError, match="dynamic=True"):
        torch_tfjs.optimize_for_inference(model, backend="onednn", dynamic=True)
