"""tfjs ``model.compile`` + ``model.fit`` for converted LayersModels.

:func:`from_training_config` turns the ``trainingConfig`` a tfjs artifact carries into a
:class:`TrainingSetup` (optimizer, loss, metrics, with tfjs semantics) and restores the optimizer
state tfjs saved with ``includeOptimizer``. :func:`compile` builds one from explicit arguments.
:func:`fit` reproduces ``LayersModel.fit``: batches in order (shuffled per epoch unless
``shuffle=False``), ``validation_split`` taking the *last* rows, the model in train mode for the
batches and eval mode for validation, per-epoch logs averaged over samples as tfjs's
``BaseLogger``, a :class:`History` back.

The batch loss is tfjs's ``totalLoss``: per output, the per-sample loss; summed over outputs;
averaged over every element. Layer regularizers are not added (torch_tfjs does not convert
them), nor sample or class weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..errors import ConversionError, ModelInputError
from ..signature import Signature
from . import losses as L
from . import metrics as M
from .optimizers import (TfjsOptimizer, get_optimizer, load_tfjs_optimizer_weights,
                         optimizer_from_config)

TensorLike = Union[torch.Tensor, np.ndarray]
Data = Union[TensorLike, Sequence[TensorLike], Mapping[str, TensorLike]]

_SETUP_ATTR = "_torch_tfjs_training_setup"


@dataclass
class TrainableWeight:
    """One trainable weight in tfjs ``trainableWeights`` order."""

    name: str
    param: nn.Parameter
    to_torch: Callable[[np.ndarray], torch.Tensor]


@dataclass
class TrainingSetup:
    """What tfjs ``compile`` sets up: an optimizer over the model's trainable parameters, one
    loss per output, metrics by logged name (``name -> (function, output index)``)."""

    optimizer: torch.optim.Optimizer
    loss_fns: List[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]
    metrics: Dict[str, Tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], int]] = field(default_factory=dict)
    output_names: List[str] = field(default_factory=list)
    training_config: Optional[Dict[str, Any]] = None

    @property
    def loss_fn(self) -> Callable[[Any, Any], torch.Tensor]:
        """``loss_fn(outputs, targets)``: the scalar tfjs minimizes for one batch."""
        return self.total_loss

    def total_loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        outs = _as_list(outputs)
        ys = _as_list(targets)
        if len(outs) != len(self.loss_fns) or len(ys) != len(self.loss_fns):
            raise ModelInputError(f"{len(self.loss_fns)} output(s) need as many targets; got "
                                  f"{len(outs)} output(s) and {len(ys)} target(s)")
        total: Optional[torch.Tensor] = None
        for fn, y, out in zip(self.loss_fns, ys, outs):
            per_sample = fn(_match_dtype(y, out), out)
            total = per_sample if total is None else total + per_sample
        assert total is not None
        return torch.mean(total)

    def metric_names(self) -> List[str]:
        """The labels tfjs logs, ``loss`` first (deduplicated as tfjs does)."""
        names = ["loss"]
        if len(self.loss_fns) > 1:
            names += [f"{n}_loss" for n in self.output_names]
        names += list(self.metrics)
        return names

    def batch_logs(self, outputs: Any, targets: Any, loss: torch.Tensor) -> Dict[str, float]:
        """The values tfjs logs for a batch (``loss`` = the given total loss)."""
        outs = _as_list(outputs)
        ys = _as_list(targets)
        logs = {"loss": float(loss.detach())}
        with torch.no_grad():
            if len(self.loss_fns) > 1:
                for name, fn, y, out in zip(self.output_names, self.loss_fns, ys, outs):
                    logs[f"{name}_loss"] = float(torch.mean(fn(_match_dtype(y, out), out.detach())))
            for label, (fn, i) in self.metrics.items():
                logs[label] = float(M.batch_metric(fn, _match_dtype(ys[i], outs[i]), outs[i].detach()))
        return logs


def _as_list(x: Any) -> List[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _match_dtype(y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point() and out.is_floating_point() and y.dtype != out.dtype:
        return y.to(out.dtype)
    return y


# --- weights -----------------------------------------------------------------------------------

def trainable_weights(model: nn.Module) -> List[TrainableWeight]:
    """The model's trainable weights in tfjs ``trainableWeights`` order (layers in topology
    order, each layer's weights in creation order), with their manifest names."""
    from ..layers.base import KerasLayer
    from ..layers.model import LayersModel

    out: List[TrainableWeight] = []
    seen: set = set()

    def visit(layer: nn.Module) -> None:
        if isinstance(layer, LayersModel):
            for child in layer.layers:
                visit(child)
            return
        if not isinstance(layer, KerasLayer):
            return
        for w in layer._keras_weights:
            value = getattr(layer, w.attr, None)
            if not (w.trainable and isinstance(value, nn.Parameter) and value.requires_grad):
                continue
            if id(value) in seen:
                continue
            seen.add(id(value))

            def to_torch(array: np.ndarray, _w: Any = w, _p: nn.Parameter = value) -> torch.Tensor:
                t = torch.from_numpy(np.ascontiguousarray(array))
                if _w.permutation is not None:
                    t = t.permute(_w.permutation)
                return t.reshape(_p.shape)
            out.append(TrainableWeight(w.manifest_name, value, to_torch))
        for child in layer.children():
            visit(child)

    visit(model)
    return out


