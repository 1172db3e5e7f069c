"""BatchNormalization's no-autograd inference path (a cached scale/shift multiply-add) agrees with
the batch_norm path used under autograd, follows changes to its statistics and weights, and
matches tfjs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torch_tfjs
from fixture_cases import FIXTURES, Case, assert_matches, discover

CASES = [c for c in discover("layers", "normalization") if c.name.startswith("batchnorm_")
         and not c.meta.get("training")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_grad_path_matches_autograd_path_and_tfjs(case: Case):
    model = torch_tfjs.load_layers_model(case.path).eval()
    inputs = [torch.from_numpy(x) for x in case.inputs()]
    with torch.no_grad():
        fast = model(*inputs)
    slow = model(*inputs)  # autograd on: F.batch_norm
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-5, atol=1e-6)
    assert_matches(fast, case.outputs()[0], case.tolerance, case.id)


def test_cached_affine_follows_in_place_updates_and_replacements():
    case = next(c for c in CASES if c.name == "batchnorm_nhwc")
    model = torch_tfjs.load_layers_model(case.path).eval()
    bn = next(m for m in model.modules() if type(m).__name__ == "BatchNormalization")
    x = torch.from_numpy(case.inputs()[0])
    with torch.no_grad():
        before = model(x)
        bn.moving_variance.mul_(4.0)          # an in-place update (an optimizer step, load_state_dict)
        after = model(x)
        bn.moving_mean = bn.moving_mean + 1.0  # a replaced tensor
        replaced = model(x)
    assert not torch.allclose(before, after)
    assert not torch.allclose(after, replaced)
    torch.testing.assert_close(replaced, model(x).detach(), rtol=1e-5, atol=1e-6)
