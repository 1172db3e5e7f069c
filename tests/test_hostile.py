"""Hostile and careless artifacts and calls: each gets a typed error naming the culprit, fast.

A corpus of hand-made bad artifacts (gzip bombs, absurd shapes, shape / bytes mismatches,
cycles, duplicate names, dangling references, no outputs, ill-typed config keys and attrs),
input checks for both model kinds, and loading / calling from several threads.
"""

from __future__ import annotations

import copy
import gzip
import json
import shutil
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, Type

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import (ExecutionError, FetchError, GraphError, LayerConfigError,
                               ModelInputError, ModelJSONError, ShardSizeError, TfjsError)

FIXTURES = Path(__file__).parent / "fixtures"
DENSE = FIXTURES / "layers/core/dense_relu"
CONV = FIXTURES / "layers/conv/conv2d_k3_same_s2_odd"
GRU = FIXTURES / "layers/recurrent/gru_sequences_sigmoid"
MULTI = FIXTURES / "models/models/multi_io_shared"
POOL = FIXTURES / "layers/pooling/max2d_pool3_same_s2"
BN = FIXTURES / "layers/normalization/batchnorm_nhwc"
DROPOUT = FIXTURES / "layers/core/dropout_inference"
CONCAT = FIXTURES / "layers/merge/concat_axis1"
MATMUL = FIXTURES / "graph/matrices/matmul_bias_relu"
CONV_G = FIXTURES / "graph/convolution/conv2d_bias_relu"


def copy_fixture(src: Path, dst: Path) -> Dict[str, Any]:
    shutil.copytree(src, dst)
    return json.loads((dst / "model.json").read_text())


def save(dst: Path, doc: Dict[str, Any]) -> Path:
    (dst / "model.json").write_text(json.dumps(doc))
    return dst


