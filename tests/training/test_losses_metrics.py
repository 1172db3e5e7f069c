"""Losses and metrics against numpy statements of tfjs-layers' losses.js / metrics.js
(epsilon = 1e-7 clipping where tfjs clips), identifier resolution and compile-time metric naming."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torch_tfjs.errors import ConversionError
from torch_tfjs.training import losses as L
from torch_tfjs.training import metrics as M

EPS = 1e-7
RNG = np.random.default_rng(7)
# predictions include exact 0 and 1 so every clip matters
PROBS = RNG.dirichlet(np.ones(4), size=6).astype(np.float32)
PROBS[0] = [1.0, 0.0, 0.0, 0.0]
PROBS[1] = [0.0, 0.0, 0.5, 0.5]
ONEHOT = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, size=6)]
REAL_T = RNG.normal(size=(6, 4)).astype(np.float32)
REAL_P = RNG.normal(size=(6, 4)).astype(np.float32)
REAL_T[0, 0] = 0.0  # mape's clip of |y_true|
POS_T = np.abs(REAL_T)
POS_P = np.abs(REAL_P)
POS_P[2, 1] = 0.0
SIGNS = np.sign(REAL_T).astype(np.float32)
BIN_T = (RNG.random((6, 3)) < 0.5).astype(np.float32)
BIN_P = RNG.random((6, 3)).astype(np.float32)
BIN_P[0] = [0.0, 1.0, 0.5]


def _clip(x, lo, hi=np.inf):
    return np.clip(x, lo, hi)


def np_cce(t, p):
    p = p / p.sum(-1, keepdims=True)
    p = _clip(p, EPS, 1 - EPS)
    return -(t * np.log(p)).sum(-1)


def np_l2n(x):
    return x / np.sqrt(np.maximum((x * x).sum(-1, keepdims=True), EPS))


def np_bce(t, p):
    y = _clip(p, EPS, 1 - EPS)
    x = np.log(y / (1 - y))
    return (np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))).mean(-1)


def np_softplus(x):
    return np.log1p(np.exp(x))


REFERENCE = {
    "meanSquaredError": (REAL_T, REAL_P, lambda t, p: ((p - t) ** 2).mean(-1)),
    "meanAbsoluteError": (REAL_T, REAL_P, lambda t, p: np.abs(p - t).mean(-1)),
    "meanAbsolutePercentageError": (REAL_T, REAL_P,
                                    lambda t, p: 100 * np.abs((t - p) / _clip(np.abs(t), EPS)).mean(-1)),
    "meanSquaredLogarithmicError": (POS_T, POS_P, lambda t, p: (
        (np.log(1 + _clip(p, EPS)) - np.log(1 + _clip(t, EPS))) ** 2).mean(-1)),
    "squaredHinge": (SIGNS, REAL_P, lambda t, p: (np.maximum(0, 1 - t * p) ** 2).mean(-1)),
    "hinge": (SIGNS, REAL_P, lambda t, p: np.maximum(0, 1 - t * p).mean(-1)),
    "categoricalHinge": (ONEHOT, REAL_P, lambda t, p: np.maximum(
        0, 1 + ((1 - t) * p).max(-1) - (t * p).sum(-1))),
    "logcosh": (REAL_T, REAL_P, lambda t, p: ((p - t) + np_softplus(-2 * (p - t)) - math.log(2)).mean(-1)),
    "categoricalCrossentropy": (ONEHOT, PROBS, np_cce),
    "binaryCrossentropy": (BIN_T, BIN_P, np_bce),
    "kullbackLeiblerDivergence": (PROBS[::-1].copy(), PROBS, lambda t, p: (
        t * np.log(_clip(t, EPS, 1) / _clip(p, EPS, 1))).sum(-1)),
    "poisson": (POS_T, POS_P, lambda t, p: (p - t * np.log(EPS + p)).mean(-1)),
    "cosineProximity": (REAL_T, REAL_P, lambda t, p: -(np_l2n(t) * np_l2n(p)).sum(-1)),
}


def test_every_tfjs_loss_is_covered():
    assert set(REFERENCE) | {"sparseCategoricalCrossentropy"} == set(L.LOSSES)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_loss_matches_tfjs_formula(name):
    t, p, ref = REFERENCE[name]
    got = L.get_loss(name)(torch.from_numpy(t), torch.from_numpy(p)).numpy()
    want = ref(t.astype(np.float64), p.astype(np.float64))
    assert got.shape == want.shape == (t.shape[0],)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_categorical_crossentropy_normalizes_and_clips():
    p = torch.tensor([[2.0, 0.0, 2.0]])  # not a distribution: tfjs divides by the sum first
    t = torch.tensor([[0.0, 1.0, 0.0]])
    got = L.categorical_crossentropy(t, p)
    assert float(got) == pytest.approx(-math.log(np.float32(EPS)), rel=1e-6)
    assert float(L.categorical_crossentropy(torch.tensor([[1.0, 0, 0]]), torch.tensor([[1.0, 0, 0]]))) \
        == pytest.approx(-math.log(float(np.float32(1 - EPS))), abs=1e-6)


def test_sparse_categorical_crossentropy_is_one_hot_cce():
    ids = RNG.integers(0, 4, size=(6, 1)).astype(np.float32)
    got = L.sparse_categorical_crossentropy(torch.from_numpy(ids), torch.from_numpy(PROBS)).numpy()
    p = _clip(PROBS.astype(np.float64), EPS, 1 - EPS)  # clipped once before, once inside cce
    want = np_cce(np.eye(4)[ids[:, 0].astype(int)], p)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_sequence_losses_keep_time_axis_and_reduce_to_mean():
    t = torch.randn(2, 5, 3)
    p = torch.randn(2, 5, 3)
    per = L.mean_squared_error(t, p)
    assert per.shape == (2, 5)
    assert float(L.reduce_loss(per)) == pytest.approx(float(((p - t) ** 2).mean()), rel=1e-6)


def test_logcosh_softplus_is_tfjs_kernel():
    x = torch.tensor([-30.0, -5.0, 0.0, 5.0, 30.0])
    got = L.tfjs_softplus(x).numpy()
    thr = math.log(1.1920928955078125e-7) + 2
    want = [math.exp(v) if v < thr else v if v > -thr else math.log1p(math.exp(v)) for v in x.tolist()]
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("identifier, canonical", [
    ("meanSquaredError", "meanSquaredError"), ("mean_squared_error", "meanSquaredError"),
    ("mse", "meanSquaredError"), ("MSE", "meanSquaredError"), ("mae", "meanAbsoluteError"),
    ("mape", "meanAbsolutePercentageError"), ("msle", "meanSquaredLogarithmicError"),
    ("kld", "kullbackLeiblerDivergence"), ("kullback_leibler_divergence", "kullbackLeiblerDivergence"),
    ("categorical_crossentropy", "categoricalCrossentropy"), ("CategoricalCrossentropy", "categoricalCrossentropy"),
    ("sparse_categorical_crossentropy", "sparseCategoricalCrossentropy"), ("binary_crossentropy", "binaryCrossentropy"),
    ("squared_hinge", "squaredHinge"), ("categorical_hinge", "categoricalHinge"), ("logcosh", "logcosh"),
    ("cosine_proximity", "cosineProximity"), ("cosine", "cosineProximity"), ("poisson", "poisson"),
    ("hinge", "hinge"), ("mean_absolute_percentage_error", "meanAbsolutePercentageError"),
])
def test_loss_identifiers(identifier, canonical):
    assert L.canonical_loss_name(identifier) == canonical
    assert L.get_loss(identifier) is L.LOSSES[canonical]


def test_unknown_loss_is_named():
    with pytest.raises(ConversionError, match="huber"):
        L.get_loss("huber")
    with pytest.raises(ConversionError, match="categoricalCrossentropy"):
        L.get_loss("softmaxCrossEntropy")


def test_keras_loss_dict_with_from_logits():
    fn = L.get_loss({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    logits = torch.randn(4, 3)
    t = torch.eye(3)[[0, 1, 2, 0]]
    want = L.categorical_crossentropy(t, torch.softmax(logits, -1))
    torch.testing.assert_close(fn(t, logits), want)


# --- metrics -----------------------------------------------------------------------------------

def test_binary_accuracy():
    got = M.binary_accuracy(torch.from_numpy(BIN_T), torch.from_numpy(BIN_P)).numpy()
    want = (BIN_T == (BIN_P > 0.5)).mean(-1)  # 0.5 exactly is not > 0.5
    np.testing.assert_allclose(got, want)


def test_categorical_and_sparse_accuracy():
    got = M.categorical_accuracy(torch.from_numpy(ONEHOT), torch.from_numpy(PROBS)).numpy()
    want = (ONEHOT.argmax(-1) == PROBS.argmax(-1)).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    ids = torch.from_numpy(ONEHOT.argmax(-1).astype(np.float32)[:, None])
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(ids, torch.from_numpy(PROBS)).numpy(), want)
    # tie: first index wins, as tfjs argMax
    assert float(M.categorical_accuracy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))) == 0.0


def test_precision_recall():
    t = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0])
    p = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    assert float(M.precision(t, p)) == pytest.approx(2 / 3)
    assert float(M.recall(t, p)) == pytest.approx(2 / 3)
    assert float(M.precision(t, torch.zeros(5))) == 0.0


@pytest.mark.parametrize("metric, last_dim, loss, label, fn", [
    ("accuracy", 3, L.categorical_crossentropy, "acc", M.categorical_accuracy),
    ("acc", 1, L.mean_squared_error, "acc", M.binary_accuracy),
    ("accuracy", 3, L.binary_crossentropy, "acc", M.binary_accuracy),
    ("accuracy", 3, L.sparse_categorical_crossentropy, "acc", M.sparse_categorical_accuracy),
    ("crossentropy", 3, L.categorical_crossentropy, "ce", L.categorical_crossentropy),
    ("ce", 1, L.binary_crossentropy, "ce", L.binary_crossentropy),
    ("mae", 3, L.mean_squared_error, "mae", L.mean_absolute_error),
    ("categoricalAccuracy", 3, L.mean_squared_error, "categoricalAccuracy", M.categorical_accuracy),
    ("mean_squared_error", 3, L.mean_squared_error, "mean_squared_error", L.mean_squared_error),
])
def test_metric_resolution_as_tfjs_compile(metric, last_dim, loss, label, fn):
    assert M.resolve_metric(metric, output_last_dim=last_dim, loss_fn=loss) == (label, fn)


def test_unknown_metric_is_named():
    with pytest.raises(ConversionError, match="auc"):
        M.get_metric("auc")


def test_collect_metrics():
    assert M.collect_metrics(["acc"], ["a", "b"]) == [["acc"], ["acc"]]
    assert M.collect_metrics({"b": "mse"}, ["a", "b"]) == [[], ["mse"]]
    with pytest.raises(ConversionError):
        M.collect_metrics({"c": "mse"}, ["a", "b"])
