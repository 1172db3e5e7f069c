"""Keras topologies as tfjs and the Python converter write them → plain data: the model's
``{class_name, config}`` from either envelope, Keras 2 / 3 layer-config spellings, inbound
nodes in Keras 2 list form and Keras 3 ``{args, kwargs}`` form (:class:`LayerCall`), the model's
input and output tensors and its :class:`~torch_tfjs.signature.Signature`. No modules are built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ..errors import LayerConfigError, ModelJSONError
from ..signature import Signature, TensorSpec
from .base import check_shape
from .registry import MODEL_CLASSES, get_layer_converter

TensorKey = Tuple[str, int, int]  # (layer name, node index, tensor index)


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


def child_layer_configs(class_name: str, config: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
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
    for child in child_layer_configs(str(class_name), config):
        find_unsupported(child, missing)




@dataclass
class LayerCall:
    """One call of a layer: which tensors it reads and which call kwargs it gets."""

    layer: str
    index: int
    inputs: List[Any]            # nested structure of TensorKey
    training: Optional[bool] = None
    as_list: bool = False        # the layer was called on a list (merge layers, RNN states)
    #: Keras 3 op layers (``keras.ops.not_equal(x, 0)``): non-tensor call arguments by position.
    constants: Dict[int, Any] = field(default_factory=dict)
    #: Keras 2 call kwargs for layers with ``accepts_call_kwargs`` (TFOpLambda ``y=3.0`` or
    #: ``y=<tensor>``): a constant, or ``CallInputRef(k)`` for the node's k-th input.
    call_kwargs: Dict[str, Any] = field(default_factory=dict)
    positional: Optional[int] = None   # inputs before the kwarg tensors (None: all of them)


@dataclass(frozen=True)
class CallInputRef:
    index: int


def is_keras_tensor(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("class_name") == "__keras_tensor__"


def holds_keras_tensor(obj: Any) -> bool:
    """Whether a Keras 3 call argument is, or contains, a tensor reference."""
    if is_keras_tensor(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(holds_keras_tensor(o) for o in obj)
    if isinstance(obj, Mapping):
        return any(holds_keras_tensor(v) for v in obj.values())
    return False


def _is_literal_structure(obj: Any) -> bool:
    """A list of literals or a serialized slice / ellipsis (``{"class_name": "__slice__"}``)."""
    if isinstance(obj, Mapping):
        return obj.get("class_name") in ("__slice__", "__ellipsis__")
    if isinstance(obj, (list, tuple)):
        return all(o is None or isinstance(o, (int, float, bool)) or _is_literal_structure(o)
                   for o in obj)
    return False


def parse_triple(entry: Any, where: str) -> TensorKey:
    if isinstance(entry, (list, tuple)) and len(entry) >= 3 and isinstance(entry[0], str):
        return (entry[0], int(entry[1]), int(entry[2]))
    raise ModelJSONError(f"{where}: expected [layer_name, node_index, tensor_index], got {entry!r}")


def parse_io_list(value: Any, where: str) -> List[TensorKey]:
    """``input_layers`` / ``output_layers``: a list of triples, a flat triple, or (Keras 3) a
    dict / nested structure of triples."""
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in parse_io_list(v, where)]
    if isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str) \
            and isinstance(value[1], int):
        return [parse_triple(value, where)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in parse_io_list(v, where)]
    raise ModelJSONError(f"{where}: cannot read {value!r} as model inputs/outputs")


def parse_inbound_node(layer: str, index: int, node: Any, where: str) -> LayerCall:
    """One inbound node in Keras 2 list form or Keras 3 ``{args, kwargs}`` form."""
    if isinstance(node, Mapping):  # Keras 3
        args = node.get("args", [])
        kwargs = node.get("kwargs", {}) or {}

        def convert(obj: Any) -> Any:
            if is_keras_tensor(obj):
                hist = obj["config"]["keras_history"]
                return (hist[0], int(hist[1]), int(hist[2]))
            if isinstance(obj, (list, tuple)):
                return [convert(o) for o in obj]
            return None

        # Literal arguments (numbers; index keys such as ``x[:, 1:5]``'s slice list or
        # ``take``'s index list) keep their positions among the tensors; strings are dropped.
        constants = {i: a for i, a in enumerate(args) if not holds_keras_tensor(a)
                     and (isinstance(a, (int, float, bool)) or _is_literal_structure(a))}
        tensors = [convert(a) for a in args if holds_keras_tensor(a)]
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
            if is_keras_tensor(value):
                kw_tensors[key] = convert(value)
            elif isinstance(value, (int, float, bool, str)):
                call_kwargs[key] = value
        if not tensors and kw_tensors:
            first = next((k for k in ("inputs", "query", "x") if k in kw_tensors), next(iter(kw_tensors)))
            tensors = [kw_tensors.pop(first)]
        if constants:
            return LayerCall(layer, index, tensors, training, as_list=True, constants=constants)
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
            call_kwargs[key] = CallInputRef(len(flat))
            flat.append(ref)
        return LayerCall(layer, index, flat, training, as_list=as_list, call_kwargs=call_kwargs,
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
        inputs.append(parse_triple(entry, f"{where}: layer '{layer}'"))
        if len(entry) > 3 and isinstance(entry[3], Mapping):
            for key, value in entry[3].items():
                if key == "training":
                    training = value if isinstance(value, bool) else training
                elif key in ("mask", "name") or value is None:
                    continue
                elif isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str):
                    tensor_kwargs[key] = parse_triple(value, f"{where}: layer '{layer}' kwarg '{key}'")
                elif isinstance(value, (int, float, bool, str)) or (
                        isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)):
                    call_kwargs[key] = value
    positional = len(inputs)
    for key, ref in tensor_kwargs.items():
        call_kwargs[key] = CallInputRef(len(inputs))
        inputs.append(ref)
    return LayerCall(layer, index, inputs, training, as_list=positional > 1, call_kwargs=call_kwargs,
                 positional=positional if tensor_kwargs else None)


#: dtypes a model input may declare (tfjs's, and the Keras names the converter writes).
INPUT_DTYPES = ("float32", "int32", "bool", "string", "complex64", "float16", "float64", "int64",
                "uint8", "int8", "int16")


def input_tensor_spec(name: str, config: Mapping[str, Any], where: str = "") -> TensorSpec:
    """An InputLayer's (normalized) config as a model input; a ``batch_input_shape`` or
    ``dtype`` of the wrong kind is a LayerConfigError naming the input and the key."""
    prefix = f"{where}: " if where else ""

    def bad(key: str, expected: str, found: Any) -> LayerConfigError:
        return LayerConfigError(f"{prefix}input '{name}': config '{key}' should be {expected}, "
                                f"found {str(found)[:80]!r}")

    shape = config.get("batch_input_shape")
    dims = None
    if shape is not None:
        dims = check_shape(shape, lambda found: bad(
            "batch_input_shape", "a list of sizes (non-negative integers or null)", found))
    dtype = config.get("dtype") or "float32"
    if not isinstance(dtype, str) or dtype not in INPUT_DTYPES:
        raise bad("dtype", "one of " + ", ".join(INPUT_DTYPES), dtype)
    return TensorSpec(name, tuple(dims) if dims is not None else None, dtype)


def sequential_input(config: Any, model_name: str) -> Tuple[str, Dict[str, Any], bool]:
    """A Sequential model's input: its name, its InputLayer config, and whether the first layer
    is that InputLayer (else the input is implicit, named ``<first layer>_input`` as in Keras)."""
    layers = config if isinstance(config, list) else config.get("layers")
    if not isinstance(layers, list) or not layers or not isinstance(layers[0], Mapping):
        raise ModelJSONError(f"Sequential model '{model_name}' has no layers")
    first = normalize_layer_config(layers[0].get("config", {}) or {})
    if layers[0].get("class_name") == "InputLayer":
        return str(first.get("name") or f"{model_name}_input"), first, True
    shape = first.get("batch_input_shape")
    build_shape = config.get("build_input_shape") if isinstance(config, Mapping) else None
    if shape is None and build_shape is not None:
        shape = build_shape
    input_config = {"batch_input_shape": shape, "dtype": first.get("dtype", "float32")}
    return f"{first.get('name', model_name)}_input", input_config, False


def model_signature(class_name: str, config: Any, name: str, where: str = "") -> Signature:
    """A Keras model config's inputs and outputs (tfjs ``predict`` rules: batch axis free).

    Output shapes are not in a Keras config (``None``: unknown until the model runs)."""
    label = f"model '{name}'"
    if class_name == "Sequential":
        input_name, input_config, _ = sequential_input(config, name)
        layers = config if isinstance(config, list) else config["layers"]
        last = layers[-1]
        out_name = str((last.get("config") or {}).get("name") or last.get("name"))
        return Signature([input_tensor_spec(input_name, input_config, where)], [TensorSpec(out_name)],
                         model=label, check_batch=False,
                         integers_to_float=False)
    if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
        raise ModelJSONError(f"{where}: {label} config has no 'layers' list")
    input_configs = {}
    for layer in config["layers"]:
        if isinstance(layer, Mapping) and layer.get("class_name") == "InputLayer":
            cfg = layer.get("config") or {}
            input_configs[str(layer.get("name") or cfg.get("name"))] = normalize_layer_config(cfg)
    inputs = [input_tensor_spec(key[0], input_configs[key[0]], where) if key[0] in input_configs
              else TensorSpec(key[0], None, "float32")
              for key in parse_io_list(config.get("input_layers", []), f"{where}: {label} input_layers")]
    outputs = [TensorSpec(key[0]) for key in
               parse_io_list(config.get("output_layers", []), f"{where}: {label} output_layers")]
    return Signature(inputs, outputs, model=label, check_batch=False,
                         integers_to_float=False)


def tensor_keys(structure: Any) -> Iterator[TensorKey]:
    """The tensor keys of a node's (nested list) inputs, in order."""
    for s in structure:
        if isinstance(s, list):
            yield from tensor_keys(s)
        else:
            yield s


def has_own_first_node(layer_config: Mapping[str, Any], keras3: bool = False) -> bool:
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


def model_names(config: Mapping[str, Any]) -> List[str]:
    """Names of the model and of every nested model (for weight-prefix fallbacks)."""
    names = []
    if config.get("class_name") in MODEL_CLASSES:
        inner = config.get("config")
        if isinstance(inner, Mapping) and inner.get("name"):
            names.append(str(inner["name"]))
    for child in child_layer_configs(str(config.get("class_name")), config.get("config") or {}):
        names.extend(model_names(child))
    return names


def top_layers(config: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """The top-level model's layer configs in order (Sequential or Functional)."""
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, Mapping) else inner
    return [layer for layer in (layers or []) if isinstance(layer, Mapping)]
