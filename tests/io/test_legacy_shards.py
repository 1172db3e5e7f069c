"""Old converters' manifests: shard files without ``.bin``, one group per weight, groups of
several shards (tests/fixtures/graph/legacy/pb2json_cnn, see scripts/graph/make_legacy_fixtures.py)."""

import json
from pathlib import Path

import numpy as np

from torch_tfjs.io import read_artifact

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "graph" / "legacy" / "pb2json_cnn"


def test_shards_without_bin_and_many_groups_decode_as_tfjs_concatenates_them():
    manifest = json.loads((FOLDER / "model.json").read_text())["weightsManifest"]
    artifact = read_artifact(FOLDER)
    assert artifact.format == "graph-model"  # detected from the GraphDef: no "format" key
    assert len(artifact.weight_groups) == len(manifest) > 5
    for group in manifest:  # each group: its shards back to back, its weights in order
        data = b"".join((FOLDER / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            dtype = {"float32": "<f4", "int32": "<i4"}[spec["dtype"]]
            n = int(np.prod(spec["shape"], dtype=np.int64))
            expected = np.frombuffer(data, dtype, n, offset).reshape(spec["shape"])
            np.testing.assert_array_equal(artifact.weights[spec["name"]], expected)
            offset += n * 4
        assert offset == len(data)
