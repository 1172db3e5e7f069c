"""Noise layers, active only in training (``model.train()``): GaussianNoise, GaussianDropout,
AlphaDropout. At inference they are the identity, as in tfjs ``predict``."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

from .base import KerasLayer, LayerSpec
from .registry import register_layer

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _NoiseLayer(KerasLayer):
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.rate = float(spec.config.get("rate", 0.0))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self.noisy(inputs) if self.is_training(training) else inputs

    def noisy(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@register_layer("GaussianNoise")
class GaussianNoise(_NoiseLayer):
    """Adds N(0, stddev²) noise."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.stddev = float(spec.require("stddev"))

    def noisy(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.randn_like(x) * self.stddev


@register_layer("GaussianDropout")
class GaussianDropout(_NoiseLayer):
    """Multiplies by N(1, rate/(1-rate)) noise (only for 0 < rate < 1, as tfjs)."""

    def noisy(self, x: torch.Tensor) -> torch.Tensor:
        if not 0.0 < self.rate < 1.0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * (1.0 + torch.randn_like(x) * stddev)


@register_layer("AlphaDropout")
class AlphaDropout(_NoiseLayer):
    """SELU-preserving dropout: dropped units are set to -alpha·scale, then an affine map keeps
    mean and variance (tfjs/Keras formula). ``noise_shape`` entries of None take the input's."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.noise_shape = spec.config.get("noise_shape")

    def noisy(self, x: torch.Tensor) -> torch.Tensor:
        if not 0.0 < self.rate < 1.0:
            return x
        shape = list(x.shape) if self.noise_shape is None else [
            x.shape[i] if d is None else int(d) for i, d in enumerate(self.noise_shape)]
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        kept = (torch.rand(shape, device=x.device) >= self.rate).to(x.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return (x * kept + (kept - 1) * alpha_p) * a + b
