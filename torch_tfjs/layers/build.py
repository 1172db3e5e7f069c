"""LayersModel builder: a Keras topology (Sequential / Functional / nested) → ``nn.Module``.

Handles both config envelopes (tfjs's ``{class_name, config}`` and the Python converter's
``{model_config: ...}``), the three Sequential forms, Keras 2 list-form and Keras 3
``{args, kwargs}`` inbound nodes, shared layers (several nodes), nested models at any depth,
masks, and the weight-name fallbacks tfjs applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import (Any, Dict, Iterator, List, Mapping, MutableMapping, Optional, Sequence, Set,
                    Tuple, Union)

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as _module_api

from ..errors import (GraphError, LayerConfigError, ModelInputError, ModelJSONError,
                      UnsupportedLayerError, WeightMismatchError)
from .._layout import to_channels_first, to_channels_last
from ..activations import is_keras3
from ..io import ModelArtifact, read_artifact
from ..io.sources import PathLike
from .base import KerasLayer, LayerSpec, Tensors, WeightRef, WeightScope
from .ops import unsupported_layers_hint
from .registry import MODEL_CLASSES, get_layer_converter

TensorKey = Tuple[str, int, int]  # (layer name, node index, tensor index)

# --------------------------------------------------------------------------------------------
# config normalisation
# --------------------------------------------------------------------------------------------

def unwrap_topology(topology: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """The model's ``{class_name, config}`` from either envelope."""
    if not isinstance(topology, Mapping):
        raise ModelJSONError(f"{where}: modelTopology is not an object")
    if "model_config" in topology:
        inner = topology["model_config"]
        if isinstance(inner, Mapping) and "model_config" in inner:  # doubly wrapped
            inner = inner["model_config"]
        topology = inner
    if not isinstance(topology, Mapping) or "class_name" not in topology:
        raise ModelJSONError(f"{where}: modelTopology has no model 'class_name'")
    return dict(topology)


def normalize_layer_config(config: Mapping[str, Any]) -> Dict[str, Any]:
    """Keras 3 spellings → the ones converters read (``batch_input_shape``, plain dtype)."""
    out = dict(config)
    dtype = out.get("dtype")
    if isinstance(dtype, Mapping):  # DTypePolicy / dtype object
        inner = dtype.get("config", {})
        out["dtype"] = inner.get("name", "float32") if isinstance(inner, Mapping) else "float32"
    if "batch_shape" in out and "batch_input_shape" not in out:
        out["batch_input_shape"] = out["batch_shape"]
    if "batch_input_shape" not in out and out.get("input_shape") is not None:
        out["batch_input_shape"] = [None, *out["input_shape"]]
    return out


def _child_layer_configs(class_name: str, config: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Layer configs nested inside a layer's config (wrappers, RNN cells, nested models)."""
    if class_name in MODEL_CLASSES:
        layers = config if isinstance(config, list) else config.get("layers", [])
        yield from (l for l in layers if isinstance(l, Mapping))
        return
    for key in ("layer", "cell", "forward_layer", "backward_layer"):
        value = config.get(key)
        if isinstance(value, Mapping) and "class_name" in value:
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, Mapping) and "class_name" in v)
    cells = config.get("cells")
    if isinstance(cells, list):
        yield from (v for v in cells if isinstance(v, Mapping) and "class_name" in v)


def find_unsupported(layer: Mapping[str, Any], missing: Dict[str, List[str]]) -> None:
    """Collect every layer class (at any depth) without a converter into ``missing``."""
    class_name = layer.get("class_name")
    config = layer.get("config", {}) or {}
    name = config.get("name", layer.get("name", "?")) if isinstance(config, Mapping) else layer.get("name", "?")
    converter = get_layer_converter(class_name) if class_name is not None else None
    if class_name not in MODEL_CLASSES and converter is None:
        missing.setdefault(str(class_name), []).append(str(name))
    elif converter is not None and hasattr(converter, "unsupported"):  # e.g. TFOpLambda(tf.foo)
        reason = converter.unsupported(config)
        if reason:
            missing.setdefault(reason, []).append(str(name))
    for child in _child_layer_configs(str(class_name), config):
        find_unsupported(child, missing)


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------

