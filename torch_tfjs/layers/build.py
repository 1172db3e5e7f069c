"""LayersModel builder: a Keras topology (Sequential / Functional / nested) → a
:class:`~torch_tfjs.layers.model.LayersModel` with one module per layer and the artifact's weights.

Parsing the topology lives in :mod:`.topology`, the weight lookup in :mod:`.weights`, calling the
model in :mod:`.model`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

import torch
from torch import nn

from ..activations import is_keras3
from ..errors import (GraphError, LayerConfigError, ModelJSONError, UnsupportedLayerError,
                      WeightMismatchError, blame)
from ..io import ModelArtifact, read_artifact
from .._loading import Device, check_dtype, place
from .._log import logger
from ..io.net import DEFAULT_RETRIES, CacheOption
from ..io.sources import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, PathLike
from .base import LayerSpec, WeightScope
from .model import LayersModel
from .ops import unsupported_layers_hint
from .registry import MODEL_CLASSES, get_layer_converter
from .topology import (LayerCall, TensorKey, find_unsupported, has_own_first_node,
                       model_names, model_signature, normalize_layer_config, parse_inbound_node,
                       parse_io_list, sequential_input, tensor_keys, top_layers, unwrap_topology)
from .weights import WeightIndex

class Builder:
    """Builds LayersModels from configs; one per artifact (shares the weight index)."""

    def __init__(self, source: str, generated_by: Optional[str]):
        self.source = source
        self.generated_by = generated_by

    # --- layers -------------------------------------------------------------------------------
    def build_layer(self, layer_config: Mapping[str, Any], scope: WeightScope,
                    index: WeightIndex) -> nn.Module:
        if not isinstance(layer_config, Mapping):
            raise ModelJSONError(f"{self.source}: a layer entry is a {type(layer_config).__name__}, "
                                 f"not an object: {str(layer_config)[:100]}")
        class_name = layer_config.get("class_name")
        raw_config = layer_config.get("config", {}) or {}
        if not isinstance(raw_config, Mapping) and class_name not in MODEL_CLASSES:
            raise LayerConfigError(f"{self.source}: layer '{layer_config.get('name', '?')}' "
                                   f"({class_name}): 'config' is a {type(raw_config).__name__}, "
                                   "not an object")
        config = normalize_layer_config(raw_config) if isinstance(raw_config, Mapping) \
            else {"layers": raw_config}
        name = str(config.get("name") or layer_config.get("name") or class_name)
        config["name"] = name
        spec = LayerSpec(str(class_name), name, config, scope,
                         build_child=lambda child, child_scope: self.build_layer(child, child_scope, index),
                         source=self.source, generated_by=self.generated_by)
        # The safety net: a converter meeting a config it did not expect (a wrong type, a
        # missing key) fails as this layer's LayerConfigError, not as a raw TypeError.
        with blame(LayerConfigError, f"{self.source}: layer '{name}' ({class_name})"):
            if class_name in MODEL_CLASSES:
                return self.new_model(spec, index)
            converter = get_layer_converter(str(class_name))
            if converter is None:  # pre-check normally catches this first
                raise UnsupportedLayerError({str(class_name): [name]})
            module = converter(spec)
        if not isinstance(module, nn.Module):
            raise LayerConfigError(f"converter for {class_name} returned {type(module).__name__}, "
                                   "not an nn.Module")
        return module

    def _check_new_name(self, model: LayersModel, name: str) -> None:
        """Layer names key the topology's references: a second layer of the same name would
        silently take the first one's calls."""
        if name in model._layer_attrs:
            raise GraphError(f"{self.source}: model '{model.keras_name}' has two layers named "
                             f"'{name}' (layer names must be unique)")

    # --- models --------------------------------------------------------------------------------
    def new_model(self, spec: LayerSpec, index: WeightIndex) -> LayersModel:
        """A (nested or top-level) model with its layers, calls and signature."""
        model = LayersModel(spec)
        self.populate(model, spec, index)
        return model

    def populate(self, model: LayersModel, spec: LayerSpec, index: WeightIndex) -> None:
        if spec.class_name == "Sequential":
            self._populate_sequential(model, spec, index)
        else:
            self._populate_functional(model, spec, index)
        model.signature = model_signature(spec.class_name, spec.config, spec.name, self.source)

    def _input_layer(self, model: LayersModel, name: str, config: Mapping[str, Any],
                     index: WeightIndex) -> None:
        layer = self.build_layer({"class_name": "InputLayer", "config": {**config, "name": name}},
                                 index.scope(name), index)
        self._check_new_name(model, name)
        model._add_layer(name, layer)
        model._input_layers.add(name)
        model._inputs.append((name, 0, 0))

    def _populate_sequential(self, model: LayersModel, spec: LayerSpec, index: WeightIndex) -> None:
        config = spec.config
        layers = config if isinstance(config, list) else config.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ModelJSONError(f"{self.source}: Sequential model '{spec.name}' has no layers")
        layers = [dict(l) for l in layers]
        input_name, input_config, explicit = sequential_input(config, spec.name)
        self._input_layer(model, input_name, input_config, index)
        if explicit:
            layers = layers[1:]
        previous: TensorKey = model._inputs[0]
        for layer_config in layers:
            name = str((layer_config.get("config") or {}).get("name") or layer_config.get("name"))
            self._check_new_name(model, name)
            module = self.build_layer(layer_config, index.scope(name), index)
            model._add_layer(name, module)
            model._nodes.append(LayerCall(name, 0, [previous]))
            previous = (name, 0, 0)
        model._outputs = [previous]

    def _populate_functional(self, model: LayersModel, spec: LayerSpec, index: WeightIndex) -> None:
        config = spec.config
        where = f"{self.source}: model '{spec.name}'"
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise ModelJSONError(f"{where}: config has no 'layers' list")
        pending: List[LayerCall] = []
        # Keras 3 files ({args, kwargs} nodes) number every model's calls from 0.
        keras3_nodes = is_keras3(self.generated_by) or any(
            isinstance(node, Mapping) for l in layers if isinstance(l, Mapping)
            for node in l.get("inbound_nodes") or [])
        for layer_config in layers:
            layer_cfg = layer_config.get("config") or {}
            name = str(layer_config.get("name") or layer_cfg.get("name"))
            class_name = layer_config.get("class_name")
            if class_name == "InputLayer":
                self._input_layer(model, name, normalize_layer_config(layer_cfg), index)
                model._inputs.pop()  # input order comes from input_layers
                continue
            self._check_new_name(model, name)
            module = self.build_layer(layer_config, index.scope(name), index)
            model._add_layer(name, module)
            # A nested model's own input→output node is its node 0, so its calls in this
            # graph are numbered from 1 (Keras 2: _should_skip_first_node; tfjs does the same).
            offset = 1 if has_own_first_node(layer_config, keras3_nodes) else 0
            for i, node in enumerate(layer_config.get("inbound_nodes") or []):
                pending.append(parse_inbound_node(name, i + offset, node, where))
        model._inputs = parse_io_list(config.get("input_layers", []), f"{where} input_layers")
        model._outputs = parse_io_list(config.get("output_layers", []), f"{where} output_layers")
        for key in model._inputs:
            if key[0] not in model._input_layers:
                raise GraphError(f"{where}: input_layers names '{key[0]}', which is not an InputLayer")
        if not model._outputs:
            raise GraphError(f"{where}: output_layers is empty: the model has no outputs")
        check_references(model, pending, where)
        # Order nodes as tfjs does: repeatedly run every node whose inputs exist.
        available: Set[Tuple[str, int]] = {(k[0], k[1]) for k in model._inputs}
        available |= {(name, 0) for name in model._input_layers}

        while pending:
            progressed = False
            remaining = []
            for node in pending:
                if all((k[0], k[1]) in available for k in tensor_keys(node.inputs)):
                    model._nodes.append(node)
                    available.add((node.layer, node.index))
                    progressed = True
                else:
                    remaining.append(node)
            pending = remaining
            if not progressed:  # every reference exists (checked above): a cycle
                raise GraphError(f"{where}: the layer calls form a cycle: {find_cycle(pending)}")
        for key in model._outputs:
            if (key[0], key[1]) not in available:
                raise GraphError(f"{where}: output '{key[0]}' node {key[1]} is never computed")



