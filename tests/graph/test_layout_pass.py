"""The layout pass (graph/layout.py) and shape simplification (graph/simplify.py): rewritten graphs
compute exactly what the imported ones do, and the axis moves between convs are gone."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import fx

import torch_tfjs
from torch_tfjs._layout import to_channels_first, to_channels_last
from torch_tfjs.graph.layout import optimize_layout
from torch_tfjs.graph.ops.arithmetic import add, mul
from torch_tfjs.graph.ops.basic_math import relu6
from torch_tfjs.graph.ops.convolution import fused_conv_nd, pool_nd
from torch_tfjs.graph.ops.reduction import reduce_max, reduce_mean, reduce_sum
from torch_tfjs.graph.ops.transformation import pad_constant

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _conv(graph: fx.Graph, x: fx.Node, weight: str, channels: int) -> fx.Node:
    w = graph.get_attr(weight)
    return graph.call_function(fused_conv_nd, (x, w, None, 2, [1, 1], "same", None, [1, 1], 1, True,
                                               None, 0.0, "relu", None, True))


def _module(graph: fx.Graph, root: torch.nn.Module) -> fx.GraphModule:
    return fx.GraphModule(root, graph)


def _root(channels: int = 4) -> torch.nn.Module:
    torch.manual_seed(0)
    root = torch.nn.Module()
    root.w1 = torch.nn.Parameter(torch.randn(channels, 3, 3, 3).contiguous(memory_format=torch.channels_last))
    root.w2 = torch.nn.Parameter(torch.randn(channels, channels, 1, 1).contiguous(memory_format=torch.channels_last))
    root.per_channel = torch.nn.Parameter(torch.randn(channels))           # broadcasts over C
    root.per_column = torch.nn.Parameter(torch.randn(5, channels))         # (W, C)
    root.full = torch.nn.Parameter(torch.randn(1, 6, 5, channels))         # (1, H, W, C)
    root.scalar = torch.nn.Parameter(torch.tensor(0.5))
    root.shift = torch.nn.Parameter(torch.randn(1, 1, 1, channels))       # Keras 3 BN's shift
    return root


def _moves(module: fx.GraphModule) -> int:
    return sum(1 for n in module.graph.nodes if n.op == "call_function"
               and n.target in (to_channels_first, to_channels_last))


def _check(build, expected_moves: int, inputs=None) -> torch.Tensor:
    """Build a graph twice, rewrite one, compare outputs and count the axis moves left; returns
    the output."""
    root = _root()
    graph = fx.Graph()
    build(graph, root)
    reference = _module(copy.deepcopy(graph), root)
    optimize_layout(graph, root)
    graph.lint()
    optimized = _module(graph, root)
    x = inputs if inputs is not None else torch.randn(2, 6, 5, 3)
    expected, got = reference(x), optimized(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert got.shape == expected.shape
    assert _moves(optimized) == expected_moves, optimized.code
    return got


def test_conv_chain_keeps_nchw_inside():
    def build(g, root):
        x = g.placeholder("x")
        y = _conv(g, x, "w1", 4)
        y = g.call_function(relu6, (y,))
        z = _conv(g, y, "w2", 4)
        g.output(g.call_function(add, (y, z)))
    _check(build, expected_moves=2)  # one at the input, one at the output


@pytest.mark.parametrize("constant", ["scalar", "per_channel", "per_column", "full"])
def test_elementwise_constant_operands_are_viewed_to_match(constant):
    def build(g, root):
        x = g.placeholder("x")
        y = _conv(g, x, "w1", 4)
        y = g.call_function(mul, (y, g.get_attr(constant)))
        g.output(_conv(g, y, "w2", 4))
    _check(build, expected_moves=2)


@pytest.mark.parametrize("bias", ["scalar", "per_channel", "shift", "per_column", "full"])
def test_fused_conv_broadcast_bias_runs_on_nchw_views(bias):
    """A fused conv's bias shaped for the channels-last output ([1, 1, 1, C] from TF >= 2.16's
    BatchNormalization folding, or one varying over H and W) stays correct when the pass runs
    the conv on NCHW views, and the chain stays NCHW inside."""
    def build(g, root):
        x = g.placeholder("x")
        y = _conv(g, x, "w1", 4)
        y = g.call_function(fused_conv_nd, (y, g.get_attr("w2"), g.get_attr(bias), 2, [1, 1], "same",
                                            None, [1, 1], 1, True, None, 0.0, "relu", None, True))
        g.output(_conv(g, y, "w2", 4))
    x = torch.randn(2, 6, 5, 3)
    got = _check(build, expected_moves=2, inputs=x)
    root = _root()  # the same seeded weights, computed channels-last by hand
    conv = lambda t, w, pad: torch.nn.functional.conv2d(t.permute(0, 3, 1, 2), w, padding=pad).permute(0, 2, 3, 1)  # noqa: E731
    with torch.no_grad():
        y = torch.relu(conv(x, root.w1, 1))
        y = torch.relu(conv(y, root.w2, 0) + getattr(root, bias))
        expected = torch.relu(conv(y, root.w2, 0))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_dynamic_operand_of_unknown_layout_stops_the_move():
    def build(g, root):
        x = g.placeholder("x")
        y = _conv(g, x, "w1", 4)
        other = g.call_function(torch.ones_like, (y,))  # shape unknown to the pass
        g.output(g.call_function(add, (y, other)))
    _check(build, expected_moves=2)  # the add runs channels-last


@pytest.mark.parametrize("pads", [[0, 0, 0, 1, 0, 1, 0, 0], [0, 0, 1, 2], [1, 1, 2, 0, 0, 3, 0, 0]])
def test_pad_moves_with_reordered_pads(pads):
    def build(g, root):
        x = g.placeholder("x")
        y = _conv(g, x, "w1", 4)
        y = g.call_function(pad_constant, (y, pads, -1.5))
        g.output(g.call_function(pool_nd, (y, "max", 2, [2, 2], [2, 2], "valid", True)))
    _check(build, expected_moves=2)


@pytest.mark.parametrize("fn", [reduce_mean, reduce_sum, reduce_max])
@pytest.mark.parametrize("axes,keep,moves", [
    ([1, 2], False, 1),   # global pooling: (N, C) in both views
    ([1, 2], True, 2),    # stays 4-D channels-last
    ([3], False, 1),      # channel reduced: (N, H, W) in both views
    ([-1, 1], True, 2),
    ([2], False, 2),      # (N, H, C) vs (N, C, H): not rewritten
])
def test_reductions(fn, axes, keep, moves):
    def build(g, root):
        x = g.placeholder("x")
        y = _conv(g, x, "w1", 4)
        g.output(g.call_function(fn, (y, axes, keep)))
    _check(build, expected_moves=moves)


def test_prelu_weights_keep_the_channels_last_call():
    def build(g, root):
        x = g.placeholder("x")
        w = g.get_attr("w1")
        g.output(g.call_function(fused_conv_nd, (x, w, None, 2, [1, 1], "same", None, [1, 1], 1, True,
                                                 None, 0.0, "prelu", g.get_attr("per_channel"), True)))
    _check(build, expected_moves=0)  # not split: the alpha tensor is laid out for NHWC


@pytest.mark.parametrize("name", ["graph_mobilenet_like", "graph_cnn"])
def test_imported_cnn_has_axis_moves_only_at_its_edges(name):
    model = torch_tfjs.load_graph_model(FIXTURES / "models" / name)
    convs = sum(1 for n in model.graph_module.graph.nodes if n.target is fused_conv_nd)
    assert convs >= 3
    assert _moves(model.graph_module) <= 2, model.graph_module.code


def _reshape_chain(g: fx.Graph, root: torch.nn.Module, x: fx.Node, shape_of: fx.Node) -> fx.Node:
    """TF's ``Reshape(x, Pack([StridedSlice(Shape(shape_of), [0]), 2, 1, 4]))``."""
    from torch_tfjs.graph.ops.graph import _shape
    from torch_tfjs.graph.ops.slice_join import strided_slice
    from torch_tfjs.graph.ops.transformation import reshape_dynamic
    for i, v in enumerate((2, 1, 4)):
        root.register_buffer(f"c{i}", torch.tensor(v, dtype=torch.int32))
    batch = g.call_function(strided_slice, (g.call_function(_shape, (shape_of,)), [0]))
    target = g.call_function(torch.stack, ([batch, g.get_attr("c0"), g.get_attr("c1"), g.get_attr("c2")], 0))
    return g.call_function(reshape_dynamic, (x, target))


