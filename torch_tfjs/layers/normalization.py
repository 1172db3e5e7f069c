"""Normalization layers (tfjs-layers ``normalization.ts``): BatchNormalization, LayerNormalization;
and Keras's GroupNormalization and UnitNormalization (which tfjs-layers lacks).

BatchNormalization in training mode uses the batch statistics and updates the moving ones as
Keras does: ``moving = moving * momentum + batch * (1 - momentum)`` with the *biased* batch
variance (torch's own running-variance update uses the unbiased one). A layer with
``trainable: false`` runs in inference mode even under ``model.train()`` (Keras 2 / TF 2
semantics, so fine-tuning on top of a frozen backbone leaves its statistics alone).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .base import KerasLayer, LayerSpec
from .derived import DerivedCache, plain_inference as _plain_inference
from .registry import register_layer


def _axes(spec: LayerSpec, default: Any = -1) -> List[int]:
    if isinstance(spec.config.get("axis"), (list, tuple)):
        return spec.conf_int_list("axis")
    return [spec.conf_int("axis", default)]


def _add_scale_and_center(layer: KerasLayer, spec: LayerSpec) -> int:
    """The optional ``gamma`` (``scale``) and ``beta`` (``center``) weights, in Keras creation
    order, as ``layer.gamma`` / ``layer.beta`` (None when absent); returns how many there are."""
    index = 0
    layer.gamma = layer.beta = None
    if spec.conf_bool("scale", True):
        layer.gamma = layer.add_keras_weight("gamma", spec.weight("gamma", index))
        index += 1
    if spec.conf_bool("center", True):
        layer.beta = layer.add_keras_weight("beta", spec.weight("beta", index))
        index += 1
    return index


@register_layer("BatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2")
class BatchNormalization(KerasLayer):
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        axes = _axes(spec)
        if len(axes) != 1:
            raise spec.error(f"only one normalization axis is supported, got {axes}")
        self.axis = axes[0]
        self.momentum = spec.conf_float("momentum", 0.99)
        self.epsilon = spec.conf_float("epsilon", 1e-3)
        index = _add_scale_and_center(self, spec)
        self.add_keras_weight("moving_mean", spec.weight("moving_mean", index), trainable=False)
        self.add_keras_weight("moving_variance", spec.weight("moving_variance", index + 1), trainable=False)
        self._affine_cache = DerivedCache()  # inference_affine's scale and shift

    def _channels_first(self, x: torch.Tensor) -> torch.Tensor:
        """A view with the normalized axis at position 1 (zero-copy for channels-last data)."""
        axis = self.axis % x.dim()
        return x if axis == 1 else x.movedim(axis, 1)

    def _restore(self, y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        axis = self.axis % like.dim()
        return y if axis == 1 else y.movedim(1, axis)

    def infers(self, training: Optional[bool]) -> bool:
        """Whether a call with this ``training`` flag normalises with the moving statistics."""
        return not (self.is_training(training) and self.keras_trainable)

    def inference_affine(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) with inference output ``x * scale + shift`` (per channel); cached in
        eager inference until one of the four tensors changes (:mod:`.derived`)."""
        return self._affine_cache.get(self.affine_sources(), self.compute_affine)

    def affine_sources(self) -> Tuple[Optional[torch.Tensor], ...]:
        """The tensors :meth:`compute_affine` reads (keys of caches derived from them)."""
        return (self.moving_mean, self.moving_variance, self.gamma, self.beta)

    def compute_affine(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) of the inference normalisation, computed now (differentiable)."""
        scale = torch.rsqrt(self.moving_variance + self.epsilon)
        if self.gamma is not None:
            scale = scale * self.gamma
        shift = -self.moving_mean * scale
        if self.beta is not None:
            shift = shift + self.beta
        return scale, shift

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        """On an NCHW view, when the normalized axis is its channel axis."""
        if self.axis % inputs.dim() != inputs.dim() - 1:
            return None
        return self._normalize(inputs, training), True

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self._restore(self._normalize(self._channels_first(inputs), training), inputs)

    def _normalize(self, x: torch.Tensor, training: Optional[bool]) -> torch.Tensor:
        """Normalise a view ``x`` with the normalized axis at position 1."""
        if not self.infers(training):
            return self._normalize_batch(x)
        if not _plain_inference():
            return F.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                                False, 0.0, self.epsilon)
        # Inference without autograd: one fused multiply-add with the cached scale and shift
        # (about half the time of batch_norm on a channels-last view).
        scale, shift = self.inference_affine()
        shape = (-1,) + (1,) * (x.dim() - 2)
        return torch.addcmul(shift.reshape(shape), x, scale.reshape(shape))

    def _normalize_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Training: normalise a channels-first ``x`` with its batch statistics and update the
        moving ones."""
        dims = [d for d in range(x.dim()) if d != 1]
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma.reshape(shape)
        if self.beta is not None:
            y = y + self.beta.reshape(shape)
        with torch.no_grad():
            self.moving_mean.mul_(self.momentum).add_(mean.detach() * (1.0 - self.momentum))
            self.moving_variance.mul_(self.momentum).add_(var.detach() * (1.0 - self.momentum))
        return y


