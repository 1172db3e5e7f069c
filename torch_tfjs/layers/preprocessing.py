"""Preprocessing layers: Rescaling, CenterCrop, Resizing, CategoryEncoding, RandomWidth, and
the Keras-only Normalization (which Keras applications such as EfficientNet carry).

Inputs are channels-last images ((batch,) height, width, channels) as in tfjs.
"""

from __future__ import annotations

from typing import Any, List, Optional

import torch

from .._image import resize_bilinear, resize_nearest
from ..activations import is_keras_made
from .._loading import add_dtype_marker
from .._log import warn_semantics
from ..errors import ModelInputError
from .base import KerasLayer, LayerSpec, snake
from .registry import register_layer


@register_layer("Rescaling")
class Rescaling(KerasLayer):
    """``x * scale + offset`` in float32."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.scale = float(spec.require("scale"))
        self.offset = float(spec.config.get("offset", 0.0))
        add_dtype_marker(self)  # integer images become the model's float dtype

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return inputs.to(self.float_dtype_for(inputs)) * self.scale + self.offset


def _resize(x: torch.Tensor, height: int, width: int, interpolation: str, align_corners: bool,
            half_pixel: bool) -> torch.Tensor:
    if interpolation == "nearest":
        return resize_nearest(x, height, width, align_corners, half_pixel)
    return resize_bilinear(x, height, width, align_corners, half_pixel)


@register_layer("Normalization")
class Normalization(KerasLayer):
    """Keras ``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)`` over ``axis``
    (``invert``: the inverse map). ``mean`` / ``variance`` come from the weights (adapted) or
    from the config; they are buffers, as in Keras."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        axis = spec.config.get("axis", -1)
        self.axes: List[int] = [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])] \
            if axis is not None else []
        self.invert = bool(spec.config.get("invert", False))
        given_mean, given_variance = spec.config.get("mean"), spec.config.get("variance")
        if given_mean is not None and given_variance is not None:
            self.register_buffer("mean", torch.tensor(given_mean, dtype=torch.float32).reshape(-1))
            self.register_buffer("variance", torch.tensor(given_variance, dtype=torch.float32).reshape(-1))
        else:
            self.add_keras_weight("mean", spec.weight("mean", 0), trainable=False)
            self.add_keras_weight("variance", spec.weight("variance", 1), trainable=False)
            count = spec.optional_weight("count", 2)
            if count is not None:
                self.add_keras_weight("count", count, trainable=False)

    def _broadcast(self, value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if value.numel() == 1 or not self.axes:
            return value.reshape(())
        shape = [1] * x.dim()
        for axis in self.axes:
            shape[axis % x.dim()] = x.shape[axis % x.dim()]
        return value.reshape(shape)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        x = inputs.to(self.float_dtype_for(inputs))
        mean = self._broadcast(self.mean, x)
        std = torch.clamp(torch.sqrt(self._broadcast(self.variance, x)), min=1e-7)
        return mean + x * std if self.invert else (x - mean) / std


@register_layer("CenterCrop")
class CenterCrop(KerasLayer):
    """Crops the central ``height`` x ``width`` window; an input smaller than that in either
    dimension is resized up bilinearly instead (tfjs TF1 sampling).

    The crop starts at ``(input - target) // 2`` as in Keras. tfjs 4.22 moves the window one
    column right when the widths differ by exactly one (its ``wBuffer`` fix-up) and samples it
    through ``cropAndResize``; we follow Keras there (see ``tests/layers/test_preprocessing.py``).
    """

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.height = int(spec.require("height"))
        self.width = int(spec.require("width"))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        in_h, in_w = inputs.shape[-3], inputs.shape[-2]
        if in_h < self.height or in_w < self.width:
            return resize_bilinear(inputs, self.height, self.width).to(inputs.dtype)
        top = (in_h - self.height) // 2
        left = (in_w - self.width) // 2
        return inputs[..., top:top + self.height, left:left + self.width, :]


@register_layer("Resizing")
class Resizing(KerasLayer):
    """Resizes images to ``height`` x ``width``.

    tfjs-layers calls ``resizeBilinear/resizeNearestNeighbor(x, size, alignCorners =
    !cropToAspectRatio)``, so tfjs-saved models resize with aligned corners; Keras resizes
    with half-pixel centres, after a central crop to the target aspect ratio when
    ``crop_to_aspect_ratio`` is set. The artifact's producer decides.
    """

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.height = int(spec.require("height"))
        self.width = int(spec.require("width"))
        self.interpolation = snake(spec.config.get("interpolation", "bilinear"))
        if self.interpolation not in ("bilinear", "nearest"):
            raise spec.error(f"interpolation {self.interpolation!r} is not supported "
                             "(tfjs supports bilinear and nearest)")
        self.crop_to_aspect_ratio = bool(spec.config.get("crop_to_aspect_ratio", False))
        self.keras = is_keras_made(spec.generated_by)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not self.keras:
            out = _resize(inputs, self.height, self.width, self.interpolation,
                          not self.crop_to_aspect_ratio, False)
            return out
        x = inputs
        if self.crop_to_aspect_ratio:
            in_h, in_w = x.shape[-3], x.shape[-2]
            crop_h = min(in_h, int(in_w * self.height / self.width))
            crop_w = min(in_w, int(in_h * self.width / self.height))
            top, left = (in_h - crop_h) // 2, (in_w - crop_w) // 2
            x = x[..., top:top + crop_h, left:left + crop_w, :]
        return _resize(x, self.height, self.width, self.interpolation, False, True)


@register_layer("CategoryEncoding")
class CategoryEncoding(KerasLayer):
    """Integer category ids → float32 one-hot / multi-hot / count vectors of ``num_tokens``.

    Inputs are truncated to int32 as tfjs does; ids outside ``[0, num_tokens)`` raise
    :class:`ModelInputError` in eager mode (tfjs throws too).
    """

    MODES = ("one_hot", "multi_hot", "count")

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.num_tokens = int(spec.require("num_tokens"))
        self.output_mode = snake(spec.config.get("output_mode", "multi_hot"))
        if self.output_mode not in self.MODES:
            raise spec.error(f"output_mode {self.output_mode!r} is not supported (supported: "
                             f"{', '.join(self.MODES)}; tf_idf needs call-time weights)")
        add_dtype_marker(self)  # outputs are the model's float dtype

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        ids = inputs.to(torch.int32).long()
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()) and ids.numel():
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= self.num_tokens:
                raise ModelInputError(
                    f"layer '{self.keras_name}' (CategoryEncoding): ids must lie in "
                    f"[0, {self.num_tokens}), got values in [{low}, {high}]")
        if ids.dim() == 0:
            ids = ids.reshape(1)
        if self.output_mode == "one_hot" and ids.shape[-1] != 1:
            ids = ids.unsqueeze(-1)
        if ids.dim() == 1:
            ids = ids.unsqueeze(-1)
        if ids.dim() > 2:
            raise ModelInputError(f"layer '{self.keras_name}' (CategoryEncoding): inputs of rank "
                                  f"{inputs.dim()} give an output of rank > 2")
        dtype = self.float_dtype_for(inputs)
        counts = torch.zeros(ids.shape[0], self.num_tokens, dtype=dtype, device=ids.device)
        counts = counts.scatter_add(1, ids, torch.ones_like(ids, dtype=dtype))
        return counts if self.output_mode == "count" else (counts > 0).to(dtype)


