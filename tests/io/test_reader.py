"""Artifact reader: dtypes, shards, quantization, groups, and every bad input it must refuse."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from torch_tfjs.errors import (FetchError, MissingShardError, ModelJSONError, ShardSizeError,
                               UnsafePathError, WeightDTypeError)
from torch_tfjs.io import dequantize, encode_weights, read_artifact
from torch_tfjs.io.weights import WeightSpec

GRAPH_TOPOLOGY = {"node": [], "versions": {"producer": 1}}
LAYERS_TOPOLOGY = {"class_name": "Sequential", "config": {"name": "s", "layers": []},
                   "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js"}


def write_model(folder: Path, weights: List[Dict[str, Any]], shards: List[bytes],
                topology: Any = None, **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(shards):
        name = f"group1-shard{i + 1}of{len(shards)}.bin"
        (folder / name).write_bytes(data)
        paths.append(name)
    model = {"format": "graph-model", "modelTopology": topology or GRAPH_TOPOLOGY,
             "weightsManifest": [{"paths": paths, "weights": weights}], **extra}
    (folder / "model.json").write_text(json.dumps(model))
    return folder / "model.json"


def test_every_plain_dtype_round_trips(tmp_path):
    values = [
        ("f", np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)),
        ("i", np.array([[-7, 0, 2**31 - 1]], dtype=np.int32)),
        ("b", np.array([True, False, True])),
        ("c", np.array([1 + 2j, -3.5 - 0.25j], dtype=np.complex64)),
        ("s", np.array([b"hello", "wörld".encode(), b""], dtype=object)),
        ("scalar", np.array(3.5, dtype=np.float32)),
        ("empty", np.zeros((0, 4), dtype=np.float32)),
    ]
    data, specs = encode_weights(values)
    art = read_artifact(write_model(tmp_path, specs, [data]))
    for name, expected in values:
        got = art.weights[name]
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        assert np.array_equal(got, expected), name


def test_weight_straddling_shards_and_several_groups(tmp_path):
    a = np.arange(10, dtype=np.float32)
    b = np.arange(5, dtype=np.int32) - 2
    data, specs = encode_weights([("a", a), ("b", b)])
    # split in the middle of a float32 (byte 18 is inside a[4])
    shards = [data[:18], data[18:33], data[33:]]
    path = write_model(tmp_path, specs, shards)
    model = json.loads(path.read_text())
    c = np.array([7.25], dtype=np.float32)
    (tmp_path / "other.bin").write_bytes(c.tobytes())
    model["weightsManifest"].append({"paths": ["other.bin"],
                                     "weights": [{"name": "c", "shape": [1], "dtype": "float32"}]})
    path.write_text(json.dumps(model))
    art = read_artifact(tmp_path)
    assert np.array_equal(art.weights["a"], a)
    assert np.array_equal(art.weights["b"], b)
    assert np.array_equal(art.weights["c"], c)


def test_quantized_uint8_uint16_float16_match_tfjs_formula(tmp_path):
    q8 = np.array([0, 1, 127, 255], dtype=np.uint8)
    q16 = np.array([0, 300, 65535], dtype=np.uint16)
    half = np.array([0.1, -2.5, 65504.0, 6e-8], dtype=np.float16)
    qi = np.array([0, 1, 2, 3], dtype=np.uint8)
    specs = [
        {"name": "u8", "shape": [4], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -0.731, "scale": 0.00573}},
        {"name": "u16", "shape": [3], "dtype": "float32",
         "quantization": {"dtype": "uint16", "min": -1.0, "scale": 3.0518e-05}},
        {"name": "f16", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16"}},
        # int32 target: rounded half up (JS Math.round): 0.5 -> 1, 1.5 -> 2, 2.5 -> 3
        {"name": "qint", "shape": [4], "dtype": "int32",
         "quantization": {"dtype": "uint8", "min": -0.5, "scale": 1.0}},
    ]
    data = q8.tobytes() + q16.astype("<u2").tobytes() + half.astype("<f2").tobytes() + qi.tobytes()
    art = read_artifact(write_model(tmp_path, specs, [data]))
    # q * scale + min in double precision, rounded once to float32
    expected8 = (q8.astype(np.float64) * 0.00573 + -0.731).astype(np.float32)
    assert art.weights["u8"].dtype == np.float32
    assert np.array_equal(art.weights["u8"], expected8)
    assert np.array_equal(art.weights["u16"], (q16 * 3.0518e-05 - 1.0).astype(np.float32))
    assert np.array_equal(art.weights["f16"], half.astype(np.float32))
    assert art.weights["qint"].tolist() == [-0, 1, 2, 3]
    assert art.weights["qint"].dtype == np.int32


def test_dequantize_is_not_float32_fma():
    """A float32 multiply-add rounds twice; tfjs computes in double and rounds once."""
    spec = WeightSpec("w", (256,), "float32", quantization={"dtype": "uint8", "min": -0.3, "scale": 0.1 / 3})
    codes = np.arange(256, dtype=np.uint8)
    exact = (codes.astype(np.float64) * (0.1 / 3) - 0.3).astype(np.float32)
    assert np.array_equal(dequantize(codes, spec), exact)


def test_optimizer_group_kept_apart(tmp_path):
    data, specs = encode_weights([("w", np.ones(2, np.float32)), ("w/m", np.zeros(2, np.float32))])
    specs[1]["group"] = "optimizer"
    art = read_artifact(write_model(tmp_path, specs, [data]))
    assert list(art.weights) == ["w"]
    assert list(art.optimizer_weights) == ["w/m"]


def test_metadata_fields(tmp_path):
    sig = {"inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT"}}, "outputs": {}}
    path = write_model(tmp_path, [], [], topology={**LAYERS_TOPOLOGY, "training_config": {"loss": "mse"}},
                       format="layers-model", generatedBy="keras v2.15.0",
                       convertedBy="TensorFlow.js Converter v4.22.0",
                       userDefinedMetadata={"signature": sig, "label": "x"})
    art = read_artifact(path)
    assert art.format == "layers-model"
    assert art.training_config == {"loss": "mse"}
    assert art.signature == sig
    assert art.generated_by == "keras v2.15.0"
    assert art.user_defined_metadata["label"] == "x"


@pytest.mark.parametrize("topology,fmt", [(GRAPH_TOPOLOGY, "graph-model"),
                                          (LAYERS_TOPOLOGY, "layers-model"),
                                          ({"model_config": LAYERS_TOPOLOGY, "keras_version": "2"}, "layers-model")])
def test_format_detected_without_key(tmp_path, topology, fmt):
    path = write_model(tmp_path, [], [], topology=topology)
    model = json.loads(path.read_text())
    del model["format"]
    path.write_text(json.dumps(model))
    assert read_artifact(path).format == fmt


def test_gzip_model_json_and_shard(tmp_path):
    data, specs = encode_weights([("w", np.arange(3, dtype=np.float32))])
    path = write_model(tmp_path, specs, [gzip.compress(data)])
    path.write_bytes(gzip.compress(path.read_bytes()))
    assert np.array_equal(read_artifact(path).weights["w"], np.arange(3, dtype=np.float32))


def test_json_file_with_any_name_and_file_url(tmp_path):
    data, specs = encode_weights([("w", np.arange(3, dtype=np.float32))])
    path = write_model(tmp_path, specs, [data])
    renamed = path.with_name("my-model.json")
    path.rename(renamed)
    assert read_artifact(renamed).weights["w"][2] == 2
    assert read_artifact(renamed.as_uri()).weights["w"][2] == 2


def test_weights_are_writable_arrays_of_their_own(tmp_path):
    """Each weight owns its memory (no view keeps a whole shard alive); writing to it leaves
    the file untouched."""
    data, specs = encode_weights([("a", np.arange(4, dtype=np.float32)), ("b", np.arange(4, dtype=np.float32))])
    art = read_artifact(write_model(tmp_path, specs, [data[:10], data[10:]]))  # b straddles
    a, b = art.weights["a"], art.weights["b"]
    for w in (a, b):
        assert w.base is None and w.flags.owndata and w.flags.writeable and w.flags.c_contiguous
    assert not np.shares_memory(a, b)
    a[0] = 42.0
    assert read_artifact(tmp_path).weights["a"][0] == 0.0


# --- bad inputs -------------------------------------------------------------------------------

def _good(tmp_path: Path) -> Path:
    data, specs = encode_weights([("a", np.arange(6, dtype=np.float32)), ("b", np.arange(3, dtype=np.int32))])
    return write_model(tmp_path, specs, [data[:12], data[12:]])


def test_truncated_shard(tmp_path):
    path = _good(tmp_path)
    shard = tmp_path / "group1-shard2of2.bin"
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ShardSizeError, match=r"group1-shard2of2\.bin.*weight 'b'"):
        read_artifact(path)


def test_missing_shard(tmp_path):
    path = _good(tmp_path)
    (tmp_path / "group1-shard2of2.bin").unlink()
    with pytest.raises(MissingShardError, match=r"group1-shard2of2\.bin.*'a'"):
        read_artifact(path)


def test_extra_bytes(tmp_path):
    path = _good(tmp_path)
    with open(tmp_path / "group1-shard2of2.bin", "ab") as fh:
        fh.write(b"\0\0\0\0")
    with pytest.raises(ShardSizeError, match=r"4 bytes past the last weight \('b'\)"):
        read_artifact(path)


def test_malformed_json(tmp_path):
    path = _good(tmp_path)
    path.write_text(path.read_text()[:-5])
    with pytest.raises(ModelJSONError, match=r"model\.json: malformed JSON at line 1"):
        read_artifact(path)


@pytest.mark.parametrize("key", ["modelTopology", "weightsManifest"])
def test_missing_required_key(tmp_path, key):
    path = _good(tmp_path)
    model = json.loads(path.read_text())
    del model[key]
    path.write_text(json.dumps(model))
    with pytest.raises(ModelJSONError, match=key):
        read_artifact(path)


def test_unknown_dtype(tmp_path):
    path = _good(tmp_path)
    model = json.loads(path.read_text())
    model["weightsManifest"][0]["weights"][1]["dtype"] = "int64"
    path.write_text(json.dumps(model))
    with pytest.raises(WeightDTypeError, match=r"\(b\): unknown dtype 'int64'"):
        read_artifact(path)


def test_unknown_quantization(tmp_path):
    path = _good(tmp_path)
    model = json.loads(path.read_text())
    model["weightsManifest"][0]["weights"][0]["quantization"] = {"dtype": "int4", "min": 0, "scale": 1}
    path.write_text(json.dumps(model))
    with pytest.raises(WeightDTypeError, match="unknown quantization"):
        read_artifact(path)


def test_shape_bytes_mismatch(tmp_path):
    path = _good(tmp_path)
    model = json.loads(path.read_text())
    model["weightsManifest"][0]["weights"][0]["shape"] = [7]  # 28 bytes, file has 24 for it
    path.write_text(json.dumps(model))
    with pytest.raises(ShardSizeError, match=r"weight 'b'"):
        read_artifact(path)


@pytest.mark.parametrize("bad", ["../secret.bin", "sub/../../secret.bin", "/etc/passwd",
                                 "file:///etc/passwd", "http://evil.example/x.bin",
                                 "C:/windows/x.bin", "..\\secret.bin", "%2e%2e/secret.bin",
                                 "//host/share.bin"])
def test_paths_leaving_the_model_folder_are_refused(tmp_path, bad):
    folder = tmp_path / "model"
    path = _good(folder)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 36)
    model = json.loads(path.read_text())
    model["weightsManifest"][0]["paths"] = [bad]
    path.write_text(json.dumps(model))
    with pytest.raises(UnsafePathError, match="refusing weight path"):
        read_artifact(path)


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    path = _good(folder)
    outside = tmp_path / "outside.bin"
    outside.write_bytes((folder / "group1-shard2of2.bin").read_bytes())
    (folder / "group1-shard2of2.bin").unlink()
    (folder / "group1-shard2of2.bin").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside the model folder"):
        read_artifact(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FetchError, match="no such file"):
        read_artifact(tmp_path / "nothing")


def test_negative_shape_refused(tmp_path):
    path = _good(tmp_path)
    model = json.loads(path.read_text())
    model["weightsManifest"][0]["weights"][0]["shape"] = [-1, 6]
    path.write_text(json.dumps(model))
    with pytest.raises(ModelJSONError, match="non-negative ints"):
        read_artifact(path)


def _mixed_group() -> tuple:
    """Bytes and manifest entries of every kind of weight, back to back."""
    rng = np.random.default_rng(1)
    floats = rng.standard_normal(37).astype(np.float32)
    plain, plain_specs = encode_weights([
        ("f", floats), ("s", np.array([b"", b"ab", "\u00e9t\u00e9".encode(), b"x" * 300], dtype=object)),
        ("i", np.arange(-5, 6, dtype=np.int32)), ("b", np.array([True, False, True]))])
    f_end = floats.nbytes
    codes = np.arange(0, 250, 3, dtype=np.uint8)
    halves = rng.standard_normal(9).astype("<f2")
    data = (plain[:f_end] + codes.tobytes() + plain[f_end:] + halves.tobytes()
            + plain[f_end:])  # the strings, ints and bools again, after the halves
    specs = [plain_specs[0],
             {"name": "q", "shape": [len(codes)], "dtype": "float32",
              "quantization": {"dtype": "uint8", "min": -1.5, "scale": 0.0117}},
             *plain_specs[1:],
             {"name": "h", "shape": [9], "dtype": "float32", "quantization": {"dtype": "float16"}},
             *[{**spec, "name": spec["name"] + "2"} for spec in plain_specs[1:]]]
    return data, specs


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shard", [1, 3, 7, 64, None])
def test_any_shard_boundaries_decode_identically(tmp_path, shard, gz):
    """Weights of every kind straddling shards of any size (read in place, or gunzipped in
    memory) decode exactly as from one shard."""
    data, specs = _mixed_group()
    whole = read_artifact(write_model(tmp_path / "one", specs, [data])).weights
    pieces = [data] if shard is None else [data[i:i + shard] for i in range(0, len(data), shard)]
    if gz:
        pieces = [gzip.compress(p) for p in pieces]
    got = read_artifact(write_model(tmp_path / "split", specs, pieces)).weights
    assert list(got) == list(whole)
    for name, value in whole.items():
        assert got[name].dtype == value.dtype and got[name].shape == value.shape, name
        if value.dtype == object:
            assert list(got[name]) == list(value), name
        else:
            assert got[name].tobytes() == value.tobytes(), name
    assert list(got["s"]) == [b"", b"ab", "\u00e9t\u00e9".encode(), b"x" * 300]
    assert got["q"][1] == np.float32(3 * 0.0117 - 1.5)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_truncated_group_names_the_weight_cut_short(tmp_path, gz):
    """Sizes known up front (plain files) or only once read (gzip): the same error."""
    data, specs = _mixed_group()
    pieces = [data[:100], data[100:-2]]  # the last weight (3 bools) loses 2 bytes
    if gz:
        pieces = [gzip.compress(p) for p in pieces]
    with pytest.raises(ShardSizeError, match=r"group1-shard2of2\.bin.*weight 'b2'"):
        read_artifact(write_model(tmp_path, specs, pieces))


def test_bare_weights_manifest_is_named_as_such(tmp_path):
    # face-api.js ships `<net>-weights_manifest.json`: weight groups only, the network in code.
    path = tmp_path / "ssd_mobilenetv1_model-weights_manifest.json"
    path.write_text(json.dumps([{"paths": ["ssd.bin"], "weights": [
        {"name": "conv/filters", "shape": [3, 3, 3, 8], "dtype": "float32"}]}]))
    with pytest.raises(ModelJSONError, match="bare weights manifest.*defined in the code"):
        read_artifact(path)