def check_references(model: LayersModel, calls: List[LayerCall], where: str) -> None:
    """Every tensor a layer call, ``input_layers`` or ``output_layers`` names comes from a layer
    of the model and from a call that layer makes; else a GraphError naming both ends."""
    produced: Set[Tuple[str, int]] = {(c.layer, c.index) for c in calls}
    produced |= {(name, 0) for name in model._input_layers}
    counts: Dict[str, int] = {}
    for layer, index in produced:
        counts[layer] = max(counts.get(layer, 0), index + 1)

    def check(key: TensorKey, reader: str) -> None:
        if key[0] not in model._layer_attrs:
            raise GraphError(f"{where}: {reader} reads layer '{key[0]}', which the model does not "
                             "have (dangling inbound reference)")
        if (key[0], key[1]) not in produced:
            raise GraphError(f"{where}: {reader} reads call {key[1]} of layer '{key[0]}', which is "
                             f"called {counts.get(key[0], 0)} time(s)")

    for call in calls:
        for key in tensor_keys(call.inputs):
            check(key, f"layer '{call.layer}' (call {call.index})")
    for key in model._outputs:
        check(key, "output_layers")


def find_cycle(calls: List[LayerCall]) -> str:
    """``a[0] -> b[0] -> a[0]``: a cycle among layer calls none of which can run."""
    by_key = {(c.layer, c.index): c for c in calls}
    path: List[Tuple[str, int]] = []
    seen: Dict[Tuple[str, int], int] = {}
    key = (calls[0].layer, calls[0].index)
    while key not in seen:
        seen[key] = len(path)
        path.append(key)
        nxt = next(((k[0], k[1]) for k in tensor_keys(by_key[key].inputs) if (k[0], k[1]) in by_key),
                   None)
        if nxt is None:
            break
        key = nxt
    loop = path[seen.get(key, 0):] + [key]
    return " -> ".join(f"'{layer}'[{index}]" for layer, index in loop) + " (each reads the next)"