def _simplified(build, *inputs):
    from torch_tfjs.graph.simplify import simplify_shapes
    root = torch.nn.Module()
    g = fx.Graph()
    build(g, root)
    reference = fx.GraphModule(root, copy.deepcopy(g))
    simplify_shapes(g, root)
    g.lint()
    simplified = fx.GraphModule(root, g)
    for got, want in zip(_flat(simplified(*inputs)), _flat(reference(*inputs))):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    return simplified, [n.target for n in g.nodes if n.op == "call_function"]


def _flat(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("own", [True, False])
def test_reshape_by_shape_becomes_one_call(own):
    from torch_tfjs.graph.simplify import reshape_to_spec

    def build(g, root):
        x, y = g.placeholder("x"), g.placeholder("y")
        g.output(_reshape_chain(g, root, x, x if own else y))
    simplified, targets = _simplified(build, torch.randn(3, 8), torch.randn(3, 2))
    assert targets == [reshape_to_spec], targets
    with pytest.raises(RuntimeError):  # a shape TF would reject is still an error
        simplified(torch.randn(3, 7), torch.randn(3, 2))


def test_tensordot_and_layer_norm_shape_chains():
    """Keras Dense on 3-D input (tensordot: Shape → GatherV2 → Prod → Pack → Reshape → MatMul →
    Reshape(ConcatV2)) and LayerNormalization's Fill(ExpandDims(Prod(StridedSlice(Shape))))."""
    from torch_tfjs.graph.ops.creation import fill
    from torch_tfjs.graph.ops.graph import _shape
    from torch_tfjs.graph.ops.reduction import reduce_prod
    from torch_tfjs.graph.ops.slice_join import concat, gather, strided_slice
    from torch_tfjs.graph.ops.transformation import expand_dims, reshape_dynamic
    from torch_tfjs.graph.simplify import fill_to_spec, reshape_to_spec

    def build(g, root):
        root.register_buffer("free", torch.tensor([0, 1], dtype=torch.int32))
        root.register_buffer("axes", torch.tensor([2], dtype=torch.int32))
        root.register_buffer("out", torch.tensor([5], dtype=torch.int32))
        root.register_buffer("one", torch.tensor(1.0))
        root.w = torch.nn.Parameter(torch.randn(4, 5))
        x = g.placeholder("x")
        shape = g.call_function(_shape, (x,))
        free = g.call_function(gather, (shape, g.get_attr("free"), 0, 0))
        axes = g.call_function(gather, (shape, g.get_attr("axes"), 0, 0))
        target = g.call_function(torch.stack, ([g.call_function(reduce_prod, (free, [0], False)),
                                                g.call_function(reduce_prod, (axes, [0], False))], 0))
        flat = g.call_function(reshape_dynamic, (x, target))
        y = g.call_function(torch.matmul, (flat, g.get_attr("w")))
        y = g.call_function(reshape_dynamic, (y, g.call_function(concat, ([free, g.get_attr("out")], 0))))
        rows = g.call_function(reduce_prod, (g.call_function(strided_slice, (shape, [slice(None, 2, 1)])), [0], False))
        tail = g.call_function(reduce_prod, (g.call_function(strided_slice, (shape, [slice(2, None, 1)])), [0], False))
        ones = g.call_function(fill, (g.call_function(expand_dims, (rows, 0)), g.get_attr("one")))
        g.output((y, ones, g.call_function(fill, (g.call_function(expand_dims, (tail, 0)), g.get_attr("one")))))
    _, targets = _simplified(build, torch.randn(2, 3, 4))
    assert sorted(t.__name__ for t in targets) == sorted(
        ["reshape_to_spec", "matmul", "reshape_to_spec", "fill_to_spec", "fill_to_spec"]), targets


def test_unet_decoder_transposed_conv_bias_and_concat_stay_nchw():
    from torch_tfjs.graph.ops.arithmetic import bias_add
    from torch_tfjs.graph.ops.convolution import conv2d_backprop_input
    from torch_tfjs.graph.ops.slice_join import concat

    def build(g, root):
        root.up = torch.nn.Parameter(torch.randn(4, 4, 2, 2))   # conv_transpose layout (in, out, kh, kw)
        root.up_bias = torch.nn.Parameter(torch.randn(4))
        root.w3 = torch.nn.Parameter(torch.randn(4, 8, 1, 1).contiguous(memory_format=torch.channels_last))
        x = g.placeholder("x")
        skip = _conv(g, x, "w1", 4)                                     # (2, 6, 5, 4)
        low = g.call_function(pool_nd, (skip, "max", 2, [2, 2], [2, 2], "same", True))  # (2, 3, 3, 4)
        up = g.call_function(conv2d_backprop_input, ([2, 6, 5, 4], g.get_attr("up"), low, [2, 2], "same",
                                                      None, [1, 1], True))
        up = g.call_function(bias_add, (up, g.get_attr("up_bias"), False))
        joined = g.call_function(concat, ([up, skip], -1))
        g.output(_conv(g, joined, "w3", 4))
    _check(build, expected_moves=2)


def test_keras_layer_norm_lowering_becomes_layer_norm():
    """Keras LayerNormalization as TF lowers it: Reshape to [1, rows, cols, 1] → FusedBatchNorm
    (NCHW, training, ones/zeros from Fill, empty moments) → Reshape back."""
    import operator

    from torch_tfjs.graph.idioms import fold_idioms, layer_norm_trailing
    from torch_tfjs.graph.ops.creation import fill
    from torch_tfjs.graph.ops.graph import _shape
    from torch_tfjs.graph.ops.normalization import fused_batch_norm
    from torch_tfjs.graph.ops.reduction import reduce_prod
    from torch_tfjs.graph.ops.slice_join import strided_slice
    from torch_tfjs.graph.ops.transformation import expand_dims, reshape_dynamic
    from torch_tfjs.graph.simplify import simplify_shapes

    root = torch.nn.Module()
    for name, value in (("one_i", 1), ("one", 1.0), ("zero", 0.0)):
        root.register_buffer(name, torch.tensor(value, dtype=torch.int32 if name == "one_i" else torch.float32))
    root.register_buffer("empty", torch.zeros(0))
    g = fx.Graph()
    x = g.placeholder("x")
    shape = g.call_function(_shape, (x,))
    rows = g.call_function(reduce_prod, (g.call_function(strided_slice, (shape, [slice(None, 2, 1)])), [0], False))
    cols = g.call_function(reduce_prod, (g.call_function(strided_slice, (shape, [slice(2, None, 1)])), [0], False))
    ones = g.call_function(fill, (g.call_function(expand_dims, (rows, 0)), g.get_attr("one")))
    zeros = g.call_function(fill, (g.call_function(expand_dims, (rows, 0)), g.get_attr("zero")))
    flat = g.call_function(reshape_dynamic, (x, g.call_function(
        torch.stack, ([g.get_attr("one_i"), rows, cols, g.get_attr("one_i")], 0))))
    bn = g.call_function(fused_batch_norm, (flat, ones, zeros, g.get_attr("empty"), g.get_attr("empty"), 1e-3, 1))
    outs = [g.call_function(operator.getitem, (bn, i)) for i in range(6)]
    g.output(g.call_function(reshape_dynamic, (outs[0], shape)))
    reference = fx.GraphModule(root, copy.deepcopy(g))
    simplify_shapes(g, root)
    fold_idioms(g, root)
    g.lint()
    folded = fx.GraphModule(root, g)
    assert [n.target for n in g.nodes if n.op == "call_function"] == [layer_norm_trailing], folded.code
    x = torch.randn(2, 5, 3, 4) * 3 + 1
    torch.testing.assert_close(folded(x), reference(x), rtol=1e-5, atol=1e-5)
