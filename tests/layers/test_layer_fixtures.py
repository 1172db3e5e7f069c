"""Every LayersModel fixture made by tfjs: the converted model reproduces tfjs's outputs.

Every tfjs-layers class is supported, so every case must load and match.
"""

import pytest

from fixture_cases import check_layers_case, params

CASES = [p for p in params("layers") + params("models")
         if p.values[0].meta.get("kind", "layers-model") == "layers-model"]


@pytest.mark.parametrize("case", CASES)
def test_matches_tfjs(case):
    check_layers_case(case)
