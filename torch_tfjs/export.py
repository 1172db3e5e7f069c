"""Saving converted models: back to tfjs (LayersModel / GraphModel folders) and to safetensors.
Programs for deployment (TorchScript, ``torch.export``, ONNX) are made in :mod:`.programs`; their
functions are importable from here too.

Gathers each model's current weights under their manifest names and in the artifact's layout
(Keras layout for LayersModels, the Const node's TF layout for GraphModels); the byte format,
quantization and sharding live in :mod:`torch_tfjs.io.save`.

    model = torch_tfjs.load("model/")          # fine-tune it ...
    torch_tfjs.save_layers_model(model, "tuned/")             # tfjs loadLayersModel reads it
    torch_tfjs.save_safetensors(model, "tuned.safetensors")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .errors import ExportError, WeightMismatchError
from .io.save import DEFAULT_SHARD_SIZE, NamedWeight, write_artifact
from .io.weights import parse_manifest

PathLike = Union[str, "os.PathLike[str]"]

_NP_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "complex64": np.complex64}


# --------------------------------------------------------------------------------------------
# model kinds
# --------------------------------------------------------------------------------------------

def _is_graph_model(model: nn.Module) -> bool:
    from .graph.model import GraphModel
    return isinstance(model, GraphModel)


def _is_layers_model(model: nn.Module) -> bool:
    from .layers.model import LayersModel
    return isinstance(model, LayersModel)


def _to_numpy(tensor: torch.Tensor, dtype: str) -> np.ndarray:
    array = tensor.detach().cpu().contiguous().numpy()
    target = _NP_DTYPES.get(dtype)
    return array.astype(target, copy=False) if target is not None and array.dtype != target else array


# --------------------------------------------------------------------------------------------
# LayersModel weights
# --------------------------------------------------------------------------------------------

def _keras_weight_slots(layer: nn.Module) -> Iterator[Tuple[nn.Module, Any]]:
    """``(owning layer, KerasWeight)`` in :meth:`KerasLayer.keras_weights` order."""
    from .layers.base import KerasLayer
    for w in getattr(layer, "_keras_weights", []):
        yield layer, w
    for child in layer.children():
        if isinstance(child, KerasLayer):
            yield from _keras_weight_slots(child)


def _layers_json(model: nn.Module) -> Dict[str, Any]:
    raw = getattr(model, "artifact_json", None)
    if not isinstance(raw, dict):
        raise ExportError("this LayersModel does not carry the model.json it was built from (build it "
                          "with torch_tfjs.load / load_layers_model to save it as tfjs)")
    return raw


def _manifest_specs(raw: Dict[str, Any]) -> List[Any]:
    groups = parse_manifest(raw.get("weightsManifest"), "model.json")
    return [spec for group in groups for spec in group.specs]


def source_quantization(raw: Dict[str, Any]) -> Dict[str, Optional[Dict[str, Any]]]:
    """Manifest weight name → its ``quantization`` entry as read (``None``: unquantized)."""
    out: Dict[str, Optional[Dict[str, Any]]] = {}
    for spec in _manifest_specs(raw):
        out.setdefault(spec.name, dict(spec.quantization) if spec.quantization else None)
    return out


def _resolve_quantize(quantize: Optional[str], raw: Dict[str, Any]) -> Any:
    """``"source"`` → each weight's own quantization; other values as given."""
    return source_quantization(raw) if quantize == "source" else quantize


def layers_weights(model: nn.Module) -> List[Tuple[str, np.ndarray]]:
    """The LayersModel's current weights ``(manifest name, Keras-layout array)`` in the original
    manifest's order and dtypes (weights no layer took, with ``strict=False``, unchanged)."""
    raw = _layers_json(model)
    current: Dict[str, torch.Tensor] = {}
    for name, tensor in model.keras_weights():  # type: ignore[operator]
        current.setdefault(name, tensor)
    unmatched: Dict[str, np.ndarray] = getattr(model, "unmatched_weights", {}) or {}
    out: List[Tuple[str, np.ndarray]] = []
    written = set()
    for spec in _manifest_specs(raw):
        if spec.group == "optimizer" or spec.name in written:
            continue
        if spec.name in current:
            value = _to_numpy(current[spec.name], spec.dtype)
            if tuple(value.shape) != tuple(spec.shape):
                raise ExportError(f"weight '{spec.name}': model holds shape {list(value.shape)}, the "
                                  f"manifest says {list(spec.shape)}")
            out.append((spec.name, value))
        elif spec.name in unmatched:
            out.append((spec.name, np.asarray(unmatched[spec.name])))
        else:
            raise ExportError(f"weight '{spec.name}' of the manifest is held by no layer of the model")
        written.add(spec.name)
    for name, tensor in current.items():  # weights the manifest did not list (not expected)
        if name not in written:
            out.append((name, _to_numpy(tensor, "float32" if tensor.is_floating_point() else "int32")))
            written.add(name)
    return out


