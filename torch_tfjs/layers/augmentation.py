"""Keras image-augmentation layers (``RandomFlip``, ``RandomRotation``, ``RandomZoom``,
``RandomTranslation``, ``RandomContrast``, ``RandomBrightness``, ``RandomCrop``), which
tfjs-layers lacks but Keras-converted artifacts carry in front of their models.

At inference (``model.eval()``, Keras ``training=False``) they do what Keras does:

* every layer but RandomCrop returns its input (as float32) unchanged;
* RandomCrop in Keras 2 (``tf_keras``) returns ``smart_resize(x, (height, width))``: the
  largest centred window with the target aspect ratio, resized bilinearly (half-pixel centres);
  Keras 3 (up to at least 3.15) returns the input unchanged — its ``transform_images`` does
  nothing when not training (keras-team/keras#21868) — and that is what its converted
  artifacts' reference outputs show, so torch_tfjs follows it.

In training (``model.train()``) RandomFlip, RandomBrightness, RandomContrast and RandomCrop
augment as Keras does (per-image random draws from torch's generator, so ``torch.manual_seed``
makes them reproducible; the draws are not TF's). RandomRotation, RandomZoom and
RandomTranslation raise :class:`~torch_tfjs.errors.LayerConfigError` when called in training:
their affine resampling with Keras's fill modes is not implemented. Freeze them out of the
training path (call the model's later layers, or replace the converter with
``register_layer(..., override=True)``) to fine-tune such a model.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import torch

from .._image import resize_bilinear
from ..activations import is_keras3
from ..errors import LayerConfigError
from .base import KerasLayer, LayerSpec, data_format
from .registry import register_layer


def _pair(value: Any, symmetric: bool = True) -> Tuple[float, float]:
    """A Keras ``factor``: a number f (→ (-f, f) or (f, f)) or a pair."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"expected a number or a pair, got {value!r}")
        return float(value[0]), float(value[1])
    f = abs(float(value))
    return (-f, f) if symmetric else (f, f)


class _Augmentation(KerasLayer):
    """Identity at inference; ``_augment`` in training."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.channels_first = data_format(spec) == "channels_first"
        self.keras3 = is_keras3(spec.generated_by)

    def _hw_axes(self, x: torch.Tensor) -> Tuple[int, int]:
        return (x.dim() - 2, x.dim() - 1) if self.channels_first else (x.dim() - 3, x.dim() - 2)

    def _per_image_shape(self, x: torch.Tensor) -> Sequence[int]:
        return (x.shape[0],) + (1,) * (x.dim() - 1) if x.dim() == 4 else (1,) * x.dim()

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs if inputs.is_floating_point() else inputs.to(torch.float32)
        if not self.is_training(training):
            return self._infer(x)
        return self._augment(x)

    def _infer(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        raise LayerConfigError(
            f"layer '{self.keras_name}' ({self.keras_class}): training-time augmentation is not "
            "implemented by torch_tfjs for this layer (it is the identity at inference, as in "
            "Keras). Call the model in eval mode, or register your own converter with "
            f"torch_tfjs.register_layer('{self.keras_class}', override=True).")


@register_layer("RandomFlip")
class RandomFlip(_Augmentation):
    """Flips each image left-right (``horizontal``) and/or up-down (``vertical``) with
    probability 1/2 per image and direction, as Keras does."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        mode = str(spec.config.get("mode") or "horizontal_and_vertical")
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise spec.error(f"unknown flip mode {mode!r}")
        self.horizontal = mode in ("horizontal", "horizontal_and_vertical")
        self.vertical = mode in ("vertical", "horizontal_and_vertical")

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        h_axis, w_axis = self._hw_axes(x)
        shape = self._per_image_shape(x)
        if self.horizontal:
            flip = torch.rand(shape[0], device=x.device) < 0.5
            x = torch.where(flip.reshape(shape), x.flip(w_axis), x)
        if self.vertical:
            flip = torch.rand(shape[0], device=x.device) < 0.5
            x = torch.where(flip.reshape(shape), x.flip(h_axis), x)
        return x