def _ordered_params(model: nn.Module) -> List[nn.Parameter]:
    """tfjs-ordered trainable weights, then any other trainable parameter (user modules)."""
    params = [w.param for w in trainable_weights(model)]
    known = {id(p) for p in params}
    params += [p for p in model.parameters() if p.requires_grad and id(p) not in known]
    return params


# --- compile -----------------------------------------------------------------------------------

def _output_info(model: nn.Module) -> Tuple[List[str], List[Optional[int]]]:
    names = list(getattr(model, "output_names", None) or ["output"])
    last_dims: List[Optional[int]] = [None] * len(names)
    shapes = getattr(model, "keras_output_shapes", None)
    if shapes is None:
        try:
            shapes = _keras_output_shapes(model)
        except Exception:  # pragma: no cover - shape discovery is best effort
            shapes = None
    if shapes:
        last_dims = [s[-1] if s else None for s in shapes]
    return names, last_dims


def _keras_output_shapes(model: nn.Module) -> Optional[List[Optional[Tuple[Any, ...]]]]:
    """Output shapes (a Keras config does not hold them): run the model on zeros when the
    signature knows every input shape."""
    signature = getattr(model, "signature", None)
    if not isinstance(signature, Signature) or not signature.inputs or any(
            spec.shape is None or None in spec.shape[1:] for spec in signature.inputs):
        return None
    try:
        dummies = signature.example_inputs(batch=2)
    except ModelInputError:  # string inputs
        return None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outs = _as_list(model(*dummies))
    finally:
        model.train(was_training)
    return [tuple(o.shape) for o in outs]


def compile(model: nn.Module, optimizer: Union[str, Mapping[str, Any], torch.optim.Optimizer, None] = None,
            loss: Any = None, metrics: Any = None, *,
            training_config: Optional[Dict[str, Any]] = None) -> TrainingSetup:
    """tfjs ``model.compile({optimizer, loss, metrics})`` for a converted model.

    ``optimizer``: a tfjs string identifier (``'adam'``), an ``optimizer_config`` dict
    (``{"class_name", "config"}``) or a ready ``torch.optim.Optimizer``. ``loss``: one identifier
    for every output, a list (one per output) or a dict by output name. ``metrics``: a list (every
    output) or a dict by output name. The setup is attached to the model, so a later :func:`fit`
    without these arguments continues with the same optimizer state, as tfjs does.
    """
    if optimizer is None:
        raise ConversionError("compile needs an optimizer")
    if loss is None:
        raise ConversionError("compile needs a loss")
    params = _ordered_params(model)
    if isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
    elif isinstance(optimizer, str):
        opt = get_optimizer(optimizer, params)
    elif isinstance(optimizer, Mapping):
        opt = optimizer_from_config(optimizer, params)
    else:
        raise ConversionError(f"optimizer must be a name, an optimizer_config or a torch optimizer, "
                              f"got {type(optimizer).__name__}")
    names, last_dims = _output_info(model)
    if isinstance(loss, Mapping) and "class_name" not in loss:
        unknown = [k for k in loss if k not in names]
        if unknown:
            raise ConversionError(f"unknown entry in loss dictionary: {unknown}; outputs: {names}")
        missing = [n for n in names if loss.get(n) is None]
        if missing:
            raise ConversionError(f"loss dictionary has no loss for output(s) {missing}")
        loss_fns = [L.get_loss(loss[n]) for n in names]
    elif isinstance(loss, (list, tuple)):
        if len(loss) != len(names):
            raise ConversionError(f"a list of losses needs one entry per output ({len(names)}), "
                                  f"got {len(loss)}")
        loss_fns = [L.get_loss(x) for x in loss]
    else:
        loss_fns = [L.get_loss(loss)] * len(names)
    metric_table: Dict[str, Tuple[Callable[..., torch.Tensor], int]] = {}
    labels: List[Tuple[str, Callable[..., torch.Tensor], int]] = []
    for i, entries in enumerate(M.collect_metrics(metrics, names)):
        for entry in entries:
            label, fn = M.resolve_metric(entry, output_last_dim=last_dims[i], loss_fn=loss_fns[i])
            if len(names) > 1:
                label = f"{names[i]}_{label}"
            labels.append((label, fn, i))
    base = ["loss"] + ([f"{n}_loss" for n in names] if len(names) > 1 else [])
    all_labels = base + [lab for lab, _, _ in labels]
    for j, (label, fn, i) in enumerate(labels):  # tfjs getDedupedMetricsNames
        k = len(base) + j
        if all_labels.count(label) > 1:
            label = f"{label}_{all_labels[:k].count(label)}"
        metric_table[label] = (fn, i)
    setup = TrainingSetup(opt, loss_fns, metric_table, names, training_config)
    setattr(model, _SETUP_ATTR, setup)
    return setup


