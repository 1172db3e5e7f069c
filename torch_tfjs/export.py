"""Saving converted models: back to tfjs (LayersModel / GraphModel folders), to safetensors, and
example inputs for TorchScript / ``torch.export``.

Gathers each model's current weights under their manifest names and in the artifact's layout
(Keras layout for LayersModels, the Const node's TF layout for GraphModels); the byte format,
quantization and sharding live in :mod:`torch_tfjs.io.save`.

    model = torch_tfjs.load("model/")          # fine-tune it ...
    torch_tfjs.save_layers_model(model, "tuned/")             # tfjs loadLayersModel reads it
    torch_tfjs.save_safetensors(model, "tuned.safetensors")
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .errors import ExportError, ModelInputError, WeightMismatchError
from .io.save import DEFAULT_SHARD_SIZE, NamedWeight, write_artifact
from .io.weights import parse_manifest
from .signature import Signature

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


# --------------------------------------------------------------------------------------------
# TorchScript / torch.export
# --------------------------------------------------------------------------------------------

def example_inputs(model: nn.Module, batch: int = 1, free: int = 1) -> Tuple[torch.Tensor, ...]:
    """Zero inputs matching ``model.signature``: batch ``batch`` (1), other free dimensions
    ``free`` (1); int32 tensors for integer inputs, bool for bool, float32 otherwise."""
    signature = getattr(model, "signature", None)
    if not isinstance(signature, Signature):
        raise ExportError(f"cannot build example inputs for {type(model).__name__}")
    try:
        return signature.example_inputs(batch=batch, free=free)
    except ModelInputError as exc:
        raise ExportError(str(exc)) from None


def save_torchscript(model: nn.Module, path: PathLike,
                     inputs: Optional[Sequence[torch.Tensor]] = None) -> None:
    """``torch.jit.trace`` the model (eval mode) on ``inputs`` (default :func:`example_inputs`)
    and save it. Tracing records one path: shapes that change control flow are fixed."""
    model.eval()
    args = tuple(inputs) if inputs is not None else example_inputs(model)
    with torch.no_grad():
        # strict=False: structured-output graph models return a dict with fixed keys
        traced = torch.jit.trace(model, args, check_trace=False, strict=False)
    traced.save(os.fspath(path))


#: Example sizes for ``torch.export``: torch specialises sizes 0 and 1, so a free batch axis is
#: traced at 2 and other free axes at 32 (a 1×1 image would pin the program to 1×1).
EXPORT_BATCH = 2
EXPORT_FREE = 32

#: ``{input name: dynamic axes}``, or per input (in order) its dynamic axes.
DynamicAxes = Union[Mapping[str, Sequence[int]], Sequence[Sequence[int]]]


def _signature(model: nn.Module) -> Signature:
    signature = getattr(model, "signature", None)
    if not isinstance(signature, Signature):
        raise ExportError(f"cannot export {type(model).__name__}: it has no model.signature")
    return signature


def _free_axes(signature: Signature) -> List[List[int]]:
    return [sorted(axes) for axes in signature.free_dims()]


def _dynamic_axes(signature: Signature, args: Sequence[torch.Tensor],
                  dynamic_shapes: Optional[DynamicAxes]) -> List[List[int]]:
    """Per input, the axes to export dynamic (``None``: every free axis of the signature)."""
    if dynamic_shapes is None:
        return _free_axes(signature)
    names = signature.input_names
    if isinstance(dynamic_shapes, Mapping):
        unknown = [k for k in dynamic_shapes if k not in names]
        if unknown:
            raise ExportError(f"dynamic_shapes names unknown input(s) {unknown}; inputs: {names}")
        per_input = [list(dynamic_shapes.get(n, ())) for n in names]
    else:
        per_input = [list(axes or ()) for axes in dynamic_shapes]
        if len(per_input) != len(names):
            raise ExportError(f"dynamic_shapes gives {len(per_input)} entries, the model takes "
                              f"{len(names)} input(s) {names}")
    out = []
    for name, axes, arg in zip(names, per_input, args):
        bad = [a for a in axes if not isinstance(a, int) or not 0 <= a < arg.dim()]
        if bad:
            raise ExportError(f"dynamic axes {bad} of input '{name}' are not axes of its "
                              f"{arg.dim()}-D example (shape {list(arg.shape)})")
        out.append(sorted(set(axes)))
    return out


def _widen(arg: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """``arg`` with each dynamic axis of size 0 or 1 made 2 (torch would specialise it)."""
    for axis in axes:
        if arg.shape[axis] < 2:
            arg = (torch.zeros_like(arg.narrow(axis, 0, 0)).expand(
                *[2 if i == axis else s for i, s in enumerate(arg.shape)]).clone()
                if arg.shape[axis] == 0 else torch.cat([arg, arg], dim=axis))
    return arg


def _pinned(program: Any, wanted: Sequence[Sequence[int]], names: Sequence[str]) -> List[str]:
    """``name[axis]=size`` for each axis asked dynamic that the program holds static."""
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"
                    and n.name in set(program.graph_signature.user_inputs)]
    out = []
    for name, axes, node in zip(names, wanted, placeholders):
        shape = getattr(node.meta.get("val"), "shape", None)
        for axis in axes:
            if shape is not None and isinstance(shape[axis], int):
                out.append(f"{name}[{axis}]={shape[axis]}")
    return out


def export_program(model: nn.Module, inputs: Optional[Sequence[torch.Tensor]] = None,
                   dynamic_shapes: Optional[DynamicAxes] = None) -> Any:
    """``torch.export.export`` the model (eval mode) with dynamic axes; returns the program.

    ``inputs``: example tensors (default zeros: batch 2, other free axes 32). ``dynamic_shapes``:
    ``{input name: [axes]}`` or per input its axes (default: every axis the signature leaves
    free; unnamed inputs static). Dynamic axes are ``Dim.AUTO``, so torch infers the
    constraints the graph needs. When that export fails it retries with only the batch axis
    dynamic, then static, and warns which axes were pinned (also when torch pinned one)."""
    from torch.export import Dim

    model.eval()
    signature = _signature(model)
    names = signature.input_names
    args = tuple(inputs) if inputs is not None else example_inputs(model, EXPORT_BATCH, EXPORT_FREE)
    if len(args) != len(names):
        raise ExportError(f"{len(args)} example input(s) given, the model takes {len(names)} {names}")
    wanted = _dynamic_axes(signature, args, dynamic_shapes)
    args = tuple(_widen(a, axes) for a, axes in zip(args, wanted))
    attempts = [wanted]
    batch_only = [[a for a in axes if a == 0] for axes in wanted]
    if batch_only != wanted:
        attempts.append(batch_only)
    if any(batch_only):
        attempts.append([[] for _ in wanted])
    failures: List[str] = []
    for axes in attempts:
        spec = tuple({a: Dim.AUTO for a in ax} or None for ax in axes)
        try:
            program = torch.export.export(model, args, dynamic_shapes=(spec,))  # forward(*args)
        except Exception as exc:  # torch raises many kinds; reported below if all attempts fail
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            failures.append(f"dynamic axes {dict(zip(names, axes))}: {type(exc).__name__}: {first[:300]}")
            continue
        pinned = _pinned(program, wanted, names)
        if pinned:
            warnings.warn("torch.export: exported with static size(s) " + ", ".join(pinned)
                          + " (these axes could not stay dynamic; the program accepts only that size)",
                          stacklevel=2)
        return program
    raise ExportError(f"torch.export.export of {type(model).__name__} failed: " + "; ".join(failures))


def save_exported(model: nn.Module, path: PathLike, inputs: Optional[Sequence[torch.Tensor]] = None,
                  dynamic_shapes: Optional[DynamicAxes] = None) -> Any:
    """:func:`export_program` and ``torch.export.save`` it to ``path``; returns the program."""
    program = export_program(model, inputs, dynamic_shapes)
    with warnings.catch_warnings():
        if all(t.device.type == "cpu" for t in program.state_dict.values()):
            # weights sharing storage (Keras views): harmless for CPU tensors, torch says so itself
            warnings.filterwarnings("ignore", message="No complete tensor found in the group")
        torch.export.save(program, os.fspath(path))
    return program


# --------------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------------

#: Messages torch prints while converting to ONNX for its own reasons (not about the model).
_ONNX_NOISE = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)
#: torch loggers that report optional back-ends (torchvision ops) missing during ONNX export.
_ONNX_QUIET_LOGGERS = ("torch.onnx._internal.exporter._registration",)


def _require_onnx() -> None:
    missing = []
    for module in ("onnx", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)} (the onnx extra): "
                          "pip install torch_tfjs[onnx]")


def _output_names(model: nn.Module, program: Any) -> Optional[List[str]]:
    """The signature's output names when they match the program's outputs one to one."""
    names = list(getattr(_signature(model), "output_names", []) or [])
    outputs = list(program.graph_signature.user_outputs)
    return names if names and len(names) == len(outputs) and len(set(names)) == len(names) else None


def export_onnx(model: nn.Module, path: PathLike, inputs: Optional[Sequence[torch.Tensor]] = None,
                dynamic_shapes: Optional[DynamicAxes] = None, opset: Optional[int] = None) -> Any:
    """Save the model as ONNX at ``path`` through ``torch.onnx.export(..., dynamo=True)``.

    The model is first exported with :func:`export_program` (same ``inputs`` / ``dynamic_shapes``
    and fallbacks: free axes dynamic, batch-only or static where torch cannot keep them), then
    converted at ``opset`` (default: torch's). ONNX inputs / outputs take the signature's names.
    Weights go in the .onnx file, or in ``<path>.data`` beside it when over protobuf's 2 GB
    limit. Needs the ``onnx`` extra (``pip install torch_tfjs[onnx]``); raises
    :class:`~torch_tfjs.errors.ExportError` naming what failed. Returns the ``ONNXProgram``."""
    import logging

    _require_onnx()
    program = export_program(model, inputs, dynamic_shapes)
    names = _signature(model).input_names
    loggers = [logging.getLogger(n) for n in _ONNX_QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            for message in _ONNX_NOISE:
                warnings.filterwarnings("ignore", message=message)
            try:
                onnx_program = torch.onnx.export(
                    program, (), None, dynamo=True, opset_version=opset, verbose=False,
                    input_names=list(names), output_names=_output_names(model, program))
            except Exception as exc:  # torch's converter raises many kinds
                text = str(exc).strip()
                first = text.splitlines()[0] if text else ""
                raise ExportError(f"torch.onnx.export of {type(model).__name__} failed: "
                                  f"{type(exc).__name__}: {first[:500]}") from exc
            if onnx_program is None:
                raise ExportError("torch.onnx.export returned no ONNX program")
            try:
                onnx_program.save(os.fspath(path))
            except Exception as exc:
                raise ExportError(f"writing the ONNX model to {os.fspath(path)} failed: "
                                  f"{type(exc).__name__}: {exc}") from exc
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    return onnx_program
