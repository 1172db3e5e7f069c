"""What an artifact holds and whether this version can load it (``torch-tfjs inspect``).

Reads model.json and the manifest only (no weight bytes), so it is fast on large models.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Dict, List, Mapping

from .errors import TfjsError
from .io import ModelArtifact, read_artifact
from .io.sources import PathLike
from .signature import Signature


def _layers_report(artifact: ModelArtifact) -> Dict[str, Any]:
    from .layers.topology import (MODEL_CLASSES, child_layer_configs, find_unsupported,
                                  model_signature, unwrap_topology)

    top = unwrap_topology(artifact.model_topology or {}, artifact.source)
    classes: Counter = Counter()

    def walk(layer: Mapping[str, Any]) -> None:
        name = layer.get("class_name")
        if name not in MODEL_CLASSES:
            classes[str(name)] += 1
        for child in child_layer_configs(str(name), layer.get("config") or {}):
            walk(child)

    walk(top)
    missing: Dict[str, List[str]] = {}
    find_unsupported(top, missing)
    config = top.get("config") or {}
    name = (config.get("name") if isinstance(config, Mapping) else None) or "model"
    report: Dict[str, Any] = {"model_class": top.get("class_name"),
                              "layer_classes": dict(sorted(classes.items())), "unsupported": missing}
    report.update(_signature_report(lambda: model_signature(str(top.get("class_name")), config,
                                                            str(name), artifact.source)))
    return report


def _signature_report(make: Callable[[], Signature]) -> Dict[str, Any]:
    """Inputs and outputs as ``inspect`` lists them (tfjs shapes: -1 for a free dimension), or
    the problem that keeps them from being known."""
    try:
        signature = make()
    except TfjsError as exc:
        return {"inputs": [], "outputs": [], "problems": [str(exc)]}
    return {"inputs": [s.to_json() for s in signature.inputs],
            "outputs": [s.to_json() for s in signature.outputs], "problems": []}


def _graph_report(artifact: ModelArtifact) -> Dict[str, Any]:
    from .graph.model import graph_signature
    from .graph.node import NodeDef
    from .graph.registry import get_op

    topology = artifact.model_topology or {}
    ops: Counter = Counter()
    missing: Dict[str, List[str]] = {}
    nodes = list(topology.get("node", []) or [])
    for fdef in (topology.get("library") or {}).get("function", []) or []:
        nodes += fdef.get("nodeDef", []) or []
    for node in nodes:
        op = str(node.get("op"))
        ops[op] += 1
        if get_op(op) is None:
            missing.setdefault(op, []).append(str(node.get("name")))

    def signature() -> Signature:
        graph_nodes = {}
        for obj in topology.get("node", []) or []:
            node_def = NodeDef.from_json(obj, artifact.source)
            graph_nodes[node_def.name] = node_def
        return graph_signature(artifact, graph_nodes)[0]

    return {"op_histogram": dict(sorted(ops.items())), "nodes": len(nodes),
            **_signature_report(signature),
            "functions": len((topology.get("library") or {}).get("function", []) or []),
            "unsupported": missing}


def _shard_problems(artifact: ModelArtifact, src: PathLike, read_options: Mapping[str, Any]
                    ) -> List[str]:
    """Every shard missing, unreadable or of the wrong size, found by ``stat`` (no shard is
    read; URL shards and gzip-served ones, whose size is known only once read, are not checked)."""
    from .io.sources import open_source

    url_options = ("timeout", "max_bytes", "cache_dir", "headers", "offline", "from_tfhub", "retries")
    options = {k: v for k, v in read_options.items() if k in url_options}
    source = open_source(src, **options)
    problems: List[str] = []
    for gi, group in enumerate(artifact.weight_groups):
        sizes: List[Any] = []
        for path in group.paths:
            try:
                sizes.append(source.size_of(path))
            except TfjsError as exc:
                problems.append(f"weightsManifest[{gi}]: shard '{path}': {exc}")
                sizes.append(None)
        needs = [spec.nbytes for spec in group.specs]
        if not problems and None not in sizes and None not in needs and sum(sizes) != sum(needs):
            problems.append(f"weightsManifest[{gi}]: the shards {group.paths} hold {sum(sizes)} bytes "
                            f"but the manifest needs {sum(needs)}")
    return problems


def _layer_reference_problems(artifact: ModelArtifact) -> List[str]:
    """Inbound references of a functional model's top level that name no layer."""
    from .layers.topology import unwrap_topology

    top = unwrap_topology(artifact.model_topology or {}, artifact.source)
    config = top.get("config")
    if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
        return []
    layers = [l for l in config["layers"] if isinstance(l, Mapping)]
    names = {str(l.get("name") or (l.get("config") or {}).get("name")) for l in layers}
    problems: List[str] = []

    def refs(obj: Any) -> List[str]:
        if isinstance(obj, list) and len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int):
            return [obj[0]]
        if isinstance(obj, Mapping) and "keras_history" in (obj.get("config") or {}):
            history = obj["config"]["keras_history"]
            return [str(history[0])] if isinstance(history, list) and history else []
        items = obj.values() if isinstance(obj, Mapping) else obj if isinstance(obj, list) else []
        return [r for item in items for r in refs(item)]

    for layer in layers:
        name = str(layer.get("name") or (layer.get("config") or {}).get("name"))
        for ref in refs(layer.get("inbound_nodes") or []):
            if ref not in names:
                problems.append(f"layer '{name}' reads layer '{ref}', which the model does not have")
    for key in ("input_layers", "output_layers"):
        for ref in refs(config.get(key) or []):
            if ref not in names:
                problems.append(f"{key} names layer '{ref}', which the model does not have")
    return problems


