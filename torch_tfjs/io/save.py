"""Write a tfjs artifact: ``model.json`` + weight shards, optionally quantized.

The inverse of :mod:`.artifact` / :mod:`.weights`. Knows the file format only (nothing of
layers or ops): callers pass the model.json dict and the ``(name, array)`` pairs to write.

Quantization follows the tensorflowjs Python converter (``tensorflowjs/quantization.py`` and
``write_weights.py``) exactly: only float32 weights are quantized; ``uint8`` / ``uint16`` are
affine per tensor with the TF-Lite zero-point nudge (``min``/``scale`` in double precision),
``float16`` is a plain cast. Sharding concatenates the group's bytes and cuts them every
``shard_size`` bytes, so a weight may straddle two shards, as the converter does.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import WeightDTypeError, WeightsError
from .weights import QUANT_DTYPES, encode_weights

#: Default shard size: 4 MiB, as the converter (the largest file browsers cache).
DEFAULT_SHARD_SIZE = 4 * 1024 * 1024
QUANTIZE_CHOICES = ("uint8", "uint16", "float16")

NamedWeight = Union[Tuple[str, np.ndarray], Tuple[str, np.ndarray, str]]
#: One quantization for every float32 weight, or one per weight name (``None``: float32; a
#: manifest ``quantization`` entry: that dtype, keeping its ``min``/``scale`` when they still
#: reproduce the values exactly, i.e. for weights unchanged since they were read).
Quantize = Union[None, str, Mapping[str, Union[None, str, Dict[str, Any]]]]


def _keep_source_range(array: np.ndarray, codes: np.ndarray, entry: Dict[str, Any],
                       source: Dict[str, Any]) -> Dict[str, Any]:
    """``entry`` with the source's ``min``/``scale`` when they decode ``codes`` to ``array``."""
    if "scale" not in source or "min" not in source or "scale" not in entry:
        return entry
    decoded = (codes.astype(np.float64) * float(source["scale"]) + float(source["min"])).astype(np.float32)
    if np.array_equal(decoded, array):
        return dict(entry, min=source["min"], scale=source["scale"])
    return entry


def _affine_range(min_val: np.float64, max_val: np.float64, qmax: int) -> Tuple[Any, Any, Any]:
    """tensorflowjs ``_get_affine_quantization_range`` (zero nudged onto a code when in range)."""
    scale = (max_val - min_val) / qmax
    if min_val <= 0 <= max_val:
        nudged_zero_point = np.round((0 - min_val) / scale)
        nudged_min = -nudged_zero_point * scale
        nudged_max = qmax * scale + nudged_min
    else:
        nudged_min, nudged_max = min_val, max_val
    return scale, nudged_min, nudged_max


def quantize_array(data: np.ndarray, dtype: str) -> Tuple[np.ndarray, Dict[str, Any]]:
    """``(codes, manifest quantization entry)`` for a float32 array, as the converter writes them
    (the entry holds ``dtype``, ``min``/``scale`` for affine, and ``original_dtype``)."""
    if dtype not in QUANT_DTYPES:
        raise WeightDTypeError(f"unknown quantization {dtype!r}; choose one of {QUANTIZE_CHOICES}")
    data = np.asarray(data)
    if data.dtype != np.float32:
        raise WeightDTypeError(f"only float32 weights are quantized, got {data.dtype}")
    if dtype == "float16":
        return data.astype(np.float16), {"dtype": "float16", "original_dtype": "float32"}
    np_dtype = QUANT_DTYPES[dtype]
    min_val = data.min().astype(np.float64)
    max_val = data.max().astype(np.float64)
    if min_val == max_val:
        codes = np.zeros_like(data, dtype=np_dtype)
        scale: Any = 1.0
    else:
        scale, min_val, max_val = _affine_range(min_val, max_val, int(np.iinfo(np_dtype).max))
        codes = np.round((data.clip(min_val, max_val) - min_val) / scale).astype(np_dtype)
    return codes, {"dtype": dtype, "min": float(min_val), "scale": float(scale),
                   "original_dtype": "float32"}


