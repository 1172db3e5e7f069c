"""reduction and evaluation emitters against numpy statements of TF's semantics."""

import numpy as np
import pytest
import torch

from single_op import run_single_op

RNG = np.random.default_rng(1)
X = RNG.standard_normal((3, 4, 5)).astype(np.float32)
XI = RNG.integers(-9, 9, size=(3, 4)).astype(np.int32)


@pytest.mark.parametrize("op,np_fn", [("Sum", np.sum), ("Mean", np.mean), ("Max", np.max),
                                      ("Min", np.min), ("Prod", np.prod)])
@pytest.mark.parametrize("axes,keep", [([1], False), ([0, -1], True), ([], False)])
def test_float_reductions(tmp_path, op, np_fn, axes, keep):
    out = run_single_op(tmp_path, op, [(X, False), (np.array(axes, np.int32), True)], {"keep_dims": keep})
    expected = np_fn(X, axis=tuple(axes), keepdims=keep) if axes else X
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_int_mean_truncates_like_tf(tmp_path):
    out = run_single_op(tmp_path, "Mean", [(XI, False), (np.array([1], np.int32), True)])
    expected = np.trunc(XI.sum(axis=1) / 4).astype(np.int32)
    assert out.dtype == torch.int32 and out.tolist() == expected.tolist()


def test_all_any_argmax(tmp_path):
    b = X > 0
    assert run_single_op(tmp_path / "a", "All", [(b, False), (np.array([2], np.int32), True)]).tolist() == b.all(2).tolist()
    assert run_single_op(tmp_path / "b", "Any", [(b, False), (np.array([0, 2], np.int32), True)]).tolist() == b.any((0, 2)).tolist()
    ties = np.array([[1, 3, 3], [2, 2, 0]], np.float32)
    out = run_single_op(tmp_path / "c", "ArgMax", [(ties, False), (np.array(1, np.int32), True)])
    assert out.tolist() == [1, 0] and out.dtype == torch.int32


@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_cumsum(tmp_path, exclusive, reverse):
    out = run_single_op(tmp_path, "Cumsum", [(X, False), (np.array(1, np.int32), True)],
                        {"exclusive": exclusive, "reverse": reverse})
    x = X[:, ::-1] if reverse else X
    ref = np.cumsum(x, axis=1)
    if exclusive:
        ref = np.concatenate([np.zeros_like(ref[:, :1]), ref[:, :-1]], axis=1)
    if reverse:
        ref = ref[:, ::-1]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_bincount(tmp_path):
    arr = np.array([1, 1, 3, 7, -1, 2], np.int32)
    out = run_single_op(tmp_path / "a", "Bincount", [(arr, False), (np.array(5, np.int32), True),
                                                     (np.zeros(0, np.float32), True)])
    assert out.tolist() == [0, 2, 1, 1, 0]
    w = np.arange(6, dtype=np.float32)
    out = run_single_op(tmp_path / "b", "Bincount", [(arr, False), (np.array(4, np.int32), True), (w, False)])
    assert out.tolist() == [0.0, 1.0, 5.0, 2.0]


def test_top_k_stable_ties(tmp_path):
    x = np.array([[1, 5, 5, 2, 5], [0, -1, 3, 3, 1]], np.float32)
    values, indices = run_single_op(tmp_path, "TopKV2", [(x, False), (np.array(3, np.int32), True)], n_outputs=2)
    assert values.tolist() == [[5, 5, 5], [3, 3, 1]]
    assert indices.tolist() == [[1, 2, 4], [2, 3, 4]]


def test_unique_first_occurrence_order(tmp_path):
    x = np.array([4, 1, 4, 2, 1, 9], np.int32)
    y, idx = run_single_op(tmp_path, "Unique", [(x, False)], n_outputs=2)
    assert y.tolist() == [4, 1, 2, 9] and idx.tolist() == [0, 1, 0, 2, 1, 3]
    m = np.array([[1, 2], [3, 4], [1, 2]], np.float32)
    y, idx = run_single_op(tmp_path / "v2", "UniqueV2", [(m, False), (np.array([0], np.int32), True)], n_outputs=2)
    assert y.tolist() == [[1, 2], [3, 4]] and idx.tolist() == [0, 1, 0]


def test_bounds(tmp_path):
    s = np.array([[1, 3, 3, 7]], np.float32)
    v = np.array([[3, 0, 8]], np.float32)
    assert run_single_op(tmp_path / "l", "LowerBound", [(s, False), (v, False)]).tolist() == [[1, 0, 4]]
    assert run_single_op(tmp_path / "u", "UpperBound", [(s, False), (v, False)]).tolist() == [[3, 0, 4]]
