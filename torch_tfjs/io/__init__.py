"""Artifact I/O: model.json, weight manifests, shards, quantization, URLs.

Knows the tfjs file format and nothing of layers or ops.
"""

from .save import DEFAULT_SHARD_SIZE, QUANTIZE_CHOICES, quantize_array, write_artifact
from .artifact import GRAPH_MODEL, LAYERS_MODEL, ModelArtifact, detect_format, read_artifact
from .sources import ModelSource, open_source
from .weights import WeightSpec, decode_manifest, dequantize, encode_weights, parse_manifest

__all__ = [
    "GRAPH_MODEL", "LAYERS_MODEL", "ModelArtifact", "ModelSource", "WeightSpec",
    "decode_manifest", "dequantize", "detect_format", "encode_weights", "open_source",
    "parse_manifest", "read_artifact", "DEFAULT_SHARD_SIZE", "QUANTIZE_CHOICES", "quantize_array",
    "write_artifact",
]
