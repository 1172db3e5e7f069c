"""The reader decodes weights written by tfjs's own encoder exactly as tfjs decodes them."""

import json

import numpy as np
import pytest

from fixture_cases import FIXTURES
from torch_tfjs.io import read_artifact

CASES = sorted(p.parent for p in (FIXTURES / "io").glob("*/case.json"))


@pytest.mark.parametrize("folder", CASES, ids=[c.name for c in CASES])
def test_decodes_like_tfjs(folder):
    meta = json.loads((folder / "case.json").read_text())
    art = read_artifact(folder)
    assert set(art.weights) == set(meta["weights"])
    for name, expected in meta["weights"].items():
        got = art.weights[name]
        if "strings" in expected:
            assert got.dtype == object and list(got.shape) == expected["shape"]
            assert [bytes(b) for b in expected["strings"]] == list(got.reshape(-1))
        elif "complex" in expected:
            real, imag = (np.load(folder / f) for f in expected["complex"])
            assert got.dtype == np.complex64
            assert np.array_equal(got.real, real) and np.array_equal(got.imag, imag)
        else:
            ref = np.load(folder / expected["file"])
            assert got.dtype == ref.dtype and got.shape == ref.shape, name
            # bit-exact, including -0.0 and extremes
            assert got.tobytes() == ref.tobytes(), name


def test_fixture_corpus_present():
    assert {c.name for c in CASES} >= {"all_dtypes", "straddling_shards"}
