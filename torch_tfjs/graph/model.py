"""The GraphModel runtime: a built graph as an ``nn.Module`` (:class:`GraphModel`) — its
:class:`~torch_tfjs.signature.Signature` (the artifact's, or tfjs's defaults), calls checked and
matched through it, structured (dict) outputs, ``execute`` of arbitrary nodes, and loading.
:mod:`.importer` turns the GraphDef into the fx graph this runs.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import traceback
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import torch
import torch.fx as fx
from torch import nn

from ..errors import (ExecutionError, GraphError, ModelInputError, ModelJSONError, TfjsError,
                      blame, describe_exception)
from ..io import ModelArtifact, read_artifact
from .._allocator import enter_call, leave_call
from .._loading import Device, add_dtype_marker, check_dtype, module_float_dtype, place
from .._log import logger, warn_semantics
from .._predict import predict as _predict
from ..io.net import DEFAULT_RETRIES, CacheOption
from ..io.sources import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, PathLike
from ..signature import Signature, TensorSpec, shape_from_dims
from .importer import GraphImporter
from .node import TF_DTYPES, NodeDef, TensorRef

#: torch dtype (as :data:`TF_DTYPES` maps TF enums) → tfjs dtype name.
_TFJS_DTYPES: Dict[Any, str] = {torch.float32: "float32", torch.int32: "int32", torch.bool: "bool",
                                torch.complex64: "complex64", "string": "string",
                                "resource": "resource", "variant": "variant"}


def tfjs_dtype(tf_dtype: Any) -> Optional[str]:
    """A TF dtype enum (``DT_FLOAT``) as the tfjs dtype it runs in (``float32``)."""
    return _TFJS_DTYPES.get(TF_DTYPES.get(str(tf_dtype)))


def split_tensor_name(name: str) -> Tuple[str, int]:
    """``node:1`` → (``node``, 1); ``node`` → (``node``, 0)."""
    if ":" in name:
        base, _, idx = name.rpartition(":")
        if idx.isdigit():
            return base, int(idx)
    return name, 0


def tensor_ref(spec: TensorSpec) -> TensorRef:
    return TensorRef(*split_tensor_name(spec.tensor or spec.name))


def _placeholder_shape(node: Optional[NodeDef]) -> Optional[Tuple[Optional[int], ...]]:
    shape = node.attrs.get("shape") if node is not None else None
    return shape_from_dims(shape) if isinstance(shape, (list, tuple)) else None


def _entry_specs(entries: Mapping[str, Any], nodes: Mapping[str, NodeDef], where: str,
                 what: str) -> Tuple[List[TensorSpec], Dict[str, int]]:
    """SignatureDef entries → specs, and the ``resourceId`` of resource inputs by key."""
    specs: List[TensorSpec] = []
    resources: Dict[str, int] = {}
    for key, info in entries.items():
        if not isinstance(info, Mapping):
            raise ModelJSONError(f"{where}: signature {what} '{key}' is not an object")
        node, index = split_tensor_name(str(info.get("name", key)))
        if node not in nodes:
            raise GraphError(f"{where}: signature {what} '{key}' names node '{node}', which the "
                             "graph lacks")
        shape = None
        tshape = info.get("tensorShape")
        if isinstance(tshape, Mapping) and not tshape.get("unknownRank"):
            shape = shape_from_dims([d.get("size", 0) for d in tshape.get("dim", []) or []])  # proto3 omits 0
        elif nodes[node].op == "Placeholder":
            shape = _placeholder_shape(nodes[node])
        specs.append(TensorSpec(str(key), shape, tfjs_dtype(info.get("dtype", "")),
                                tensor=f"{node}:{index}", aliases=(node, f"{node}:{index}")))
        if info.get("resourceId") is not None:
            resources[str(key)] = int(info["resourceId"])
    return specs, resources


def _identity_rank(spec: TensorSpec) -> Tuple[int, str]:
    """Flat output position of a converter output node: ``Identity`` 0, ``Identity_3`` 3."""
    node = tensor_ref(spec).node
    match = re.fullmatch(r"(?:.*/)?Identity(?:_(\d+))?", node)
    return (int(match.group(1) or 0) if match else 1 << 30, node)


def _structured(keys: Sequence[Any], outputs: List[TensorSpec]) -> List[TensorSpec]:
    """Outputs keyed and ordered by ``userDefinedMetadata.structuredOutputKeys`` (the converter's
    ``--use_structured_outputs_names``: a tf.function returning a dict).

    The keys are the dict's sorted keys, i.e. the flat output order (``Identity``,
    ``Identity_1``, ...). The converter keeps only some keys in the signature and writes it in
    no particular order; tfjs 4.22 then pairs keys with outputs by signature position and
    returns mislabelled tensors. We pair as TF does: a key named in the signature keeps its
    output, the rest follow the flat output order."""
    by_key = {spec.name: spec for spec in outputs}
    rest = sorted((spec for spec in outputs if spec.name not in keys), key=_identity_rank)
    ordered = []
    for key in keys:
        spec = by_key.get(key) or rest.pop(0)
        ordered.append(dataclasses.replace(spec, name=str(key)))
    if [s.tensor for s in ordered] != [s.tensor for s in outputs]:  # tfjs pairs by position
        warn_semantics("structured outputs are paired with their keys as TF pairs them; tfjs 4.22 "
                       "pairs them by signature position and returns mislabelled tensors here "
                       f"(keys {list(keys)})", stacklevel=4)
    return ordered


def graph_signature(artifact: ModelArtifact, nodes: Mapping[str, NodeDef]
                    ) -> Tuple[Signature, Dict[str, Tuple[TensorSpec, int]]]:
    """The model's inputs and outputs, and its resource inputs (fed from ``modelInitializer``:
    key → (spec, resourceId)).

    Inputs and outputs each come from the artifact's signature where it lists them, else from
    tfjs's defaults, independently as tfjs decides (a signature may list outputs only): every
    Placeholder in; every node no other node reads out."""
    where = artifact.source
    signature = artifact.signature or {}
    if not isinstance(signature, Mapping):
        raise ModelJSONError(f"{where}: signature is not an object")
    resources: Dict[str, Tuple[TensorSpec, int]] = {}
    if signature.get("inputs"):
        all_inputs, resource_ids = _entry_specs(signature["inputs"], nodes, where, "input")
        resources = {s.name: (s, resource_ids[s.name]) for s in all_inputs if s.name in resource_ids}
        inputs = [s for s in all_inputs if s.name not in resource_ids]
    else:
        inputs = [TensorSpec(n.name, _placeholder_shape(n), tfjs_dtype(n.attrs.get("dtype", "")),
                             tensor=f"{n.name}:0", aliases=(f"{n.name}:0",))
                  for n in nodes.values() if n.op == "Placeholder"]
    structured = False
    if signature.get("outputs"):
        outputs, _ = _entry_specs(signature["outputs"], nodes, where, "output")
        keys = (artifact.user_defined_metadata or {}).get("structuredOutputKeys")
        if isinstance(keys, list) and len(keys) == len(outputs):
            outputs, structured = _structured(keys, outputs), True
    else:
        consumers: Set[str] = set()
        for node in nodes.values():
            consumers.update(r.node for r in node.inputs)
            consumers.update(node.control_inputs)
        outputs = [TensorSpec(n.name, tensor=f"{n.name}:0") for n in nodes.values()
                   if n.name not in consumers and n.op not in ("NoOp", "Placeholder", "Const")]
    if not outputs:
        raise GraphError(f"{where}: the graph has no output node")
    return Signature(inputs, outputs, model=f"graph model {where}", check_batch=True,
                     structured=structured), resources


class GraphModel(nn.Module):
    """A tfjs GraphModel as an ``nn.Module`` around a ``torch.fx.GraphModule``.

    ``model(*inputs)`` takes inputs in signature order, a list, or a dict keyed by signature key
    or node name, checked against ``model.signature`` as tfjs checks them (rank, every known
    size, dtype); it returns one tensor, a list in ``output_names`` order, or a dict for a
    graph converted with structured outputs.
    """

    def __init__(self, importer: GraphImporter, signature: Signature):
        super().__init__()
        self._importer = importer
        #: What the model takes and returns (see :mod:`torch_tfjs.signature`).
        self.signature = signature
        self.graph_module = importer.build(self._feeds(), [tensor_ref(s) for s in signature.outputs])
        self.metadata: Optional[Dict[str, Any]] = importer.artifact.user_defined_metadata
        #: The artifact's SignatureDef JSON as written (``None`` when it has none).
        self.artifact_signature: Optional[Dict[str, Any]] = importer.artifact.signature
        self._executors: Dict[Tuple[str, ...], fx.GraphModule] = {}
        add_dtype_marker(self)

    @property
    def float_dtype(self) -> torch.dtype:
        """The floating-point dtype the model computes in (float inputs are cast to it):
        float32 unless loaded with ``dtype=`` or cast (``model.half()``, ``model.to(dtype)``)."""
        return module_float_dtype(self)

    def _feeds(self) -> List[Tuple[str, TensorRef]]:
        return [(s.name, tensor_ref(s)) for s in self.signature.inputs]

    @property
    def input_names(self) -> List[str]:
        return self.signature.input_names

    @property
    def output_names(self) -> List[str]:
        return self.signature.output_names

    @property
    def parameter_names(self) -> Dict[str, str]:
        """Const node (weight) name → parameter attribute name in ``graph_module``."""
        return dict(self._importer.param_names)

    @property
    def structured_outputs(self) -> bool:
        """Whether the artifact declares ``structuredOutputKeys`` (outputs come back as a dict)."""
        return self.signature.structured

    @property
    def source(self) -> str:
        """Where the artifact was read from (its model.json path or URL)."""
        return self._importer.artifact.source

    def op_counts(self, include_functions: bool = False) -> Dict[str, int]:
        """TF op → number of nodes in the artifact's main graph (``include_functions``: and in
        its library functions, the bodies of TF2 control flow), most frequent first."""
        counts = collections.Counter(node.op for node in self._importer.nodes.values())
        if include_functions:
            for fdef in self._importer.function_defs.values():
                counts.update(str(n.get("op", "")) for n in fdef.get("nodeDef", []) or [])
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def _parameter_stats(self) -> Tuple[int, int, int]:
        """(parameter tensors, parameter elements, parameter bytes)."""
        params = list(self.parameters())
        return (len(params), sum(p.numel() for p in params),
                sum(p.numel() * p.element_size() for p in params))

    def extra_repr(self) -> str:
        _, count, nbytes = self._parameter_stats()
        return (f"source={self.source!r}, signature={self.signature}, "
                f"nodes={len(self._importer.nodes)}, parameters={count:,} ({_size(nbytes)})")

    def summary(self, print_fn: Any = print) -> str:
        """Inputs and outputs (shapes, dtypes, the graph tensors behind them), the op histogram
        of the main graph, and the parameter count and bytes; printed with ``print_fn`` (``None``
        prints nothing) and returned."""
        tensors, count, nbytes = self._parameter_stats()
        lines = [f"GraphModel \"{self.source}\"", "Inputs:"]
        for spec in self.signature.inputs:
            lines.append(f"  {spec}" + (f"  ({spec.tensor})" if spec.tensor and spec.tensor
                                        not in (spec.name, f"{spec.name}:0") else ""))
        lines.append("Outputs" + (" (a dict by key):" if self.signature.structured else ":"))
        for spec in self.signature.outputs:
            lines.append(f"  {spec}" + (f"  ({spec.tensor})" if spec.tensor and spec.tensor
                                        not in (spec.name, f"{spec.name}:0") else ""))
        counts = self.op_counts()
        lines.append(f"Ops: {len(self._importer.nodes)} nodes, {len(counts)} op types")
        width = max((len(op) for op in counts), default=0)
        lines += [f"  {op:<{width}}  {n}" for op, n in counts.items()]
        lines.append(f"Parameters: {count:,} in {tensors} tensors, {_size(nbytes)} "
                     f"({module_float_dtype(self)})")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def predict(self, *inputs: Any, batch_size: int = 32) -> Any:
        """Keras / tfjs ``predict``: NumPy arrays (or tensors; one per input, a list or a dict
        by name) in, NumPy arrays out (a dict for structured outputs), run in batches of
        ``batch_size`` (in one call where the signature fixes the batch size) in eval mode
        without autograd."""
        return _predict(self, self.signature, inputs, batch_size)

    def _prepare(self, args: Sequence[Any]) -> List[Any]:
        values = self.signature.check(self.signature.bind(args), module_float_dtype(self))
        for i, spec in enumerate(self.signature.inputs):
            if spec.dtype == "string":  # strings stay NumPy object arrays of bytes
                from .ops.string import as_string_array
                try:
                    values[i] = as_string_array(values[i])
                except TypeError as exc:
                    raise ModelInputError(f"{self.signature.model}: input '{spec.name}' is a "
                                          f"string tensor: {exc}") from None
        return values

    def forward(self, *args: Any) -> Any:
        """Outputs as tfjs ``predict`` returns them: one tensor, a list in ``output_names``
        order, or — for a graph converted with structured outputs — a dict by output key."""
        entered = enter_call()  # activations reuse freed heap pages call after call (_allocator)
        try:
            values = self._prepare(args)
            result = run_guarded(self.graph_module, values, self.signature.model)
            return self.signature.pack(result if isinstance(result, tuple) else (result,))
        finally:
            leave_call(entered)

    def execute(self, inputs: Any, outputs: Optional[Sequence[str]] = None) -> Any:
        """Run the graph returning arbitrary node outputs (``"node"`` or ``"node:k"``), as tfjs
        ``GraphModel.execute`` does. ``inputs``: a dict by name, a list, or one tensor."""
        if outputs is None:
            return self.forward(inputs) if not isinstance(inputs, (list, tuple)) else self.forward(*inputs)
        names = [outputs] if isinstance(outputs, str) else list(outputs)
        refs = [TensorRef(*split_tensor_name(n)) for n in names]
        tensors = self._prepare([inputs] if isinstance(inputs, Mapping) else
                                (list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]))
        key = tuple(names)
        if key not in self._executors:
            module = self._importer.build(self._feeds(), refs)
            param = next(self.graph_module.parameters(), None)
            self._executors[key] = module.to(param.device) if param is not None else module
        result = run_guarded(self._executors[key], tensors, self.signature.model)
        if isinstance(outputs, str):
            return result
        return list(result) if isinstance(result, tuple) else [result]


#: Ops run as TF runs them where tfjs 4.22 differs (a tfjs bug): op → what differs.
DIVERGENT_OPS = {
    "Mod": "Mod truncates as TF does (the sign of the dividend); tfjs 4.22 runs a floor mod",
}


def _size(nbytes: int) -> str:
    """``1.5 MB``: bytes in decimal units."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


