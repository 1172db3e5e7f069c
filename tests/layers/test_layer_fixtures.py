"""Every LayersModel fixture made by tfjs: the converted model reproduces tfjs's outputs.

Every tfjs-layers class is supported, so every case must load and match.
"""

import pytest
import torch

import torch_tfjs
from fixture_cases import assert_matches, params

CASES = [p for p in params("layers") + params("models")
         if p.values[0].meta.get("kind", "layers-model") == "layers-model"]


@pytest.mark.parametrize("case", CASES)
def test_matches_tfjs(case):
    model = torch_tfjs.load_layers_model(case.path)
    if case.meta.get("training"):
        model.train()
    inputs = [torch.from_numpy(x) for x in case.inputs()]
    with torch.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, list) else [out]
    expected = case.outputs()
    assert len(outs) == len(expected), f"{len(outs)} outputs, reference has {len(expected)}"
    for i, (a, e) in enumerate(zip(outs, expected)):
        assert_matches(a, e, case.tolerance, f"{case.id} output {i}")
