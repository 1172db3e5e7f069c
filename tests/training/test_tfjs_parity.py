"""Training parity with tfjs ``model.fit``: the fixtures in tests/fixtures/training/ hold a
model saved by tfjs before training, the data, tfjs's per-batch losses and its final weights
(scripts/tfjs/make_training_fixtures.mjs). The same batches are trained here with a plain torch
loop and with :func:`torch_tfjs.training.fit`; losses and every final weight (trainable ones
and BatchNorm moving statistics) must match to 1e-5 relative. Where tfjs also saved the model
mid-way with its optimizer state, training resumes from that save."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch

import torch_tfjs
from torch_tfjs import training as T
from torch_tfjs.errors import ConversionError

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "training"
CASES = sorted(p.name for p in ROOT.iterdir() if (p / "case.json").exists()) if ROOT.exists() else []
TOL = 1e-5


def _meta(name: str) -> Dict[str, Any]:
    return json.loads((ROOT / name / "case.json").read_text())


def _setup(model: torch.nn.Module, meta: Dict[str, Any], folder: Path) -> T.TrainingSetup:
    """From the artifact's trainingConfig (and optimizer weights) when tfjs saved them, else from
    case.json's optimizer config (Adamax: tfjs cannot save its state)."""
    if model.artifact_info.get("training_config"):
        return T.from_training_config(model, source=folder)
    return T.compile(model, meta["optimizer"], meta["loss"], meta["metrics"])


def _data(name: str):
    folder = ROOT / name
    return torch.from_numpy(np.load(folder / "x.npy")), torch.from_numpy(np.load(folder / "y.npy"))


def _assert_losses(got: List[float], want: np.ndarray) -> float:
    got_a = np.asarray(got, dtype=np.float64)
    assert got_a.shape == want.shape
    err = np.abs(got_a - want) / np.maximum(1.0, np.abs(want))
    assert np.all(err <= TOL), f"losses differ: torch {got_a}, tfjs {want}"
    return float(err.max())


def _assert_weights(model: torch.nn.Module, meta: Dict[str, Any], name: str) -> float:
    weights = dict(model.keras_weights())
    worst = 0.0
    for entry in meta["final_weights"]:
        ref = np.load(ROOT / name / entry["file"])
        assert entry["name"] in weights, f"no weight {entry['name']!r} in the torch model"
        got = weights[entry["name"]].detach().cpu().numpy()
        assert got.shape == ref.shape, entry["name"]
        err = np.abs(got.astype(np.float64) - ref) / np.maximum(1.0, np.abs(ref))
        worst = max(worst, float(err.max()))
        assert err.max() <= TOL, f"{entry['name']}: max relative error {err.max():.3g}"
    return worst


def _plain_loop(model, setup, x, y, batch_size, start=0, stop=None) -> List[float]:
    losses = []
    n = x.shape[0] if stop is None else stop
    for s in range(start, n, batch_size):
        e = min(s + batch_size, n)
        model.train()
        setup.optimizer.zero_grad(set_to_none=True)
        out = model(x[s:e])
        loss = setup.loss_fn(out, y[s:e])
        loss.backward()
        setup.optimizer.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("name", CASES)
def test_plain_torch_loop_matches_tfjs_fit(name):
    meta = _meta(name)
    if meta["epochs"] != 1 or meta.get("validation_split"):
        pytest.skip("multi-epoch / validation case: covered by the fit() test")
    model = torch_tfjs.load_layers_model(ROOT / name)
    setup = _setup(model, meta, ROOT / name)
    assert type(setup.optimizer).__name__ in ("SGD", "Momentum", "Adam", "Adamax", "RMSProp",
                                               "Adagrad", "Adadelta")
    assert setup.optimizer.tfjs_class_name == meta["optimizer"]["class_name"]
    x, y = _data(name)
    losses = _plain_loop(model, setup, x, y, meta["batch_size"])
    _assert_losses(losses, np.load(ROOT / name / "losses.npy"))
    _assert_weights(model, meta, name)
    assert setup.optimizer.iterations == meta["steps"]


@pytest.mark.parametrize("name", CASES)
def test_fit_matches_tfjs_fit(name):
    meta = _meta(name)
    model = torch_tfjs.load_layers_model(ROOT / name)
    _setup(model, meta, ROOT / name)
    x, y = _data(name)
    losses: List[float] = []
    history = T.fit(model, x, y, epochs=meta["epochs"], batch_size=meta["batch_size"], shuffle=False,
                    validation_split=meta.get("validation_split") or 0.0, verbose=0,
                    callbacks=[{"onBatchEnd": lambda batch, logs: losses.append(logs["loss"])}])
    _assert_losses(losses, np.load(ROOT / name / "losses.npy"))
    _assert_weights(model, meta, name)
    if meta.get("history"):
        assert set(history.history) == set(meta["history"])
        for key, want in meta["history"].items():
            got = np.asarray(history.history[key])
            assert np.allclose(got, want, rtol=TOL, atol=TOL), (key, got, want)