#: Out-of-memory is the machine's limit, not the model's fault: passed through as torch raises it.
OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", MemoryError)


def _failing_node(module: fx.GraphModule, exc: BaseException) -> Optional[str]:
    """The TF node (or fx node) whose line of ``module``'s generated code raised ``exc``."""
    code = getattr(module.forward, "__code__", None)
    lineno_map = getattr(module, "_lineno_map", None)
    if code is None or not lineno_map:
        return None
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == code.co_filename]
    if not frames or frames[-1].lineno is None:
        return None
    index = lineno_map.get(frames[-1].lineno - code.co_firstlineno)
    nodes = list(module.graph.nodes)
    if index is None or not 0 <= index < len(nodes):
        return None
    return str(nodes[index].meta.get("tfjs_node", nodes[index].name))


def run_guarded(module: fx.GraphModule, values: Sequence[Any], model: str) -> Any:
    """``module(*values)``; a failure inside (an op meeting a tensor it cannot take, e.g. a
    Reshape whose shape constant was corrupted) is an :class:`ExecutionError` naming the node.
    Under ``torch.compile`` / ``torch.export`` the call is traced as is."""
    if torch.compiler.is_compiling():
        return module(*values)
    try:
        # nn.Module's call (hooks run), not fx's wrapper: that one prints the generated code to
        # stderr and strips the traceback this needs to name the failing node.
        return nn.Module.__call__(module, *values)
    except (TfjsError, MemoryError, OUT_OF_MEMORY):
        raise
    except Exception as exc:  # noqa: BLE001 - reported as the node's failure
        node = _failing_node(module, exc)
        at = f"node {node}" if node else "the graph"
        raise ExecutionError(f"{model}: running {at} failed: {describe_exception(exc)}") from exc