def optimizer_weights(model: nn.Module, optimizer: torch.optim.Optimizer) -> List[Tuple[str, np.ndarray, str]]:
    """A torch optimizer's state as tfjs optimizer weights (``group: "optimizer"``).

    tfjs's ``getWeights`` order: ``iter`` (int32 scalar), then per trainable weight in model
    order ``<name>/m`` ... ``<name>/v`` (Adam), ``<name>/momentum`` (SGD with momentum → tfjs
    MomentumOptimizer), nothing more for plain SGD. tfjs's ``setWeights`` restores them by
    position. The tfjs-exact optimizers of :mod:`torch_tfjs.training` write their own slots
    in tfjs order. Other optimizers raise :class:`ExportError`.
    """
    slots = [(w.manifest_name, getattr(layer, w.attr), w) for layer, w in _keras_weight_slots(model)]
    trainable = [(n, p, w) for n, p, w in slots if isinstance(p, nn.Parameter) and p.requires_grad]
    state = optimizer.state
    steps = [int(float(state[p]["step"])) for _, p, _ in trainable if p in state and "step" in state[p]]
    it = np.array(max(steps) if steps else 0, dtype=np.int32)
    out: List[Tuple[str, np.ndarray, str]] = [("iter", it, "optimizer")]

    def slot(key: str, suffix: str) -> List[Tuple[str, np.ndarray, str]]:
        res = []
        for name, p, w in trainable:
            value = state.get(p, {}).get(key)
            value = torch.zeros_like(p) if value is None else value
            res.append((f"{name}/{suffix}", _to_numpy(w.to_keras(value), "float32"), "optimizer"))
        return res

    from .training.optimizers import TfjsOptimizer
    if isinstance(optimizer, TfjsOptimizer):  # tfjs-exact optimizers know their slot order
        out[0] = ("iter", np.array(optimizer.iterations, dtype=np.int32), "optimizer")
        for suffix, key, init in optimizer.slots:
            for name, p, w in trainable:
                value = state.get(p, {}).get(key)
                value = torch.full_like(p, init) if value is None else value
                out.append((f"{name}/{suffix}", _to_numpy(w.to_keras(value), "float32"), "optimizer"))
        return out
    if type(optimizer) is torch.optim.Adam:
        if any(g.get("amsgrad") for g in optimizer.param_groups):
            raise ExportError("Adam(amsgrad=True) has no tfjs equivalent")
        return out + slot("exp_avg", "m") + slot("exp_avg_sq", "v")
    if type(optimizer) is torch.optim.SGD:
        groups = optimizer.param_groups
        if any(g.get("nesterov") or g.get("dampening") for g in groups):
            raise ExportError("SGD with nesterov or dampening has no tfjs equivalent")
        if any(g.get("momentum") for g in groups):
            return out + slot("momentum_buffer", "momentum")
        return out
    raise ExportError(f"cannot write {type(optimizer).__name__} state in tfjs naming (supported: "
                      "torch.optim.Adam, torch.optim.SGD with or without momentum)")


def save_layers_model(model: nn.Module, folder: PathLike, *, quantize: Optional[str] = None,
                      shard_size: Optional[int] = DEFAULT_SHARD_SIZE, include_optimizer: bool = False,
                      optimizer: Optional[torch.optim.Optimizer] = None) -> Dict[str, Any]:
    """Save a :class:`~torch_tfjs.LayersModel` as a tfjs folder (model.json + shards) that
    ``tf.loadLayersModel`` reads: the loaded topology as it was (format, generatedBy,
    convertedBy, trainingConfig kept) and the model's *current* weights (so fine-tuned values)
    under the original manifest names and order.

    ``quantize``: None (float32), ``"uint8"``, ``"uint16"`` or ``"float16"`` (as the tensorflowjs
    converter; float32 weights only), or ``"source"``: each weight as it was read (uint8 /
    uint16 re-quantized from its current values, float16, or unquantized). ``shard_size``: bytes per shard (default 4 MiB).
    ``include_optimizer=True`` also writes ``optimizer``'s state (torch Adam or SGD) as tfjs
    optimizer weights (torch Adam / SGD, or any :mod:`torch_tfjs.training` optimizer); it raises
    :class:`~torch_tfjs.errors.ExportError` when ``optimizer`` is not given. Returns the model.json written.
    """
    if not _is_layers_model(model):
        raise ExportError(f"save_layers_model needs a LayersModel, got {type(model).__name__} "
                          "(use save_graph_model for graph models)")
    raw = _layers_json(model)
    named: List[NamedWeight] = list(layers_weights(model))
    if include_optimizer:
        if optimizer is None:
            raise ExportError("include_optimizer=True needs the torch optimizer: pass optimizer=")
        named += optimizer_weights(model, optimizer)
    return write_artifact(folder, raw, named, quantize=_resolve_quantize(quantize, raw),
                          shard_size=shard_size)


