"""Artifacts made by the Python ``tensorflowjs`` converter from real Keras models.

The converted model reproduces Keras's own outputs (scripts/keras/make_keras_fixtures.py). For the
quantized cases the reference is Keras run with the weights dequantized as tfjs does, and
``expected_weights.npz`` holds those weights: the reader must decode them bit-exactly.

Every case must load and match.
"""

import numpy as np
import pytest

from fixture_cases import check_layers_case, params
from torch_tfjs.io import read_artifact

CASES = params("keras")
QUANTIZED = [p for p in CASES if (p.values[0].path / "expected_weights.npz").exists()]


@pytest.mark.parametrize("case", CASES)
def test_matches_keras(case):
    check_layers_case(case)


@pytest.mark.parametrize("case", QUANTIZED)
def test_dequantizes_like_tfjs(case):
    art = read_artifact(case.path)
    with np.load(case.path / "expected_weights.npz", allow_pickle=False) as npz:
        expected = {name: npz[name] for name in npz.files}
    assert set(art.weights) == set(expected)
    for name, ref in expected.items():
        got = art.weights[name]
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        assert np.array_equal(got, ref), f"{name}: max|d| = {np.max(np.abs(got - ref)):.3g}"


def test_split_groups_fixture_has_several_groups():
    case = next(p.values[0] for p in CASES if p.values[0].name == "keras2_cnn_groups")
    art = read_artifact(case.path)
    assert len(art.weight_groups) > 1
