"""TF SAME padding plans (torch_tfjs._padding.same_plan): worked out once per shape for plain
int sizes, the same answer as solving it anew, and never cached for traced sizes."""

from __future__ import annotations

import itertools

import torch

from torch_tfjs._padding import _same_plan_for, needs_pad, same_pads_nd, same_plan, split_symmetric


def test_cached_plan_is_the_solved_plan():
    for size, kernel, stride, dilation in itertools.product(range(1, 12), range(1, 6), range(1, 4),
                                                            range(1, 3)):
        sizes, kernels = (size, size + 1), (kernel, 1)
        strides, dilations = (stride, 1), (dilation, 1)
        symmetric, f_pad = split_symmetric(same_pads_nd(sizes, kernels, strides, dilations))
        plan = same_plan(torch.Size(sizes), list(kernels), strides, dilations)
        assert plan == (tuple(symmetric), tuple(f_pad), needs_pad(f_pad)), (sizes, kernels, strides)
    before = _same_plan_for.cache_info().hits
    same_plan((7, 7), (3, 3), (2, 2), (1, 1))
    same_plan((7, 7), (3, 3), (2, 2), (1, 1))
    assert _same_plan_for.cache_info().hits > before


def test_traced_sizes_are_not_cached():
    """Under torch.jit.trace the sizes are tensors: the plan is arithmetic on them (a trace that
    holds for every size), not the example's cached ints."""
    sizes = (torch.tensor(7), torch.tensor(8))
    misses = _same_plan_for.cache_info().misses
    symmetric, f_pad, padded = same_plan(sizes, (3, 3), (2, 2), (1, 1))
    assert _same_plan_for.cache_info().misses == misses
    assert padded and any(isinstance(v, torch.Tensor) for v in f_pad)