@pytest.mark.parametrize("name", [n for n in CASES if (ROOT / n / "mid" / "model.json").exists()])
def test_resume_from_tfjs_optimizer_state(name):
    """tfjs saved the model after ``mid_steps`` batches with includeOptimizer: restoring its
    slot variables and continuing gives tfjs's remaining losses and final weights."""
    meta = _meta(name)
    mid = ROOT / name / "mid"
    artifact = torch_tfjs.read_artifact(mid)
    assert artifact.optimizer_weights, "the mid save should carry optimizer weights"
    model = torch_tfjs.load_layers_model(mid)
    setup = T.from_training_config(model, source=mid)
    assert setup.optimizer.iterations == meta["mid_steps"]
    x, y = _data(name)
    n = meta["batch_size"] * meta["mid_steps"]
    losses = _plain_loop(model, setup, x[n:], y[n:], meta["batch_size"])
    _assert_losses(losses, np.load(ROOT / name / "losses.npy")[meta["mid_steps"]:])
    _assert_weights(model, meta, name)


@pytest.mark.parametrize("name", [n for n in CASES if (ROOT / n / "mid" / "model.json").exists()])
def test_resume_without_optimizer_state_differs(name):
    """Control for the resume test: with fresh optimizer state the stateful optimizers do not
    reproduce tfjs (so the restore is what makes the previous test pass)."""
    meta = _meta(name)
    mid = ROOT / name / "mid"
    model = torch_tfjs.load_layers_model(mid)
    setup = T.from_training_config(model, optimizer_weights={})
    if type(setup.optimizer) is T.SGD and not setup.optimizer.use_momentum:
        pytest.skip("plain SGD has no state")
    if type(setup.optimizer) is T.Adadelta:
        pytest.skip("tfjs Adadelta divides by the *previous* gradient average, so its two "
                    "accumulators stay equal and every update is exactly -lr * g: state-free")
    x, y = _data(name)
    n = meta["batch_size"] * meta["mid_steps"]
    _plain_loop(model, setup, x[n:], y[n:], meta["batch_size"])
    weights = dict(model.keras_weights())
    diffs = [float(np.max(np.abs(weights[e["name"]].numpy() - np.load(ROOT / name / e["file"]))))
             for e in meta["final_weights"]]
    assert max(diffs) > 1e-4


def test_cases_present():
    assert {"cnn_momentum", "cnn_adam", "cnn_rmsprop", "lstm_adam", "lstm_fit_validation"} <= set(CASES)


# --- from_training_config / fit behaviour on a fixture model ---------------------------------

def test_from_training_config_errors_name_unknown_identifiers():
    model = torch_tfjs.load_layers_model(ROOT / "lstm_adam")
    base = dict(model.artifact_info["training_config"])
    with pytest.raises(ConversionError, match="huber"):
        T.from_training_config(model, {**base, "loss": "huber"})
    with pytest.raises(ConversionError, match="auc"):
        T.from_training_config(model, {**base, "metrics": ["auc"]})
    with pytest.raises(ConversionError, match="Ftrl"):
        T.from_training_config(model, {**base, "optimizer_config": {"class_name": "Ftrl", "config": {}}})
    bare = torch_tfjs.load_layers_model(ROOT / "lstm_adamax")  # saved without trainingConfig
    with pytest.raises(ConversionError, match="trainingConfig"):
        T.from_training_config(bare)


def test_keras_style_training_config():
    """What the Python converter writes: Keras class names, snake_case keys and identifiers."""
    model = torch_tfjs.load_layers_model(ROOT / "cnn_momentum")
    setup = T.from_training_config(model, {
        "loss": "categorical_crossentropy", "metrics": ["accuracy"],
        "optimizer_config": {"class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.05,
                                                             "momentum": 0.9, "nesterov": False}}})
    assert setup.optimizer.tfjs_class_name == "Momentum"
    assert list(setup.metrics) == ["acc"]
    # identical to tfjs's own config for this case: the plain loop reproduces tfjs
    x, y = _data("cnn_momentum")
    losses = _plain_loop(model, setup, x, y, 4)
    _assert_losses(losses, np.load(ROOT / "cnn_momentum" / "losses.npy"))
    with pytest.raises(ConversionError):
        T.from_training_config(model, {"loss": "mse", "optimizer_config": {"class_name": "SGD", "config": {}},
                                       "loss_weights": [1.0]})


def test_fit_shuffle_validation_data_and_continuation():
    model = torch_tfjs.load_layers_model(ROOT / "lstm_adam")
    x, y = _data("lstm_adam")
    epochs_seen = []
    h = T.fit(model, x, y, epochs=2, batch_size=8, validation_data=(x[:6], y[:6]), verbose=0,
              generator=torch.Generator().manual_seed(0),
              callbacks=[{"onEpochEnd": lambda e, logs: epochs_seen.append(e)}])
    assert epochs_seen == [0, 1] and h.epoch == [0, 1]
    assert set(h.history) == {"loss", "mae", "val_loss", "val_mae"}
    setup = getattr(model, "_torch_tfjs_training_setup")
    assert setup.optimizer.iterations == 2 * 3  # 20 samples / 8 -> 3 batches per epoch
    T.fit(model, x, y, epochs=1, batch_size=20, shuffle=False, verbose=0)  # same optimizer, continued
    assert getattr(model, "_torch_tfjs_training_setup") is setup and setup.optimizer.iterations == 7


def test_fit_stop_training_from_callback():
    model = torch_tfjs.load_layers_model(ROOT / "lstm_adam")
    x, y = _data("lstm_adam")

    class Stop(T.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                model.stop_training = True
    h = T.fit(model, x, y, epochs=3, batch_size=4, shuffle=False, verbose=0, callbacks=[Stop()],
              optimizer="sgd", loss="meanSquaredError")
    assert h.epoch == [0]
    assert getattr(model, "_torch_tfjs_training_setup").optimizer.iterations == 2
