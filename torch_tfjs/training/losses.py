"""tfjs-layers loss functions (``tf.losses`` as ``model.compile({loss})`` resolves them).

Every function takes ``(y_true, y_pred)`` and returns the *per-sample* loss: the last axis is
reduced, every other axis kept, exactly as ``@tensorflow/tfjs-layers`` ``losses.js`` does. The
training loss of a batch is then :func:`reduce_loss` of that (``tfc.mean`` over every remaining
element, ``engine/training.js`` ``makeTrainFunction``).

Clipping uses tfjs-layers' ``epsilon()`` (the backend epsilon, 1e-7 for float32), in the same
places and order as tfjs. Identifiers: tfjs's camelCase names (``lossesMap``), their snake_case
spellings (what ``trainingConfig.loss`` holds and tfjs's ``toCamelCase`` maps back), the short
aliases tfjs exports (``mse``, ``MAE``, ``kld``, ``cosine``, ...) and Keras's class names
(``MeanSquaredError``, ``CategoricalCrossentropy``, ...).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, Mapping, Optional, Union

import torch
import torch.nn.functional as F

from ..errors import ConversionError

#: tfjs-layers ``epsilon()`` on the float32 CPU/WebGL backends.
EPSILON = 1e-7
#: ``Number.MAX_VALUE`` (the upper clip bound some tfjs losses use); +inf in float32.
_MAX_VALUE = float("inf")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float32 else x.float()


def tfjs_softplus(x: torch.Tensor) -> torch.Tensor:
    """tfjs-core's ``softplus`` kernel: ``exp(x)`` below ``log(eps)+2``, ``x`` above its
    negation, ``log(1 + exp(x))`` between (eps = 2**-23)."""
    eps = 1.1920928955078125e-7
    threshold = math.log(eps) + 2.0
    exp_x = torch.exp(x)
    mid = torch.log(1.0 + exp_x)
    return torch.where(x > -threshold, x, torch.where(x < threshold, exp_x, mid))


def l2_normalize(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """``x / sqrt(max(sum(x^2, axis), epsilon))`` (tfjs ``l2Normalize``)."""
    x = _f32(x)
    square_sum = torch.sum(x * x, dim=axis, keepdim=True)
    norm = torch.sqrt(torch.clamp(square_sum, min=EPSILON))
    return x / norm


def mean_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean((y_pred - y_true)^2, -1)``."""
    d = y_pred - y_true
    return torch.mean(d * d, dim=-1)


def mean_absolute_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(|y_pred - y_true|, -1)``."""
    return torch.mean(torch.abs(y_pred - y_true), dim=-1)


def mean_absolute_percentage_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``100 * mean(|(y_true - y_pred) / clip(|y_true|, eps, MAX)|, -1)``."""
    diff = y_true - y_pred
    clipped_true = torch.clamp(torch.abs(y_true), min=EPSILON, max=_MAX_VALUE)
    return 100.0 * torch.mean(torch.abs(diff / clipped_true), dim=-1)


def mean_squared_logarithmic_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean((log(1 + clip(y_pred, eps)) - log(1 + clip(y_true, eps)))^2, -1)``."""
    first = torch.log(1.0 + torch.clamp(y_pred, min=EPSILON, max=_MAX_VALUE))
    second = torch.log(1.0 + torch.clamp(y_true, min=EPSILON, max=_MAX_VALUE))
    d = first - second
    return torch.mean(d * d, dim=-1)


def squared_hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(max(0, 1 - y_true * y_pred)^2, -1)``."""
    m = torch.clamp(1.0 - y_true * y_pred, min=0.0)
    return torch.mean(m * m, dim=-1)


def hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(max(0, 1 - y_true * y_pred), -1)``."""
    return torch.mean(torch.clamp(1.0 - y_true * y_pred, min=0.0), dim=-1)


def categorical_hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``max(0, 1 + (max((1 - y_true) * y_pred, -1) - sum(y_true * y_pred, -1)))``."""
    pos = torch.sum(y_true * y_pred, dim=-1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return torch.clamp(1.0 + (neg - pos), min=0.0)


def logcosh(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(d + softplus(-2 d) - log(2), -1)`` with ``d = y_pred - y_true``."""
    d = y_pred - y_true
    return torch.mean((d + tfjs_softplus(-2.0 * d)) - math.log(2.0), dim=-1)


def categorical_crossentropy(target: torch.Tensor, output: torch.Tensor,
                             from_logits: bool = False) -> torch.Tensor:
    """On probabilities (tfjs default): ``output / sum(output, -1)``, clipped to
    ``[eps, 1 - eps]``, then ``-sum(target * log(output), -1)``. ``from_logits``: softmax first
    (then clipped, as tfjs)."""
    output = _f32(output)
    if from_logits:
        output = torch.softmax(output, dim=-1)
    else:
        output = output / torch.sum(output, dim=-1, keepdim=True)
    output = torch.clamp(output, EPSILON, 1.0 - EPSILON)
    return -torch.sum(_f32(target) * torch.log(output), dim=-1)


def sparse_categorical_crossentropy(target: torch.Tensor, output: torch.Tensor,
                                    from_logits: bool = False) -> torch.Tensor:
    """tfjs: ``floor(flatten(target))`` as class ids, output clipped to ``[eps, 1 - eps]``,
    then :func:`categorical_crossentropy` against the one-hot ids (which renormalizes and clips
    again)."""
    output = _f32(output)
    flat = torch.floor(_f32(target).reshape(-1)).to(torch.int64)
    output = torch.clamp(output, EPSILON, 1.0 - EPSILON)
    one_hot = F.one_hot(flat, output.shape[-1]).to(torch.float32).reshape(output.shape)
    return categorical_crossentropy(one_hot, output, from_logits)


def sigmoid_cross_entropy_with_logits(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``relu(x) - x * z + log1p(exp(-|x|))`` (tfjs ``sigmoidCrossEntropyWithLogits``)."""
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(f"logits and labels must have the same shape, but got shapes "
                         f"{list(labels.shape)} and {list(logits.shape)}")
    return (torch.relu(logits) - logits * labels) + torch.log1p(torch.exp(-torch.abs(logits)))


def binary_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor,
                        from_logits: bool = False) -> torch.Tensor:
    """tfjs: ``p = clip(y_pred, eps, 1 - eps)``, logits ``log(p / (1 - p))``, then
    ``mean(sigmoid_cross_entropy_with_logits, -1)``. ``from_logits`` (Keras configs only) skips
    the clip and the logit."""
    y_pred = _f32(y_pred)
    if from_logits:
        logits = y_pred
    else:
        p = torch.clamp(y_pred, EPSILON, 1.0 - EPSILON)
        logits = torch.log(p / (1.0 - p))
    return torch.mean(sigmoid_cross_entropy_with_logits(_f32(y_true), logits), dim=-1)


def kullback_leibler_divergence(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``sum(y_true * log(clip(y_true, eps, 1) / clip(y_pred, eps, 1)), -1)`` (the unclipped
    ``y_true`` multiplies, as in tfjs)."""
    clipped_true = torch.clamp(y_true, EPSILON, 1.0)
    clipped_pred = torch.clamp(y_pred, EPSILON, 1.0)
    return torch.sum(y_true * torch.log(clipped_true / clipped_pred), dim=-1)


def poisson(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(y_pred - y_true * log(eps + y_pred), -1)``."""
    return torch.mean(y_pred - y_true * torch.log(EPSILON + y_pred), dim=-1)


def cosine_proximity(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), -1)``."""
    return -torch.sum(l2_normalize(y_true, -1) * l2_normalize(y_pred, -1), dim=-1)


#: tfjs-layers ``lossesMap`` (camelCase name → function).
LOSSES: Dict[str, LossFn] = {
    "meanSquaredError": mean_squared_error,
    "meanAbsoluteError": mean_absolute_error,
    "meanAbsolutePercentageError": mean_absolute_percentage_error,
    "meanSquaredLogarithmicError": mean_squared_logarithmic_error,
    "squaredHinge": squared_hinge,
    "hinge": hinge,
    "categoricalHinge": categorical_hinge,
    "logcosh": logcosh,
    "categoricalCrossentropy": categorical_crossentropy,
    "sparseCategoricalCrossentropy": sparse_categorical_crossentropy,
    "binaryCrossentropy": binary_crossentropy,
    "kullbackLeiblerDivergence": kullback_leibler_divergence,
    "poisson": poisson,
    "cosineProximity": cosine_proximity,
}

#: Short aliases tfjs exports from ``losses.js`` / Keras accepts, and Keras spellings that
#: differ from tfjs's.
ALIASES: Dict[str, str] = {
    "mse": "meanSquaredError", "MSE": "meanSquaredError",
    "mae": "meanAbsoluteError", "MAE": "meanAbsoluteError",
    "mape": "meanAbsolutePercentageError", "MAPE": "meanAbsolutePercentageError",
    "msle": "meanSquaredLogarithmicError", "MSLE": "meanSquaredLogarithmicError",
    "kld": "kullbackLeiblerDivergence", "KLD": "kullbackLeiblerDivergence",
    "cosine": "cosineProximity", "cosineSimilarity": "cosineProximity",
    "logCosh": "logcosh", "kLDivergence": "kullbackLeiblerDivergence",
}


def to_camel_case(identifier: str) -> str:
    """tfjs ``generic_utils.toCamelCase``: ``mean_squared_error`` → ``meanSquaredError``."""
    if len(identifier) <= 1 or "_" not in identifier:
        return identifier
    return re.sub(r"_+(\w|$)", lambda m: m.group(1).upper(), identifier)


def to_snake_case(identifier: str) -> str:
    """tfjs ``generic_utils.toSnakeCase``: ``meanSquaredError`` → ``mean_squared_error``."""
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", identifier)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def canonical_loss_name(identifier: str) -> Optional[str]:
    """The tfjs ``lossesMap`` key an identifier names, or None."""
    for candidate in (identifier, to_camel_case(identifier)):
        if candidate in LOSSES:
            return candidate
        if candidate in ALIASES:
            return ALIASES[candidate]
        lowered = candidate[:1].lower() + candidate[1:]  # Keras class names: MeanSquaredError
        if lowered in LOSSES:
            return lowered
        if lowered in ALIASES:
            return ALIASES[lowered]
    return None


def get_loss(identifier: Union[str, Mapping[str, Any], LossFn]) -> LossFn:
    """Resolve a loss identifier (string, Keras ``{"class_name", "config"}`` dict or callable)
    to a per-sample loss function. Unknown names raise :class:`ConversionError`."""
    if callable(identifier):
        return identifier  # type: ignore[return-value]
    from_logits = False
    name: Any = identifier
    if isinstance(identifier, Mapping):
        name = identifier.get("class_name")
        config = identifier.get("config") or {}
        from_logits = bool(config.get("from_logits", config.get("fromLogits", False)))
        reduction = config.get("reduction")
        if reduction not in (None, "auto", "sum_over_batch_size", "mean"):
            raise ConversionError(f"loss {name!r}: reduction {reduction!r} is not supported "
                                  "(tfjs averages over the batch)")
    if not isinstance(name, str):
        raise ConversionError(f"unknown loss {identifier!r}: expected a name or a callable")
    key = canonical_loss_name(name)
    if key is None:
        hint = ""
        if "softmaxcrossentropy" in name.lower():
            hint = " Use 'categoricalCrossentropy' (tfjs's name for softmax cross-entropy)."
        raise ConversionError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}.{hint}")
    fn = LOSSES[key]
    if from_logits:
        if key not in ("categoricalCrossentropy", "sparseCategoricalCrossentropy", "binaryCrossentropy"):
            raise ConversionError(f"loss {name!r}: from_logits is only defined for crossentropies")
        base = fn

        def with_logits(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
            return base(y_true, y_pred, True)  # type: ignore[call-arg]
        with_logits.__name__ = f"{base.__name__}_from_logits"
        return with_logits
    return fn


def loss_name(identifier: Union[str, Mapping[str, Any], LossFn]) -> str:
    """The name tfjs reports for a loss (the identifier itself for strings)."""
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, Mapping):
        return str(identifier.get("class_name"))
    for key, fn in LOSSES.items():
        if fn is identifier:
            return key
    return getattr(identifier, "__name__", type(identifier).__name__)


def reduce_loss(per_sample: torch.Tensor) -> torch.Tensor:
    """The batch loss tfjs minimizes: the mean over every element of the per-sample losses."""
    return torch.mean(per_sample)


__all__ = [
    "ALIASES", "EPSILON", "LOSSES", "LossFn", "binary_crossentropy", "canonical_loss_name",
    "categorical_crossentropy", "categorical_hinge", "cosine_proximity", "get_loss", "hinge",
    "kullback_leibler_divergence", "l2_normalize", "logcosh", "loss_name", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error",
    "poisson", "reduce_loss", "sigmoid_cross_entropy_with_logits",
    "sparse_categorical_crossentropy", "squared_hinge", "tfjs_softplus", "to_camel_case",
    "to_snake_case",
]
