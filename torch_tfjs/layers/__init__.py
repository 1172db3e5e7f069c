"""LayersModel builder: Keras-style tfjs topologies → trainable ``nn.Module``.

One file per layer family (``core.py``, ``conv.py``, ...); each converter registers itself with
:func:`register_layer`. :mod:`.build` turns the topology into a :class:`LayersModel`.
"""

from .base import KerasLayer, KerasWeight, LayerSpec, WeightRef, WeightScope
from .build import LayersModel, build_layers_model, load_layers_model
from .registry import (TFJS_LAYER_CLASSES, get_layer_converter, register_layer, supported_layers,
                       unregister_layer)

__all__ = [
    "KerasLayer", "KerasWeight", "LayerSpec", "LayersModel", "TFJS_LAYER_CLASSES", "WeightRef",
    "WeightScope", "build_layers_model", "get_layer_converter", "load_layers_model",
    "register_layer", "supported_layers", "unregister_layer",
]
