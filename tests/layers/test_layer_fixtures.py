"""Every LayersModel fixture made by tfjs: the converted model reproduces tfjs's outputs.

A case whose layer classes are not all supported yet is skipped with the missing classes named
(SUPPORT.md tracks them); every supported case must match.
"""

import pytest
import torch

import torch_tfjs
from fixture_cases import assert_matches, params
from torch_tfjs.errors import UnsupportedLayerError

CASES = [p for p in params("layers") + params("models")
         if p.values[0].meta.get("kind", "layers-model") == "layers-model"]


@pytest.mark.parametrize("case", CASES)
def test_matches_tfjs(case):
    try:
        model = torch_tfjs.load_layers_model(case.path)
    except UnsupportedLayerError as exc:
        pytest.skip(f"not supported yet: {', '.join(sorted(exc.missing))}")
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