def build_graph_model(artifact: ModelArtifact, *, device: Optional[Device] = None,
                      dtype: Optional[torch.dtype] = None) -> GraphModel:
    """Build a :class:`GraphModel` from an artifact read by :func:`torch_tfjs.io.read_artifact`."""
    # Nodes have their own net (GraphError naming the node); what is left is the graph's
    # structure (node list, library, signature): a malformed one is the file's fault.
    with blame(GraphError, f"{artifact.source}: malformed graph"):
        return _build_graph_model(artifact, device=device, dtype=dtype)


def _build_graph_model(artifact: ModelArtifact, *, device: Optional[Device],
                       dtype: Optional[torch.dtype]) -> GraphModel:
    if artifact.model_topology is None:
        raise ModelJSONError(f"{artifact.source}: modelTopology is null")
    importer = GraphImporter(artifact)
    importer.check_supported()
    signature, resource_inputs = graph_signature(artifact, importer.nodes)
    resources = run_initializer(artifact, importer)
    for key, (spec, resource_id) in resource_inputs.items():
        if resource_id not in resources:
            raise GraphError(f"{artifact.source}: signature input '{key}' is resource "
                             f"{resource_id}, which no modelInitializer output provides")
        ref = tensor_ref(spec)
        importer.captured[(ref.node, ref.index)] = resources[resource_id]
    model = GraphModel(importer, signature)
    counts = model.op_counts()
    for op, what in DIVERGENT_OPS.items():
        if op in counts:
            warn_semantics(f"{artifact.source}: {counts[op]} {op} node(s): {what}", stacklevel=3)
    logger.info("%s: graph model, %d nodes, %d parameters", artifact.source,
                len(importer.nodes), sum(p.numel() for p in model.parameters()))
    model.eval()
    place(model, device, check_dtype(dtype))
    return model


