"""Convolution layers (tfjs-layers ``convolutional.ts``, ``convolutional_depthwise.ts``): Conv1D,
Conv2D, Conv3D, Conv2DTranspose, Conv3DTranspose, SeparableConv2D, DepthwiseConv2D, and the
Keras-only Conv1DTranspose, SeparableConv1D, DepthwiseConv1D.

Kernels are stored in torch's layout (OIHW, in ``channels_last`` memory for 2-D/3-D) and run on
channels-first *views* of the channels-last activations: no activation is copied around a conv.
TF SAME padding with an odd total gets its extra row/column after, via one ``F.pad``.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F

from .._layout import to_channels_first, to_channels_last
from .._padding import spatial_sizes, static_shape, tf_conv
from .._log import warn_semantics
from .base import KerasLayer, LayerSpec, conf_tuple, data_format
from ..activations import is_elementwise
from .core import layer_activation
from .derived import DerivedCache
from .registry import register_layer

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MEMORY = {1: None, 2: torch.channels_last, 3: torch.channels_last_3d}


def _kernel_to_torch(rank: int) -> Tuple[int, ...]:
    """Keras kernel (*spatial, in, out) → torch (out, in, *spatial)."""
    return (rank + 1, rank) + tuple(range(rank))


def _transposed_kernel_to_torch(rank: int) -> Tuple[int, ...]:
    """Keras transposed kernel (*spatial, out, in) → torch (in, out, *spatial)."""
    return (rank + 1, rank) + tuple(range(rank))


class _Conv(KerasLayer):
    """Shared config of the convolution family."""

    rank = 2

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        n = self.rank
        self.channels_first = data_format(spec) == "channels_first"
        self.strides = conf_tuple(spec, "strides", n, 1)
        self.dilation = conf_tuple(spec, "dilation_rate", n, 1)
        # The weights decide the kernel's size and count; the config's are checked for type.
        if spec.config.get("kernel_size") is not None:
            conf_tuple(spec, "kernel_size", n)
        spec.conf_int("filters", None, minimum=1)
        self.padding = spec.conf_enum("padding", ("valid", "same", "causal"), "valid")
        if self.padding == "causal" and n != 1:
            raise spec.error("padding 'causal' is only defined for 1-D convolutions")
        self.use_bias = spec.conf_bool("use_bias", True)
        self.activation = layer_activation(spec)
        self.linear_activation = spec.config.get("activation") in (None, "linear")
        self.views_its_input = not self.channels_first and is_elementwise(spec.config.get("activation"))
        self._fold_cache = DerivedCache()  # the kernel with a following BatchNorm folded in

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        """The convolution on an NCHW view, its (elementwise) activation applied there too."""
        conv = getattr(self, "_conv", None)
        if not self.views_its_input or conv is None:
            return None
        return self.activation(conv(inputs)), True

    #: The attribute holding the torch-layout kernel ``(out, in / groups, *spatial)`` when a
    #: following BatchNormalization can be folded into it (see :meth:`run_with_batch_norm`).
    foldable_kernel: Optional[str] = None

    @property
    def channel_axis(self) -> int:
        """The output's channel axis (``rank + 2`` dims)."""
        return 1 if self.channels_first else self.rank + 1

    def run_with_batch_norm(self, inputs: torch.Tensor, batch_norm: Any,
                            channels_first_view: bool = False) -> torch.Tensor:
        """This (linear) convolution followed by ``batch_norm`` (a BatchNormalization that
        normalises with its moving statistics, ``y * scale + shift``), as one convolution with
        the kernel and bias scaled: Keras's conv → BN in one kernel. Differentiable; under
        ``torch.compile`` with frozen weights the scaled kernel is a constant."""
        raw = getattr(self, self.foldable_kernel or "")
        bias = self.bias

        def fold() -> Tuple[torch.Tensor, torch.Tensor]:
            scale, shift = batch_norm.compute_affine()
            kernel = raw * scale.reshape((-1,) + (1,) * (raw.dim() - 1))
            return kernel, (shift if bias is None else bias * scale + shift)

        # eager inference: the folded kernel is made once, not on every call (see .derived);
        # one cache for the pair, keyed by the conv's and the BatchNorm's own tensors
        kernel, bias = self._fold_cache.get((raw, bias) + batch_norm.affine_sources(), fold)

        def conv(x: torch.Tensor) -> torch.Tensor:
            return tf_conv(x, kernel, bias, self.rank, self.strides, self.padding, self.dilation,
                           groups=self.groups)

        return conv(inputs) if channels_first_view else self._run(inputs, conv)

    def _run(self, x: torch.Tensor, fn) -> torch.Tensor:  # type: ignore[no-untyped-def]
        if self.channels_first:
            return self.activation(fn(x))
        # The activation runs on the channels-last result, as Keras/tfjs apply it: softmax /
        # log_softmax reduce over the last axis (the channels here), not over the last spatial
        # axis of the channels-first view (found by the tfjs sweep, e.g. Conv2D + softmax).
        return self.activation(to_channels_last(fn(to_channels_first(x))))