class WeightIndex:
    """All model weights of the artifact, looked up by layer name.

    A manifest name ``a/b/c`` is visible to layer ``a`` as ``b/c`` (and to a layer named
    ``a/b`` as ``c``). Names prefixed by a model
    name (Keras 3 under TF ≥ 2.16 writes ``sequential/conv2d/kernel``) are also visible
    without the prefix.
    """

    def __init__(self, weights: Mapping[str, np.ndarray], model_names: Sequence[str],
                 top_layers: Sequence[Mapping[str, Any]] = ()):
        # Each ref writes back to ``weights`` when a layer replaces its decoded array by a view of
        # the parameter it became (WeightRef.replace_value): no decoded copy outlives its layer.
        store = weights if isinstance(weights, MutableMapping) else None
        self.refs = {name: WeightRef(name, value, store) for name, value in weights.items()}
        self.consumed: Set[str] = set()
        self._by_layer: Dict[str, Dict[str, WeightRef]] = {}
        prefixes = [m + "/" for m in model_names if m]
        keras3 = any(n.startswith("layers/") and "/vars/" in n for n in self.refs)
        storage_cache: Dict[int, Dict[str, Tuple[str, Mapping[str, Any]]]] = {}
        for name, ref in self.refs.items():
            alias = _keras3_alias(name, top_layers, storage_cache) if keras3 else None
            if alias is not None:
                layer, rest = alias
                self._by_layer.setdefault(layer, {}).setdefault(rest, ref)
                continue
            head, _, rest = name.partition("/")
            self._by_layer.setdefault(head, {}).setdefault(rest, ref)
            for prefix in prefixes:
                if name.startswith(prefix):
                    stripped = name[len(prefix):]
                    h2, _, r2 = stripped.partition("/")
                    if r2:
                        self._by_layer.setdefault(h2, {}).setdefault(r2, ref)

    def scope(self, layer_name: str) -> WeightScope:
        entries = dict(self._by_layer.get(layer_name, {}))
        if "/" in layer_name:  # Keras allows "conv1/conv" (DenseNet): match the whole name
            head, _, rest = layer_name.partition("/")
            start = rest + "/"
            entries.update({k[len(start):]: v for k, v in self._by_layer.get(head, {}).items()
                            if k.startswith(start)})
        if not entries:
            # A layer built outside the model (a Normalization adapted before it joined) has
            # weights without a layer prefix ("mean", "variance", "count"): offer unclaimed ones.
            entries = {name: self.refs[name] for name in self.refs
                       if "/" not in name and name not in self.consumed}
        return WeightScope(entries, layer_name, self.consumed)

    def unused(self) -> List[str]:
        return [n for n in self.refs if n not in self.consumed]


def _keras_snake(class_name: str) -> str:
    """Keras's ``naming.to_snake_case`` (used for ``.keras`` weight-storage paths)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras3_storage_paths(layers: Sequence[Mapping[str, Any]]) -> Dict[str, Tuple[str, Mapping[str, Any]]]:
    """``.keras`` files store a model's layers as ``layers/<snake class>[_<n>]`` numbered per
    class in layer order; the converter keeps those paths as weight names
    (``layers/conv2d_1/vars/0``). Maps each storage name to (layer name, layer config)."""
    counts: Dict[str, int] = {}
    out: Dict[str, Tuple[str, Mapping[str, Any]]] = {}
    for layer in layers:
        if not isinstance(layer, Mapping):
            continue
        base = _keras_snake(str(layer.get("class_name", "")))
        n = counts.get(base, 0)
        counts[base] = n + 1
        config = layer.get("config") or {}
        out[base if n == 0 else f"{base}_{n}"] = (str(config.get("name") or layer.get("name")), config)
    return out


def _keras3_alias(name: str, layers: Sequence[Mapping[str, Any]],
                  cache: Dict[int, Dict[str, Tuple[str, Mapping[str, Any]]]]) -> Optional[Tuple[str, str]]:
    """``layers/<storage>/<inner...>/vars/<i>`` → (layer name, path the layer's converter
    reads). Nested models continue as ``layers/<model storage>/layers/<storage>/...``; ``cell``
    and TimeDistributed's ``layer`` levels disappear, Bidirectional's ``forward_layer`` /
    ``backward_layer`` become ``forward_<inner>`` / its backward layer's name."""
    parts = name.split("/")
    if len(parts) < 4 or parts[-2] != "vars":
        return None
    position = 0
    while True:
        if parts[position] != "layers" or position + 1 >= len(parts) - 2:
            return None
        if id(layers) not in cache:  # one storage map per layers list, not per weight
            cache[id(layers)] = _keras3_storage_paths(layers)
        paths = cache[id(layers)]
        if parts[position + 1] not in paths:
            return None
        layer_name, config = paths[parts[position + 1]]
        nested = config.get("layers")
        if isinstance(nested, list) and parts[position + 2] == "layers":  # a nested model
            layers, position = nested, position + 2  # the config's own list: a stable cache key
            continue
        break
    inner_name = str(((config.get("layer") or {}).get("config") or {}).get("name") or "")
    backward_name = str(((config.get("backward_layer") or {}).get("config") or {}).get("name") or "")
    inner: List[str] = []
    for part in parts[position + 2:-2]:
        if part in ("cell", "layer"):
            continue
        if part == "forward_layer":  # the names our Bidirectional gives its two layers
            inner.append(f"forward_{inner_name}")
        elif part == "backward_layer":
            inner.append(backward_name or f"backward_{inner_name}")
        else:
            inner.append(part)
    return layer_name, "/".join(inner + [parts[-1]])


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------

