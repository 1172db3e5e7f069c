"""Advanced activation layers (tfjs-layers ``advanced_activations.ts``): ReLU, LeakyReLU, PReLU,
ELU, ThresholdedReLU, Softmax. (Activation functions by identifier live in
:mod:`torch_tfjs.activations`; the ``Activation`` layer is in :mod:`.core`.)"""

from __future__ import annotations

from typing import Any, List, Optional

import torch
import torch.nn.functional as F

from .base import KerasLayer, LayerSpec
from .registry import register_layer


@register_layer("ReLU")
class ReLU(KerasLayer):
    """Keras ReLU: ``max_value`` cap, ``negative_slope`` below ``threshold``."""

    elementwise = True
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        max_value = spec.config.get("max_value")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(spec.config.get("negative_slope", 0.0) or 0.0)
        self.threshold = float(spec.config.get("threshold", 0.0) or 0.0)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if self.negative_slope == 0.0 and self.threshold == 0.0:
            if self.max_value is None:
                return F.relu(inputs)
            return torch.clamp(inputs, 0.0, self.max_value)
        y = torch.where(inputs >= self.threshold, inputs, self.negative_slope * (inputs - self.threshold))
        return y if self.max_value is None else torch.clamp(y, max=self.max_value)


@register_layer("LeakyReLU")
class LeakyReLU(KerasLayer):
    """``alpha`` (Keras 2 / tfjs, default 0.3) or ``negative_slope`` (Keras 3)."""

    elementwise = True
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        slope = spec.config.get("negative_slope", spec.config.get("alpha", 0.3))
        self.alpha = float(0.3 if slope is None else slope)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return F.leaky_relu(inputs, self.alpha)


@register_layer("PReLU")
class PReLU(KerasLayer):
    """Learned slope ``alpha`` shaped like the input without its batch axis (1 on shared axes)."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.alpha = self.add_keras_weight("alpha", spec.weight("alpha", 0))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return torch.where(inputs >= 0, inputs, self.alpha * inputs)


@register_layer("ELU")
class ELU(KerasLayer):
    elementwise = True
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.alpha = float(spec.config.get("alpha", 1.0))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return F.elu(inputs, self.alpha)


@register_layer("ThresholdedReLU")
class ThresholdedReLU(KerasLayer):
    """``x if x > theta else 0``."""

    elementwise = True
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.theta = float(spec.config.get("theta", 1.0))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return torch.where(inputs > self.theta, inputs, torch.zeros_like(inputs))


@register_layer("Softmax")
class Softmax(KerasLayer):
    """Softmax over ``axis``; a list of several axes is one softmax jointly over all of them
    (``exp(x - logsumexp(x, axes))``, tfjs and Keras alike). A single axis: tfjs only ever runs
    the last one (a tfjs quirk), so artifacts written by tfjs are run that way; Keras-written
    ones honour ``axis``."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        axis = spec.config.get("axis", -1)
        axes: List[int] = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else [int(axis)]
        if not axes:
            raise spec.error("'axis' is an empty list")
        self.axes = [-1] if len(axes) == 1 and spec.made_by_tfjs else axes

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if len(self.axes) == 1:
            return torch.softmax(inputs, dim=self.axes[0])
        shifted = inputs - torch.amax(inputs, dim=self.axes, keepdim=True)
        e = torch.exp(shifted)
        return e / e.sum(dim=self.axes, keepdim=True)
