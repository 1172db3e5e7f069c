"""Small-convolution lowering (torch_tfjs._lowering): the lowered computations equal F.conv2d,
the cost model decides at its calibrated boundaries, and lowered fixture programs still match
their tfjs references with fewer convolution nodes. No C++ compiles except the one test marked
slow (numerics run eagerly on ``program.module()``)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torch_tfjs import _lowering as L
from torch_tfjs.errors import ExportError
from torch_tfjs.programs import export_program
from fixture_cases import assert_matches, discover

#: Max |lowered - F.conv2d in float32| relative to max(1, max |reference|), per dtype.
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


def _reference(x, w, b, stride, padding, dilation, groups):
    """F.conv2d in float32 on the same (rounded) values."""
    return F.conv2d(x.float(), w.float(), None if b is None else b.float(), stride, padding,
                    dilation, groups)


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    assert actual.dtype == dtype and actual.shape == expected.shape
    err = float((actual.float() - expected).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    assert err <= TOLERANCE[dtype] * scale, f"max|d| = {err:.3g}"


def _inputs(batch, cin, cout, kernel, groups, bias, dtype, channels_last, size=9):
    x = torch.randn(batch, cin, size, size).to(dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(cout, cin // groups, kernel, kernel).to(dtype)
    b = torch.randn(cout).to(dtype) if bias else None
    return x, w, b


DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("stride,dilation,padding,multiplier,bias", list(itertools.product(
    [1, 2], [1, 2], [0, 2], [1, 3], [True, False])))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("channels_last", [True, False], ids=["nhwc", "nchw"])
def test_depthwise_equals_conv2d(stride, dilation, padding, multiplier, bias, dtype, channels_last):
    cin = 5
    x, w, b = _inputs(2, cin, cin * multiplier, 3, cin, bias, dtype, channels_last)
    decomposition = L.ConvolutionDecomposition(L.lower_always)
    out = decomposition(x, w, b, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0], cin)
    assert out is not NotImplemented
    _assert_close(out, _reference(x, w, b, stride, padding, dilation, cin), dtype)
    # channels-last in, channels-last out: the next op reads it without a copy
    assert out.is_contiguous(memory_format=torch.channels_last) or not channels_last


@pytest.mark.parametrize("kernel", [1, 5])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_depthwise_other_kernels_equal_conv2d(kernel, dtype):
    x, w, b = _inputs(1, 4, 8, kernel, 4, True, dtype, True, size=11)
    out = L.depthwise_nhwc(x, w, b, (2, 1), (kernel // 2, 0), (1, 2))
    _assert_close(out, _reference(x, w, b, (2, 1), (kernel // 2, 0), (1, 2), 4), dtype)


@pytest.mark.parametrize("stride,padding,bias",
                         list(itertools.product([1, 2], [0, 1], [True, False])))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("channels_last", [True, False], ids=["nhwc", "nchw"])
def test_pointwise_equals_conv2d(stride, padding, bias, dtype, channels_last):
    x, w, b = _inputs(3, 6, 10, 1, 1, bias, dtype, channels_last)
    decomposition = L.ConvolutionDecomposition(L.lower_always)
    out = decomposition(x, w, b, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1)
    assert out is not NotImplemented
    _assert_close(out, _reference(x, w, b, stride, padding, 1, 1), dtype)
    assert out.is_contiguous(memory_format=torch.channels_last) or not channels_last


@pytest.mark.parametrize("args", [
    dict(kernel=3, groups=1, cin=4, cout=8),   # an ordinary 3×3 conv
    dict(kernel=1, groups=2, cin=4, cout=8),   # grouped 1×1, not depthwise
    dict(kernel=3, groups=2, cin=4, cout=4),   # grouped 3×3
], ids=["full3x3", "grouped1x1", "grouped3x3"])
def test_other_convolutions_are_kept(args):
    x = torch.randn(1, args["cin"], 6, 6)
    w = torch.randn(args["cout"], args["cin"] // args["groups"], args["kernel"], args["kernel"])
    decomposition = L.ConvolutionDecomposition(L.lower_always)
    kept = decomposition(x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], args["groups"])
    assert kept is NotImplemented
    transposed = decomposition(x, torch.randn(4, 4, 1, 1), None, [1, 1], [0, 0], [1, 1], True,
                               [0, 0], 1)
    assert transposed is NotImplemented


# --------------------------------------------------------------------------------------------
# The cost model
# --------------------------------------------------------------------------------------------

def _depthwise(batch, size, channels, kernel=3, stride=1, dtype=torch.float32):
    return L.ConvShape(batch, channels, channels, size, size, (kernel, kernel), (stride, stride),
                       (kernel // 2, kernel // 2), (1, 1), channels, dtype)


def _pointwise(batch, size, cin, cout, dtype=torch.float32):
    return L.ConvShape(batch, cin, cout, size, size, (1, 1), dtype=dtype)


def test_should_lower_at_the_depthwise_boundary():
    # 3×3 stride 1: MACs = N·H·W·C·9; the largest C at 12×12, batch 1, within the threshold
    channels = L.DEPTHWISE_MAX_MACS // (12 * 12 * 9)
    assert _depthwise(1, 12, channels).macs <= L.DEPTHWISE_MAX_MACS
    assert L.should_lower(_depthwise(1, 12, channels))
    assert not L.should_lower(_depthwise(1, 12, channels + 1))
    # batch counts: what one call does is what the fixed oneDNN call cost is weighed against
    assert not L.should_lower(_depthwise(8, 12, channels))
    # stride 2 quarters the work
    assert L.should_lower(_depthwise(1, 24, channels, stride=2))
    # 5×5 by the same budget; kernels above DEPTHWISE_MAX_KERNEL never, however small
    assert L.DEPTHWISE_MAX_KERNEL == 5
    assert L.should_lower(_depthwise(1, 4, 8, kernel=5))
    assert not L.should_lower(_depthwise(1, 4, 8, kernel=7))


def test_should_lower_at_the_pointwise_boundary():
    cin = 16
    cout = L.POINTWISE_MAX_MACS // (8 * 8 * cin)
    assert L.should_lower(_pointwise(1, 8, cin, cout))
    assert not L.should_lower(_pointwise(1, 8, cin, cout + 1))
    assert not L.should_lower(_pointwise(2, 8, cin, cout))


def test_should_lower_only_lowered_dtypes_and_kinds():
    assert L.should_lower(_pointwise(1, 4, 8, 8))
    for dtype in (torch.float64, torch.float16, torch.bfloat16):  # not calibrated: kept
        assert not L.should_lower(_pointwise(1, 4, 8, 8, dtype=dtype))
    grouped = L.ConvShape(1, 8, 8, 4, 4, (1, 1), groups=2)
    full = L.ConvShape(1, 8, 8, 4, 4, (3, 3), padding=(1, 1))
    assert grouped.kind is None and full.kind is None
    assert not L.should_lower(grouped) and not L.should_lower(full)
    # a depth multiplier is still depthwise
    assert L.ConvShape(1, 8, 24, 4, 4, (3, 3), groups=8).kind == "depthwise"


def test_bad_arguments_are_typed_errors():
    with pytest.raises(ExportError, match="decide must be callable"):
        L.conv_decompositions(decide=3)  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="batch must be a positive int"):
        L.conv_decompositions(batch=0)
    with pytest.raises(ExportError, match="expected a torch.export.ExportedProgram"):
        L.lower_small_convs(nn.Conv2d(1, 1, 1))


# --------------------------------------------------------------------------------------------
# Exported programs
# --------------------------------------------------------------------------------------------

class _Block(nn.Module):
    """Depthwise (multiplier 2, stride 2, dilation 1) + ReLU6 then 1×1 + bias."""

    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4, bias=False)
        self.pw = nn.Conv2d(8, 6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(torch.clamp(self.dw(x), 0, 6))


@pytest.fixture(scope="module")
def exported_block():
    """The block and its program with batch and spatial sizes symbolic (hints 2, 10×10)."""
    from torch.export import Dim

    torch.manual_seed(0)
    model = _Block().eval()
    x = torch.randn(2, 4, 10, 10).contiguous(memory_format=torch.channels_last)
    spec = ({0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO},)
    return model, torch.export.export(model, (x,), dynamic_shapes=spec)


def test_program_with_symbolic_sizes_lowers_and_stays_dynamic(exported_block):
    model, program = exported_block
    lowered = L.lower_small_convs(program)  # hints: batch 2, 10×10: both convs small
    assert L.count_convolutions(program) == 2 and L.count_convolutions(lowered) == 0
    for shape in [(1, 4, 10, 10), (5, 4, 7, 13)]:  # other batch and spatial sizes: no guard added
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            out = lowered.module()(x)
            expected = model(x)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
        assert out.is_contiguous(memory_format=torch.channels_last)


def test_batch_override_and_default_decompositions_merge(exported_block):
    _, program = exported_block
    # the cost model assuming batch 10**6: nothing is small any more
    assert L.count_convolutions(L.lower_small_convs(program, batch=10 ** 6)) == 2
    # merged into the core-ATen table (how an AOTInductor flow would use it)
    table = torch.export.default_decompositions()
    table.update(L.conv_decompositions())
    core = program.run_decompositions(table)
    assert L.count_convolutions(core) == 0


# --------------------------------------------------------------------------------------------
# Fixture models: exported, lowered, still the tfjs reference
# --------------------------------------------------------------------------------------------

def _conv_cases():
    """Fixture models holding convolutions (each has depthwise or 1×1 ones small enough to
    lower); weight-encoding variants of the same graph (sharded, float16, uint8, uint16) are
    left out (same program), as are models without convolutions (the table decomposes
    nothing else)."""
    out = []
    for case in discover("models"):
        ops = " ".join(case.meta.get("ops", []) + case.meta.get("covers", []))
        if "Conv" not in ops or case.name.endswith(("_sharded", "_uint8", "_uint16", "_float16")):
            continue
        out.append(pytest.param(case, id=case.name))
    return out


def _small_conv_nodes(program) -> int:
    """Convolution nodes ``should_lower`` picks, read from the nodes' recorded shapes."""
    count = 0
    for node in program.graph.nodes:
        if node.op != "call_function" or node.target not in (torch.ops.aten.conv2d.default,
                                                             torch.ops.aten.convolution.default):
            continue
        x, w = node.args[0].meta["val"], node.args[1].meta["val"]
        args = list(node.args) + [None] * 9
        stride, padding, dilation = (list(a) if a else [d, d] for a, d in
                                     zip(args[3:6], (1, 0, 1)))
        groups = args[6] if node.target is torch.ops.aten.conv2d.default else args[8]
        shape = L.conv_shape(x, w, L._pair(stride), L._pair(padding), L._pair(dilation),
                             groups or 1)
        count += shape.kind is not None and L.should_lower(shape)
    return count