@register_layer("Conv2D", "Convolution2D")
class Conv2D(_Conv):
    """N-D convolution (Conv1D / Conv2D / Conv3D by ``rank``)."""

    rank = 2
    foldable_kernel = "kernel"

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        kernel = spec.weight("kernel", 0)
        self.kernel = self.add_keras_weight("kernel", kernel, permutation=_kernel_to_torch(self.rank),
                                            memory_format=_MEMORY[self.rank])
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 1)) if self.use_bias else None
        self.groups = spec.conf_int("groups", 1, minimum=1)  # Keras-only (ConvNeXt's depthwise)

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        return tf_conv(x, self.kernel, self.bias, self.rank, self.strides, self.padding, self.dilation,
                       self.groups)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self._run(inputs, self._conv)


@register_layer("Conv1D", "Convolution1D")
class Conv1D(Conv2D):
    rank = 1


@register_layer("Conv3D", "Convolution3D")
class Conv3D(Conv2D):
    rank = 3


@register_layer("DepthwiseConv2D")
class DepthwiseConv2D(_Conv):
    """Per-channel convolution with ``depth_multiplier`` outputs per input channel.

    tfjs ignores ``dilation_rate`` here (a tfjs bug); artifacts written by tfjs are run as tfjs
    runs them, Keras-written ones with their dilation."""

    rank = 2
    foldable_kernel = "depthwise_kernel"

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        ref = spec.weight("depthwise_kernel", 0)
        *spatial, channels, multiplier = ref.value.shape
        self.groups = int(channels)
        self.add_keras_weight(
            "depthwise_kernel", ref, permutation=(self.rank, self.rank + 1) + tuple(range(self.rank)),
            torch_shape=(channels * multiplier, 1, *spatial), memory_format=_MEMORY[self.rank])
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 1)) if self.use_bias else None
        if spec.made_by_tfjs:
            self.dilation = (1,) * self.rank
        elif any(d != 1 for d in self.dilation):
            warn_semantics(f"{spec.source}: DepthwiseConv2D '{spec.name}' runs with its "
                           f"dilation_rate {list(self.dilation)} as Keras does; tfjs 4.22 "
                           "ignores dilation_rate for this layer (a tfjs bug)")

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        return tf_conv(x, self.depthwise_kernel, self.bias, self.rank, self.strides, self.padding,
                       self.dilation, groups=self.groups)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self._run(inputs, self._conv)


@register_layer("DepthwiseConv1D")
class DepthwiseConv1D(DepthwiseConv2D):
    rank = 1


@register_layer("SeparableConv2D", "SeparableConvolution2D")
class SeparableConv2D(_Conv):
    """Depthwise convolution (strides, padding, dilation) then a 1x1 pointwise convolution."""

    rank = 2

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        n = self.rank
        ref = spec.weight("depthwise_kernel", 0)
        *spatial, channels, multiplier = ref.value.shape
        self.groups = int(channels)
        self.depthwise_kernel = self.add_keras_weight(
            "depthwise_kernel", ref, permutation=(n, n + 1) + tuple(range(n)),
            torch_shape=(channels * multiplier, 1, *spatial), memory_format=_MEMORY[n])
        self.pointwise_kernel = self.add_keras_weight(
            "pointwise_kernel", spec.weight("pointwise_kernel", 1), permutation=_kernel_to_torch(n),
            memory_format=_MEMORY[n])
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 2)) if self.use_bias else None

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        y = tf_conv(x, self.depthwise_kernel, None, self.rank, self.strides, self.padding, self.dilation,
                    groups=self.groups)
        return _CONV[self.rank](y, self.pointwise_kernel, self.bias)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self._run(inputs, self._conv)


@register_layer("SeparableConv1D", "SeparableConvolution1D")
class SeparableConv1D(SeparableConv2D):
    rank = 1