def layers_of(doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    top = doc["modelTopology"]
    top = top.get("model_config", top)
    config = top["config"]
    return config if isinstance(config, list) else config["layers"]


def model_config(doc: Dict[str, Any]) -> Dict[str, Any]:
    top = doc["modelTopology"]
    return top.get("model_config", top)["config"]


def layer_config(doc: Dict[str, Any], i: int = 0) -> Dict[str, Any]:
    return layers_of(doc)[i]["config"]


def node(doc: Dict[str, Any], name: str) -> Dict[str, Any]:
    return next(n for n in doc["modelTopology"]["node"] if n["name"] == name)


# --- the corpus: (fixture, mutation, error class, words the message must hold) -----------------
Mutation = Callable[[Dict[str, Any], Path], None]


def set_key(i: int, key: str, value: Any) -> Mutation:
    def mutate(doc: Dict[str, Any], folder: Path) -> None:
        layer_config(doc, i)[key] = value
    return mutate


def set_attr(node_name: str, key: str, value: Any) -> Mutation:
    def mutate(doc: Dict[str, Any], folder: Path) -> None:
        node(doc, node_name).setdefault("attr", {})[key] = value
    return mutate


def _dup_layer(doc: Dict[str, Any], folder: Path) -> None:
    layers = layers_of(doc)
    layers[3]["config"]["name"] = "shared"
    layers[3]["name"] = "shared"


def _dangling_inbound(doc: Dict[str, Any], folder: Path) -> None:
    layers_of(doc)[2]["inbound_nodes"][0][0][0] = "ghost"


def _bad_node_index(doc: Dict[str, Any], folder: Path) -> None:
    layers_of(doc)[3]["inbound_nodes"][0][0][1] = 5


def _layer_cycle(doc: Dict[str, Any], folder: Path) -> None:
    layers = layers_of(doc)  # shared's first call reads concat, which reads shared
    layers[2]["inbound_nodes"][0][0][:3] = ["concat", 0, 0]


def _no_outputs(doc: Dict[str, Any], folder: Path) -> None:
    model_config(doc)["output_layers"] = []


def _graph_dangling(doc: Dict[str, Any], folder: Path) -> None:
    node(doc, "Identity")["input"] = ["nowhere"]


def _graph_cycle(doc: Dict[str, Any], folder: Path) -> None:
    node(doc, "PartitionedCall/Relu")["input"][0] = "Identity"


def _graph_dup(doc: Dict[str, Any], folder: Path) -> None:
    doc["modelTopology"]["node"].append(copy.deepcopy(node(doc, "Identity")))


def _graph_no_outputs(doc: Dict[str, Any], folder: Path) -> None:
    doc.pop("signature", None)
    doc["modelTopology"]["node"] = [n for n in doc["modelTopology"]["node"]
                                    if n["op"] in ("Placeholder", "Const")]


def _weight_shape(shape: List[int]) -> Mutation:
    def mutate(doc: Dict[str, Any], folder: Path) -> None:
        doc["weightsManifest"][0]["weights"][0]["shape"] = shape
    return mutate


def _truncate_shard(doc: Dict[str, Any], folder: Path) -> None:
    shard = folder / doc["weightsManifest"][0]["paths"][0]
    shard.write_bytes(shard.read_bytes()[:-8])


def _shard_bomb(doc: Dict[str, Any], folder: Path) -> None:
    shard = folder / doc["weightsManifest"][0]["paths"][0]
    shard.write_bytes(_bomb(shard.read_bytes(), 64 << 20))


def _shard_bomb_forged_size(doc: Dict[str, Any], folder: Path) -> None:
    shard = folder / doc["weightsManifest"][0]["paths"][0]
    data = bytearray(_bomb(shard.read_bytes(), 64 << 20))
    data[-4:] = (100).to_bytes(4, "little")  # the ISIZE trailer lies: inflating is capped anyway
    shard.write_bytes(bytes(data))


def _bomb(head: bytes, size: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    parts = [deflate.compress(head)] + [deflate.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + deflate.flush()


def _json_bomb(doc: Dict[str, Any], folder: Path) -> None:
    text = json.dumps(doc).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [deflate.compress(text[:-1] + b', "pad": "')]
    parts += [deflate.compress(b" " * (1 << 20)) for _ in range(1024)]  # 1 GiB inflated
    parts.append(deflate.compress(b'"}'))
    (folder / "model.json").write_bytes(b"".join(parts) + deflate.flush())
    raise _Written()


class _Written(Exception):
    """The mutation wrote model.json itself."""


CASES: List[Tuple[str, Path, Mutation, Type[TfjsError], Tuple[str, ...]]] = [
    # config keys of the common layer families, each of the wrong type
    ("conv_filters_str", CONV, set_key(0, "filters", "four"), LayerConfigError, ("conv2d_Conv2D2", "'filters'")),
    ("conv_kernel_size_str", CONV, set_key(0, "kernel_size", "3"), LayerConfigError, ("conv2d_Conv2D2", "'kernel_size'")),
    ("conv_strides_zero", CONV, set_key(0, "strides", [0, 2]), LayerConfigError, ("conv2d_Conv2D2", "'strides'")),
    ("conv_strides_dict", CONV, set_key(0, "strides", {"a": 1}), LayerConfigError, ("conv2d_Conv2D2", "'strides'")),
    ("conv_strides_huge", CONV, set_key(0, "strides", [2, 65537]), LayerConfigError, ("conv2d_Conv2D2", "'strides'", "4096")),
    ("conv_padding_int", CONV, set_key(0, "padding", 1), LayerConfigError, ("conv2d_Conv2D2", "'padding'")),
    ("conv_padding_unknown", CONV, set_key(0, "padding", "full"), LayerConfigError, ("conv2d_Conv2D2", "'padding'")),
    ("conv_dilation_null_list", CONV, set_key(0, "dilation_rate", [None, 1]), LayerConfigError, ("conv2d_Conv2D2", "'dilation_rate'")),
    ("conv_use_bias_str", CONV, set_key(0, "use_bias", "false"), LayerConfigError, ("conv2d_Conv2D2", "'use_bias'")),
    ("conv_data_format", CONV, set_key(0, "data_format", "nhwc"), LayerConfigError, ("conv2d_Conv2D2", "'data_format'")),
    ("dense_units_str", DENSE, set_key(0, "units", "5"), LayerConfigError, ("dense_Dense1", "'units'")),
    ("dense_units_mismatch", DENSE, set_key(0, "units", 7), LayerConfigError, ("dense_Dense1", "'units'", "[4, 5]")),
    ("dense_activation_int", DENSE, set_key(0, "activation", 3), LayerConfigError, ("dense_Dense1", "'activation'")),
    ("dense_activation_unknown", DENSE, set_key(0, "activation", "swishy"), LayerConfigError, ("dense_Dense1", "'activation'", "swishy")),
    ("dense_batch_input_shape", DENSE, set_key(0, "batch_input_shape", [None, "4"]), LayerConfigError, ("dense_Dense1", "'batch_input_shape'")),
    ("dense_batch_input_shape_negative", DENSE, set_key(0, "batch_input_shape", [None, -7]), LayerConfigError, ("dense_Dense1", "'batch_input_shape'")),
    ("dense_dtype", DENSE, set_key(0, "dtype", "float128"), LayerConfigError, ("dense_Dense1", "'dtype'", "float128")),
    ("gru_units_mismatch", GRU, set_key(0, "units", 65537), LayerConfigError, ("gru_GRU2", "'units'")),
    ("gru_return_sequences_str", GRU, set_key(0, "return_sequences", "yes"), LayerConfigError, ("gru_GRU2", "'return_sequences'")),
    ("pool_size_float", POOL, set_key(0, "pool_size", [2.5, 2]), LayerConfigError, ("'pool_size'",)),
    ("bn_axis_str", BN, set_key(0, "axis", "last"), LayerConfigError, ("'axis'",)),
    ("bn_epsilon_str", BN, set_key(0, "epsilon", "tiny"), LayerConfigError, ("'epsilon'",)),
    ("dropout_rate_str", DROPOUT, set_key(1, "rate", "half"), LayerConfigError, ("'rate'",)),
    ("concat_axis_list", CONCAT, set_key(2, "axis", [1]), LayerConfigError, ("concatenate_Concatenate2", "'axis'")),
    ("layer_config_not_object", DENSE, set_key(0, "kernel_initializer", None) , None, ()),  # harmless
    # topology structure
    ("duplicate_layer", MULTI, _dup_layer, GraphError, ("two layers named 'shared'",)),
    ("dangling_inbound", MULTI, _dangling_inbound, GraphError, ("layer 'shared'", "'ghost'")),
    ("bad_node_index", MULTI, _bad_node_index, GraphError, ("layer 'concat'", "call 5 of layer 'shared'")),
    ("layer_cycle", MULTI, _layer_cycle, GraphError, ("cycle", "'shared'", "'concat'")),
    ("no_outputs", MULTI, _no_outputs, GraphError, ("no outputs",)),
    # graph structure and attrs
    ("graph_dangling", MATMUL, _graph_dangling, GraphError, ("'Identity'", "'nowhere'")),
    ("graph_cycle", MATMUL, _graph_cycle, GraphError, ("cycle", "'Identity'", "'PartitionedCall/Relu'")),
    ("graph_duplicate", MATMUL, _graph_dup, GraphError, ("duplicate node name 'Identity'",)),
    ("graph_no_outputs", MATMUL, _graph_no_outputs, GraphError, ("no output",)),
    ("attr_strides_str", CONV_G, set_attr("PartitionedCall/Relu", "strides", {"s": "U0FNRQ=="}), GraphError, ("PartitionedCall/Relu", "strides")),
    ("attr_padding_int", CONV_G, set_attr("PartitionedCall/Relu", "padding", {"i": "3"}), GraphError, ("PartitionedCall/Relu", "padding")),
    ("attr_transpose_b_str", MATMUL, set_attr("PartitionedCall/Relu", "transpose_b", {"s": "dHJ1ZQ=="}), GraphError, ("PartitionedCall/Relu", "transpose_b")),
    ("attr_undecodable", MATMUL, set_attr("PartitionedCall/Relu", "transpose_a", {"b": "yes"}), GraphError, ("PartitionedCall/Relu", "transpose_a")),
    # weights
    ("absurd_shape", DENSE, _weight_shape([1 << 20, 1 << 20]), ModelJSONError, ("dense_Dense1/kernel", "elements")),
    ("negative_dim", DENSE, _weight_shape([4, -5]), ModelJSONError, ("dense_Dense1/kernel", "shape")),
    ("shape_bytes_mismatch", DENSE, _weight_shape([400, 5]), ShardSizeError, ("dense_Dense1/kernel",)),
    ("truncated_shard", DENSE, _truncate_shard, ShardSizeError, ("dense_Dense1/bias",)),
    ("shard_gzip_bomb", DENSE, _shard_bomb, ShardSizeError, ("weights.bin", "inflate")),
    ("shard_gzip_bomb_forged_isize", DENSE, _shard_bomb_forged_size, ShardSizeError, ("weights.bin", "inflate")),
    ("json_gzip_bomb", DENSE, _json_bomb, FetchError, ("model.json", "cap")),
]


@pytest.mark.parametrize("name, fixture, mutate, error, words", CASES, ids=[c[0] for c in CASES])
def test_bad_artifact(tmp_path, name, fixture, mutate, error, words):
    folder = tmp_path / "m"
    doc = copy_fixture(fixture, folder)
    try:
        mutate(doc, folder)
        save(folder, doc)
    except _Written:
        pass
    start = time.monotonic()
    if error is None:
        torch_tfjs.load(folder)
        return
    with pytest.raises(error) as info:
        torch_tfjs.load(folder)
    assert time.monotonic() - start < 5.0
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    # the file is named too (or the message comes from reading it)
    assert str(folder) in message or "model.json" in message or ".bin" in message, message


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


def _lying_json_bomb(folder: Path, inflated: int) -> Path:
    """A gzip model.json padded to ``inflated`` bytes whose ISIZE trailer claims 10."""
    doc = copy_fixture(DENSE, folder)
    blob = bytearray(_bomb(json.dumps(doc).encode()[:-1] + b', "pad": "', inflated))
    blob[-4:] = (10).to_bytes(4, "little")
    (folder / "model.json").write_bytes(bytes(blob))
    return folder


def test_gzip_bomb_refused_fast_and_small(tmp_path):
    """A model.json inflating past the cap is refused without inflating past it, even when its
    ISIZE trailer lies (the stream is then cut one byte past the cap)."""
    folder = _lying_json_bomb(tmp_path / "m", 8 << 20)
    start = time.monotonic()
    with pytest.raises(FetchError, match="inflates to more than 1000000 bytes"):
        torch_tfjs.load(folder, max_json_bytes=1_000_000)
    assert time.monotonic() - start < 1.0


def test_gzip_bomb_with_lying_trailer_refused_fast_at_the_default_cap(tmp_path):
    """1 GiB of padding in about 1 MB, ISIZE forged small: refused by its inflation ratio after
    32 MiB, well before the 256 MiB cap, and in well under a second."""
    folder = _lying_json_bomb(tmp_path / "m", 1 << 30)
    start = time.monotonic()
    with pytest.raises(FetchError, match="gzip bomb"):
        torch_tfjs.load(folder)
    assert time.monotonic() - start < 1.0


def test_multi_member_gzip_model_json_loads(tmp_path):
    """Concatenated gzip members (``cat a.gz b.gz``) are one file to gzip, and to us."""
    folder = tmp_path / "m"
    copy_fixture(DENSE, folder)
    text = (folder / "model.json").read_bytes()
    half = len(text) // 2
    (folder / "model.json").write_bytes(gzip.compress(text[:half]) + gzip.compress(text[half:]))
    assert torch_tfjs.load(folder) is not None


def test_max_json_bytes_option_and_env(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    copy_fixture(DENSE, folder)
    with pytest.raises(FetchError, match="model.json cap of 100"):
        torch_tfjs.load(folder, max_json_bytes=100)
    monkeypatch.setenv("TORCH_TFJS_MAX_JSON_BYTES", "100")
    with pytest.raises(FetchError, match="model.json cap of 100"):
        torch_tfjs.load(folder)
    assert torch_tfjs.load(folder, max_json_bytes=1 << 20) is not None
    monkeypatch.setenv("TORCH_TFJS_MAX_JSON_BYTES", "lots")
    with pytest.raises(FetchError, match="must be an integer"):
        torch_tfjs.load(folder)


def test_gzip_served_files_still_load(tmp_path):
    folder = tmp_path / "m"
    doc = copy_fixture(DENSE, folder)
    shard = folder / doc["weightsManifest"][0]["paths"][0]
    shard.write_bytes(gzip.compress(shard.read_bytes()))
    (folder / "model.json").write_bytes(gzip.compress(json.dumps(doc).encode()))
    reference = torch_tfjs.load(DENSE)
    x = torch.from_numpy(np.load(DENSE / "input_0.npy"))
    assert torch.equal(torch_tfjs.load(folder)(x), reference(x))


def test_run_time_failure_names_the_node(tmp_path):
    """A corrupted shape constant fails at call time as an ExecutionError naming the node."""
    src = FIXTURES / "graph/transformation/reshape_dynamic"
    folder = tmp_path / "m"
    copy_fixture(src, folder)
    np.array([7, 13], "<i4").tofile(folder / "group1-shard1of1.bin")
    model = torch_tfjs.load(folder)
    x = torch.from_numpy(np.load(src / "input_0.npy"))
    with pytest.raises(ExecutionError, match=r"node PartitionedCall/Reshape \(Reshape\)"):
        model(x)


def test_fuzz_seeded():
    """2,000 seeded structural mutations of real artifacts of both formats: every failure is a
    TfjsError, no case hangs (see scripts/fuzz.py for the long run)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    try:
        import fuzz
    finally:
        sys.path.pop(0)
    report = fuzz.run(2000, seed=1234, slow=10.0)
    untyped = [f for f in report.failures]
    assert report.counts["untyped"] == 0 and report.counts["slow"] == 0, untyped[:10]
    assert report.counts["typed"] > 500 and report.counts["ran"] + report.counts["loaded"] > 200


# --- inputs at call time, both model kinds -------------------------------------------------------
def _models() -> List[Tuple[str, torch.nn.Module, int]]:
    return [("layers", torch_tfjs.load(DENSE), 4), ("graph", torch_tfjs.load(MATMUL), 6)]


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.mark.parametrize("kind", [0, 1], ids=["layers", "graph"])
@pytest.mark.parametrize("call, words", [
    (lambda n: [torch.zeros(2, n, 1)], ("rank 2",)),
    (lambda n: [torch.zeros(2, n + 1)], ("shape",)),
    (lambda n: [torch.zeros(2, n), torch.zeros(2, n)], ("input",)),
    (lambda n: [], ("input",)),
    (lambda n: [{"nope": torch.zeros(2, n)}], ("unknown input 'nope'",)),
    (lambda n: [None], ("got None",)),
    (lambda n: [[[1.0] * n, [1.0]]], ("cannot make a tensor",)),
    (lambda n: [np.array(["a"] * n)], ("not numbers",)),
], ids=["rank", "size", "count", "none", "dict_key", "None", "ragged", "strings"])
def test_wrong_inputs(models, kind, call, words):
    name, model, n = models[kind]
    with pytest.raises(ModelInputError) as info:
        model(*call(n))
    for word in words:
        assert word in str(info.value), str(info.value)


def test_int_input_refuses_floats(tmp_path):
    """A LayersModel whose input is int32 (Embedding ids) refuses floats, naming the dtype."""
    folder = tmp_path / "m"
    doc = copy_fixture(DENSE, folder)
    layer_config(doc)["dtype"] = "int32"
    model = torch_tfjs.load(save(folder, doc))
    assert model.signature.inputs[0].dtype == "int32"
    with pytest.raises(ModelInputError, match="int32"):
        model(torch.zeros(1, 4))


# --- threads -----------------------------------------------------------------------------------
THREAD_FIXTURES = [DENSE, CONV, GRU, MULTI, MATMUL, CONV_G, POOL, BN]


_INPUTS: Dict[Path, List[torch.Tensor]] = {  # read up front: np.load's header parsing (ast)
    f: [torch.from_numpy(np.load(p)) for p in sorted(f.glob("input_*.npy"))]  # is not
    for f in THREAD_FIXTURES}                                                   # thread-safe in 3.11


def _call(model: torch.nn.Module, folder: Path) -> List[torch.Tensor]:
    inputs = _INPUTS[folder]
    with torch.no_grad():
        out = model(*inputs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def test_loading_from_eight_threads():
    expected = [_call(torch_tfjs.load(f), f) for f in THREAD_FIXTURES]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda f: _call(torch_tfjs.load(f), f), THREAD_FIXTURES))
    for folder, a, b in zip(THREAD_FIXTURES, expected, got):
        assert all(torch.equal(x, y) for x, y in zip(a, b)), folder


@pytest.mark.parametrize("folder", [MULTI, CONV_G], ids=["layers", "graph"])
def test_calling_one_model_from_eight_threads(folder):
    model = torch_tfjs.load(folder)
    expected = _call(model, folder)
    barrier = threading.Barrier(8)

    def work(_: int) -> List[List[torch.Tensor]]:
        barrier.wait()
        return [_call(model, folder) for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        for runs in pool.map(work, range(8)):
            for out in runs:
                assert all(torch.equal(x, y) for x, y in zip(out, expected))


# --- inspect tells the truth --------------------------------------------------------------------
def test_inspect_lists_every_problem(tmp_path):
    from torch_tfjs.inspection import inspect_artifact

    folder = tmp_path / "m"
    doc = copy_fixture(MULTI, folder)
    layers_of(doc)[2]["inbound_nodes"][0][0][0] = "ghost"
    save(folder, doc)
    shard = folder / doc["weightsManifest"][0]["paths"][0]
    shard.write_bytes(shard.read_bytes()[:-4])
    report = inspect_artifact(folder)
    assert not report["loadable"]
    text = "\n".join(report["problems"])
    assert "'ghost'" in text and "bytes" in text, text
    shard.unlink()
    assert "shard" in "\n".join(inspect_artifact(folder)["problems"])
    assert inspect_artifact(MULTI)["loadable"]


def test_inspect_piped_to_head_has_no_traceback():
    import subprocess
    cmd = (f"{sys.executable} -m torch_tfjs.cli inspect {MULTI} --json | head -c 10")
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parents[1])
    assert "Traceback" not in out.stderr, out.stderr
