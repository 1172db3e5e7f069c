"""What an artifact holds and whether this version can load it (``torch-tfjs inspect``).

Reads model.json and the manifest only (no weight bytes), so it is fast on large models.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List, Mapping, Optional

from .io import ModelArtifact, read_artifact
from .io.sources import PathLike


def _layers_report(artifact: ModelArtifact) -> Dict[str, Any]:
    from .layers.build import (MODEL_CLASSES, _child_layer_configs, _parse_io_list,
                               find_unsupported, normalize_layer_config, unwrap_topology)

    top = unwrap_topology(artifact.model_topology or {}, artifact.source)
    classes: Counter = Counter()

    def walk(layer: Mapping[str, Any]) -> None:
        name = layer.get("class_name")
        if name not in MODEL_CLASSES:
            classes[str(name)] += 1
        for child in _child_layer_configs(str(name), layer.get("config") or {}):
            walk(child)

    walk(top)
    missing: Dict[str, List[str]] = {}
    find_unsupported(top, missing)
    config = top.get("config") or {}
    layers = config if isinstance(config, list) else config.get("layers", [])
    inputs, outputs = [], []
    if top.get("class_name") == "Sequential":
        first = normalize_layer_config((layers[0].get("config") or {}) if layers else {})
        is_input = bool(layers) and layers[0].get("class_name") == "InputLayer"
        name = first.get("name", "input") if is_input else f"{first.get('name', 'input')}_input"
        inputs.append({"name": name, "shape": first.get("batch_input_shape"),
                       "dtype": first.get("dtype", "float32")})
        if layers:
            outputs.append({"name": (layers[-1].get("config") or {}).get("name")})
    else:
        by_name = {(l.get("config") or {}).get("name", l.get("name")): l for l in layers}
        for key in _parse_io_list(config.get("input_layers", []), artifact.source):
            cfg = normalize_layer_config((by_name.get(key[0], {}).get("config")) or {})
            inputs.append({"name": key[0], "shape": cfg.get("batch_input_shape"),
                           "dtype": cfg.get("dtype", "float32")})
        for key in _parse_io_list(config.get("output_layers", []), artifact.source):
            outputs.append({"name": key[0]})
    return {"model_class": top.get("class_name"), "layer_classes": dict(sorted(classes.items())),
            "inputs": inputs, "outputs": outputs, "unsupported": missing}


def _graph_report(artifact: ModelArtifact) -> Dict[str, Any]:
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

    def io(entries: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        out = []
        for key, info in (entries or {}).items():
            dims = ((info.get("tensorShape") or {}).get("dim")) or []
            out.append({"name": key, "node": info.get("name"), "dtype": info.get("dtype"),
                        "shape": [int(d.get("size", -1)) for d in dims]})
        return out

    signature = artifact.signature or {}
    inputs, outputs = io(signature.get("inputs")), io(signature.get("outputs"))
    if not signature:  # tfjs's defaults: Placeholders in, childless nodes out
        graph_nodes = [n for n in topology.get("node", []) or [] if isinstance(n, Mapping)]
        read = {str(t).lstrip("^").split(":")[0] for n in graph_nodes for t in n.get("input", []) or []}
        inputs = [{"name": n.get("name"), "dtype": (n.get("attr", {}).get("dtype") or {}).get("type")}
                  for n in graph_nodes if n.get("op") == "Placeholder"]
        outputs = [{"name": n.get("name")} for n in graph_nodes
                   if n.get("name") not in read and n.get("op") not in ("NoOp", "Placeholder", "Const")]
    return {"op_histogram": dict(sorted(ops.items())), "nodes": len(nodes), "inputs": inputs,
            "outputs": outputs, "functions": len((topology.get("library") or {}).get("function", []) or []),
            "unsupported": missing}


def inspect_artifact(src: PathLike, **read_options: Any) -> Dict[str, Any]:
    """A JSON-serialisable report on the artifact at ``src``."""
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
    else:
        report.update(_graph_report(artifact))
    report["loadable"] = not report["unsupported"]
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
        extra = f" shape {o['shape']} dtype {o.get('dtype')}" if "shape" in o else ""
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
    if report["unsupported"]:
        kind = "layer classes" if "layer_classes" in report else "ops"
        lines.append(f"NOT SUPPORTED by this version ({len(report['unsupported'])} {kind}):")
        for name, users in sorted(report["unsupported"].items()):
            lines.append(f"  {name}: {', '.join(users[:5])}{' ...' if len(users) > 5 else ''}")
    else:
        lines.append("supported:   yes, every layer/op has a converter")
    return "\n".join(lines)
