"""Read a tfjs artifact (model.json + weights) into a typed :class:`ModelArtifact`.

This module knows the file format only: nothing here knows about layers or ops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from .._log import logger
from ..errors import ModelJSONError, WeightsError, blame
from .net import DEFAULT_RETRIES, CacheOption
from .sources import (DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, ModelSource, PathLike, max_json_bytes,
                      open_source)
from .weights import WeightGroup, WeightSpec, decode_manifest, parse_manifest

LAYERS_MODEL = "layers-model"
GRAPH_MODEL = "graph-model"


@dataclass
class ModelArtifact:
    """Everything a tfjs ``model.json`` holds, with its weights decoded.

    ``weights`` holds the model's own weights (manifest ``group`` absent or ``"model"``);
    ``optimizer_weights`` the entries saved with ``group: "optimizer"``.
    """

    source: str
    format: str
    model_topology: Optional[Dict[str, Any]]
    weight_specs: List[WeightSpec]
    weights: Dict[str, np.ndarray] = field(default_factory=dict)
    optimizer_weights: Dict[str, np.ndarray] = field(default_factory=dict)
    generated_by: Optional[str] = None
    converted_by: Optional[str] = None
    training_config: Optional[Dict[str, Any]] = None
    signature: Optional[Dict[str, Any]] = None
    user_defined_metadata: Optional[Dict[str, Any]] = None
    model_initializer: Optional[Dict[str, Any]] = None
    initializer_signature: Optional[Dict[str, Any]] = None
    #: The parsed model.json as read (for tools that need keys this class does not model).
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    weight_groups: List[WeightGroup] = field(default_factory=list, repr=False)

    @property
    def is_layers_model(self) -> bool:
        return self.format == LAYERS_MODEL

    @property
    def is_graph_model(self) -> bool:
        return self.format == GRAPH_MODEL

    @property
    def weight_bytes(self) -> int:
        """Bytes of decoded weight data (model and optimizer)."""
        return int(sum(a.nbytes for a in self.weights.values() if a.dtype != object)
                   + sum(a.nbytes for a in self.optimizer_weights.values() if a.dtype != object))


def detect_format(model_json: Dict[str, Any], where: str) -> str:
    """``format`` when present, else guessed from the topology's shape."""
    fmt = model_json.get("format")
    if fmt in (LAYERS_MODEL, GRAPH_MODEL):
        return fmt
    if fmt is not None:
        raise ModelJSONError(f"{where}: unknown format {fmt!r} (expected '{LAYERS_MODEL}' or '{GRAPH_MODEL}')")
    topology = model_json.get("modelTopology")
    if isinstance(topology, dict):
        guessed = None
        if "node" in topology or "library" in topology or "versions" in topology:
            guessed = GRAPH_MODEL
        elif {"class_name", "model_config", "keras_version", "config"} & set(topology):
            guessed = LAYERS_MODEL
        if guessed is not None:
            logger.info("%s: no 'format' key; the topology looks like a %s", where, guessed)
            return guessed
    raise ModelJSONError(f"{where}: no 'format' key and the topology is neither a Keras config "
                         "nor a GraphDef")


def parse_model_json(data: bytes, where: str) -> Dict[str, Any]:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelJSONError(f"{where}: not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ModelJSONError(f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if isinstance(parsed, list) and parsed and all(
            isinstance(g, dict) and "paths" in g and "weights" in g for g in parsed):
        # face-api.js and pre-1.0 tfjs ship weights manifests whose network is defined in code
        raise ModelJSONError(f"{where}: a bare weights manifest (weight groups only, no model "
                             "topology): the network it belongs to is defined in the code that "
                             "loads it, so there is no model to build; torch_tfjs needs a "
                             "model.json with 'modelTopology' (a tfjs LayersModel or GraphModel)")
    if not isinstance(parsed, dict):
        raise ModelJSONError(f"{where}: top level must be a JSON object")
    if "modelTopology" not in parsed:
        raise ModelJSONError(f"{where}: missing required key 'modelTopology'")
    if "weightsManifest" not in parsed:
        raise ModelJSONError(f"{where}: missing required key 'weightsManifest'")
    if parsed["modelTopology"] is not None and not isinstance(parsed["modelTopology"], dict):
        raise ModelJSONError(f"{where}: 'modelTopology' must be an object")
    return parsed


def _optional_dict(model_json: Dict[str, Any], key: str, where: str) -> Optional[Dict[str, Any]]:
    value = model_json.get(key)
    if value is not None and not isinstance(value, dict):
        raise ModelJSONError(f"{where}: '{key}' must be an object")
    return value


def _json_cap(option: Optional[int]) -> int:
    return max_json_bytes(option)


