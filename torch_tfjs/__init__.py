"""torch_tfjs: TensorFlow.js artifacts (LayersModel and GraphModel) as real PyTorch models.

    import torch_tfjs
    model = torch_tfjs.load("path/or/url/to/model.json")   # LayersModel or GraphModel
    y = model(x)                                            # same layout as tfjs predict
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, TypeVar, Union

import torch

from . import errors
from ._loading import Device
from .io import ModelArtifact, read_artifact
from .io.net import DEFAULT_RETRIES, CacheOption
from .io.sources import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, PathLike
from .layers import KerasLayer, LayerSpec, LayersModel, load_layers_model, register_layer
from .inference import InferenceModel, optimize_for_inference
from .export import (export_onnx, load_safetensors, save_graph_model, save_layers_model, save_model,
                     save_safetensors)

if TYPE_CHECKING:  # imported on first use at run time (see __getattr__): the op library is big
    from .graph import GraphModel

__version__ = "0.1.0"


def load(src: PathLike, *, strict: bool = True, device: Optional[Device] = None,
         dtype: Optional[torch.dtype] = None, timeout: float = DEFAULT_TIMEOUT,
         max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: CacheOption = None,
         headers: Optional[Mapping[str, str]] = None,
         offline: Optional[bool] = None, progress: Optional[bool] = None,
         from_tfhub: Optional[bool] = None, retries: int = DEFAULT_RETRIES,
         max_json_bytes: Optional[int] = None) -> Union[LayersModel, GraphModel]:
    """Load a tfjs artifact, detecting its format: a :class:`LayersModel` for
    ``layers-model``, a :class:`GraphModel` for ``graph-model``.

    ``src``: a folder holding model.json, the JSON file itself (any name), a ``file://`` or an
    ``http(s)://`` URL (a folder URL ending in ``/`` reads its model.json), a TF Hub / Kaggle
    Models handle or ``hf://owner/repo[@revision]/path/model.json`` (a Hugging Face Hub file).
    ``strict`` (LayersModels): refuse manifest weights that no layer takes.
    ``device`` / ``dtype``: where the parameters go and the floating-point dtype they (and float
    inputs) take: ``torch.float32`` (default), ``float16``, ``bfloat16`` or ``float64``.
    URLs only (see :mod:`torch_tfjs.io.net`): ``timeout`` (seconds per request),
    ``max_bytes`` (cap on each downloaded file), ``cache_dir`` (the download cache's folder; default
    ``$TORCH_TFJS_CACHE``, ``$XDG_CACHE_HOME/torch_tfjs`` or ``~/.cache/torch_tfjs``; ``False``: no
    cache), ``headers`` (extra HTTP request headers, sent with every request), ``offline`` (the
    cache alone; default ``$TORCH_TFJS_OFFLINE``), ``progress`` (a progress bar on stderr for large
    downloads; ``None``: when stderr is a terminal), ``from_tfhub`` (a TF Hub / Kaggle handle:
    ``<url>/model.json?tfjs-format=file``; ``None``: detected from the host), ``retries`` (tries
    again after connection errors, 5xx and 429, with exponential back-off).
    ``max_json_bytes``: the largest model.json accepted, after gunzip (default 256 MiB, or
    ``TORCH_TFJS_MAX_JSON_BYTES``).
    """
    from ._loading import check_dtype
    check_dtype(dtype)
    artifact = read_artifact(src, timeout=timeout, max_bytes=max_bytes, cache_dir=cache_dir,
                             headers=headers, offline=offline,
                             progress=progress, from_tfhub=from_tfhub, retries=retries,
                             max_json_bytes=max_json_bytes)
    if artifact.is_layers_model:
        from .layers.build import build_layers_model
        return build_layers_model(artifact, strict=strict, device=device, dtype=dtype)
    from .graph import build_graph_model
    return build_graph_model(artifact, device=device, dtype=dtype)


def load_graph_model(src: PathLike, *, device: Optional[Device] = None,
                     dtype: Optional[torch.dtype] = None, timeout: float = DEFAULT_TIMEOUT,
                     max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: CacheOption = None,
                     headers: Optional[Mapping[str, str]] = None,
                     offline: Optional[bool] = None, progress: Optional[bool] = None,
                     from_tfhub: Optional[bool] = None, retries: int = DEFAULT_RETRIES,
                     max_json_bytes: Optional[int] = None) -> GraphModel:
    """Load a tfjs GraphModel as a module wrapping a ``torch.fx.GraphModule`` (options as
    :func:`load`)."""
    from .graph import load_graph_model as _load
    return _load(src, device=device, dtype=dtype, timeout=timeout, max_bytes=max_bytes,
                 cache_dir=cache_dir, headers=headers, offline=offline,
                 progress=progress, from_tfhub=from_tfhub, retries=retries,
                 max_json_bytes=max_json_bytes)


def __getattr__(name: str) -> Any:
    if name == "GraphModel":
        from .graph import GraphModel
        return GraphModel
    raise AttributeError(f"module 'torch_tfjs' has no attribute {name!r}")


_F = TypeVar("_F", bound=Callable[..., Any])


def register_op(op_name: str, *aliases: str, override: bool = False) -> Callable[[_F], _F]:
    """Decorator registering a graph-op emitter (see :mod:`torch_tfjs.graph.registry`)."""
    from .graph.registry import register_op as _register
    return _register(op_name, *aliases, override=override)


__all__ = [
    "GraphModel", "InferenceModel", "KerasLayer", "LayerSpec", "LayersModel", "ModelArtifact", "errors", "load",
    "load_graph_model", "load_layers_model", "optimize_for_inference", "read_artifact", "register_layer", "register_op",
    "export_onnx", "load_safetensors", "save_graph_model", "save_layers_model", "save_model", "save_safetensors",
    "__version__",
]