@pytest.mark.parametrize("case", _conv_cases())
def test_lowered_fixture_matches_tfjs_reference(case):
    import torch_tfjs

    model = torch_tfjs.load(case.path)
    program = export_program(model)
    lowered = L.lower_small_convs(program)
    before, after = L.count_convolutions(program), L.count_convolutions(lowered)
    small = _small_conv_nodes(program)
    assert small > 0 and after == before - small, f"{before} convs, {small} small, {after} left"
    inputs = [torch.from_numpy(np.ascontiguousarray(x)) for x in case.inputs()]
    with torch.no_grad():
        out = lowered.module()(*inputs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    for i, (got, expected) in enumerate(zip(outs, case.outputs())):
        assert_matches(got, expected, case.tolerance, f"{case.name} lowered output {i}")


# --------------------------------------------------------------------------------------------
# torch.compile with frozen weights (one C++ compile)
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_compile_fx_backend_with_freezing():
    """The table as extra ``decompositions=`` of compile_fx, weights frozen: same numbers."""
    from torch._inductor import config
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.decomposition import select_decomp_table

    decided = []

    def decide(shape):  # records what the compiler asked (a closure: no compile-cache hit)
        decided.append(shape.kind)
        return L.should_lower(shape)

    def backend(gm, example_inputs):
        table = {**select_decomp_table(), **L.conv_decompositions(decide)}
        return compile_fx(gm, example_inputs, decompositions=table)

    model = _Block().eval()
    x = torch.randn(1, 4, 10, 10).contiguous(memory_format=torch.channels_last)
    torch._dynamo.reset()
    with torch.no_grad(), config.patch(freezing=True, cpp_wrapper=False):
        compiled = torch.compile(model, backend=backend)
        out = compiled(x)
        expected = model(x)
    torch._dynamo.reset()
    assert sorted(decided) == ["depthwise", "pointwise"]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last)