def transposed_extent(n: int, kernel: int, stride: int, dilation: int, padding: str,
                      output_padding: Optional[int]) -> Tuple[int, int]:
    """One axis of a Keras/TF transposed convolution of an ``n``-long input: ``(crop, length)``,
    the output being positions ``[crop, crop + length)`` of the unpadded ("full") transposed
    convolution, whose ``(n - 1)·s + k`` positions continue as zeros (plus bias) beyond its end.

    ``length`` is Keras's ``deconv_output_length`` (k the dilated kernel): n·s (same) or
    n·s + max(k − s, 0) (valid) without ``output_padding``, else (n − 1)·s + k % 2 + p (same) or
    (n − 1)·s + k + p (valid). ``crop`` is the front padding TF's conv gradient uses for that
    output size: half (rounded down) of the total SAME padding, 0 for VALID."""
    k = (kernel - 1) * dilation + 1
    if output_padding is None:
        length = n * stride if padding == "same" else n * stride + max(k - stride, 0)
    else:
        length = (n - 1) * stride + (k % 2 if padding == "same" else k) + output_padding
    crop = max((n - 1) * stride + k - length, 0) // 2 if padding == "same" else 0
    return crop, length


@register_layer("Conv2DTranspose", "Convolution2DTranspose")
class Conv2DTranspose(_Conv):
    """Transposed convolution with Keras/TF's output size (see :func:`transposed_extent`).

    ``output_padding`` follows Keras: tfjs 4.22 neither saves nor reads it, so tfjs runs a
    Keras file that has it at the size without it (a tfjs bug; Keras-trained weights expect
    Keras's size)."""

    rank = 2

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        if self.padding == "causal":
            raise spec.error("padding 'causal' is not defined for transposed convolutions")
        self.output_padding: Tuple[Optional[int], ...] = (None,) * self.rank
        if spec.config.get("output_padding") is not None:
            self.output_padding = conf_tuple(spec, "output_padding", self.rank, minimum=0)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise spec.error(f"output_padding {list(self.output_padding)} must be smaller than the "
                                 f"strides {list(self.strides)}")
            warn_semantics(f"{spec.source}: {spec.class_name} '{spec.name}' applies its "
                           f"output_padding {list(self.output_padding)} as Keras does; tfjs 4.22 "
                           "ignores output_padding (a tfjs bug) and gives a different output size")
        self.kernel = self.add_keras_weight("kernel", spec.weight("kernel", 0),
                                            permutation=_transposed_kernel_to_torch(self.rank),
                                            memory_format=_MEMORY[self.rank])
        self.bias = self.add_keras_weight("bias", spec.weight("bias", 1)) if self.use_bias else None

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        # torch's ``padding`` q crops q positions from both ends of the full output and its
        # ``output_padding`` e re-extends the end (zeros + bias past the full output): take the
        # symmetric part of the crop there and narrow the rest.
        pads, extra, starts, lengths = [], [], [], []
        for n, k, s, d, p in zip(spatial_sizes(x), static_shape(self.kernel)[2:], self.strides, self.dilation,
                                 self.output_padding):
            crop, length = transposed_extent(n, k, s, d, self.padding, p)
            after = (n - 1) * s + (k - 1) * d + 1 - crop - length  # < 0: zeros to add at the end
            q = max(0, min(crop, after))
            pads.append(q)
            extra.append(max(0, -after))
            starts.append(crop - q)
            lengths.append(length)
        # torch needs output_padding < max(stride, dilation); beyond that, pad by hand.
        in_torch = all(e < max(s, d) for e, s, d in zip(extra, self.strides, self.dilation))
        y = _CONV_T[self.rank](x, self.kernel, self.bias if in_torch else None, tuple(self.strides),
                               tuple(pads), tuple(extra) if in_torch else 0, 1, tuple(self.dilation))
        if not in_torch:
            y = F.pad(y, [v for e in reversed(extra) for v in (0, e)])
            if self.bias is not None:
                y = y + self.bias.reshape((-1,) + (1,) * self.rank)
        for axis, (start, length) in enumerate(zip(starts, lengths)):
            if start or y.shape[2 + axis] != length:
                y = y.narrow(2 + axis, start, length)
        return y

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self._run(inputs, self._conv)


@register_layer("Conv3DTranspose", "Convolution3DTranspose")
class Conv3DTranspose(Conv2DTranspose):
    rank = 3


@register_layer("Conv1DTranspose", "Convolution1DTranspose")
class Conv1DTranspose(Conv2DTranspose):
    rank = 1