def _training_config_of(model: nn.Module) -> Optional[Dict[str, Any]]:
    info = getattr(model, "artifact_info", None)
    if isinstance(info, Mapping) and isinstance(info.get("training_config"), Mapping):
        return dict(info["training_config"])
    return None


def from_training_config(model: nn.Module, training_config: Optional[Mapping[str, Any]] = None, *,
                         optimizer_weights: Optional[Mapping[str, np.ndarray]] = None,
                         source: Any = None) -> TrainingSetup:
    """The optimizer, loss and metrics a tfjs ``trainingConfig`` describes (tfjs
    ``loadTrainingConfig`` + ``compile``), for ``model``.

    ``training_config``: the dict (snake_case keys as saved: ``optimizer_config``, ``loss``,
    ``metrics``); by default the one the model was loaded with. ``optimizer_weights``: the
    entries tfjs saved with ``includeOptimizer`` (``ModelArtifact.optimizer_weights``);
    ``source``: an artifact path (or a :class:`~torch_tfjs.io.ModelArtifact`) to read both from.
    Unknown optimizers, losses or metrics raise :class:`~torch_tfjs.errors.ConversionError`
    naming them.
    """
    if source is not None:
        from ..io import ModelArtifact, read_artifact
        artifact = source if isinstance(source, ModelArtifact) else read_artifact(source)
        if training_config is None:
            training_config = artifact.training_config
        if optimizer_weights is None:
            optimizer_weights = artifact.optimizer_weights
    if training_config is None:
        training_config = _training_config_of(model)
    if training_config is None:
        raise ConversionError("the model carries no trainingConfig (tfjs saves one only with "
                              "includeOptimizer: true); pass training_config= or use compile()")
    for key in ("weighted_metrics", "loss_weights", "sample_weight_mode"):
        if training_config.get(key) is not None:
            raise ConversionError(f"trainingConfig.{key} is not supported (tfjs cannot load it either)")
    optimizer_config = training_config.get("optimizer_config")
    if optimizer_config is None:
        raise ConversionError("trainingConfig has no optimizer_config")
    loss = training_config.get("loss")
    if loss is None:
        raise ConversionError("trainingConfig has no loss")
    setup = compile(model, optimizer_config, _camel_identifiers(loss),
                    _camel_identifiers(training_config.get("metrics")),
                    training_config=dict(training_config))
    if optimizer_weights:
        restore_optimizer_state(setup.optimizer, model, optimizer_weights)
    return setup


def _camel_identifiers(value: Any) -> Any:
    """tfjs ``loadTrainingConfig`` applies ``toCamelCase`` to string identifiers."""
    if isinstance(value, str):
        return L.to_camel_case(value)
    if isinstance(value, list):
        return [_camel_identifiers(v) for v in value]
    if isinstance(value, Mapping) and "class_name" not in value:
        return {k: _camel_identifiers(v) for k, v in value.items()}
    return value


def restore_optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module,
                            optimizer_weights: Mapping[str, np.ndarray]) -> None:
    """Load tfjs optimizer weights (``iter`` + slot variables, manifest group ``"optimizer"``)
    into ``optimizer``, matching slots to the model's trainable weights in tfjs order."""
    if not isinstance(optimizer, TfjsOptimizer):
        raise ConversionError("tfjs optimizer weights can only be loaded into a "
                              "torch_tfjs.training optimizer")
    weights = [(w.name, w.param, w.to_torch) for w in trainable_weights(model)]
    load_tfjs_optimizer_weights(optimizer, weights, optimizer_weights)


# --- fit ---------------------------------------------------------------------------------------