@dataclass
class _Node:
    """One call of a layer: which tensors it reads and which call kwargs it gets."""

    layer: str
    index: int
    inputs: List[Any]            # nested structure of TensorKey
    training: Optional[bool] = None
    as_list: bool = False        # the layer was called on a list (merge layers, RNN states)
    #: Keras 3 op layers (``keras.ops.not_equal(x, 0)``): non-tensor call arguments by position.
    constants: Dict[int, Any] = field(default_factory=dict)
    #: Keras 2 call kwargs for layers with ``accepts_call_kwargs`` (TFOpLambda ``y=3.0`` or
    #: ``y=<tensor>``): a constant, or ``_InputRef(k)`` for the node's k-th input.
    call_kwargs: Dict[str, Any] = field(default_factory=dict)
    positional: Optional[int] = None   # inputs before the kwarg tensors (None: all of them)


@dataclass(frozen=True)
class _InputRef:
    index: int


@dataclass
class _InputSpec:
    name: str
    shape: Optional[Tuple[Optional[int], ...]]
    dtype: str


def _is_keras_tensor(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("class_name") == "__keras_tensor__"


def _parse_triple(entry: Any, where: str) -> TensorKey:
    if isinstance(entry, (list, tuple)) and len(entry) >= 3 and isinstance(entry[0], str):
        return (entry[0], int(entry[1]), int(entry[2]))
    raise ModelJSONError(f"{where}: expected [layer_name, node_index, tensor_index], got {entry!r}")


def _parse_io_list(value: Any, where: str) -> List[TensorKey]:
    """``input_layers`` / ``output_layers``: a list of triples, a flat triple, or (Keras 3) a
    dict / nested structure of triples."""
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _parse_io_list(v, where)]
    if isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str) \
            and isinstance(value[1], int):
        return [_parse_triple(value, where)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _parse_io_list(v, where)]
    raise ModelJSONError(f"{where}: cannot read {value!r} as model inputs/outputs")


def _parse_node(layer: str, index: int, node: Any, where: str) -> _Node:
    """One inbound node in Keras 2 list form or Keras 3 ``{args, kwargs}`` form."""
    if isinstance(node, Mapping):  # Keras 3
        args = node.get("args", [])
        kwargs = node.get("kwargs", {}) or {}

        def convert(obj: Any) -> Any:
            if _is_keras_tensor(obj):
                hist = obj["config"]["keras_history"]
                return (hist[0], int(hist[1]), int(hist[2]))
            if isinstance(obj, (list, tuple)):
                return [convert(o) for o in obj]
            return None

        tensors = [convert(a) for a in args]
        constants = {i: a for i, (a, t) in enumerate(zip(args, tensors))
                     if t is None and isinstance(a, (int, float, bool))}
        tensors = [t for t in tensors if t is not None]
        # A recorded ``training`` kwarg is not honoured: Keras 3 records the call signature's
        # default (augmentation layers save ``training: true``), and its Functional.call
        # overrides it with the model's own training flag whenever that is set
        # (``functional.operation_fn``) — which a torch module always has (train() / eval()).
        training = None
        # Tensors passed as kwargs (initial_state, mask tensors) become extra list inputs.
        extra = [convert(v) for k, v in kwargs.items() if k in ("initial_state", "constants")]
        extra = [e for e in extra if e is not None]
        # Other call kwargs travel as in the Keras 2 form below (layers that set
        # ``accepts_call_kwargs`` get them): a single tensor (MultiHeadAttention's value= / key= /
        # attention_mask=) as an extra input after the positional ones, a literal
        # (use_causal_mask=True, return_attention_scores=True) as itself. A call made with
        # keyword arguments only (``mha(query=q, value=v)``) takes its first argument
        # (``inputs`` / ``query`` / ``x``, else the first tensor kwarg) as the positional input.
        kw_tensors: Dict[str, TensorKey] = {}
        call_kwargs: Dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in ("training", "mask", "initial_state", "constants", "name") or value is None:
                continue
            if _is_keras_tensor(value):
                kw_tensors[key] = convert(value)
            elif isinstance(value, (int, float, bool, str)):
                call_kwargs[key] = value
        if not tensors and kw_tensors:
            first = next((k for k in ("inputs", "query", "x") if k in kw_tensors), next(iter(kw_tensors)))
            tensors = [kw_tensors.pop(first)]
        if constants:
            return _Node(layer, index, tensors, training, as_list=True, constants=constants)
        if len(tensors) == 1 and not extra:
            inputs = tensors[0]
            flat = inputs if isinstance(inputs, list) else [inputs]
            as_list = isinstance(inputs, list)
        else:
            flat = []
            for t in tensors + extra:
                flat.extend(t if isinstance(t, list) else [t])
            as_list = True
        positional = len(flat)
        for key, ref in kw_tensors.items():
            call_kwargs[key] = _InputRef(len(flat))
            flat.append(ref)
        return _Node(layer, index, flat, training, as_list=as_list, call_kwargs=call_kwargs,
                     positional=positional if kw_tensors else None)
    if not isinstance(node, (list, tuple)):
        raise ModelJSONError(f"{where}: layer '{layer}' inbound node {index} is not a list: {node!r}")
    # Keras 2 / tfjs: a list of [layer, node_index, tensor_index, kwargs?]; a flattened single
    # triple also occurs in the wild.
    if len(node) >= 3 and isinstance(node[0], str):
        node = [node]
    inputs: List[Any] = []
    training = None
    tensor_kwargs: Dict[str, TensorKey] = {}
    call_kwargs: Dict[str, Any] = {}
    for entry in node:
        inputs.append(_parse_triple(entry, f"{where}: layer '{layer}'"))
        if len(entry) > 3 and isinstance(entry[3], Mapping):
            for key, value in entry[3].items():
                if key == "training":
                    training = value if isinstance(value, bool) else training
                elif key in ("mask", "name") or value is None:
                    continue
                elif isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str):
                    tensor_kwargs[key] = _parse_triple(value, f"{where}: layer '{layer}' kwarg '{key}'")
                elif isinstance(value, (int, float, bool, str)) or (
                        isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)):
                    call_kwargs[key] = value
    positional = len(inputs)
    for key, ref in tensor_kwargs.items():
        call_kwargs[key] = _InputRef(len(inputs))
        inputs.append(ref)
    return _Node(layer, index, inputs, training, as_list=positional > 1, call_kwargs=call_kwargs,
                 positional=positional if tensor_kwargs else None)


