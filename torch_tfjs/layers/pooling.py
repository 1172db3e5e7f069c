"""Pooling layers (tfjs-layers ``pooling.ts``): MaxPooling1D/2D/3D, AveragePooling1D/2D/3D,
GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D, and Keras's GlobalAverage/MaxPooling3D.

SAME padding follows TF: max pooling pads with -inf, average pooling does not count padded
cells (also when the padding is asymmetric).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch

from .._layout import to_channels_first, to_channels_last
from .._padding import tf_avg_pool, tf_max_pool
from .base import KerasLayer, LayerSpec, conf_tuple, data_format
from .registry import register_layer

class _Pool(KerasLayer):
    rank = 2
    kind = "max"

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        n = self.rank
        key = "pool_size" if "pool_size" in spec.config else "pool_length"
        self.kernel = conf_tuple(spec, key, n, 2)
        strides = spec.config.get("strides") or spec.config.get("stride")
        self.strides = conf_tuple(spec, "strides", n) if strides else self.kernel
        self.padding = spec.conf_enum("padding", ("valid", "same"), "valid")
        self.channels_first = data_format(spec) == "channels_first"

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        if self.channels_first:
            return None
        fn = tf_max_pool if self.kind == "max" else tf_avg_pool
        return fn(inputs, self.rank, self.kernel, self.strides, self.padding), True

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        fn = tf_max_pool if self.kind == "max" else tf_avg_pool
        if self.channels_first:
            return fn(inputs, self.rank, self.kernel, self.strides, self.padding)
        return to_channels_last(fn(to_channels_first(inputs), self.rank, self.kernel, self.strides, self.padding))


@register_layer("MaxPooling2D", "MaxPool2D")
class MaxPooling2D(_Pool):
    rank, kind = 2, "max"


@register_layer("MaxPooling1D", "MaxPool1D")
class MaxPooling1D(_Pool):
    rank, kind = 1, "max"


@register_layer("MaxPooling3D", "MaxPool3D")
class MaxPooling3D(_Pool):
    rank, kind = 3, "max"


@register_layer("AveragePooling2D", "AvgPool2D")
class AveragePooling2D(_Pool):
    rank, kind = 2, "avg"


@register_layer("AveragePooling1D", "AvgPool1D")
class AveragePooling1D(_Pool):
    rank, kind = 1, "avg"


@register_layer("AveragePooling3D", "AvgPool3D")
class AveragePooling3D(_Pool):
    rank, kind = 3, "avg"


class _GlobalPool(KerasLayer):
    rank = 2
    kind = "avg"

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.channels_first = data_format(spec) == "channels_first"
        self.keepdims = spec.conf_bool("keepdims", False)
        generated = (spec.generated_by or "").lower()
        # tfjs's GlobalAveragePooling1D ignores masks (a tfjs quirk); Keras averages kept steps.
        self.use_mask = self.rank == 1 and self.kind == "avg" and not (
            "tensorflow.js" in generated or "tfjs" in generated)

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        """Over the spatial axes of an NCHW view: (N, C) either way; kept dims stay a view."""
        if self.channels_first:
            return None
        dims = list(range(2, 2 + self.rank))
        reduce = torch.amax if self.kind == "max" else torch.mean
        return reduce(inputs, dim=dims, keepdim=self.keepdims), self.keepdims

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        dims = list(range(2, 2 + self.rank)) if self.channels_first else list(range(1, 1 + self.rank))
        if self.kind == "max":
            return torch.amax(inputs, dim=dims, keepdim=self.keepdims)
        if self.use_mask and mask is not None:
            weights = mask.to(inputs.dtype).unsqueeze(1 if self.channels_first else -1)
            total = torch.sum(inputs * weights, dim=dims, keepdim=self.keepdims)
            return total / torch.sum(weights, dim=dims, keepdim=self.keepdims)
        return torch.mean(inputs, dim=dims, keepdim=self.keepdims)

    def compute_mask(self, inputs: Any, mask: Any) -> None:
        return None


@register_layer("GlobalAveragePooling2D", "GlobalAvgPool2D")
class GlobalAveragePooling2D(_GlobalPool):
    rank, kind = 2, "avg"


@register_layer("GlobalAveragePooling1D", "GlobalAvgPool1D")
class GlobalAveragePooling1D(_GlobalPool):
    rank, kind = 1, "avg"
    supports_masking = True


@register_layer("GlobalAveragePooling3D", "GlobalAvgPool3D")
class GlobalAveragePooling3D(_GlobalPool):
    rank, kind = 3, "avg"


@register_layer("GlobalMaxPooling2D", "GlobalMaxPool2D")
class GlobalMaxPooling2D(_GlobalPool):
    rank, kind = 2, "max"


@register_layer("GlobalMaxPooling1D", "GlobalMaxPool1D")
class GlobalMaxPooling1D(_GlobalPool):
    rank, kind = 1, "max"


@register_layer("GlobalMaxPooling3D", "GlobalMaxPool3D")
class GlobalMaxPooling3D(_GlobalPool):
    rank, kind = 3, "max"
