"""Fixtures shared by the export tests."""

from __future__ import annotations

import json
import shutil

import pytest

from fixture_cases import FIXTURES


@pytest.fixture(scope="module")
def free_hw(tmp_path_factory):
    """A layers Conv2D (3×3, SAME, stride 2) with batch_input_shape [null, null, null, 3]."""
    folder = tmp_path_factory.mktemp("free_hw") / "model"
    shutil.copytree(FIXTURES / "layers" / "conv" / "conv2d_k3_same_s2_odd", folder)
    raw = json.loads((folder / "model.json").read_text())
    raw["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"] = [None, None, None, 3]
    (folder / "model.json").write_text(json.dumps(raw))
    return folder