def run_initializer(artifact: ModelArtifact, importer: GraphImporter) -> Dict[int, Any]:
    """Run ``modelInitializer`` once (it fills the hash tables, which it shares with the main
    graph through ``importer.tables``); its outputs by ``resourceId`` (``initializerSignature``)."""
    init = artifact.model_initializer
    if not init or not init.get("node"):
        return {}
    sub = dataclasses.replace(artifact, model_topology=init, signature=artifact.initializer_signature,
                              model_initializer=None, initializer_signature=None)
    init_importer = GraphImporter(sub)
    init_importer.where = f"{artifact.source} (modelInitializer)"
    init_importer.tables = importer.tables
    init_importer.check_supported()
    entries = ((artifact.initializer_signature or {}).get("outputs") or {})
    specs, resource_ids = _entry_specs(entries, init_importer.nodes, init_importer.where,
                                       "initializerSignature output")
    values = init_importer.run_initializer([tensor_ref(s) for s in specs])
    return {resource_ids[s.name]: value for s, value in zip(specs, values) if s.name in resource_ids}


def load_graph_model(src: PathLike, *, device: Optional[Device] = None,
                     dtype: Optional[torch.dtype] = None, timeout: float = DEFAULT_TIMEOUT,
                     max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: CacheOption = None,
                     headers: Optional[Mapping[str, str]] = None,
                     offline: Optional[bool] = None, progress: Optional[bool] = None,
                     from_tfhub: Optional[bool] = None, retries: int = DEFAULT_RETRIES,
                     max_json_bytes: Optional[int] = None) -> GraphModel:
    """Load a tfjs GraphModel (folder, model.json, ``file://`` or ``http(s)://`` URL) as a
    module wrapping a ``torch.fx.GraphModule``, in eval mode.

    Options as :func:`torch_tfjs.load` (``device``, ``dtype``; for URLs ``timeout``,
    ``max_bytes``, ``cache_dir``, ``headers``, ``offline``, ``progress``, ``from_tfhub``,
    ``retries``; ``max_json_bytes``).
    """
    check_dtype(dtype)
    artifact = read_artifact(src, timeout=timeout, max_bytes=max_bytes, cache_dir=cache_dir,
                             headers=headers, offline=offline,
                             progress=progress, from_tfhub=from_tfhub, retries=retries,
                             max_json_bytes=max_json_bytes)
    if not artifact.is_graph_model:
        raise ModelJSONError(f"{artifact.source}: format is '{artifact.format}', not a GraphModel "
                             "(use torch_tfjs.load_layers_model or torch_tfjs.load)")
    return build_graph_model(artifact, device=device, dtype=dtype)