def read_artifact(src: PathLike, *, load_weights: bool = True, timeout: float = DEFAULT_TIMEOUT,
                  max_bytes: int = DEFAULT_MAX_BYTES,
                  cache_dir: CacheOption = None,
                  headers: Optional[Mapping[str, str]] = None,
                  offline: Optional[bool] = None, progress: Optional[bool] = None,
                  from_tfhub: Optional[bool] = None, retries: int = DEFAULT_RETRIES,
                  max_json_bytes: Optional[int] = None) -> ModelArtifact:
    """Read ``model.json`` and (unless ``load_weights=False``) decode every weight.

    ``src``: a folder holding model.json, the JSON file itself (any name), a ``file://`` URL, an
    ``http(s)://`` URL (a folder URL ending in ``/`` reads its model.json), a TF Hub / Kaggle
    Models handle or ``hf://owner/repo[@revision]/path/model.json``. Shards are resolved relative
    to model.json; a URL's query string is kept on shard URLs, as tfjs does.
    URLs only (see :mod:`torch_tfjs.io.net`): ``timeout`` (seconds per request),
    ``max_bytes`` (cap on each downloaded file), ``cache_dir`` (the download cache's folder; default
    ``$TORCH_TFJS_CACHE``, ``$XDG_CACHE_HOME/torch_tfjs`` or ``~/.cache/torch_tfjs``; ``False``: no
    cache), ``headers`` (extra HTTP request headers, sent with every request), ``offline`` (the
    cache alone; default ``$TORCH_TFJS_OFFLINE``), ``progress`` (a progress bar on stderr for large
    downloads; ``None``: when stderr is a terminal), ``from_tfhub`` (a TF Hub / Kaggle handle:
    ``<url>/model.json?tfjs-format=file``; ``None``: detected from the host), ``retries`` (tries
    again after connection errors, 5xx and 429, with exponential back-off).

    Size limits: model.json may hold at most ``max_json_bytes`` (after gunzip; default 256 MiB,
    or the ``TORCH_TFJS_MAX_JSON_BYTES`` environment variable); a gzip-served shard is inflated
    only as far as the manifest needs; a download stops at ``max_bytes``. Past a limit the
    artifact is refused (:class:`~torch_tfjs.errors.FetchError` / ``ShardSizeError``) without
    allocating more.
    """
    source: ModelSource = open_source(src, timeout=timeout, max_bytes=max_bytes, cache_dir=cache_dir,
                                      headers=headers, offline=offline,
                                      progress=progress, from_tfhub=from_tfhub, retries=retries)
    source.max_json_bytes = _json_cap(max_json_bytes)
    where = source.model_file
    # The safety net: whatever a malformed model.json or manifest breaks is the file's fault.
    with blame(ModelJSONError, where):
        artifact = _parse_artifact(source, where)
    if load_weights:
        with blame(WeightsError, f"{where}: weights"):
            decoded = decode_manifest(artifact.weight_groups, source)
        for spec in artifact.weight_specs:
            target = artifact.optimizer_weights if spec.group == "optimizer" else artifact.weights
            target[spec.name] = decoded[spec.name]
    return artifact


def _parse_artifact(source: ModelSource, where: str) -> ModelArtifact:
    """model.json read and checked; weights not read yet."""
    model_json = parse_model_json(source.read_model_json(), where)
    fmt = detect_format(model_json, where)
    topology = model_json.get("modelTopology")
    groups = parse_manifest(model_json.get("weightsManifest"), where)
    specs = [spec for group in groups for spec in group.specs]

    metadata = _optional_dict(model_json, "userDefinedMetadata", where)
    training_config = _optional_dict(model_json, "trainingConfig", where)
    if training_config is None and isinstance(topology, dict):
        nested = topology.get("training_config")
        training_config = nested if isinstance(nested, dict) else None
    signature = _optional_dict(model_json, "signature", where)
    if signature is None and metadata and isinstance(metadata.get("signature"), dict):
        signature = metadata["signature"]

    artifact = ModelArtifact(
        source=where, format=fmt, model_topology=topology, weight_specs=specs,
        generated_by=model_json.get("generatedBy"), converted_by=model_json.get("convertedBy"),
        training_config=training_config, signature=signature, user_defined_metadata=metadata,
        model_initializer=_optional_dict(model_json, "modelInitializer", where),
        initializer_signature=_optional_dict(model_json, "initializerSignature", where),
        raw=model_json, weight_groups=groups)
    quantized: Dict[str, int] = {}
    for spec in specs:
        if spec.quantization:
            key = str(spec.quantization.get("dtype"))
            quantized[key] = quantized.get(key, 0) + 1
    logger.info("%s: %s (%s), %d weights in %d shard(s), %d bytes stored%s", where, fmt,
                type(source).__name__, len(specs), sum(len(g.paths) for g in groups),
                sum(s.nbytes or 0 for s in specs),
                (", quantized: " + ", ".join(f"{n} {q}" for q, n in sorted(quantized.items())))
                if quantized else "")
    return artifact
