"""Spatial reshaping layers: Cropping1D/2D/3D, ZeroPadding1D/2D/3D, UpSampling1D/2D/3D.

tfjs-layers registers Cropping2D, ZeroPadding2D and UpSampling2D; the 1-D and 3-D variants are
Keras-only and supported because Keras files carry them. Inputs are channels-last unless the
config says ``channels_first``; the layers work on the spatial axes directly, so no transposes.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .._image import resize_bilinear
from ..activations import is_keras_made
from .base import KerasLayer, LayerSpec, _as_int, conf_tuple, data_format, snake
from .registry import register_layer


def _pairs(spec: LayerSpec, key: str, rank: int, default: int) -> List[Tuple[int, int]]:
    """Keras' int | (a, b, ...) | ((a0, a1), (b0, b1), ...) → one (before, after) per axis."""
    value: Any = spec.config.get(key, default)
    if value is None:
        value = default
    expected = "a non-negative integer, or one or a pair of them per axis"

    def num(v: Any) -> int:
        n = _as_int(v)
        if n is None or n < 0:
            raise spec.bad_value(key, expected, value)
        return n

    if not isinstance(value, (list, tuple)):
        return [(num(value), num(value))] * rank
    value = list(value)
    if rank == 1 and len(value) == 2 and not any(isinstance(v, (list, tuple)) for v in value):
        return [(num(value[0]), num(value[1]))]  # 1-D: (before, after)
    if len(value) != rank:
        raise spec.error(f"'{key}' should have {rank} entries, got {value}")
    out = []
    for v in value:
        if not isinstance(v, (list, tuple)):
            out.append((num(v), num(v)))
        elif len(v) == 2:
            out.append((num(v[0]), num(v[1])))
        else:
            raise spec.bad_value(key, expected, value)
    return out


class _Spatial(KerasLayer):
    rank = 2

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        # 1-D layers have no data_format and are always (batch, steps, channels).
        self.channels_first = self.rank > 1 and data_format(spec) == "channels_first"

    def spatial_axes(self) -> List[int]:
        start = 2 if self.channels_first else 1
        return list(range(start, start + self.rank))


class _Cropping(_Spatial):
    """Removes ``cropping`` (before, after) elements along each spatial axis."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.cropping = _pairs(spec, "cropping", self.rank, 0 if self.rank != 1 else 1)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        for axis, (before, after) in zip(self.spatial_axes(), self.cropping):
            inputs = inputs.narrow(axis, before, inputs.shape[axis] - before - after)
        return inputs


@register_layer("Cropping1D")
class Cropping1D(_Cropping):
    rank = 1


@register_layer("Cropping2D")
class Cropping2D(_Cropping):
    rank = 2


@register_layer("Cropping3D")
class Cropping3D(_Cropping):
    rank = 3


class _ZeroPadding(_Spatial):
    """Pads each spatial axis with ``padding`` (before, after) zeros."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.padding = _pairs(spec, "padding", self.rank, 1)

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        if self.channels_first:
            return None
        pads: List[int] = []  # the NCHW view's spatial axes, last first
        for before_after in reversed(self.padding):
            pads.extend(before_after)
        return F.pad(inputs, pads), True

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        pads: List[int] = []  # F.pad lists pads from the last axis backwards
        axes = dict(zip(self.spatial_axes(), self.padding))
        for axis in range(inputs.dim() - 1, 0, -1):
            pads.extend(axes.get(axis, (0, 0)))
        return F.pad(inputs, pads)


@register_layer("ZeroPadding1D")
class ZeroPadding1D(_ZeroPadding):
    rank = 1


@register_layer("ZeroPadding2D")
class ZeroPadding2D(_ZeroPadding):
    rank = 2


@register_layer("ZeroPadding3D")
class ZeroPadding3D(_ZeroPadding):
    rank = 3


class _UpSampling(_Spatial):
    """Repeats each spatial element ``size`` times (nearest), or resizes bilinearly (2-D).

    Bilinear UpSampling2D: tfjs calls ``resizeBilinear`` with TF1 sampling (no half-pixel
    centres); Keras uses ``tf.image.resize`` (half-pixel centres). The artifact's producer
    decides which one a model gets.
    """

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.size: Tuple[int, ...] = conf_tuple(spec, "size", self.rank, 2)
        self.interpolation = snake(spec.config.get("interpolation", "nearest"))
        if self.interpolation not in ("nearest", "bilinear") or (
                self.interpolation == "bilinear" and self.rank != 2):
            raise spec.error(f"interpolation {self.interpolation!r} is not supported")
        self.half_pixel = is_keras_made(spec.generated_by)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if self.interpolation == "bilinear":
            x = inputs.movedim(1, -1) if self.channels_first else inputs
            out = resize_bilinear(x, x.shape[1] * self.size[0], x.shape[2] * self.size[1],
                                  half_pixel_centers=self.half_pixel).to(inputs.dtype)
            return out.movedim(-1, 1) if self.channels_first else out
        for axis, factor in zip(self.spatial_axes(), self.size):
            inputs = torch.repeat_interleave(inputs, factor, dim=axis)
        return inputs


@register_layer("UpSampling1D")
class UpSampling1D(_UpSampling):
    rank = 1


@register_layer("UpSampling2D")
class UpSampling2D(_UpSampling):
    rank = 2


@register_layer("UpSampling3D")
class UpSampling3D(_UpSampling):
    rank = 3
