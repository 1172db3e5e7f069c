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

In training (``model.train()``) every layer augments as Keras does, with per-image random
draws from torch's generator (``torch.rand`` / ``torch.randint``), so ``torch.manual_seed`` makes
them reproducible; the draws are not TF's (Keras's seeded generators give other numbers), but
they follow Keras's distributions and, for a given draw, the output is Keras's:

* RandomFlip, RandomBrightness, RandomContrast and RandomCrop as described on each class;
* RandomRotation, RandomZoom and RandomTranslation build Keras's projective transform per image
  (Keras 2 ``tf_keras`` and Keras 3 formulas, angle units included) and resample with TF's
  ``ImageProjectiveTransformV3`` semantics
  (:func:`torch_tfjs._image.projective_transform`): ``fill_mode`` reflect / wrap /
  constant (``fill_value``) / nearest, ``interpolation`` bilinear / nearest, channels_last or
  channels_first, batched or single images. Gradients flow to the input (not to the draws).
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import torch

from .._image import resize_bilinear
from .._loading import add_dtype_marker
from ..activations import is_keras3
from ..errors import LayerConfigError
from .._image import projective_transform
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
        add_dtype_marker(self)  # integer images become the model's float dtype
        self.keras3 = is_keras3(spec.generated_by)

    def _hw_axes(self, x: torch.Tensor) -> Tuple[int, int]:
        return (x.dim() - 2, x.dim() - 1) if self.channels_first else (x.dim() - 3, x.dim() - 2)

    def _per_image_shape(self, x: torch.Tensor) -> Sequence[int]:
        return (x.shape[0],) + (1,) * (x.dim() - 1) if x.dim() == 4 else (1,) * x.dim()

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs if inputs.is_floating_point() else inputs.to(self.float_dtype_for(inputs))
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


