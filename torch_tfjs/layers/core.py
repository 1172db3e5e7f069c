"""Core layers (tfjs-layers ``core.ts`` + ``InputLayer``): InputLayer, Dense, Activation,
Dropout, SpatialDropout1D, Flatten, Reshape, Permute, RepeatVector, Masking; and Keras's
Identity (which tfjs-layers lacks)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..activations import get_activation, is_elementwise, is_keras3
from ..errors import LayerConfigError
from .base import KerasLayer, LayerSpec, Tensors, data_format
from .topology import input_tensor_spec
from .registry import register_layer


@register_layer("InputLayer")
class InputLayer(KerasLayer):
    """A model input: identity. Its config keeps ``batch_input_shape`` and ``dtype``."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        input_tensor_spec(spec.name, spec.config, spec.source)  # shape and dtype checked

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return inputs


def layer_activation(spec: LayerSpec, key: str = "activation"):
    """The activation function a layer config names under ``key``."""
    try:
        return get_activation(spec.config.get(key), keras3=is_keras3(spec.generated_by),
                              where=f"layer '{spec.name}'")
    except LayerConfigError as exc:  # name the file, layer, class and key
        raise spec.error(f"config '{key}': {exc}") from None


@register_layer("Dense")
class Dense(KerasLayer):
    """``activation(x @ kernel + bias)`` on the last axis. ``kernel`` keeps the Keras layout
    (in, out): the decoded weights become the parameter with no copy, and ``F.linear`` reads the
    transposed view (a plain ``x @ kernel`` GEMM)."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        units = spec.conf_int("units", None, minimum=1)  # the kernel's shape decides; checked
        kernel = spec.weight("kernel", 0)
        if units is not None and kernel.value.ndim == 2 and kernel.value.shape[1] != units:
            raise spec.error(f"config 'units' is {units} but weight '{kernel.name}' has shape "
                             f"{list(kernel.value.shape)}")
        self.kernel = self.add_keras_weight("kernel", kernel)
        self.use_bias = spec.conf_bool("use_bias", True)
        self.bias = (self.add_keras_weight("bias", spec.weight("bias", 1)) if self.use_bias else None)
        self.activation = layer_activation(spec)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self.activation(F.linear(inputs, self.kernel.t(), self.bias))


@register_layer("Activation")
class Activation(KerasLayer):
    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.activation = layer_activation(spec)
        self.elementwise = is_elementwise(spec.config.get("activation"))

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return self.activation(inputs)


def dropout_with_noise_shape(x: torch.Tensor, rate: float, noise_shape: Optional[Sequence[Optional[int]]]) -> torch.Tensor:
    """Keras inverted dropout; ``noise_shape`` entries of None take the input's size."""
    if rate <= 0.0:
        return x
    if rate >= 1.0:
        return torch.zeros_like(x)
    if noise_shape is None:
        return F.dropout(x, rate, training=True)
    shape = [x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape)]
    keep = torch.rand(shape, device=x.device, dtype=x.dtype) >= rate
    return x * keep.to(x.dtype) / (1.0 - rate)


@register_layer("Dropout")
class Dropout(KerasLayer):
    """Identity at inference; inverted dropout (scale 1/(1-rate)) in training."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.rate = min(max(spec.conf_float("rate", 0.0), 0.0), 1.0)
        self.noise_shape = spec.config.get("noise_shape")

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not self.is_training(training):
            return inputs
        return dropout_with_noise_shape(inputs, self.rate, self.noise_shape)

    def forward_channels_first(self, inputs: Any, training: Optional[bool] = None
                               ) -> Optional[Tuple[torch.Tensor, bool]]:
        """Inference passes an NCHW view on (conv → Dropout → conv stays in views);
        training runs :meth:`forward` (a noise shape names channels-last axes)."""
        return None if self.is_training(training) else (inputs, True)


@register_layer("SpatialDropout1D")
class SpatialDropout1D(Dropout):
    """Drops whole channels of (batch, steps, channels): noise shape (batch, 1, channels)."""

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if not self.is_training(training):
            return inputs
        return dropout_with_noise_shape(inputs, self.rate, [None, 1, None])


@register_layer("Flatten")
class Flatten(KerasLayer):
    """Flattens all but the batch axis (channels_first inputs are moved to channels-last
    first, as Keras does)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.channels_first = data_format(spec) == "channels_first"

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if self.channels_first and inputs.dim() >= 3:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)


@register_layer("Reshape")
class Reshape(KerasLayer):
    """Reshapes all but the batch axis to ``target_shape`` (one -1 allowed). Keras 3 saves
    ``keras.ops.reshape(x, newshape)`` under the same class name with ``newshape``, the whole
    shape (batch axis included)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.whole_shape = "target_shape" not in spec.config and "newshape" in spec.config
        key = "newshape" if self.whole_shape else "target_shape"
        shape = spec.conf_shape(key)
        self.target_shape: List[int] = [d if d is not None else -1 for d in shape]

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        if self.whole_shape:
            return inputs.reshape(self.target_shape)
        return inputs.reshape(inputs.shape[0], *self.target_shape)


@register_layer("Permute")
class Permute(KerasLayer):
    """Permutes non-batch axes; ``dims`` are 1-based as in Keras."""

    supports_masking = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        dims = spec.conf_int_list("dims", minimum=1)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise spec.error(f"'dims' must be a permutation of 1..{len(dims)}, got {dims}")
        self.dims = dims

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return inputs.permute(0, *self.dims)


@register_layer("RepeatVector")
class RepeatVector(KerasLayer):
    """(batch, features) → (batch, n, features)."""

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.n = spec.conf_int("n", minimum=0)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return inputs.unsqueeze(1).expand(-1, self.n, -1)


@register_layer("Masking")
class Masking(KerasLayer):
    """Zeroes timesteps whose features all equal ``mask_value`` and emits the timestep mask."""

    supports_masking = True
    produces_mask = True

    def __init__(self, spec: LayerSpec):
        super().__init__(spec)
        self.mask_value = spec.conf_float("mask_value", 0.0)

    def _keep(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.any(inputs != self.mask_value, dim=-1, keepdim=True)

    def forward(self, inputs: torch.Tensor, mask: Any = None, training: Optional[bool] = None) -> torch.Tensor:
        return inputs * self._keep(inputs).to(inputs.dtype)

    def compute_mask(self, inputs: Tensors, mask: Any) -> torch.Tensor:
        assert isinstance(inputs, torch.Tensor)
        return self._keep(inputs).squeeze(-1)


@register_layer("Identity")
class Identity(KerasLayer):
    """Keras ``Identity``: returns its input (a tensor or a list) and passes the mask through."""

    supports_masking = True

    def forward(self, inputs: Tensors, mask: Any = None, training: Optional[bool] = None) -> Tensors:
        return inputs
