"""The one registry of layer converters: Keras class name → converter.

A converter is a callable ``(spec: LayerSpec) -> nn.Module``. Library layers are
:class:`~torch_tfjs.layers.base.KerasLayer` subclasses registered with the class decorator::

    @register_layer("Dense")
    class Dense(KerasLayer):
        def __init__(self, spec): ...

Users plug in custom layers the same way, with a class or a plain function (a plain
``nn.Module`` returned by a function is called as ``module(inputs)``).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, TypeVar

from torch import nn

from .base import LayerSpec

LayerConverter = Callable[[LayerSpec], nn.Module]
_T = TypeVar("_T")

_CONVERTERS: Dict[str, LayerConverter] = {}
#: Classes a tfjs-layers 4.22 bundle registers (the support matrix's yardstick).
#: Families add themselves through the decorator; this set only lists what tfjs has.
TFJS_LAYER_CLASSES = (
    "InputLayer ReLU LeakyReLU PReLU ELU ThresholdedReLU Softmax Conv1D Conv2D Conv3D "
    "Conv2DTranspose Conv3DTranspose SeparableConv2D DepthwiseConv2D Cropping2D UpSampling2D "
    "ConvLSTM2D ConvLSTM2DCell Dense Dropout SpatialDropout1D Flatten Activation RepeatVector "
    "Reshape Permute Masking Embedding Add Multiply Average Maximum Minimum Concatenate Dot "
    "GaussianNoise GaussianDropout AlphaDropout BatchNormalization LayerNormalization "
    "ZeroPadding2D MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D "
    "AveragePooling3D GlobalAveragePooling1D GlobalAveragePooling2D GlobalMaxPooling1D "
    "GlobalMaxPooling2D Rescaling CenterCrop Resizing CategoryEncoding RandomWidth RNN SimpleRNN "
    "SimpleRNNCell GRU GRUCell LSTM LSTMCell StackedRNNCells TimeDistributed Bidirectional"
).split()
#: Model containers handled by the builder itself.
MODEL_CLASSES = ("Sequential", "Model", "Functional")


def register_layer(class_name: str, *aliases: str, override: bool = False) -> Callable[[_T], _T]:
    """Decorator registering a converter (class or function) for ``class_name`` and aliases.

    Registering a name twice raises unless ``override=True`` (to replace a built-in).
    """

    def decorator(converter: _T) -> _T:
        for name in (class_name, *aliases):
            if name in _CONVERTERS and not override and _CONVERTERS[name] is not converter:
                raise ValueError(f"a converter for layer class '{name}' is already registered "
                                 "(pass override=True to replace it)")
            _CONVERTERS[name] = converter  # type: ignore[assignment]
        return converter

    return decorator


def unregister_layer(class_name: str) -> None:
    _CONVERTERS.pop(class_name, None)


def get_layer_converter(class_name: str) -> Optional[LayerConverter]:
    _ensure_loaded()
    return _CONVERTERS.get(class_name)


def supported_layers() -> List[str]:
    _ensure_loaded()
    return sorted(_CONVERTERS)


_loaded = False


def _ensure_loaded() -> None:
    """Import every family module so their decorators run (once)."""
    global _loaded
    if not _loaded:
        _loaded = True
        from . import families  # noqa: F401