# --------------------------------------------------------------------------------------------
# GraphModel weights
# --------------------------------------------------------------------------------------------

def _graph_parameters(model: nn.Module) -> Dict[str, Tuple[str, torch.Tensor]]:
    """Manifest weight name → (parameter attribute, parameter) for every float Const weight."""
    importer = model._importer
    weights = importer.artifact.weights
    live: Dict[str, torch.Tensor] = {}
    for full, param in model.graph_module.named_parameters(remove_duplicate=False):
        live.setdefault(full.rsplit(".", 1)[-1], param)
    out: Dict[str, Tuple[str, torch.Tensor]] = {}
    items = sorted(importer.param_names.items(), key=lambda kv: kv[0] not in weights)
    for key, attr in items:
        name = key
        if key not in weights:  # a library-function Const found under its bare node name
            for fname in importer.function_defs:
                if key.startswith(fname + "/") and key[len(fname) + 1:] in weights:
                    name = key[len(fname) + 1:]
                    break
        param = live.get(attr)
        if param is None:
            param = getattr(importer.root, attr)
        out.setdefault(name, (attr, param))
    return out


def graph_weights(model: nn.Module, *, parameters_only: bool = False) -> List[Tuple[str, np.ndarray]]:
    """The GraphModel's weights ``(manifest name, array in the Const's TF layout and dtype)`` in
    manifest order: parameters at their current values, other constants as they were read."""
    from ._layout import WEIGHT_LAYOUTS
    importer = model._importer
    artifact = importer.artifact
    params = _graph_parameters(model)
    out: List[Tuple[str, np.ndarray]] = []
    seen = set()
    for spec in artifact.weight_specs:
        if spec.group == "optimizer" or spec.name in seen:
            continue
        seen.add(spec.name)
        if spec.name in params:
            attr, param = params[spec.name]
            tensor = param.detach()
            if attr in importer.param_layouts:
                layout, tf_shape = importer.param_layouts[attr]
                tensor = WEIGHT_LAYOUTS[layout][1](tensor, tf_shape)
            value = _to_numpy(tensor, spec.dtype)
            if tuple(value.shape) != tuple(spec.shape):
                raise ExportError(f"weight '{spec.name}': parameter '{attr}' has TF shape "
                                  f"{list(value.shape)}, the manifest says {list(spec.shape)}")
            out.append((spec.name, value))
        elif not parameters_only:
            out.append((spec.name, np.asarray(artifact.weights[spec.name])))
    return out


def save_graph_model(model: nn.Module, folder: PathLike, *, quantize: Optional[str] = None,
                     shard_size: Optional[int] = DEFAULT_SHARD_SIZE) -> Dict[str, Any]:
    """Save a :class:`~torch_tfjs.graph.GraphModel` as a tfjs folder that ``tf.loadGraphModel``
    reads: the loaded model.json (topology, signature, metadata) as it was, every parameter
    written back under its Const node name in the TF layout and dtype (pre-transformed conv
    filters are transformed back), non-parameter constants (int / bool / string) as read.
    ``quantize`` / ``shard_size`` as in :func:`save_layers_model`. Returns the model.json."""
    if not _is_graph_model(model):
        raise ExportError(f"save_graph_model needs a GraphModel, got {type(model).__name__} "
                          "(use save_layers_model for layers models)")
    raw = model._importer.artifact.raw
    return write_artifact(folder, raw, graph_weights(model), quantize=_resolve_quantize(quantize, raw),
                          shard_size=shard_size)


def save_model(model: nn.Module, folder: PathLike, **options: Any) -> Dict[str, Any]:
    """:func:`save_layers_model` or :func:`save_graph_model`, by the model's kind."""
    if _is_graph_model(model):
        return save_graph_model(model, folder, **options)
    return save_layers_model(model, folder, **options)


# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------

def _source_and_format(model: nn.Module) -> Tuple[str, str]:
    if _is_graph_model(model):
        artifact = model._importer.artifact
        return artifact.source, artifact.format
    info = getattr(model, "artifact_info", {}) or {}
    return str(info.get("source", "")), str(getattr(model, "artifact_format", "layers-model"))


def _state_for_safetensors(model: nn.Module) -> List[Tuple[str, np.ndarray]]:
    if _is_graph_model(model):
        return graph_weights(model, parameters_only=True)
    if _is_layers_model(model):
        seen = set()
        out = []
        for name, tensor in model.keras_weights():  # type: ignore[operator]
            if name not in seen:
                seen.add(name)
                out.append((name, tensor.detach().cpu().contiguous().numpy()))
        return out
    raise ExportError(f"save_safetensors needs a LayersModel or GraphModel, got {type(model).__name__}")