class History:
    """tfjs ``History``: ``epoch`` (indices) and ``history`` (label -> per-epoch values)."""

    def __init__(self) -> None:
        self.epoch: List[int] = []
        self.history: Dict[str, List[float]] = {}
        self.params: Dict[str, Any] = {}

    def _record(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class Callback:
    """Base class for :func:`fit` callbacks (the tfjs ``CustomCallback`` hooks). Set
    ``model.stop_training = True`` from a hook to stop after the current batch, as tfjs's
    ``stopTraining``."""

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None: ...
    def on_train_end(self, logs: Optional[Dict[str, float]] = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: Optional[Dict[str, float]] = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Optional[Dict[str, float]] = None) -> None: ...


_HOOKS = {"on_train_begin": "onTrainBegin", "on_train_end": "onTrainEnd",
          "on_epoch_begin": "onEpochBegin", "on_epoch_end": "onEpochEnd",
          "on_batch_begin": "onBatchBegin", "on_batch_end": "onBatchEnd"}


def _call(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    for cb in callbacks:
        if isinstance(cb, Mapping):
            fn = cb.get(hook) or cb.get(_HOOKS[hook])
        else:
            fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)


def _to_tensors(data: Data, names: Sequence[str], what: str) -> List[torch.Tensor]:
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        if missing:
            raise ModelInputError(f"{what}: no entry for {missing}; expected {list(names)}")
        items = [data[n] for n in names]
    elif isinstance(data, (list, tuple)) and not isinstance(data, np.ndarray):
        items = list(data)
    else:
        items = [data]
    out = []
    for item in items:
        t = item if isinstance(item, torch.Tensor) else torch.as_tensor(np.asarray(item))
        if t.dtype == torch.float64:
            t = t.float()
        out.append(t)
    return out


def _num_samples(tensors: Sequence[torch.Tensor], what: str) -> int:
    sizes = {int(t.shape[0]) for t in tensors}
    if len(sizes) != 1:
        raise ModelInputError(f"{what}: all arrays need the same number of samples, got {sorted(sizes)}")
    return sizes.pop()


def make_batches(size: int, batch_size: int) -> List[Tuple[int, int]]:
    """tfjs ``makeBatches``: ``[start, end)`` pairs, the last batch shorter."""
    return [(s, min(s + batch_size, size)) for s in range(0, size, batch_size)]


def train_step(model: nn.Module, setup: TrainingSetup, inputs: Sequence[torch.Tensor],
               targets: Sequence[torch.Tensor]) -> Dict[str, float]:
    """One tfjs ``trainFunction`` call: forward in train mode, loss, gradients, optimizer step.
    Returns the batch logs (``loss`` and metrics, computed before the update)."""
    model.train()
    setup.optimizer.zero_grad(set_to_none=True)
    outputs = model(*inputs)
    loss = setup.total_loss(outputs, targets)
    logs = setup.batch_logs(outputs, targets, loss)
    loss.backward()
    setup.optimizer.step()
    return logs


def evaluate_batches(model: nn.Module, setup: TrainingSetup, inputs: Sequence[torch.Tensor],
                     targets: Sequence[torch.Tensor], batch_size: int = 32) -> Dict[str, float]:
    """tfjs ``testLoop``: the model in eval mode, each label averaged over samples
    (batch means weighted by batch size)."""
    was_training = model.training
    model.eval()
    n = _num_samples(list(inputs) + list(targets), "validation data")
    totals: Dict[str, float] = {}
    try:
        with torch.no_grad():
            for start, end in make_batches(n, batch_size):
                xs = [t[start:end] for t in inputs]
                ys = [t[start:end] for t in targets]
                outputs = model(*xs)
                logs = setup.batch_logs(outputs, ys, setup.total_loss(outputs, ys))
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * (end - start)
    finally:
        model.train(was_training)
    return {k: v / n for k, v in totals.items()}


def fit(model: nn.Module, x: Data, y: Data, *, epochs: int = 1, batch_size: int = 32,
        shuffle: bool = True, validation_split: float = 0.0,
        validation_data: Optional[Tuple[Data, Data]] = None, callbacks: Optional[Sequence[Any]] = None,
        optimizer: Any = None, loss: Any = None, metrics: Any = None, initial_epoch: int = 0,
        verbose: int = 1, generator: Optional[torch.Generator] = None) -> History:
    """tfjs ``model.fit(x, y, args)`` for a converted model.

    Without ``optimizer``/``loss``/``metrics`` the setup attached by an earlier :func:`compile`
    / :func:`from_training_config` / :func:`fit` is reused (so optimizer state carries over),
    else the model's own trainingConfig. ``validation_split`` takes the last
    ``floor(n * (1 - split))``-th rows onwards, before any shuffling; ``shuffle`` reorders the
    training rows each epoch (``generator`` seeds it; tfjs uses ``Math.random``). ``callbacks``:
    :class:`Callback` objects or dicts of tfjs-style hooks (``onBatchEnd``, ...). Batch logs hold
    plain floats; epoch logs average them weighted by batch size (tfjs ``BaseLogger``) plus
    ``val_*`` entries.
    """
    if optimizer is not None or loss is not None or metrics is not None:
        existing = getattr(model, _SETUP_ATTR, None)
        if optimizer is None and existing is not None:
            optimizer = existing.optimizer
        if loss is None:
            cfg = _training_config_of(model)
            if cfg is None or cfg.get("loss") is None:
                raise ConversionError("fit needs a loss (the model has no trainingConfig)")
            loss = _camel_identifiers(cfg["loss"])
        if optimizer is None:
            cfg = _training_config_of(model) or {}
            optimizer = cfg.get("optimizer_config")
            if optimizer is None:
                raise ConversionError("fit needs an optimizer (the model has no trainingConfig)")
        setup = compile(model, optimizer, loss, metrics)
    else:
        setup = getattr(model, _SETUP_ATTR, None) or from_training_config(model)

    input_names = list(getattr(model, "input_names", None) or ["input"])
    xs = _to_tensors(x, input_names, "x")
    ys = _to_tensors(y, setup.output_names, "y")
    n = _num_samples(xs + ys, "x and y")
    val_x: Optional[List[torch.Tensor]] = None
    val_y: Optional[List[torch.Tensor]] = None
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ModelInputError("validation_data must be (x, y); sample weights are not supported")
        val_x = _to_tensors(validation_data[0], input_names, "validation x")
        val_y = _to_tensors(validation_data[1], setup.output_names, "validation y")
    elif 0.0 < validation_split < 1.0:
        split_at = int(math.floor(n * (1.0 - validation_split)))
        val_x = [t[split_at:] for t in xs]
        val_y = [t[split_at:] for t in ys]
        xs = [t[:split_at] for t in xs]
        ys = [t[:split_at] for t in ys]
        n = split_at
    labels = setup.metric_names()

    history = History()
    history.params = {"epochs": epochs, "initial_epoch": initial_epoch, "samples": n,
                      "batch_size": batch_size, "do_validation": val_x is not None,
                      "metrics": labels + ([f"val_{k}" for k in labels] if val_x is not None else [])}
    cbs = list(callbacks or [])
    setattr(model, "stop_training", False)
    _call(cbs, "on_train_begin", {})
    index = torch.arange(n)
    for epoch in range(initial_epoch, epochs):
        _call(cbs, "on_epoch_begin", epoch, {})
        started = time.time()
        if shuffle:
            index = index[torch.randperm(n, generator=generator)]
        totals: Dict[str, float] = {}
        seen = 0
        batches = make_batches(n, batch_size)
        for b, (start, end) in enumerate(batches):
            batch_logs: Dict[str, float] = {"batch": b, "size": end - start}
            _call(cbs, "on_batch_begin", b, dict(batch_logs))
            ids = index[start:end]
            logs = train_step(model, setup, [t[ids] for t in xs], [t[ids] for t in ys])
            batch_logs.update(logs)
            seen += end - start
            for key in labels:
                totals[key] = totals.get(key, 0.0) + logs[key] * (end - start)
            _call(cbs, "on_batch_end", b, batch_logs)
            if getattr(model, "stop_training", False):
                break
        epoch_logs = {key: totals[key] / seen for key in labels if key in totals} if seen else {}
        if val_x is not None and val_y is not None:
            val = evaluate_batches(model, setup, val_x, val_y, batch_size)
            epoch_logs.update({f"val_{k}": v for k, v in val.items()})
        model.train()
        _call(cbs, "on_epoch_end", epoch, epoch_logs)
        history._record(epoch, epoch_logs)
        if verbose:
            shown = " - ".join(f"{k}={v:.4g}" for k, v in epoch_logs.items())
            print(f"Epoch {epoch + 1} / {epochs}  {time.time() - started:.2f}s  {shown}")
        if getattr(model, "stop_training", False):
            break
    _call(cbs, "on_train_end", {})
    return history


__all__ = [
    "Callback", "History", "TrainableWeight", "TrainingSetup", "compile", "evaluate_batches",
    "fit", "from_training_config", "make_batches", "restore_optimizer_state", "train_step",
    "trainable_weights",
]
