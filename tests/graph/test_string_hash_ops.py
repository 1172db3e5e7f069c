"""String ops and hash tables: kernels (against values computed with TF 2.21) and whole graphs
(string inputs / outputs, modelInitializer tables, TF1-style in-graph table initialisation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs.errors import GraphError, ModelInputError
from torch_tfjs.graph.ops.hash_table import LookupTable, sorted_lookup, table_find
from torch_tfjs.graph.ops.string import (as_string_array, fingerprint64, static_regex_replace,
                                         string_ngrams, string_split, string_to_hash_bucket_fast)
from torch_tfjs.io import encode_weights

from single_op import attr


def strs(*values: str) -> np.ndarray:
    return as_string_array(list(values))


def texts(arr: Any) -> List[str]:
    return [v.decode("utf-8") for v in np.asarray(arr, dtype=object).reshape(-1)]


# --- Fingerprint64 / StringToHashBucketFast -------------------------------------------------------

#: tf.strings.to_hash_bucket_fast(STRINGS, 2**31 - 1) with TF 2.21 (covers every length branch
#: of Fingerprint64: 0, 1-3, 4-7, 8-16, 17-32, 33-64, > 64 bytes, and UTF-8).
STRINGS = ["", "a", "ab", "abc", "abcd", "hello", "12345678", "hello world!!", "x" * 16, "y" * 17,
           "the quick brown fox jumps", "z" * 32, "q" * 33, "The quick brown fox jumps over the lazy dog",
           "w" * 64, "v" * 65, "The quick brown fox jumps over the lazy dog. The quick brown fox jumps "
           "over the lazy dog!!", "Ünïcode ✓", "a" * 200]
TF_BUCKETS_INT32_MAX = [1699943623, 493484721, 399016389, 1043552938, 2127136445, 441440317, 692280247,
                        1920261901, 1495521792, 694887305, 1599686988, 568573105, 2084184694, 311974173,
                        215951043, 584146483, 1990372637, 669986372, 1913430788]
TF_BUCKETS_1000 = [263, 939, 502, 385, 985, 296, 362, 644, 644, 573, 706, 553, 75, 284, 506, 8, 697, 327, 897]


def test_fingerprint64_matches_tf():
    # tf.raw_ops.Fingerprint(["a"], "farmhash64") bytes, little-endian
    assert fingerprint64(b"a") == 0xB3454265B6DF75E3
    assert [fingerprint64(s) % (2 ** 31 - 1) for s in STRINGS] == TF_BUCKETS_INT32_MAX


def test_string_to_hash_bucket_fast_kernel():
    out = string_to_hash_bucket_fast(as_string_array(STRINGS), 1000)
    assert out.dtype == torch.int32 and out.tolist() == TF_BUCKETS_1000
    two_d = string_to_hash_bucket_fast(as_string_array([["a", "ab"], ["abc", ""]]), 1000)
    assert two_d.shape == (2, 2) and two_d.tolist() == [[939, 502], [385, 263]]


# --- StaticRegexReplace ---------------------------------------------------------------------------

def test_regex_replace_global_and_first():
    x = strs("hello world", "aaa", "")
    assert texts(static_regex_replace(x, "[aeiou]", "#", True)) == ["h#ll# w#rld", "###", ""]
    assert texts(static_regex_replace(x, "[aeiou]", "#", False)) == ["h#llo world", "#aa", ""]


def test_regex_replace_uses_js_replacement_syntax():
    x = strs("hello world", "the  quick brown fox")
    # JS replacement patterns ($2, $&, $$), as tfjs's String.replace evaluates them
    assert texts(static_regex_replace(x, r"(\w+) (\w+)", "$2-$1", False)) == ["world-hello",
                                                                             "the  brown-quick fox"]
    assert texts(static_regex_replace(x, r"o", "[$&$$]", True))[0] == "hell[o$] w[o$]rld"
    # an RE2-style rewrite (\1) is literal text in tfjs (its fixture reference shows the same)
    assert texts(static_regex_replace(x, r"(\w+) (\w+)", r"\2-\1", False))[0] == r"\2-\1"


# --- StringSplit ----------------------------------------------------------------------------------

def test_string_split_keep_empty_matches_tf():
    idx, values, shape = string_split(strs("a,,b,", "", ",x", "ab"), strs(","), False)
    assert idx.tolist() == [[0, 0], [0, 1], [0, 2], [0, 3], [2, 0], [2, 1], [3, 0]]
    assert texts(values) == ["a", "", "b", "", "", "x", "ab"]
    assert shape.tolist() == [4, 4]


def test_string_split_skip_empty_multi_delimiter_matches_tf():
    idx, values, shape = string_split(strs("a,,b;", "", ";x", "ab"), strs(",;"), True)
    assert idx.tolist() == [[0, 0], [0, 1], [2, 0], [3, 0]]
    assert texts(values) == ["a", "b", "x", "ab"]
    assert shape.tolist() == [4, 2]


def test_string_split_empty_delimiter_splits_bytes():
    idx, values, shape = string_split(strs("ab", "c"), strs(""), True)
    assert idx.tolist() == [[0, 0], [0, 1], [1, 0]] and texts(values) == ["a", "b", "c"]
    assert shape.tolist() == [2, 2]


# --- StringNGrams ---------------------------------------------------------------------------------

def _ngrams(data, splits, widths, separator=" ", left="", right="", pad=0, preserve=False):
    out, out_splits = string_ngrams(as_string_array(data), torch.tensor(splits), separator.encode(),
                                    widths, left.encode(), right.encode(), pad, preserve)
    return texts(out), out_splits.tolist()


def test_ngrams_matches_tf():
    assert _ngrams(["a", "b", "c", "d"], [0, 1, 4], [2]) == (["b c", "c d"], [0, 0, 2])


def test_ngrams_preserve_short_sequences():
    assert _ngrams(["a", "b", "c", "d"], [0, 1, 4], [2], preserve=True) == (["a", "b c", "c d"], [0, 1, 3])
    # short row padded to one n-gram; the empty row stays empty
    assert _ngrams(["a"], [0, 1, 1], [4], left="L", right="R", pad=1, preserve=True) == (["L a R"], [0, 1, 1])


def test_ngrams_padding_and_separator():
    # pad_width -1: width - 1 pads on each side; several widths concatenated per row
    got = _ngrams(["a", "b", "c"], [0, 3], [1, 3], separator="+", left="L", right="R", pad=-1)
    assert got == (["a", "b", "c", "L+L+a", "L+a+b", "a+b+c", "b+c+R", "c+R+R"], [0, 8])
    # n-grams made of padding and tokens only at the edges
    assert _ngrams(["a", "b"], [0, 2], [5], left="L", right="R", pad=2) == (["L L a b R", "L a b R R"], [0, 2])


def test_ngrams_bad_splits():
    with pytest.raises(ValueError, match="Last split"):
        _ngrams(["a", "b"], [0, 1], [2])


# --- LookupTable ----------------------------------------------------------------------------------

def test_lookup_table_string_and_int_keys():
    t = LookupTable("string", torch.int32, "t").import_(strs("cat", "dog", "cat"), torch.tensor([1, 2, 3]))
    assert t.size() == 2  # duplicate key: last wins
    out = t.find(as_string_array([["cat", "cow"], ["dog", ""]]), torch.tensor(-1))
    assert out.tolist() == [[3, -1], [2, -1]]
    ti = LookupTable(torch.int32, torch.float32).import_(torch.tensor([3, 7, -2]), torch.tensor([0.5, 1.5, 4.0]))
    keys = torch.tensor([[7, 0], [-2, 3]])
    expected = [[1.5, 9.0], [4.0, 0.5]]
    assert ti.find(keys, torch.tensor(9.0)).tolist() == expected
    sk, sv = ti.sorted_arrays()
    assert sorted_lookup(keys, sk, sv, 9.0).tolist() == expected


def test_lookup_table_string_values_and_empty_table():
    t = LookupTable(torch.int32, "string").import_(torch.tensor([1, 2]), strs("one", "two"))
    assert texts(t.find(torch.tensor([2, 5]), strs("?"))) == ["two", "?"]
    empty = LookupTable("string", torch.int32)
    assert table_find(empty, strs("a", "b"), torch.tensor(-1)).tolist() == [-1, -1]


# --- whole graphs ---------------------------------------------------------------------------------

def _node(name: str, op: str, inputs: Sequence[str] = (), **attrs: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": name, "op": op, "input": list(inputs)}
    out["attr"] = {k: ({"type": v} if isinstance(v, str) and v.startswith("DT_") else attr(v))
                   for k, v in attrs.items()}
    return out


def _write(folder: Path, nodes, weights, signature, initializer=None, init_signature=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data, specs = encode_weights(weights)
    (folder / "w.bin").write_bytes(data)
    model = {"format": "graph-model", "modelTopology": {"node": nodes}, "signature": signature,
             "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}
    if initializer is not None:
        model["modelInitializer"] = {"node": initializer}
    if init_signature is not None:
        model["initializerSignature"] = init_signature
    (folder / "model.json").write_text(json.dumps(model))
    return folder


def test_string_graph_inputs_outputs(tmp_path):
    nodes = [_node("s", "Placeholder", dtype="DT_STRING"),
             _node("r", "StaticRegexReplace", ["s"], pattern="o", rewrite="0", replace_global=True),
             _node("h", "StringToHashBucketFast", ["r"], num_buckets=1000)]
    sig = {"inputs": {"s": {"name": "s:0", "dtype": "DT_STRING"}},
           "outputs": {"r": {"name": "r:0", "dtype": "DT_STRING"}, "h": {"name": "h:0", "dtype": "DT_INT64"}}}
    model = torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, [], sig))
    for feed in (["foo", "bar"], [b"foo", b"bar"], np.array(["foo", "bar"]), {"s": ("foo", "bar")}):
        r, h = model(feed)
        assert isinstance(r, np.ndarray) and r.dtype == object and texts(r) == ["f00", "bar"]
        assert h.dtype == torch.int32
        assert h.tolist() == string_to_hash_bucket_fast(strs("f00", "bar"), 1000).tolist()
    with pytest.raises(ModelInputError, match="string"):
        model(torch.tensor([1, 2]))


def test_string_constants_fold(tmp_path):
    nodes = [_node("c", "Const", dtype="DT_STRING"), _node("d", "Const", dtype="DT_STRING"),
             _node("sp", "StringSplit", ["c", "d"], skip_empty=True),
             _node("x", "Placeholder", dtype="DT_INT32"),
             _node("n", "AddV2", ["x", "sp:2"], T="DT_INT32")]
    sig = {"inputs": {"x": {"name": "x:0", "dtype": "DT_INT32"}},
           "outputs": {"n": {"name": "n:0"}, "v": {"name": "sp:1"}}}
    weights = [("c", strs("a b", "c")), ("d", as_string_array(np.array("  ", dtype=object)))]
    model = torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, weights, sig))
    n, v = model(torch.tensor([1, 1], dtype=torch.int32))
    assert n.tolist() == [3, 3] and texts(v) == ["a", "b", "c"]


def _table_signature(resource_id: int = 7) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    sig = {"inputs": {"table:0": {"name": "table:0", "dtype": "DT_RESOURCE", "resourceId": resource_id},
                      "k": {"name": "k:0", "dtype": "DT_STRING"}},
           "outputs": {"v": {"name": "find:0", "dtype": "DT_INT32"}, "n": {"name": "size:0"}}}
    init_sig = {"outputs": {"out:0": {"name": "out:0", "dtype": "DT_RESOURCE", "resourceId": 7}}}
    return sig, init_sig


def test_model_initializer_string_table(tmp_path):
    init = [_node("keys", "Const", dtype="DT_STRING"), _node("vals", "Const", dtype="DT_INT32"),
            _node("ht", "HashTableV2", key_dtype="DT_STRING", value_dtype="DT_INT64"),
            _node("imp", "LookupTableImportV2", ["ht", "keys", "vals"]),
            _node("out", "Identity", ["ht", "^imp"], T="DT_RESOURCE")]
    nodes = [_node("table", "Placeholder", dtype="DT_RESOURCE"), _node("k", "Placeholder", dtype="DT_STRING"),
             _node("default", "Const", dtype="DT_INT32"),
             _node("find", "LookupTableFindV2", ["table", "k", "default"]),
             _node("size", "LookupTableSizeV2", ["table"])]
    weights = [("default", np.array(-1, np.int32)), ("keys", strs("cat", "dog", "bird")),
               ("vals", np.array([0, 1, 2], np.int32))]
    sig, init_sig = _table_signature()
    model = torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, weights, sig, init, init_sig))
    assert model.input_names == ["k"]  # the table handle is fed from modelInitializer
    v, n = model(["dog", "cow", "bird"])
    assert v.tolist() == [1, -1, 2] and int(n) == 3
    assert model.execute({"k": ["cat"]}, "find").tolist() == [0]
    # a resource the initializer does not provide is an error at load
    sig_bad, _ = _table_signature(resource_id=99)
    with pytest.raises(GraphError, match="resource 99"):
        torch_tfjs.load_graph_model(_write(tmp_path / "bad", nodes, weights, sig_bad, init, init_sig))


def test_in_graph_int_table_is_pure_torch(tmp_path):
    """TF1 style: the table is created and filled in the main graph; Find reaches the import by a
    control edge only. Int keys: the lookup is searchsorted over buffers, compilable."""
    nodes = [_node("keys", "Const", dtype="DT_INT32"), _node("vals", "Const", dtype="DT_FLOAT"),
             _node("ht", "HashTableV2", key_dtype="DT_INT64", value_dtype="DT_FLOAT"),
             _node("init", "InitializeTableV2", ["ht", "keys", "vals"]),
             _node("k", "Placeholder", dtype="DT_INT32"), _node("default", "Const", dtype="DT_FLOAT"),
             _node("find", "LookupTableFindV2", ["ht", "k", "default", "^init"])]
    weights = [("keys", np.array([3, 7, 11, -2], np.int32)), ("vals", np.array([0.5, 1.5, -2.0, 4.25], np.float32)),
               ("default", np.array(9.0, np.float32))]
    sig = {"inputs": {"k": {"name": "k:0", "dtype": "DT_INT32"}}, "outputs": {"v": {"name": "find:0"}}}
    model = torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, weights, sig))
    keys = torch.tensor([[3, 7, 0], [11, -2, 5]], dtype=torch.int32)
    expected = [[0.5, 1.5, 9.0], [-2.0, 4.25, 9.0]]
    with torch.no_grad():
        assert model(keys).tolist() == expected
    targets = {getattr(n.target, "__name__", str(n.target)) for n in model.graph_module.graph.nodes}
    assert "sorted_lookup" in targets and "table_find" not in targets
    compiled = torch.compile(model.graph_module, backend="eager", fullgraph=True)
    with torch.no_grad():
        assert compiled(keys).tolist() == expected


def test_dynamic_table_import(tmp_path):
    """Keys and values fed at run time: the table is filled by a call in the graph."""
    nodes = [_node("ht", "HashTableV2", key_dtype="DT_STRING", value_dtype="DT_INT32"),
             _node("ks", "Placeholder", dtype="DT_STRING"), _node("vs", "Placeholder", dtype="DT_INT32"),
             _node("imp", "LookupTableImportV2", ["ht", "ks", "vs"]),
             _node("q", "Placeholder", dtype="DT_STRING"), _node("default", "Const", dtype="DT_INT32"),
             _node("find", "LookupTableFindV2", ["ht", "q", "default", "^imp"]),
             _node("size", "LookupTableSizeV2", ["ht", "^imp"])]
    sig = {"inputs": {"ks": {"name": "ks:0", "dtype": "DT_STRING"}, "vs": {"name": "vs:0", "dtype": "DT_INT32"},
                      "q": {"name": "q:0", "dtype": "DT_STRING"}},
           "outputs": {"v": {"name": "find:0"}, "n": {"name": "size:0"}}}
    model = torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, [("default", np.array(0, np.int32))], sig))
    v, n = model(["a", "b"], torch.tensor([5, 6]), ["b", "z"])
    assert v.tolist() == [6, 0] and int(n) == 2
    v, n = model(["x"], torch.tensor([1]), ["b", "x"])
    assert v.tolist() == [0, 1] and int(n) == 1


def test_bad_table_and_pattern_fail_at_load(tmp_path):
    init = [_node("keys", "Const", dtype="DT_STRING"), _node("vals", "Const", dtype="DT_INT32"),
            _node("ht", "HashTableV2", key_dtype="DT_STRING", value_dtype="DT_INT32"),
            _node("imp", "LookupTableImportV2", ["ht", "keys", "vals"]),
            _node("out", "Identity", ["ht", "^imp"], T="DT_RESOURCE")]
    nodes = [_node("table", "Placeholder", dtype="DT_RESOURCE"), _node("k", "Placeholder", dtype="DT_STRING"),
             _node("default", "Const", dtype="DT_INT32"),
             _node("find", "LookupTableFindV2", ["table", "k", "default"]), _node("size", "LookupTableSizeV2", ["table"])]
    weights = [("default", np.array(-1, np.int32)), ("keys", strs("a", "b")), ("vals", np.array([1, 2, 3], np.int32))]
    sig, init_sig = _table_signature()
    with pytest.raises(GraphError, match="'imp'.*number of elements"):
        torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, weights, sig, init, init_sig))
    nodes = [_node("s", "Placeholder", dtype="DT_STRING"),
             _node("r", "StaticRegexReplace", ["s"], pattern="(", rewrite="", replace_global=True)]
    sig = {"inputs": {"s": {"name": "s:0", "dtype": "DT_STRING"}}, "outputs": {"r": {"name": "r:0"}}}
    with pytest.raises(GraphError, match="'r'.*cannot be compiled"):
        torch_tfjs.load_graph_model(_write(tmp_path / "p", nodes, [], sig))


def test_shape_size_rank_of_string_tensor(tmp_path):
    nodes = [_node("s", "Placeholder", dtype="DT_STRING"), _node("shape", "Shape", ["s"]),
             _node("size", "Size", ["s"]), _node("rank", "Rank", ["s"])]
    sig = {"inputs": {"s": {"name": "s:0", "dtype": "DT_STRING"}},
           "outputs": {k: {"name": f"{k}:0"} for k in ("shape", "size", "rank")}}
    model = torch_tfjs.load_graph_model(_write(tmp_path / "m", nodes, [], sig))
    shape, size, rank = model([["a", "b", "c"], ["d", "e", "f"]])
    assert shape.tolist() == [2, 3] and int(size) == 6 and int(rank) == 2