def save_safetensors(model: nn.Module, path: PathLike) -> None:
    """Write the model's weights to a ``.safetensors`` file keyed by manifest weight names:
    every Keras weight in Keras layout for a LayersModel (moving statistics included); every
    parameter (float Const) in its TF layout for a GraphModel (integer / string constants are
    part of the graph, not saved). Metadata: ``format``, ``source`` (where the artifact was
    read from) and ``torch_tfjs`` (the version). :func:`load_safetensors` reads it back."""
    from safetensors.numpy import save_file

    from . import __version__
    source, fmt = _source_and_format(model)
    tensors = {name: np.ascontiguousarray(value) for name, value in _state_for_safetensors(model)}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, os.fspath(path), metadata={"format": fmt, "source": source,
                                                  "torch_tfjs": __version__})


def safetensors_metadata(path: PathLike) -> Dict[str, str]:
    """The metadata of a ``.safetensors`` file (``format``, ``source``, ``torch_tfjs``)."""
    from safetensors import safe_open
    with safe_open(os.fspath(path), framework="np") as fh:
        return dict(fh.metadata() or {})


def _check_keys(expected: Sequence[str], found: Sequence[str], path: PathLike, strict: bool) -> None:
    missing = [k for k in expected if k not in set(found)]
    unexpected = [k for k in found if k not in set(expected)]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:20]}" + (f" ({len(missing)} in all)" if len(missing) > 20 else ""))
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:20]}"
                         + (f" ({len(unexpected)} in all)" if len(unexpected) > 20 else ""))
        raise WeightMismatchError(f"{path}: " + "; ".join(parts) + " (pass strict=False to load the "
                                  "keys both have)")


def _assign(target: torch.Tensor, value: torch.Tensor) -> None:
    with torch.no_grad():
        target.copy_(value.to(device=target.device, dtype=target.dtype))


def load_safetensors(model: nn.Module, path: PathLike, *, strict: bool = True) -> nn.Module:
    """Load a file written by :func:`save_safetensors` into ``model`` (built from the same
    model.json), in place; returns the model. ``strict``: missing or unexpected keys raise
    :class:`~torch_tfjs.errors.WeightMismatchError` (else only common keys load); a shape
    mismatch always raises it."""
    from safetensors.numpy import load_file

    from ._layout import WEIGHT_LAYOUTS
    try:
        stored = load_file(os.fspath(path))
    except Exception as exc:  # safetensors raises its own error types
        raise WeightMismatchError(f"{path}: not a readable safetensors file: {exc}") from exc
    mismatched: List[str] = []
    if _is_graph_model(model):
        importer = model._importer
        params = _graph_parameters(model)
        _check_keys(list(params), list(stored), path, strict)
        for name, (attr, param) in params.items():
            if name not in stored:
                continue
            value = torch.from_numpy(np.array(stored[name]))
            if attr in importer.param_layouts:
                layout, tf_shape = importer.param_layouts[attr]
                if tuple(value.shape) != tuple(tf_shape):
                    mismatched.append(f"{name}: file {list(value.shape)}, model {list(tf_shape)}")
                    continue
                value = WEIGHT_LAYOUTS[layout][0](value)
            if tuple(value.shape) != tuple(param.shape):
                mismatched.append(f"{name}: file {list(value.shape)}, model {list(param.shape)}")
                continue
            _assign(param, value)
    elif _is_layers_model(model):
        slots: Dict[str, List[Tuple[nn.Module, Any]]] = {}
        for layer, w in _keras_weight_slots(model):
            slots.setdefault(w.manifest_name, []).append((layer, w))
        _check_keys(list(slots), list(stored), path, strict)
        for name, entries in slots.items():
            if name not in stored:
                continue
            value = torch.from_numpy(np.array(stored[name]))
            for layer, w in entries:
                target = getattr(layer, w.attr)
                if tuple(value.shape) != tuple(w.keras_shape):
                    mismatched.append(f"{name}: file {list(value.shape)}, model {list(w.keras_shape)}")
                    continue
                v = value.permute(w.permutation) if w.permutation is not None else value
                _assign(target, v.reshape(target.shape))
    else:
        raise ExportError(f"load_safetensors needs a LayersModel or GraphModel, got {type(model).__name__}")
    if mismatched:
        raise WeightMismatchError(f"{path}: shape mismatch for {len(mismatched)} weight(s): "
                                  + "; ".join(mismatched[:20]))
    return model


# Deployment programs live in .programs; importable from here as before.
from .programs import example_inputs as example_inputs  # noqa: E402
from .programs import export_onnx as export_onnx  # noqa: E402
from .programs import export_program as export_program  # noqa: E402
from .programs import save_exported as save_exported  # noqa: E402
from .programs import save_torchscript as save_torchscript  # noqa: E402
