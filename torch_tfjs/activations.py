"""Activation functions by their Keras / tfjs identifiers.

Used by layer configs (``"activation": "relu"``) and by fused graph ops. Semantics follow tfjs
(``tfjs-layers/src/activations.ts``); where Keras 3 defines an identifier differently
(``hard_sigmoid``), files written by Keras 3 get Keras 3's definition.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn.functional as F

from .errors import LayerConfigError

Activation = Callable[[torch.Tensor], torch.Tensor]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def hard_sigmoid_tfjs(x: torch.Tensor) -> torch.Tensor:
    """tfjs / Keras 2: clip(0.2 x + 0.5, 0, 1)."""
    return torch.clamp(x * 0.2 + 0.5, 0.0, 1.0)


def hard_sigmoid_keras3(x: torch.Tensor) -> torch.Tensor:
    """Keras 3: relu6(x + 3) / 6."""
    return F.relu6(x + 3.0) / 6.0


def relu6(x: torch.Tensor) -> torch.Tensor:
    """min(max(x, 0), 6), with float bounds: TorchScript's ``optimize_for_inference`` fails on a
    traced ``clamp`` with int bounds ("expected double"). The one relu6 of layers and graph ops."""
    if not x.is_floating_point():  # Relu6 on int tensors stays int (float bounds would promote)
        return torch.clamp(x, 0, 6)
    return torch.clamp(x, 0.0, 6.0)


def elu(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x)


def selu(x: torch.Tensor) -> torch.Tensor:
    return _SELU_SCALE * torch.where(x > 0, x, _SELU_ALPHA * torch.expm1(x))


def softplus(x: torch.Tensor) -> torch.Tensor:
    # log(1 + exp(x)) computed stably; torch's default threshold=20 returns x there.
    return F.softplus(x)


def softsign(x: torch.Tensor) -> torch.Tensor:
    return x / (1.0 + torch.abs(x))


def softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def log_softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(x, dim=-1)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


def mish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tanh(F.softplus(x))


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) form."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """tanh approximation."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def exponential(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x)


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    """Keras 3 ``leaky_relu`` identifier (negative_slope 0.2)."""
    return F.leaky_relu(x, 0.2)


def hard_silu(x: torch.Tensor) -> torch.Tensor:
    return x * hard_sigmoid_keras3(x)


#: tfjs-layers' 16 registered activations (snake_case as saved) plus cheap Keras 3 extras.
ACTIVATIONS: Dict[str, Activation] = {
    "linear": linear,
    "elu": elu,
    "hard_sigmoid": hard_sigmoid_tfjs,
    "relu": F.relu,
    "relu6": relu6,
    "selu": selu,
    "sigmoid": torch.sigmoid,
    "softmax": softmax,
    "softplus": softplus,
    "softsign": softsign,
    "tanh": torch.tanh,
    "swish": swish,
    "mish": mish,
    "gelu": gelu,
    "gelu_new": gelu_new,
    "log_softmax": log_softmax,
    # Keras 3 identifiers tfjs does not know
    "silu": swish,
    "exponential": exponential,
    "leaky_relu": leaky_relu,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
}

#: Activations that reduce over the last axis; every other one acts per element.
AXIS_ACTIVATIONS = frozenset({"softmax", "log_softmax"})


def is_elementwise(value: Any) -> bool:
    """Whether the activation ``value`` names acts per element (all but softmax / log_softmax)."""
    return activation_name(value) not in AXIS_ACTIVATIONS


_ALIASES = {
    "hardsigmoid": "hard_sigmoid", "hard_sigmoid": "hard_sigmoid", "logsoftmax": "log_softmax",
    "gelunew": "gelu_new", "none": "linear", "": "linear", "hardsilu": "hard_silu",
    "hardswish": "hard_swish", "leakyrelu": "leaky_relu",
}


def activation_name(value: Any) -> str:
    """Normalise an activation config value (string in any casing, None, or a Keras 3
    serialized object) to its snake_case identifier."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        config = value.get("config")
        value = config.get("name") if isinstance(config, dict) and "name" in config else value.get("class_name")
        if not isinstance(value, str):
            raise LayerConfigError(f"cannot read activation {value!r}")
    if not isinstance(value, str):
        raise LayerConfigError(f"activation must be a string, got {value!r}")
    key = value.replace("-", "_")
    squashed = key.replace("_", "").lower()
    if squashed in _ALIASES:
        return _ALIASES[squashed]
    if key in ACTIVATIONS:
        return key
    # camelCase (tfjs in-memory spelling) → snake_case
    snake = "".join("_" + c.lower() if c.isupper() else c for c in key).lstrip("_")
    return snake


def get_activation(value: Any, *, keras3: bool = False, where: str = "") -> Activation:
    """The function for an activation identifier. ``keras3`` selects Keras 3's definitions
    where they differ from tfjs (``hard_sigmoid``)."""
    name = activation_name(value)
    if keras3 and name == "hard_sigmoid":
        return hard_sigmoid_keras3
    try:
        return ACTIVATIONS[name]
    except KeyError:
        prefix = f"{where}: " if where else ""
        raise LayerConfigError(f"{prefix}unknown activation {value!r}; known: "
                               f"{', '.join(sorted(ACTIVATIONS))}") from None


def is_keras3(generated_by: Optional[str]) -> bool:
    """True when the artifact was written from a Keras 3 model (``generatedBy: "keras v3.x"``)."""
    return bool(generated_by) and generated_by.strip().lower().startswith("keras v3")


def is_keras_made(generated_by: Optional[str]) -> bool:
    """True when the artifact was converted from a Keras model (``generatedBy: "keras v…"``)
    rather than saved by tfjs-layers; some layers differ between the two runtimes."""
    return bool(generated_by) and generated_by.strip().lower().startswith("keras")