class _Geometric(_Augmentation):
    """Shared by RandomRotation / RandomZoom / RandomTranslation: per-image random draws, a
    projective transform per image (``[a0, a1, a2, b0, b1, b2, c0, c1]`` mapping output to input
    pixel coordinates, as Keras builds it) and TF's ``ImageProjectiveTransformV3`` resampling
    with Keras's ``fill_mode`` / ``interpolation`` / ``fill_value``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.fill_mode = str(spec.config.get("fill_mode") or "reflect")
        self.interpolation = str(spec.config.get("interpolation") or "bilinear")
        if self.fill_mode not in ("reflect", "wrap", "constant", "nearest"):
            raise spec.error(f"unsupported fill_mode {self.fill_mode!r}")
        if self.interpolation not in ("bilinear", "nearest"):
            raise spec.error(f"unsupported interpolation {self.interpolation!r}")
        fill_value = spec.config.get("fill_value", 0.0)
        self.fill_value = float(0.0 if fill_value is None else fill_value)

    def _factor(self, value: Any, name: str) -> Tuple[float, float]:
        """(lower, upper) as Keras stores them: a number f gives (-f, f) (Keras 3: (-|f|, |f|));
        a pair is taken as is (Keras 3 sorts it)."""
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise LayerConfigError(f"layer '{self.keras_name}': {name} must be a number or a "
                                       f"pair, got {value!r}")
            lower, upper = float(value[0]), float(value[1])
            return (min(lower, upper), max(lower, upper)) if self.keras3 else (lower, upper)
        f = float(value)
        return (-abs(f), abs(f)) if self.keras3 else (-f, f)

    @staticmethod
    def _uniform(n: int, lower: float, upper: float, device: torch.device) -> torch.Tensor:
        """``n`` float32 draws ``lower + (upper - lower) * u`` (TF's random_uniform formula, so a
        degenerate range gives exactly ``lower``), ``u`` from torch's generator."""
        u = torch.rand(n, device=device, dtype=torch.float32)
        lo = torch.tensor(lower, dtype=torch.float32, device=device)
        hi = torch.tensor(upper, dtype=torch.float32, device=device)
        return lo + (hi - lo) * u

    def _transforms(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        raise NotImplementedError

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise LayerConfigError(f"layer '{self.keras_name}' ({self.keras_class}) expects 3-D or "
                                   f"4-D images, got shape {tuple(x.shape)}")
        unbatched = x.dim() == 3
        images = x.unsqueeze(0) if unbatched else x
        if self.channels_first:
            images = images.movedim(1, -1)
        n, height, width = images.shape[0], images.shape[1], images.shape[2]
        transforms = self._transforms(n, height, width, x.device)
        out = projective_transform(images.to(torch.float32), transforms, [height, width],
                                   self.fill_value, self.interpolation, self.fill_mode)
        if self.channels_first:
            out = out.movedim(-1, 1)
        out = out.squeeze(0) if unbatched else out
        return out.to(x.dtype)


def _column(value: torch.Tensor) -> torch.Tensor:
    return value.reshape(-1, 1)


@register_layer("RandomRotation")
class RandomRotation(_Geometric):
    """Rotates each image by a random angle about its centre (counter-clockwise for positive
    angles): ``factor`` (lower, upper) in turns. Keras 2 draws the angle in radians in
    ``[lower * 2 pi, upper * 2 pi]``; Keras 3 draws degrees in ``[lower * 360, upper * 360]``
    and converts. The output pixel (x, y) reads the input at
    ``R(-angle) (x - cx, y - cy) + (cx, cy)``, with ``(cx, cy) = ((w - 1) / 2, (h - 1) / 2)``."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.lower, self.upper = self._factor(spec.require("factor"), "factor")

    def _transforms(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        f32 = dict(dtype=torch.float32, device=device)
        h = torch.tensor(float(height), **f32)
        w = torch.tensor(float(width), **f32)
        zeros = torch.zeros(n, **f32)
        if self.keras3:  # keras BaseImagePreprocessingLayer._compute_affine_matrix
            degrees = self._uniform(n, self.lower * 360.0, self.upper * 360.0, device)
            angle = degrees * torch.tensor(math.pi / 180.0, **f32)
            cos, sin = torch.cos(angle), torch.sin(angle)
            cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
            a0 = cos + zeros * sin
            a1 = -sin + zeros * cos
            a2 = zeros + cx - cx * a0 - cy * a1
            b0 = zeros * cos + sin
            b1 = zeros * -sin + cos
            b2 = zeros + cy - cx * b0 - cy * b1
            return torch.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], dim=1)
        # tf_keras get_rotation_matrix
        angle = self._uniform(n, self.lower * 2.0 * math.pi, self.upper * 2.0 * math.pi, device)
        cos, sin = torch.cos(angle), torch.sin(angle)
        x_offset = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_offset = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        return torch.stack([cos, -sin, x_offset, sin, cos, y_offset, zeros, zeros], dim=1)


@register_layer("RandomZoom")
class RandomZoom(_Geometric):
    """Zooms each image about its centre by random factors ``1 + height_factor`` (vertical) and
    ``1 + width_factor`` (horizontal; without ``width_factor`` the vertical draw is reused, keeping
    the aspect ratio): positive factors zoom out, negative zoom in."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.height_range = self._factor(spec.require("height_factor"), "height_factor")
        width = spec.config.get("width_factor")
        self.width_range = None if width is None else self._factor(width, "width_factor")

    def _transforms(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        f32 = dict(dtype=torch.float32, device=device)
        zy = self._uniform(n, 1.0 + self.height_range[0], 1.0 + self.height_range[1], device)
        zx = zy if self.width_range is None else \
            self._uniform(n, 1.0 + self.width_range[0], 1.0 + self.width_range[1], device)
        h = torch.tensor(float(height), **f32)
        w = torch.tensor(float(width), **f32)
        zeros = torch.zeros(n, **f32)
        x_offset = ((w - 1.0) / 2.0) * (1.0 - zx)
        y_offset = ((h - 1.0) / 2.0) * (1.0 - zy)
        return torch.stack([zx, zeros, x_offset, zeros, zy, y_offset, zeros, zeros], dim=1)


@register_layer("RandomTranslation")
class RandomTranslation(_Geometric):
    """Shifts each image by random fractions of its size: ``height_factor`` down (positive) or up,
    ``width_factor`` right (positive) or left."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.height_range = self._factor(spec.require("height_factor"), "height_factor")
        self.width_range = self._factor(spec.require("width_factor"), "width_factor")

    def _transforms(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        f32 = dict(dtype=torch.float32, device=device)
        dy = self._uniform(n, *self.height_range, device) * torch.tensor(float(height), **f32)
        dx = self._uniform(n, *self.width_range, device) * torch.tensor(float(width), **f32)
        ones, zeros = torch.ones(n, **f32), torch.zeros(n, **f32)
        return torch.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], dim=1)
