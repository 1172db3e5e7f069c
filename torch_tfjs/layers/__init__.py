"""LayersModel builder: Keras-style tfjs topologies → trainable ``nn.Module``.

One file per layer family (``core.py``, ``conv.py``, ...); each converter registers itself with
:func:`register_layer`. :mod:`.topology` reads the Keras topology, :mod:`.weights` finds each
layer's weights, :mod:`.build` builds a :class:`LayersModel` and :mod:`.model` runs it.
"""

from .base import KerasLayer, KerasWeight, LayerSpec, WeightRef, WeightScope
from .build import build_layers_model, load_layers_model
from .model import LayersModel
from .registry import (TFJS_LAYER_CLASSES, get_layer_converter, register_layer, supported_layers,
                       unregister_layer)

__all__ = [
    "KerasLayer", "KerasWeight", "LayerSpec", "LayersModel", "TFJS_LAYER_CLASSES", "WeightRef",
    "WeightScope", "build_layers_model", "get_layer_converter", "load_layers_model",
    "register_layer", "supported_layers", "unregister_layer",
]
