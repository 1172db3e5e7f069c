"""GraphModels are plain torch.fx code: torch.compile(fullgraph=True), dynamic batch, torch.export
and torch.jit.trace all reproduce the eager outputs (and a CUDA copy matches the CPU result).

Backends: graph_cnn and graph_transformer_block compile with ``inductor`` (real C++ code
generation on CPU); graph_mobilenet_like and the per-op fixtures with ``aot_eager`` (the same
Dynamo capture and AOTAutograd lowering without the C++ build: a cold inductor compile costs
5-20 s per model on a 2-core machine, and this file should stay under about a minute). A graph
break is a Dynamo error under ``fullgraph=True`` whatever the backend. The CUDA test uses
inductor.
"""

from __future__ import annotations

import functools
from typing import List

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import FIXTURES, Case, assert_matches, discover

MODELS = ["graph_cnn", "graph_mobilenet_like", "graph_transformer_block"]
PER_OP = [
    "convolution/conv2d_bias_relu6",
    "convolution/depthwise_bias_relu",
    "convolution/conv2d_transpose",
    "convolution/max_pool_same",
    "matrices/batch_matmul_broadcast_adj",
    "matrices/einsum_attention",
    "normalization/fused_batch_norm_inference",
    "normalization/lrn",
    "image/resize_bilinear_half_pixel",
    "image/crop_and_resize_bilinear",
    "slice_join/strided_ellipsis",
    "slice_join/gather_nd",
    "transformation/mirror_pad_reflect",
    "transformation/depth_to_space",
    "arithmetic/floormod_float",
]
RTOL = 1e-5


def _case(rel: str) -> Case:
    kind, _, name = rel.partition("/")
    for case in discover(kind):
        if case.id == rel:
            return case
    raise LookupError(f"no fixture {FIXTURES / rel}")


CASES = [f"models/{m}" for m in MODELS] + [f"graph/{p}" for p in PER_OP]


# inductor (C++ codegen) for two whole models; the rest aot_eager (see the module docstring).
INDUCTOR = {"models/graph_cnn", "models/graph_transformer_block"}


def _backend(rel: str) -> str:
    return "inductor" if rel in INDUCTOR else "aot_eager"


@functools.lru_cache(maxsize=None)
def _load(rel: str):
    case = _case(rel)
    model = torch_tfjs.load_graph_model(case.path).eval()
    inputs = case.inputs()
    names = case.input_names()
    if all(names) and sorted(names) == sorted(model.input_names):  # signature order
        inputs = [inputs[names.index(k)] for k in model.input_names]
    args = tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs)
    with torch.no_grad():
        eager = _as_list(model(*args))
    return case, model, args, eager


def _as_list(out) -> List[torch.Tensor]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _check(actual, expected: List[torch.Tensor], tol: float, what: str) -> None:
    actual = _as_list(actual)
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, eager has {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.dtype == e.dtype, f"{what} output {i}: dtype {a.dtype} != eager {e.dtype}"
        assert_matches(a.detach().cpu(), e.numpy(), tol, f"{what} output {i}")


def test_fixtures_exist():
    for rel in CASES:
        _case(rel)


@pytest.mark.parametrize("rel", CASES)
def test_compile_fullgraph(rel):
    case, model, args, eager = _load(rel)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend=_backend(rel))
    with torch.no_grad():
        out = compiled(*args)
    _check(out, eager, RTOL, f"{rel} torch.compile({_backend(rel)})")
    # and the eager result is still the tfjs reference
    for i, (e, ref) in enumerate(zip(eager, case.outputs())):
        assert_matches(e, ref, case.tolerance, f"{rel} eager output {i}")


def _tiled(x: torch.Tensor, batch: int) -> torch.Tensor:
    reps = -(-batch // x.shape[0])
    return x.repeat(reps, *([1] * (x.dim() - 1)))[:batch].clone()  # a fresh tensor, not a view


@pytest.mark.parametrize("name,backend", [("graph_cnn", "inductor"),
                                          ("graph_mobilenet_like", "aot_eager")])
def test_compile_dynamic_batch(name, backend):
    """dynamic=True with the non-batch dims marked static (a dynamic *batch*; all-symbolic H/W/C
    also work but make the SAME-padding guards slow to build, and with duck sizing a batch equal to
    the channel count would be merged with it and specialized). Batch 3 then 5 share one graph;
    batch 1 recompiles once (Dynamo specializes sizes 0/1)."""
    _, model, (x,), _ = _load(f"models/{name}")
    torch._dynamo.reset()
    counters = torch._dynamo.utils.counters
    counters.clear()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend=backend)
    with torch.no_grad():
        for batch in (3, 5, 1):
            xb = _tiled(x, batch)
            for dim in range(1, xb.dim()):
                torch._dynamo.mark_static(xb, dim)
            expected = _as_list(model(xb))
            assert expected[0].shape[0] == batch
            _check(compiled(xb), expected, RTOL, f"{name} dynamic ({backend}) batch {batch}")
            if batch == 5:
                assert counters["stats"]["unique_graphs"] == 1, "batch 5 recompiled after batch 3"


@pytest.mark.parametrize("rel", CASES)
def test_torch_export(rel):
    _, model, args, eager = _load(rel)
    exported = torch.export.export(model, args)
    with torch.no_grad():
        out = exported.module()(*args)
    _check(out, eager, RTOL, f"{rel} torch.export")


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # shapes are baked in, as traces do
@pytest.mark.parametrize("rel", CASES)
def test_jit_trace(rel):
    _, model, args, eager = _load(rel)
    with torch.no_grad():
        traced = torch.jit.trace(model, args, strict=False, check_trace=False)
        out = traced(*args)
    _check(out, eager, RTOL, f"{rel} torch.jit.trace")


@pytest.mark.gpu
@pytest.mark.parametrize("name", MODELS)
def test_cuda_compiled_matches_cpu(name):
    case = _case(f"models/{name}")
    _, cpu_model, args, eager = _load(f"models/{name}")
    model = torch_tfjs.load_graph_model(case.path, device="cuda").eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        out = compiled(*[a.cuda() for a in args])
    outs = _as_list(out)
    assert all(o.device.type == "cuda" for o in outs)
    _check(outs, eager, 1e-4, f"{name} cuda compiled vs cpu eager")


@pytest.mark.parametrize("rel", ["graph/control/while_sum_v2", "graph/control/while_nested",
                                 "graph/dynamic/nms_v5_soft_raw"])
def test_loops_and_nms_run_eagerly_inside_compiled_graphs(rel):
    """TF While loops and NMS's Python heap loop are not traced by Dynamo (compiler.disable):
    traced, every evaluation of the loop condition broke the graph and each iteration compiled
    anew (a real SSD detector: over 10 minutes before its first output). The number of graphs
    Dynamo hands the backend must not grow with the trip count, and the outputs are tfjs's."""
    import torch._dynamo

    case = _case(rel)

    graphs: List[torch.fx.GraphModule] = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    model = torch_tfjs.load_graph_model(case.path).eval()
    by_name = dict(zip(case.input_names(), case.inputs()))  # (scalar inputs stay 0-d)
    args = [torch.from_numpy(np.asarray(by_name[name])) for name in model.input_names]
    compiled = torch.compile(model, backend=counting_backend)
    with torch.no_grad():
        outputs = compiled(*args)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    for got, want in zip(outputs, case.outputs()):
        assert_matches(got, want, case.tolerance, rel)
    assert len(graphs) <= 4, f"{len(graphs)} graphs compiled for {rel}"
    torch._dynamo.reset()
