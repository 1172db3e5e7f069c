"""tfjs-layers metrics (``model.compile({metrics})``), per sample as in ``metrics.js``.

Each metric takes ``(y_true, y_pred)`` and returns per-sample values; the value logged for a
batch is their mean (``tfc.mean(metric(...))`` in ``engine/training.js``). ``"accuracy"`` /
``"acc"`` and ``"crossentropy"`` / ``"ce"`` are resolved per output the way tfjs ``compile``
does: binary when the output's last dimension is 1 or the loss is binaryCrossentropy, sparse
when the loss is sparseCategoricalCrossentropy, categorical otherwise (logged as ``acc`` /
``ce``). Every loss is also accepted as a metric.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..errors import ConversionError
from . import losses as L

MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def binary_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(y_true == (y_pred > 0.5), -1)``."""
    thresholded = (y_pred > 0.5).to(y_true.dtype)
    return torch.mean((y_true == thresholded).to(torch.float32), dim=-1)


def categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``argmax(y_true, -1) == argmax(y_pred, -1)`` as float (first index wins ties, as tfjs)."""
    return (torch.argmax(y_true, dim=-1) == torch.argmax(y_pred, dim=-1)).to(torch.float32)


def sparse_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``y_true == argmax(y_pred, -1)``; ``y_true``'s last axis is squeezed when the ranks match."""
    if y_true.dim() == y_pred.dim():
        y_true = y_true.squeeze(-1)
    pred = torch.argmax(y_pred, dim=-1)
    if pred.dtype != y_true.dtype:
        pred = pred.to(y_true.dtype)
    return (y_true == pred).to(torch.float32)


def _counts(y_true: torch.Tensor, y_pred: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    tp = torch.sum((y_true == 1) & (y_pred == 1)).to(torch.float32)
    fp = torch.sum((y_true == 0) & (y_pred == 1)).to(torch.float32)
    fn = torch.sum((y_true == 1) & (y_pred == 0)).to(torch.float32)
    return tp, fp, fn


def precision(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``tp / (tp + fp)`` (0 when no positive prediction); tfjs compares ``y_pred`` with 1 and 0
    exactly, without thresholding."""
    tp, fp, _ = _counts(y_true, y_pred)
    den = tp + fp
    return torch.where(den > 0, tp / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))


def recall(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``tp / (tp + fn)`` (0 when no positive label); exact comparisons as tfjs."""
    tp, _, fn = _counts(y_true, y_pred)
    den = tp + fn
    return torch.where(den > 0, tp / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))


def r2_score(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``1 - sum((y_true - y_pred)^2) / sum((y_true - mean(y_true))^2)`` over the whole batch."""
    ss_res = torch.sum((y_true - y_pred) ** 2)
    ss_tot = torch.sum((y_true - torch.mean(y_true)) ** 2)
    return 1.0 - ss_res / ss_tot


#: tfjs-layers ``metricsMap`` plus the metric functions tfjs defines but does not list there.
METRICS: Dict[str, MetricFn] = {
    "binaryAccuracy": binary_accuracy,
    "categoricalAccuracy": categorical_accuracy,
    "sparseCategoricalAccuracy": sparse_categorical_accuracy,
    "precision": precision,
    "recall": recall,
    "r2Score": r2_score,
    "binaryCrossentropy": L.binary_crossentropy,
    "categoricalCrossentropy": L.categorical_crossentropy,
    "sparseCategoricalCrossentropy": L.sparse_categorical_crossentropy,
}

_ACCURACY = ("accuracy", "acc")
_CROSSENTROPY = ("crossentropy", "ce")


def get_metric(identifier: Union[str, Mapping[str, Any], MetricFn]) -> MetricFn:
    """A named metric or loss (any spelling :mod:`.losses` accepts); callables pass through.
    Raises :class:`ConversionError` for unknown names. ``accuracy``/``crossentropy`` depend on
    the output: use :func:`resolve_metric`."""
    if callable(identifier):
        return identifier  # type: ignore[return-value]
    name = identifier.get("class_name") if isinstance(identifier, Mapping) else identifier
    if not isinstance(name, str):
        raise ConversionError(f"unknown metric {identifier!r}")
    for candidate in (name, L.to_camel_case(name), name[:1].lower() + name[1:]):
        if candidate in METRICS:
            return METRICS[candidate]
    if L.canonical_loss_name(name) is not None:
        return L.get_loss(identifier)
    raise ConversionError(f"unknown metric {name!r}; known: "
                          f"{', '.join(sorted(set(METRICS) | set(L.LOSSES) | set(L.ALIASES)))}, "
                          "accuracy, acc, crossentropy, ce")


def resolve_metric(identifier: Union[str, Mapping[str, Any], MetricFn], *,
                   output_last_dim: Optional[int] = None,
                   loss_fn: Optional[Callable[..., Any]] = None) -> Tuple[str, MetricFn]:
    """``(logged name, function)`` for one metric of one output, as tfjs ``compile``:
    ``accuracy``/``acc`` → ``acc`` and ``crossentropy``/``ce`` → ``ce`` picked from the output's
    last dimension and the loss; other strings keep their spelling as the name."""
    name = identifier.get("class_name") if isinstance(identifier, Mapping) else identifier
    if isinstance(name, str) and name in _ACCURACY + _CROSSENTROPY:
        is_acc = name in _ACCURACY
        if output_last_dim == 1 or loss_fn is L.binary_crossentropy:
            fn = binary_accuracy if is_acc else L.binary_crossentropy
        elif loss_fn is L.sparse_categorical_crossentropy:
            fn = sparse_categorical_accuracy if is_acc else L.sparse_categorical_crossentropy
        else:
            fn = categorical_accuracy if is_acc else L.categorical_crossentropy
        return ("acc" if is_acc else "ce"), fn
    fn = get_metric(identifier)
    if isinstance(name, str):
        return name, fn
    for key, value in list(METRICS.items()) + list(L.LOSSES.items()):
        if value is fn:
            return key, fn
    return getattr(fn, "__name__", type(fn).__name__), fn


def collect_metrics(metrics: Any, output_names: Sequence[str]) -> list:
    """tfjs ``collectMetrics``: a list applies to every output; a dict maps output names to a
    metric or a list of metrics."""
    if metrics is None or (isinstance(metrics, (list, tuple)) and len(metrics) == 0):
        return [[] for _ in output_names]
    if isinstance(metrics, (list, tuple)):
        return [list(metrics) for _ in output_names]
    if isinstance(metrics, Mapping):
        unknown = [k for k in metrics if k not in output_names]
        if unknown:
            raise ConversionError(f"metrics for unknown output(s) {unknown}; outputs: {list(output_names)}")
        out = []
        for name in output_names:
            entry = metrics.get(name, [])
            out.append(list(entry) if isinstance(entry, (list, tuple)) else [entry])
        return out
    return [[metrics] for _ in output_names]


def batch_metric(fn: MetricFn, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """The value tfjs logs for a batch: the mean of the per-sample metric."""
    return torch.mean(fn(y_true, y_pred).to(torch.float32))


__all__ = [
    "METRICS", "MetricFn", "batch_metric", "binary_accuracy", "categorical_accuracy",
    "collect_metrics", "get_metric", "precision", "r2_score", "recall", "resolve_metric",
    "sparse_categorical_accuracy",
]