def encode_group(named: Sequence[NamedWeight], quantize: Quantize = None
                 ) -> Tuple[bytes, List[Dict[str, Any]]]:
    """The bytes of one manifest group and its ``weights`` entries (in the given order).

    An entry may carry a third item, its manifest ``group`` label (``"optimizer"``).
    ``quantize`` may map weight names to their quantization (names not in it: float32)."""
    per_name = quantize if isinstance(quantize, Mapping) else None
    for q in (per_name.values() if per_name is not None else [quantize]):
        q = q.get("dtype") if isinstance(q, dict) else q
        if q is not None and q not in QUANTIZE_CHOICES:
            raise WeightDTypeError(f"unknown quantization {q!r}; choose one of {QUANTIZE_CHOICES}")
    chunks: List[bytes] = []
    specs: List[Dict[str, Any]] = []
    seen = set()
    for item in named:
        name, array = item[0], np.asarray(item[1])
        label = item[2] if len(item) > 2 else None  # type: ignore[misc]
        if name in seen:
            raise WeightsError(f"duplicate weight name {name!r}")
        seen.add(name)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        elif array.dtype == np.int64:
            array = array.astype(np.int32)
        q = per_name.get(name) if per_name is not None else quantize
        source = q if isinstance(q, dict) else None
        q = source["dtype"] if source is not None else q
        if q is not None and array.dtype == np.float32 and array.size > 0:
            codes, entry = quantize_array(array, q)
            if source is not None:
                entry = _keep_source_range(array, codes, entry, source)
            chunks.append(np.ascontiguousarray(codes).astype(codes.dtype.newbyteorder("<")).tobytes())
            spec: Dict[str, Any] = {"name": name, "shape": list(array.shape), "dtype": "float32",
                                    "quantization": entry}
        else:
            data, (spec,) = encode_weights([(name, array)])
            chunks.append(data)
        if label and label != "model":
            spec["group"] = label
        specs.append(spec)
    return b"".join(chunks), specs


def write_artifact(folder: Union[str, "os.PathLike[str]"], model_json: Dict[str, Any],
                   named_weights: Sequence[NamedWeight], *, quantize: Quantize = None,
                   shard_size: Optional[int] = DEFAULT_SHARD_SIZE,
                   model_file: str = "model.json") -> Dict[str, Any]:
    """Write ``model.json`` and ``group1-shard{i}of{n}.bin`` into ``folder`` (created if needed).

    ``model_json``: every key but ``weightsManifest`` is written as given (format, generatedBy,
    convertedBy, modelTopology, trainingConfig, signature ...). ``named_weights``: ``(name,
    array)`` or ``(name, array, group)`` in manifest order. ``quantize``: None, ``"uint8"``,
    ``"uint16"`` or ``"float16"`` (float32 weights only; int32/bool/string are written as they
    are), or ``{name: quantization or None}``. ``shard_size``: bytes per shard (None = one shard). Returns the model.json written.
    """
    if shard_size is not None and (not isinstance(shard_size, int) or shard_size <= 0):
        raise WeightsError(f"shard_size must be a positive number of bytes, got {shard_size!r}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    data, specs = encode_group(named_weights, quantize)
    size = shard_size or max(len(data), 1)
    count = max(1, int(math.ceil(len(data) / size))) if data else (1 if specs else 0)
    paths = []
    for i in range(count):
        name = f"group1-shard{i + 1}of{count}.bin"
        (out / name).write_bytes(data[i * size:(i + 1) * size])
        paths.append(name)
    written = dict(model_json)
    written["weightsManifest"] = [{"paths": paths, "weights": specs}] if specs or paths else []
    # Stale shards of an earlier save into the same folder would be confusing: remove them.
    for stale in out.glob("group1-shard*of*.bin"):
        if stale.name not in paths:
            stale.unlink()
    (out / model_file).write_text(json.dumps(written))
    return written