@register_layer("LayerNormalization")
class LayerNormalization(KerasLayer):
    """Normalizes over ``axis`` (int or list) with biased variance; gamma/beta shaped like the
    normalized axes."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.axes = _axes(spec)
        self.epsilon = spec.conf_float("epsilon", 1e-3)
        _add_scale_and_center(self, spec)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        rank = inputs.dim()
        axes = sorted(a % rank for a in self.axes)
        if axes == list(range(rank - len(axes), rank)):  # trailing axes: torch's fused kernel
            shape = inputs.shape[rank - len(axes):]
            return F.layer_norm(inputs, shape, self.gamma.reshape(shape) if self.gamma is not None else None,
                                self.beta.reshape(shape) if self.beta is not None else None, self.epsilon)
        mean = inputs.mean(dim=axes, keepdim=True)
        var = inputs.var(dim=axes, unbiased=False, keepdim=True)
        y = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        bshape = [inputs.shape[d] if d in axes else 1 for d in range(rank)]
        if self.gamma is not None:
            y = y * self.gamma.reshape(bshape)
        if self.beta is not None:
            y = y + self.beta.reshape(bshape)
        return y


@register_layer("GroupNormalization")
class GroupNormalization(KerasLayer):
    """Keras ``GroupNormalization``: the ``axis`` channels split into ``groups`` (-1: one per
    channel, i.e. instance normalization); mean and biased variance over each group and every
    non-batch axis; then per-channel ``gamma`` / ``beta``."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        axes = _axes(spec)
        if len(axes) != 1:
            raise spec.error(f"only one channel axis is supported, got {axes}")
        self.axis = axes[0]
        self.groups = spec.conf_int("groups", 32, minimum=1)
        self.epsilon = spec.conf_float("epsilon", 1e-3)
        _add_scale_and_center(self, spec)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        axis = self.axis % inputs.dim()
        x = inputs.movedim(axis, -1)
        channels = x.shape[-1]
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ValueError(f"layer '{self.keras_name}': {channels} channels do not split into "
                             f"{groups} groups")
        grouped = x.reshape(*x.shape[:-1], groups, channels // groups)
        dims = [d for d in range(1, grouped.dim()) if d != grouped.dim() - 2]
        mean = grouped.mean(dim=dims, keepdim=True)
        var = grouped.var(dim=dims, unbiased=False, keepdim=True)
        y = ((grouped - mean) * torch.rsqrt(var + self.epsilon)).reshape(x.shape)
        if self.gamma is not None:
            y = y * self.gamma
        if self.beta is not None:
            y = y + self.beta
        return y.movedim(-1, axis)


@register_layer("UnitNormalization")
class UnitNormalization(KerasLayer):
    """Keras ``UnitNormalization``: ``x / sqrt(max(sum(x², axis), 1e-12))`` (``l2_normalize``)."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.axes = _axes(spec)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs.to(torch.float32) if not inputs.is_floating_point() else inputs
        square_sum = x.square().sum(dim=[a % x.dim() for a in self.axes], keepdim=True)
        return x * torch.rsqrt(torch.clamp(square_sum, min=1e-12))
