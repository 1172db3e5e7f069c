"""SpaceToBatchND → conv → BatchToSpaceND (TF's dilated conv lowering) as one dilated conv.

The fixtures (``tests/fixtures/graph/convolution/*dilated*``, ``atrous_conv2d_dynamic_hw``) check
the numbers against tfjs; here: the rewrite is exact for any paddings / crops, it happens, and a
model exported with unknown H/W runs at other sizes as the unfolded chain does.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import torch_tfjs
from torch_tfjs.graph import idioms
from torch_tfjs.graph.ops.convolution import conv_nd, fused_conv_nd, space_to_batch_conv
from torch_tfjs.graph.ops.transformation import batch_to_space_nd, space_to_batch_nd

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph" / "convolution"
DYNAMIC = ["depthwise_dilated_dynamic_hw", "depthwise_dilated_valid_dynamic_hw", "atrous_conv2d_dynamic_hw"]


def _chain(x, w, bias, block, paddings, crops, groups, activation):
    y = space_to_batch_nd(x, block, paddings)
    y = fused_conv_nd(y, w, bias, 2, [1, 1], "valid", None, [1, 1], groups, True, None, 0.0, activation, None,
                      True)
    return batch_to_space_nd(y, block, crops)


@pytest.mark.parametrize("block,paddings,crops", [
    ([2, 2], [[2, 3], [2, 4]], [[0, 1], [0, 2]]),    # SAME, k=3 r=2 on 9x10 (TF's own numbers)
    ([2, 3], [[0, 1], [0, 2]], [[0, 1], [0, 2]]),    # VALID: extra padding cropped again
    ([3, 2], [[1, 2], [0, 0]], [[2, 1], [0, 2]]),    # crops larger than the padding: x is cropped
])
@pytest.mark.parametrize("depthwise", [False, True])
def test_one_dilated_conv_equals_the_chain(block, paddings, crops, depthwise):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 9, 10, 4, generator=gen)
    w = torch.randn(4 if depthwise else 5, 1 if depthwise else 4, 3, 3, generator=gen)
    bias = torch.randn(w.shape[0], generator=gen)
    groups = -1 if depthwise else 1
    want = _chain(x, w, bias, block, paddings, crops, groups, "relu")
    for pads, crs in ((paddings, crops), (torch.tensor(paddings), torch.tensor(crops))):  # static, run time
        got = space_to_batch_conv(x, w, bias, pads, crs, block, groups, None, 0.0, "relu", None)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _targets(model):
    return {getattr(n.target, "__name__", str(n.target)) for n in model.graph_module.graph.nodes}


@pytest.mark.parametrize("case", DYNAMIC + ["depthwise_dilated_static_hw"])
def test_idiom_folded_at_import(case):
    targets = _targets(torch_tfjs.load_graph_model(FIXTURES / case))
    assert not targets & {"space_to_batch_nd", "space_to_batch_nd_dynamic", "batch_to_space_nd",
                          "batch_to_space_nd_dynamic"}, targets


@pytest.mark.parametrize("case", DYNAMIC)
def test_unknown_hw_runs_at_other_sizes_like_the_chain(case, monkeypatch):
    folded = torch_tfjs.load_graph_model(FIXTURES / case)
    monkeypatch.setattr(idioms, "_fold_space_to_batch_conv", lambda graph, node, root: None)
    chain = torch_tfjs.load_graph_model(FIXTURES / case)
    assert "space_to_batch_nd_dynamic" in _targets(chain)
    gen = torch.Generator().manual_seed(5)
    for h, w in ((9, 10), (12, 7), (7, 11), (16, 16)):  # VALID needs >= 5 x 7
        x = torch.randn(1, h, w, 4, generator=gen)
        with torch.no_grad():
            torch.testing.assert_close(folded(x), chain(x), rtol=1e-5, atol=1e-5)