def inspect_artifact(src: PathLike, **read_options: Any) -> Dict[str, Any]:
    """A JSON-serialisable report on the artifact at ``src``: ``loadable`` is true only when
    every layer / op has a converter, the signature and the layer references resolve, and every
    local shard exists with the size the manifest needs; ``problems`` lists all that is wrong."""
    artifact = read_artifact(src, load_weights=False, **read_options)
    dtypes: Counter = Counter()
    quant: Counter = Counter()
    total_bytes = 0
    params = 0
    for spec in artifact.weight_specs:
        dtypes[spec.dtype] += 1
        quant[spec.quantization["dtype"] if spec.quantization else "none"] += 1
        total_bytes += spec.nbytes or 0
        params += spec.numel
    report: Dict[str, Any] = {
        "source": artifact.source, "format": artifact.format,
        "generated_by": artifact.generated_by, "converted_by": artifact.converted_by,
        "weights": {"count": len(artifact.weight_specs), "elements": params, "bytes": total_bytes,
                    "dtypes": dict(dtypes), "quantization": dict(quant),
                    "groups": len(artifact.weight_groups),
                    "shards": sum(len(g.paths) for g in artifact.weight_groups),
                    "optimizer_weights": sum(1 for s in artifact.weight_specs if s.group == "optimizer")},
        "training_config": artifact.training_config is not None,
        "metadata_keys": sorted((artifact.user_defined_metadata or {}).keys()),
    }
    if artifact.is_layers_model:
        report.update(_layers_report(artifact))
        report["problems"] += _layer_reference_problems(artifact)
    else:
        report.update(_graph_report(artifact))
    report["problems"] += _shard_problems(artifact, src, read_options)
    report["loadable"] = not report["unsupported"] and not report["problems"]
    return report


def format_report(report: Mapping[str, Any]) -> str:
    lines = [f"source:      {report['source']}",
             f"format:      {report['format']}",
             f"produced by: {report.get('generated_by')}"
             + (f" (converted by {report['converted_by']})" if report.get("converted_by") else "")]
    lines.append("inputs:")
    for i in report.get("inputs", []):
        lines.append(f"  {i.get('name')}: shape {i.get('shape')} dtype {i.get('dtype')}")
    lines.append("outputs:")
    for o in report.get("outputs", []):
        extra = f" shape {o['shape']} dtype {o.get('dtype')}" if o.get("shape") is not None else ""
        lines.append(f"  {o.get('name')}{extra}")
    w = report["weights"]
    lines.append(f"weights:     {w['count']} tensors, {w['elements']:,} elements, {w['bytes']:,} bytes "
                 f"in {w['shards']} shard(s), {w['groups']} group(s)")
    lines.append(f"  dtypes {w['dtypes']}, quantization {w['quantization']}"
                 + (f", {w['optimizer_weights']} optimizer weights" if w["optimizer_weights"] else ""))
    histogram = report.get("layer_classes") or report.get("op_histogram") or {}
    title = "layer classes" if "layer_classes" in report else f"ops ({report.get('nodes', 0)} nodes)"
    lines.append(f"{title}:")
    for name, count in sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:5d}  {name}")
    for problem in report.get("problems", []):
        lines.append(f"PROBLEM: {problem}")
    if report["unsupported"]:
        kind = "layer classes" if "layer_classes" in report else "ops"
        lines.append(f"NOT SUPPORTED by this version ({len(report['unsupported'])} {kind}):")
        for name, users in sorted(report["unsupported"].items()):
            lines.append(f"  {name}: {', '.join(users[:5])}{' ...' if len(users) > 5 else ''}")
    elif not report.get("problems"):
        lines.append("supported:   yes, every layer/op has a converter")
    return "\n".join(lines)