def _input_spec(name: str, config: Mapping[str, Any]) -> _InputSpec:
    shape = config.get("batch_input_shape")
    return _InputSpec(name, tuple(shape) if shape is not None else None,
                      str(config.get("dtype") or "float32"))


class LayersModel(KerasLayer):
    """A tfjs LayersModel as an ``nn.Module``.

    Call it as tfjs ``predict``: ``model(x)``, ``model(x1, x2)`` or ``model({"input_1": x1})``;
    one output comes back as a tensor, several as a list in ``output_names`` order.
    ``model.eval()`` reproduces ``predict``; ``model.train()`` turns on Dropout-family layers
    and BatchNormalization batch statistics as Keras's ``training=True``.
    """

    def __init__(self, spec: LayerSpec, *, _index: WeightIndex, _builder: "Builder"):
        super().__init__(spec)
        self._layer_attrs: Dict[str, str] = {}
        self._layer_order: List[str] = []
        self._nodes: List[_Node] = []
        self._inputs: List[TensorKey] = []
        self._outputs: List[TensorKey] = []
        self.input_specs: List[_InputSpec] = []
        self._input_layers: Set[str] = set()
        _builder.populate(self, spec, _index)

    # --- construction helpers (used by Builder) --------------------------------------------
    def _add_layer(self, name: str, module: nn.Module) -> None:
        attr = name.replace(".", "_") or "layer"
        if attr in self._modules or (hasattr(self, attr) and attr not in self._modules):
            attr = f"layer_{attr}"
        while attr in self._modules:
            attr += "_"
        self.add_module(attr, module)
        self._layer_attrs[name] = attr
        self._layer_order.append(name)

    # --- public API -------------------------------------------------------------------------
    @property
    def input_names(self) -> List[str]:
        return [spec.name for spec in self.input_specs]

    @property
    def output_names(self) -> List[str]:
        return [key[0] for key in self._outputs]

    @property
    def layers(self) -> List[nn.Module]:
        """Layers in topology order (InputLayers included, as in Keras)."""
        return [self._modules[self._layer_attrs[n]] for n in self._layer_order]

    @property
    def layer_names(self) -> List[str]:
        return list(self._layer_order)

    def get_layer(self, name: str) -> nn.Module:
        if name not in self._layer_attrs:
            raise KeyError(f"no layer named {name!r} in model '{self.keras_name}'; layers: "
                           f"{', '.join(self._layer_order)}")
        return self._modules[self._layer_attrs[name]]  # type: ignore[return-value]

    def keras_weights(self) -> List[Tuple[str, torch.Tensor]]:
        out: List[Tuple[str, torch.Tensor]] = []
        for layer in self.layers:
            if isinstance(layer, KerasLayer):
                out.extend(layer.keras_weights())
        return out

    # --- calling ----------------------------------------------------------------------------
    def _gather_inputs(self, args: Sequence[Any]) -> List[torch.Tensor]:
        if len(args) == 1 and isinstance(args[0], Mapping):
            given = dict(args[0])
            missing = [n for n in self.input_names if n not in given]
            unknown = [k for k in given if k not in self.input_names]
            if missing or unknown:
                raise ModelInputError(f"model '{self.keras_name}': inputs by name need exactly "
                                      f"{self.input_names}; missing {missing}, unknown {unknown}")
            values = [given[n] for n in self.input_names]
        elif len(args) == 1 and isinstance(args[0], (list, tuple)) and len(self.input_specs) > 1:
            values = list(args[0])
        else:
            values = list(args)
        if len(values) != len(self.input_specs):
            raise ModelInputError(f"model '{self.keras_name}' takes {len(self.input_specs)} "
                                  f"input(s) {self.input_names}, got {len(values)}")
        out = []
        for spec, value in zip(self.input_specs, values):
            tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
            if tensor.is_floating_point() and tensor.dtype != torch.float32 and spec.dtype == "float32":
                tensor = tensor.float()
            if spec.shape is not None and not torch.jit.is_tracing():
                self._check_shape(spec, tensor)
            out.append(tensor)
        return out

    def _check_shape(self, spec: _InputSpec, tensor: torch.Tensor) -> None:
        shape = spec.shape or ()
        if tensor.dim() != len(shape):
            raise ModelInputError(f"input '{spec.name}' expects rank {len(shape)} "
                                  f"{list(shape)}, got shape {list(tensor.shape)}")
        for want, got in zip(shape[1:], tensor.shape[1:]):
            if want is not None and isinstance(got, int) and int(want) != got:
                raise ModelInputError(f"input '{spec.name}' expects shape {list(shape)} "
                                      f"(None = any), got {list(tensor.shape)}")

    def forward(self, *args: Any, mask: Any = None, training: Optional[bool] = None) -> Any:
        inputs = self._gather_inputs(args)
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(inputs)
        outputs, out_masks = self._run(inputs, list(masks), training)
        self._last_output_masks = out_masks
        return outputs[0] if len(outputs) == 1 else outputs

    _last_output_masks: Any = None

    def compute_mask(self, inputs: Tensors, mask: Any) -> Any:
        masks = self._last_output_masks
        if masks is None:
            return None
        return masks[0] if len(masks) == 1 else masks

    def _run(self, inputs: Sequence[torch.Tensor], masks: Sequence[Any],
             training: Optional[bool]) -> Tuple[List[torch.Tensor], List[Any]]:
        values: Dict[TensorKey, torch.Tensor] = {}
        value_masks: Dict[TensorKey, Any] = {}
        for key, tensor, m in zip(self._inputs, inputs, masks):
            values[key] = tensor
            value_masks[key] = m

        def fetch(structure: Any, table: Mapping[TensorKey, Any]) -> Any:
            if isinstance(structure, list):
                return [fetch(s, table) for s in structure]
            if table is values and structure not in values:  # only its NCHW view was made
                values[structure] = to_channels_last(views[structure])
            return table[structure]

        # Fast paths call layers' own kernels, not the modules: a hooked layer (or a global hook)
        # runs as a plain module call, so hooks fire and see channels-last tensors.
        fast = not (_module_api._global_forward_hooks or _module_api._global_forward_pre_hooks
                    or _module_api._global_backward_hooks)
        folds = self._batch_norm_folds() if fast else {}
        folded: Set[int] = set()
        # NCHW views of channels-last values, passed between layers that run on them
        # (KerasLayer.forward_channels_first): no axis moves inside conv chains.
        views: Dict[TensorKey, torch.Tensor] = {}

        def view_of(key: TensorKey) -> torch.Tensor:
            return views[key] if key in views else to_channels_first(values[key])

        def store(key: TensorKey, result: torch.Tensor, is_view: bool) -> None:
            if is_view:
                views[key] = result  # the channels-last value is made when a layer asks for it
            else:
                values[key] = result
            value_masks[key] = None

        for position, node in enumerate(self._nodes):
            if position in folded:
                continue
            layer = self._modules[self._layer_attrs[node.layer]]
            arg_masks = fetch(node.inputs, value_masks)
            if position in folds and arg_masks[0] is None:
                bn_node = self._nodes[folds[position]]
                bn = self._modules[self._layer_attrs[bn_node.layer]]
                bn_flag = bn_node.training if bn_node.training is not None else training
                if bn.infers(bn_flag) and not (_hooked(layer) or _hooked(bn)):  # conv → inference BatchNorm as one convolution
                    scale, shift = bn.inference_affine()
                    if layer.views_its_input:
                        y = layer.run_with_batch_norm(view_of(node.inputs[0]), scale, shift, True)
                        store((bn_node.layer, bn_node.index, 0), y, True)
                    else:
                        store((bn_node.layer, bn_node.index, 0),
                              layer.run_with_batch_norm(fetch(node.inputs[0], values), scale, shift), False)
                    folded.add(folds[position])
                    continue
            if fast and isinstance(layer, KerasLayer) and not _hooked(layer) \
                    and not (node.constants or node.call_kwargs or node.positional is not None) \
                    and all(isinstance(k, tuple) for k in node.inputs) \
                    and all(mk is None for mk in arg_masks) and not isinstance(layer, LayersModel) \
                    and (all(k in views for k in node.inputs)
                         or (layer.views_its_input and len(node.inputs) == 1)):
                inputs_nchw = [view_of(k) for k in node.inputs]
                if len({t.dim() for t in inputs_nchw}) == 1:
                    flag = node.training if node.training is not None else training
                    out = layer.forward_channels_first(inputs_nchw if node.as_list else inputs_nchw[0], flag)
                    if out is not None:
                        store((node.layer, node.index, 0), *out)
                        continue
            args = fetch(node.inputs, values)
            if node.positional is not None:  # kwarg tensors ride along after the positional ones
                args, kw_args = args[:node.positional], args
                arg_masks, kw_masks = arg_masks[:node.positional], arg_masks
            x = args if node.as_list else args[0]
            m = arg_masks if node.as_list else arg_masks[0]
            extra: Dict[str, Any] = {}
            if node.call_kwargs and getattr(layer, "accepts_call_kwargs", False):
                full = kw_args if node.positional is not None else args
                extra["call_kwargs"] = {k: full[v.index] if isinstance(v, _InputRef) else v
                                        for k, v in node.call_kwargs.items()}
                # Keras masks of kwarg tensors (MultiHeadAttention's value= / key= carry their
                # Embedding masks) for layers that ask for them.
                if getattr(layer, "accepts_call_kwarg_masks", False) and node.positional is not None:
                    extra["call_kwarg_masks"] = {k: kw_masks[v.index] for k, v in node.call_kwargs.items()
                                                 if isinstance(v, _InputRef)}
            if node.constants:  # put the literal arguments back in their positions
                tensors = iter(args)
                x = [node.constants[i] if i in node.constants else next(tensors)
                     for i in range(len(args) + len(node.constants))]
            flag = node.training if node.training is not None else training
            if isinstance(layer, KerasLayer):
                if isinstance(layer, LayersModel):  # a nested model: its inputs are positional
                    result = layer(*(x if isinstance(x, list) else [x]), mask=m, training=flag)
                else:
                    result = layer(x, mask=m, training=flag, **extra)
                out_mask = layer.compute_mask(x, m) if (m is not None or isinstance(layer, LayersModel)
                                                        or getattr(layer, "produces_mask", False)) else None
            else:  # a user converter returning a plain nn.Module
                result = layer(x)
                out_mask = None
            results = list(result) if isinstance(result, (list, tuple)) else [result]
            out_masks = list(out_mask) if isinstance(out_mask, (list, tuple)) else [out_mask] * len(results)
            for i, (r, om) in enumerate(zip(results, out_masks)):
                values[(node.layer, node.index, i)] = r
                value_masks[(node.layer, node.index, i)] = om
        return (fetch(list(self._outputs), values), [value_masks.get(k) for k in self._outputs])

    _fold_plan: Optional[Dict[int, int]] = None

    def _batch_norm_folds(self) -> Dict[int, int]:
        """Node position of a linear convolution → position of the BatchNormalization that alone
        reads its output (over the channel axis): pairs that inference runs as one convolution
        (the model's weights are untouched). Worked out once, on the first call."""
        if self._fold_plan is None:
            from .conv import _Conv
            from .normalization import BatchNormalization

            uses: Dict[str, int] = {}
            readers: Dict[TensorKey, List[int]] = {}
            for position, node in enumerate(self._nodes):
                uses[node.layer] = uses.get(node.layer, 0) + 1
                for key in _tensor_keys(node.inputs):
                    readers.setdefault(key, []).append(position)
            plan: Dict[int, int] = {}
            outputs = set(self._outputs)
            for position, node in enumerate(self._nodes):
                conv = self._modules[self._layer_attrs[node.layer]]
                key = (node.layer, node.index, 0)
                if not (isinstance(conv, _Conv) and conv.foldable_kernel and conv.linear_activation
                        and uses[node.layer] == 1 and key not in outputs and len(readers.get(key, [])) == 1
                        and not (node.as_list or node.constants or node.call_kwargs)):
                    continue
                bn_position = readers[key][0]
                bn_node = self._nodes[bn_position]
                bn = self._modules[self._layer_attrs[bn_node.layer]]
                if (isinstance(bn, BatchNormalization) and uses[bn_node.layer] == 1
                        and bn_node.inputs == [key] and not (bn_node.as_list or bn_node.constants
                                                            or bn_node.call_kwargs)
                        and bn.axis % (conv.rank + 2) == conv.channel_axis):
                    plan[position] = bn_position
            self._fold_plan = plan
        return self._fold_plan

    # --- summary ----------------------------------------------------------------------------
    def summary(self, line_length: int = 90, print_fn: Any = print) -> str:
        """Keras-style summary: layer (type), output shape, parameter count."""
        shapes: Dict[str, str] = {}
        hooks = []
        for name in self._layer_order:
            module = self.get_layer(name)

            def hook(mod: nn.Module, _inp: Any, out: Any, _name: str = name) -> None:
                outs = out if isinstance(out, (list, tuple)) else [out]
                shapes[_name] = ", ".join(str((None, *o.shape[1:])) for o in outs if isinstance(o, torch.Tensor))
            hooks.append(module.register_forward_hook(hook))
        try:
            dummy = []
            for spec in self.input_specs:
                if spec.shape is None or any(d is None for d in spec.shape[1:]):
                    raise ValueError
                dtype = torch.float32 if spec.dtype.startswith("float") else torch.int64
                dummy.append(torch.zeros((1, *[int(d) for d in spec.shape[1:]]), dtype=dtype))
            was_training = self.training
            self.eval()
            with torch.no_grad():
                self(*dummy)
            self.train(was_training)
        except Exception:  # shapes unknown or not computable: summary still lists layers
            pass
        finally:
            for h in hooks:
                h.remove()
        for spec in self.input_specs:
            shapes.setdefault(spec.name, str(spec.shape))
        cols = (max(line_length // 2, 30), max(line_length // 3, 24))
        rule = "=" * line_length
        lines = [f"Model: \"{self.keras_name}\"", rule,
                 f"{'Layer (type)':<{cols[0]}}{'Output shape':<{cols[1]}}Param #", rule]
        total = trainable = 0
        for name in self._layer_order:
            module = self.get_layer(name)
            count = sum(p.numel() for p in module.parameters()) + sum(
                b.numel() for b in module.buffers())
            train_count = sum(p.numel() for p in module.parameters() if p.requires_grad)
            total += count
            trainable += train_count
            kind = getattr(module, "keras_class", type(module).__name__)
            lines.append(f"{f'{name} ({kind})':<{cols[0]}}{shapes.get(name, '?'):<{cols[1]}}{count}")
        lines += [rule, f"Total params: {total}", f"Trainable params: {trainable}",
                  f"Non-trainable params: {total - trainable}", rule]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text


class Builder:
    """Builds LayersModels from configs; one per artifact (shares the weight index)."""

    def __init__(self, source: str, generated_by: Optional[str]):
        self.source = source
        self.generated_by = generated_by

    # --- layers -------------------------------------------------------------------------------
    def build_layer(self, layer_config: Mapping[str, Any], scope: WeightScope,
                    index: WeightIndex) -> nn.Module:
        class_name = layer_config.get("class_name")
        config = normalize_layer_config(layer_config.get("config", {}) or {})
        name = str(config.get("name") or layer_config.get("name") or class_name)
        config["name"] = name
        spec = LayerSpec(str(class_name), name, config, scope,
                         build_child=lambda child, child_scope: self.build_layer(child, child_scope, index),
                         source=self.source, generated_by=self.generated_by)
        if class_name in MODEL_CLASSES:
            return LayersModel(spec, _index=index, _builder=self)
        converter = get_layer_converter(str(class_name))
        if converter is None:  # pre-check normally catches this first
            raise UnsupportedLayerError({str(class_name): [name]})
        module = converter(spec)
        if not isinstance(module, nn.Module):
            raise LayerConfigError(f"converter for {class_name} returned {type(module).__name__}, "
                                   "not an nn.Module")
        return module

    # --- models --------------------------------------------------------------------------------
    def populate(self, model: LayersModel, spec: LayerSpec, index: WeightIndex) -> None:
        if spec.class_name == "Sequential":
            self._populate_sequential(model, spec, index)
        else:
            self._populate_functional(model, spec, index)
        model.input_specs = [_input_spec(k[0], getattr(model.get_layer(k[0]), "keras_config", {}))
                             if k[0] in model._input_layers else _InputSpec(k[0], None, "float32")
                             for k in model._inputs]

    def _input_layer(self, model: LayersModel, name: str, config: Mapping[str, Any],
                     index: WeightIndex) -> None:
        layer = self.build_layer({"class_name": "InputLayer", "config": {**config, "name": name}},
                                 index.scope(name), index)
        model._add_layer(name, layer)
        model._input_layers.add(name)
        model._inputs.append((name, 0, 0))

    def _populate_sequential(self, model: LayersModel, spec: LayerSpec, index: WeightIndex) -> None:
        config = spec.config
        layers = config if isinstance(config, list) else config.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ModelJSONError(f"{self.source}: Sequential model '{spec.name}' has no layers")
        layers = [dict(l) for l in layers]
        first = normalize_layer_config(layers[0].get("config", {}) or {})
        if layers[0].get("class_name") == "InputLayer":
            input_name = first.get("name") or f"{spec.name}_input"
            self._input_layer(model, input_name, first, index)
            layers = layers[1:]
        else:
            shape = first.get("batch_input_shape")
            build_shape = config.get("build_input_shape") if isinstance(config, Mapping) else None
            if shape is None and build_shape is not None:
                shape = build_shape
            input_config = {"batch_input_shape": shape, "dtype": first.get("dtype", "float32")}
            self._input_layer(model, f"{first.get('name', spec.name)}_input", input_config, index)
        previous: TensorKey = model._inputs[0]
        for layer_config in layers:
            name = str((layer_config.get("config") or {}).get("name") or layer_config.get("name"))
            module = self.build_layer(layer_config, index.scope(name), index)
            model._add_layer(name, module)
            model._nodes.append(_Node(name, 0, [previous]))
            previous = (name, 0, 0)
        model._outputs = [previous]

    def _populate_functional(self, model: LayersModel, spec: LayerSpec, index: WeightIndex) -> None:
        config = spec.config
        where = f"{self.source}: model '{spec.name}'"
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise ModelJSONError(f"{where}: config has no 'layers' list")
        pending: List[_Node] = []
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
            module = self.build_layer(layer_config, index.scope(name), index)
            model._add_layer(name, module)
            # A nested model's own input→output node is its node 0, so its calls in this
            # graph are numbered from 1 (Keras 2: _should_skip_first_node; tfjs does the same).
            offset = 1 if _has_own_first_node(layer_config, keras3_nodes) else 0
            for i, node in enumerate(layer_config.get("inbound_nodes") or []):
                pending.append(_parse_node(name, i + offset, node, where))
        model._inputs = _parse_io_list(config.get("input_layers", []), f"{where} input_layers")
        model._outputs = _parse_io_list(config.get("output_layers", []), f"{where} output_layers")
        for key in model._inputs:
            if key[0] not in model._input_layers:
                raise GraphError(f"{where}: input_layers names '{key[0]}', which is not an InputLayer")
        # Order nodes as tfjs does: repeatedly run every node whose inputs exist.
        available: Set[Tuple[str, int]] = {(k[0], k[1]) for k in model._inputs}
        available |= {(name, 0) for name in model._input_layers}

        while pending:
            progressed = False
            remaining = []
            for node in pending:
                if all((k[0], k[1]) in available for k in _tensor_keys(node.inputs)):
                    model._nodes.append(node)
                    available.add((node.layer, node.index))
                    progressed = True
                else:
                    remaining.append(node)
            pending = remaining
            if not progressed:
                stuck = ", ".join(f"{n.layer}[{n.index}]" for n in pending[:10])
                raise GraphError(f"{where}: cannot order layer calls {stuck}: their inputs are "
                                 "never produced (dangling reference or cycle)")
        for key in model._outputs:
            if (key[0], key[1]) not in available:
                raise GraphError(f"{where}: output '{key[0]}' node {key[1]} is never computed")


def _tensor_keys(structure: Any) -> Iterator[TensorKey]:
    """The tensor keys of a node's (nested list) inputs, in order."""
    for s in structure:
        if isinstance(s, list):
            yield from _tensor_keys(s)
        else:
            yield s


def _hooked(module: nn.Module) -> bool:
    """Whether ``module`` has hooks that only a call through ``nn.Module.__call__`` runs."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def _has_own_first_node(layer_config: Mapping[str, Any], keras3: bool = False) -> bool:
    """Whether a nested layer is a model built with its own inputs, whose first node the saved
    node indices skip (tfjs and Keras 2: Functional always; a Sequential when its first layer is
    an InputLayer or declares an input shape). Keras 3 files count every model's calls from 0
    (seen in ``.keras`` configs: a nested Functional's first call is node 0)."""
    if keras3:
        return False
    class_name = layer_config.get("class_name")
    if class_name in ("Model", "Functional"):
        return True
    if class_name != "Sequential":
        return False
    config = layer_config.get("config") or {}
    layers = config if isinstance(config, list) else config.get("layers") or []
    if not layers:
        return False
    first = layers[0]
    if first.get("class_name") == "InputLayer":
        return True
    first_config = normalize_layer_config(first.get("config") or {})
    return first_config.get("batch_input_shape") is not None


def _model_names(config: Mapping[str, Any]) -> List[str]:
    """Names of the model and of every nested model (for weight-prefix fallbacks)."""
    names = []
    if config.get("class_name") in MODEL_CLASSES:
        inner = config.get("config")
        if isinstance(inner, Mapping) and inner.get("name"):
            names.append(str(inner["name"]))
    for child in _child_layer_configs(str(config.get("class_name")), config.get("config") or {}):
        names.extend(_model_names(child))
    return names


def _top_layers(config: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """The top-level model's layer configs in order (Sequential or Functional)."""
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, Mapping) else inner
    return [layer for layer in (layers or []) if isinstance(layer, Mapping)]


def build_layers_model(artifact: ModelArtifact, *, strict: bool = True,
                       device: Optional[Union[str, torch.device]] = None) -> LayersModel:
    """Build a :class:`LayersModel` from an artifact read by :func:`torch_tfjs.io.read_artifact`."""
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
    index = WeightIndex(artifact.weights, _model_names(top), _top_layers(top))
    builder = Builder(where, artifact.generated_by)
    model_config = top.get("config")
    name = (model_config.get("name") if isinstance(model_config, Mapping) else None) or "model"
    spec = LayerSpec(str(top["class_name"]), str(name), model_config if isinstance(model_config, dict)
                     else {"layers": model_config, "name": name},
                     index.scope(str(name)), source=where, generated_by=artifact.generated_by)
    if isinstance(model_config, list):
        spec.config = {"name": name, "layers": model_config}
    model = LayersModel(spec, _index=index, _builder=builder)
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
    model.eval()
    if device is not None:
        model.to(device)
    return model


def load_layers_model(src: PathLike, *, strict: bool = True,
                      device: Optional[Union[str, torch.device]] = None,
                      **read_options: Any) -> LayersModel:
    """Load a tfjs LayersModel (folder, model.json path, ``file://`` or ``http(s)://`` URL) as a
    trainable torch module in eval mode."""
    artifact = read_artifact(src, **read_options)
    if not artifact.is_layers_model:
        raise ModelJSONError(f"{artifact.source}: format is '{artifact.format}', not a LayersModel "
                             "(use torch_tfjs.load_graph_model or torch_tfjs.load)")
    return build_layers_model(artifact, strict=strict, device=device)
