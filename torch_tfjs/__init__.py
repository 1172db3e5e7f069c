"""torch_tfjs: TensorFlow.js artifacts (LayersModel and GraphModel) as real PyTorch models.

    import torch_tfjs
    model = torch_tfjs.load("path/or/url/to/model.json")   # LayersModel or GraphModel
    y = model(x)                                            # same layout as tfjs predict
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch

from . import errors
from .io import ModelArtifact, read_artifact
from .io.sources import PathLike
from .layers import KerasLayer, LayerSpec, LayersModel, load_layers_model, register_layer
from .inference import InferenceModel, optimize_for_inference
from .export import (load_safetensors, save_graph_model, save_layers_model, save_model,
                     save_safetensors)

__version__ = "0.1.0"


def load(src: PathLike, *, strict: bool = True,
         device: Optional[Union[str, torch.device]] = None, **read_options: Any) -> torch.nn.Module:
    """Load a tfjs artifact, detecting its format: a :class:`LayersModel` for
    ``layers-model``, a :class:`~torch_tfjs.graph.GraphModel` for ``graph-model``."""
    artifact = read_artifact(src, **read_options)
    if artifact.is_layers_model:
        from .layers.build import build_layers_model
        return build_layers_model(artifact, strict=strict, device=device)
    from .graph import build_graph_model
    return build_graph_model(artifact, device=device)


def load_graph_model(src: PathLike, *, device: Optional[Union[str, torch.device]] = None,
                     **read_options: Any) -> torch.nn.Module:
    """Load a tfjs GraphModel as a module wrapping a ``torch.fx.GraphModule``."""
    from .graph import load_graph_model as _load
    return _load(src, device=device, **read_options)


def register_op(op_name: str, *aliases: str, override: bool = False):  # type: ignore[no-untyped-def]
    """Decorator registering a graph-op emitter (see :mod:`torch_tfjs.graph.registry`)."""
    from .graph.registry import register_op as _register
    return _register(op_name, *aliases, override=override)


__all__ = [
    "InferenceModel", "KerasLayer", "LayerSpec", "LayersModel", "ModelArtifact", "errors", "load",
    "load_graph_model", "load_layers_model", "optimize_for_inference", "read_artifact", "register_layer", "register_op",
    "load_safetensors", "save_graph_model", "save_layers_model", "save_model", "save_safetensors",
    "__version__",
]
