"""AttrValue encodings of every converter generation, and typed errors for anything else.

The 2019 ``pb2json`` encoding (tfjs-converter ``tools/pb2json_converter.ts``: ``JSON.stringify`` of
protobufjs messages) is checked end to end by ``tests/fixtures/graph/legacy/pb2json_cnn`` (tfjs
reference on the rewritten file, see ``scripts/graph/make_legacy_fixtures.py``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import GraphError
from torch_tfjs.graph.node import decode_attr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph"
EMPTY = {k: [] for k in ("s", "i", "f", "b", "type", "shape", "tensor", "func")}


def pb2json_list(**fields):
    """A ListValue as protobufjs stringifies it: every repeated field present."""
    return {"list": {**EMPTY, **fields}}


@pytest.mark.parametrize("raw,value", [
    ({"s": [86, 65, 76, 73, 68]}, "VALID"),                      # pb2json: Uint8Array → list
    ({"s": {"0": 83, "1": 65, "2": 77, "3": 69}}, "SAME"),       # Uint8Array without a replacer
    ({"s": "VkFMSUQ="}, "VALID"),                                # proto3 JSON: base64
    ({"s": "U0FN\nRQ=="}, "SAME"),                               # MIME-wrapped base64
    ({"type": 1}, "DT_FLOAT"), ({"type": 3}, "DT_INT32"), ({"type": "9"}, "DT_INT64"),
    ({"type": 101}, "DT_FLOAT_REF"), ({"type": "DT_BOOL"}, "DT_BOOL"),
    ({"i": "-3"}, -3), ({"i": 7}, 7), ({"i": {"low": -1, "high": -1, "unsigned": False}}, -1),
    ({"i": {"low": 5, "high": 1}}, 2 ** 32 + 5),
    ({"f": 0.5}, 0.5), ({"f": "-Infinity"}, float("-inf")), ({"b": False}, False),
    ({"shape": {"dim": [{"size": "-1"}, {}, {"size": 3}]}}, [-1, 0, 3]),  # proto3 omits a 0 size
    ({"shape": {"unknownRank": True}}, None),
    ({"tensor": {"dtype": 3, "tensorShape": {}}}, {"dtype": "DT_INT32", "tensorShape": {}}),
    ({"func": {"name": "f", "attr": {}}}, "f"),
    (pb2json_list(i=["1", "2", "2", "1"]), [1, 2, 2, 1]),       # old decoders took "s": [] first
    (pb2json_list(s=[[66, 105, 97, 115, 65, 100, 100], [82, 101, 108, 117]]), ["BiasAdd", "Relu"]),
    (pb2json_list(type=[1, 3]), ["DT_FLOAT", "DT_INT32"]),
    (pb2json_list(f=[0.5, 2]), [0.5, 2.0]),
    (pb2json_list(), []), ({"list": {}}, []), ({}, None),
])
def test_every_encoding_decodes(raw, value):
    assert decode_attr(raw) == value


@pytest.mark.parametrize("raw", [
    {"s": "VALID"},                          # plain text, not base64
    {"s": [86, 300]},                        # not bytes
    {"b": "false"},                          # bool("false") would be True
    {"i": "1.5"}, {"i": True},
    {"f": None},                             # JSON.stringify's NaN / ±Infinity: which one is lost
    {"type": 99}, {"type": "float32"},
    {"list": {"i": ["1"], "f": [1.0]}},      # two non-empty fields: which one is meant?
    {"list": {"q": []}},
    {"s": "VkFMSUQ=", "i": "1"},             # two values
    {"unknownField": 1}, [1, 2],
])
def test_undecodable_values_raise(raw):
    with pytest.raises(ValueError):
        decode_attr(raw)


def _edited_conv(tmp_path: Path, **attrs) -> Path:
    """conv2d_valid (a real converter output) with Conv2D attrs replaced by ``attrs``."""
    folder = tmp_path / "m"
    shutil.copytree(FIXTURES / "convolution" / "conv2d_valid", folder)
    model = json.loads((folder / "model.json").read_text())
    conv = next(n for n in model["modelTopology"]["node"] if n["op"] == "Conv2D")
    conv["attr"].update(attrs)
    (folder / "model.json").write_text(json.dumps(model))
    return folder


@pytest.mark.parametrize("attrs,words", [
    ({"padding": {"s": "VALID"}}, ["padding", "not base64"]),
    ({"padding": {"s": "SAME"}}, ["unsupported padding"]),  # plain "SAME" is base64 of 3 other bytes
    ({"padding": {"i": "1"}}, ["padding", "should be a string"]),
    ({"strides": {"list": {"i": ["1", "1", "1", "1"], "f": [1.0, 1.0, 1.0, 1.0]}}}, ["strides", "several"]),
    ({"data_format": {"zz": "TkhXQw=="}}, ["data_format", "unknown AttrValue field"]),
])
def test_a_bad_attr_that_is_read_names_node_and_attr(tmp_path, attrs, words):
    with pytest.raises(GraphError) as info:
        torch_tfjs.load_graph_model(_edited_conv(tmp_path, **attrs))
    message = str(info.value)
    assert "PartitionedCall/Conv2D" in message
    for word in words:
        assert word in message


def test_a_bad_attr_nobody_reads_does_not_block_loading(tmp_path):
    folder = _edited_conv(tmp_path, _output_shapes={"list": {"weird": [1]}}, _class={"s": "plain text"})
    model = torch_tfjs.load_graph_model(folder)
    x = torch.from_numpy(np.load(folder / "input_0.npy"))
    expected = np.load(folder / "output_0.npy")
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


def test_pb2json_fixture_is_really_in_the_old_encoding():
    """Guards the fixture: if it were regenerated in the modern encoding it would test nothing."""
    folder = FIXTURES / "legacy" / "pb2json_cnn"
    model = json.loads((folder / "model.json").read_text())
    assert set(model) == {"modelTopology", "weightsManifest"}
    attrs = [a for n in model["modelTopology"]["node"] for a in n["attr"].values()]
    assert any(isinstance(a.get("s"), list) for a in attrs)
    assert any(isinstance(a.get("type"), int) for a in attrs)
    assert any("list" in a and set(a["list"]) == set(EMPTY) and a["list"]["i"] for a in attrs)
    assert not any("TArgs" in n["attr"] for n in model["modelTopology"]["node"])
    paths = [p for g in model["weightsManifest"] for p in g["paths"]]
    assert len(model["weightsManifest"]) > 5 and not any(p.endswith(".bin") for p in paths)
    assert any(len(g["paths"]) > 1 for g in model["weightsManifest"])
    loaded = torch_tfjs.load_graph_model(folder)
    assert loaded.input_names == ["x0"]