@register_layer("RandomBrightness")
class RandomBrightness(_Augmentation):
    """Adds ``uniform(factor) * (value_range span)`` per image, then clips to ``value_range``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.factor = _pair(spec.config.get("factor", 0.0))
        value_range = spec.config.get("value_range") or (0, 255)
        self.value_range = (float(value_range[0]), float(value_range[1]))

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        low, high = sorted(self.factor)
        span = self.value_range[1] - self.value_range[0]
        delta = torch.empty(self._per_image_shape(x), device=x.device, dtype=x.dtype).uniform_(low, high)
        return torch.clamp(x + delta * span, self.value_range[0], self.value_range[1])


@register_layer("RandomContrast")
class RandomContrast(_Augmentation):
    """``(x - mean) * c + mean`` with ``mean`` per image and channel over height and width,
    then clipped (Keras 2: to [0, 255], one ``c`` for the batch; Keras 3: to ``value_range``,
    one ``c`` per image). ``c`` is uniform in ``[1 - factor[0], 1 + factor[1]]``; Keras 3 stores
    a number f as ``[0, f]`` after clamping, so its contrast only grows — kept as is."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.factor = _pair(spec.config.get("factor", 0.0), symmetric=False)
        value_range = spec.config.get("value_range") or (0, 255)
        self.value_range = (float(value_range[0]), float(value_range[1]))

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        h_axis, w_axis = self._hw_axes(x)
        shape = self._per_image_shape(x) if self.keras3 else (1,) * x.dim()
        c = torch.empty(shape, device=x.device, dtype=x.dtype).uniform_(1.0 - self.factor[0], 1.0 + self.factor[1])
        mean = x.mean(dim=(h_axis, w_axis), keepdim=True)
        return torch.clamp((x - mean) * c + mean, self.value_range[0], self.value_range[1])


@register_layer("RandomCrop")
class RandomCrop(_Augmentation):
    """Training: a random ``height`` x ``width`` window per batch (Keras draws one offset for
    the whole batch) when the image is large enough, else the centred window with the target
    aspect ratio resized to the target. Inference: see the module docstring (Keras 2:
    smart_resize; Keras 3: unchanged)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.height = int(spec.require("height"))
        self.width = int(spec.require("width"))

    def _smart_resize(self, x: torch.Tensor) -> torch.Tensor:
        h_axis, w_axis = self._hw_axes(x)
        height, width = x.shape[h_axis], x.shape[w_axis]
        crop_h = max(min(height, int(float(width * self.height) / self.width)), 1)
        crop_w = max(min(width, int(float(height * self.width) / self.height)), 1)
        h0 = int(float(height - crop_h) / 2)
        w0 = int(float(width - crop_w) / 2)
        x = x.narrow(h_axis, h0, crop_h).narrow(w_axis, w0, crop_w)
        if (crop_h, crop_w) == (self.height, self.width):
            return x
        if self.channels_first:
            x = x.movedim(-3, -1)
        y = resize_bilinear(x, self.height, self.width, False, True)
        return y.movedim(-1, -3) if self.channels_first else y

    def _infer(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.keras3 else self._smart_resize(x)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        h_axis, w_axis = self._hw_axes(x)
        h_diff, w_diff = x.shape[h_axis] - self.height, x.shape[w_axis] - self.width
        fits = (h_diff > 0 and w_diff > 0) if self.keras3 else (h_diff >= 0 and w_diff >= 0)
        if not fits:
            return self._smart_resize(x)
        h0 = int(torch.randint(0, h_diff + 1, ()).item())
        w0 = int(torch.randint(0, w_diff + 1, ()).item())
        return x.narrow(h_axis, h0, self.height).narrow(w_axis, w0, self.width)


@register_layer("RandomRotation")
class RandomRotation(_Augmentation):
    """Identity at inference; training-time rotation is not implemented (raises)."""


@register_layer("RandomZoom")
class RandomZoom(_Augmentation):
    """Identity at inference; training-time zoom is not implemented (raises)."""


@register_layer("RandomTranslation")
class RandomTranslation(_Augmentation):
    """Identity at inference; training-time translation is not implemented (raises)."""