def build_layers_model(artifact: ModelArtifact, *, strict: bool = True,
                       device: Optional[Device] = None,
                       dtype: Optional[torch.dtype] = None) -> LayersModel:
    """Build a :class:`LayersModel` from an artifact read by :func:`torch_tfjs.io.read_artifact`."""
    # Layers have their own net (LayerConfigError naming the layer); what is left is the
    # topology itself: a malformed one is the file's fault.
    with blame(ModelJSONError, f"{artifact.source}: malformed model topology"):
        return _build_layers_model(artifact, strict=strict, device=device, dtype=dtype)


def _build_layers_model(artifact: ModelArtifact, *, strict: bool, device: Optional[Device],
                        dtype: Optional[torch.dtype]) -> LayersModel:
    where = artifact.source
    if artifact.model_topology is None:
        raise ModelJSONError(f"{where}: modelTopology is null (a weights-only artifact); "
                             "torch_tfjs needs the topology to build a model")
    top = unwrap_topology(artifact.model_topology, where)
    if top.get("class_name") not in MODEL_CLASSES:
        raise ModelJSONError(f"{where}: top-level class {top.get('class_name')!r} is not a model "
                             f"({', '.join(MODEL_CLASSES)})")
    missing: Dict[str, List[str]] = {}
    find_unsupported(top, missing)
    if missing:
        raise UnsupportedLayerError(missing, unsupported_layers_hint(missing))
    index = WeightIndex(artifact.weights, model_names(top), top_layers(top))
    builder = Builder(where, artifact.generated_by)
    model_config = top.get("config")
    name = (model_config.get("name") if isinstance(model_config, Mapping) else None) or "model"
    spec = LayerSpec(str(top["class_name"]), str(name), model_config if isinstance(model_config, dict)
                     else {"layers": model_config, "name": name},
                     index.scope(str(name)), source=where, generated_by=artifact.generated_by)
    if isinstance(model_config, list):
        spec.config = {"name": name, "layers": model_config}
    model = builder.new_model(spec, index)
    if strict:
        unused = index.unused()
        if unused:
            shown = ", ".join(unused[:20]) + (f", ... ({len(unused)} in all)" if len(unused) > 20 else "")
            raise WeightMismatchError(f"{where}: {len(unused)} manifest weight(s) match no layer "
                                      f"variable: {shown} (pass strict=False to ignore)")
    model.artifact_info = {"source": where, "generated_by": artifact.generated_by,
                           "converted_by": artifact.converted_by,
                           "training_config": artifact.training_config}
    # What saving needs to write the artifact back (torch_tfjs.export): model.json as read, and
    # the manifest weights no layer took (kept only with strict=False) to write them unchanged.
    model.artifact_json = artifact.raw
    model.artifact_format = artifact.format
    model.unmatched_weights = {name: artifact.weights[name] for name in index.unused()}
    logger.info("%s: layers model '%s', %d layers, %d parameters", where, name,
                len(model.layer_names), sum(p.numel() for p in model.parameters()))
    model.eval()
    place(model, device, check_dtype(dtype))
    return model


def load_layers_model(src: PathLike, *, strict: bool = True, device: Optional[Device] = None,
                      dtype: Optional[torch.dtype] = None, timeout: float = DEFAULT_TIMEOUT,
                      max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: CacheOption = None,
                      headers: Optional[Mapping[str, str]] = None,
                      offline: Optional[bool] = None, progress: Optional[bool] = None,
                      from_tfhub: Optional[bool] = None, retries: int = DEFAULT_RETRIES,
                      max_json_bytes: Optional[int] = None) -> LayersModel:
    """Load a tfjs LayersModel (folder, model.json path, ``file://`` or ``http(s)://`` URL) as a
    trainable torch module in eval mode.

    ``strict``: refuse manifest weights that no layer takes (``WeightMismatchError``).
    Options as :func:`torch_tfjs.load` (``device``, ``dtype``; for URLs ``timeout``,
    ``max_bytes``, ``cache_dir``, ``headers``, ``offline``, ``progress``, ``from_tfhub``,
    ``retries``; ``max_json_bytes``).
    """
    check_dtype(dtype)
    artifact = read_artifact(src, timeout=timeout, max_bytes=max_bytes, cache_dir=cache_dir,
                             headers=headers, offline=offline,
                             progress=progress, from_tfhub=from_tfhub, retries=retries,
                             max_json_bytes=max_json_bytes)
    if not artifact.is_layers_model:
        raise ModelJSONError(f"{artifact.source}: format is '{artifact.format}', not a LayersModel "
                             "(use torch_tfjs.load_graph_model or torch_tfjs.load)")
    return build_layers_model(artifact, strict=strict, device=device, dtype=dtype)