@register_layer("RandomWidth")
class RandomWidth(KerasLayer):
    """In training, resizes the width by a random factor in ``1 + [lower, upper]``.

    At inference it is the identity, as in Keras. tfjs 4.22 resizes randomly in ``predict``
    too, which makes its inference output random; we follow Keras (see the tests).
    """

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        factor = spec.require("factor")
        if isinstance(factor, (list, tuple)) and len(factor) == 2:
            self.lower, self.upper = float(factor[0]), float(factor[1])
        elif isinstance(factor, (int, float)) and factor > 0:
            self.lower, self.upper = -float(factor), float(factor)
        else:
            raise spec.error(f"invalid factor {factor!r}: a positive number or two numbers")
        if self.lower < -1.0 or self.upper < -1.0 or self.upper < self.lower:
            raise spec.error(f"invalid factor {factor!r}")
        self.interpolation = snake(spec.config.get("interpolation", "bilinear"))
        if self.interpolation not in ("bilinear", "nearest"):
            raise spec.error(f"interpolation {self.interpolation!r} is not supported")
        self.keras = is_keras_made(spec.generated_by)
        warn_semantics(f"{spec.source}: RandomWidth '{spec.name}' is the identity at inference, as "
                       "in Keras; tfjs 4.22 also resizes randomly in predict (a tfjs bug)")

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not self.is_training(training):
            return inputs
        width = inputs.shape[-2]
        factor = float(torch.empty(()).uniform_(1.0 + self.lower, 1.0 + self.upper))  # torch's seed
        new_width = max(1, round(factor * width))
        return _resize(inputs, inputs.shape[-3], new_width, self.interpolation, False, self.keras)
