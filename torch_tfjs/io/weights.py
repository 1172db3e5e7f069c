"""Decoding of a tfjs ``weightsManifest`` into numpy arrays.

The format (tfjs-core ``io_utils.decodeWeights``): a manifest is a list of groups; a group's
shard files are concatenated in order and its weights lie back to back in manifest order (a
weight may straddle two shards). All numbers are little-endian. Quantized entries store codes
(uint8/uint16, dequantised as ``q * scale + min`` in double precision, then rounded once to the
entry's dtype) or float16 halves.

Arrays are views into one writable buffer per model where alignment allows (no second copy of
the weights); the buffer is a copy-on-write memory map for a single local shard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import (MissingShardError, ModelJSONError, ShardSizeError, WeightDTypeError,
                      WeightsError, FetchError)

#: tfjs weight dtypes and the numpy dtype of their stored elements.
STORED_DTYPES: Dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("bool"),
    "complex64": np.dtype("<c8"),
}
#: Quantization dtypes and the numpy dtype of their codes.
QUANT_DTYPES: Dict[str, np.dtype] = {
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "float16": np.dtype("<f2"),
}
_STRING_LEN = np.dtype("<u4")

Buffer = Union[bytes, bytearray, memoryview, Any]


@dataclass(frozen=True)
class WeightSpec:
    """One manifest entry, validated."""

    name: str
    shape: Tuple[int, ...]
    dtype: str
    group: str = "model"
    quantization: Optional[Dict[str, Any]] = None
    #: Index of the manifest group the entry belongs to.
    group_index: int = 0

    @property
    def numel(self) -> int:
        return int(math.prod(self.shape))

    @property
    def stored_dtype(self) -> str:
        return self.quantization["dtype"] if self.quantization else self.dtype

    @property
    def nbytes(self) -> Optional[int]:
        """Bytes the entry occupies, or None for strings (known only while reading)."""
        if self.quantization:
            return self.numel * QUANT_DTYPES[self.quantization["dtype"]].itemsize
        if self.dtype == "string":
            return None
        return self.numel * STORED_DTYPES[self.dtype].itemsize


@dataclass
class WeightGroup:
    paths: List[str]
    specs: List[WeightSpec] = field(default_factory=list)


def parse_manifest(manifest: Any, model_file: str) -> List[WeightGroup]:
    """Validate the ``weightsManifest`` JSON and return its groups."""
    if manifest is None:
        return []
    if not isinstance(manifest, list):
        raise ModelJSONError(f"{model_file}: 'weightsManifest' must be a list of groups")
    groups = []
    for gi, group in enumerate(manifest):
        where = f"{model_file}: weightsManifest[{gi}]"
        if not isinstance(group, dict):
            raise ModelJSONError(f"{where} is not an object")
        paths = group.get("paths", [])
        weights = group.get("weights")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ModelJSONError(f"{where}.paths must be a list of strings")
        if not isinstance(weights, list):
            raise ModelJSONError(f"{where}.weights must be a list")
        groups.append(WeightGroup(paths, [_parse_spec(w, f"{where}.weights[{i}]", gi)
                                          for i, w in enumerate(weights)]))
    return groups


def _parse_spec(entry: Any, where: str, group_index: int) -> WeightSpec:
    if not isinstance(entry, dict):
        raise ModelJSONError(f"{where} is not an object")
    name = entry.get("name")
    if not isinstance(name, str):
        raise ModelJSONError(f"{where}: missing or non-string 'name'")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise ModelJSONError(f"{where} ({name}): 'shape' must be a list of non-negative ints, got {shape!r}")
    dtype = entry.get("dtype")
    if dtype not in STORED_DTYPES and dtype != "string":
        raise WeightDTypeError(f"{where} ({name}): unknown dtype {dtype!r}; tfjs defines "
                               f"{sorted([*STORED_DTYPES, 'string'])}")
    quant = entry.get("quantization")
    if quant is not None:
        if not isinstance(quant, dict) or quant.get("dtype") not in QUANT_DTYPES:
            raise WeightDTypeError(
                f"{where} ({name}): unknown quantization {quant!r}; tfjs defines uint8, uint16, float16")
        if quant["dtype"] == "float16":
            if dtype != "float32":
                raise WeightDTypeError(f"{where} ({name}): float16 quantization needs dtype float32, got {dtype}")
        else:
            if not all(isinstance(quant.get(k), (int, float)) for k in ("min", "scale")):
                raise WeightDTypeError(f"{where} ({name}): {quant['dtype']} quantization needs numeric "
                                       "'min' and 'scale'")
            if dtype not in ("float32", "int32"):
                raise WeightDTypeError(f"{where} ({name}): cannot dequantize to dtype {dtype}")
    group = entry.get("group", "model") or "model"
    return WeightSpec(name, tuple(shape), dtype, str(group), quant, group_index)


def dequantize(codes: np.ndarray, spec: WeightSpec) -> np.ndarray:
    """Turn stored codes into the entry's dtype exactly as tfjs does."""
    quant = spec.quantization
    assert quant is not None
    if quant["dtype"] == "float16":
        return codes.astype(np.float32)
    # tfjs computes q * scale + min in double precision and stores once into the target array.
    values = codes.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    if spec.dtype == "int32":
        return np.floor(values + 0.5).astype(np.int32)  # JS Math.round: ties toward +inf
    return values.astype(np.float32)


def _view(buffer: Buffer, offset: int, dtype: np.dtype, count: int) -> np.ndarray:
    """A numpy view into ``buffer`` (a copy only when misaligned)."""
    if offset % dtype.alignment == 0:
        return np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
    raw = np.frombuffer(buffer, dtype=np.uint8, count=count * dtype.itemsize, offset=offset)
    return raw.copy().view(dtype)


def _read_strings(buffer: Buffer, offset: int, spec: WeightSpec, end: int,
                  shard_of: Callable[[int], str]) -> Tuple[np.ndarray, int]:
    out = np.empty(spec.numel, dtype=object)
    for i in range(spec.numel):
        if offset + 4 > end:
            raise ShardSizeError(f"{shard_of(offset)}: weight '{spec.name}' (string) runs past the "
                                 "end of the weight data")
        (length,) = np.frombuffer(buffer, dtype=_STRING_LEN, count=1, offset=offset)
        offset += 4
        if offset + int(length) > end:
            raise ShardSizeError(f"{shard_of(offset)}: weight '{spec.name}' (string) runs past the "
                                 "end of the weight data")
        out[i] = bytes(memoryview(buffer)[offset:offset + int(length)])
        offset += int(length)
    return out.reshape(spec.shape), offset


def _join_shards(parts: Sequence[Buffer]) -> Buffer:
    """One buffer for the group: the shard itself, or one allocation holding them all."""
    if len(parts) == 1:
        return parts[0]
    total = sum(len(p) for p in parts)
    out = bytearray(total)
    pos = 0
    for p in parts:
        out[pos:pos + len(p)] = p
        pos += len(p)
    return out


def decode_group(group: WeightGroup, read: Callable[[str], Buffer],
                 describe: Callable[[str], str]) -> Dict[str, np.ndarray]:
    """Read a group's shards and slice its weights out of them."""
    parts: List[Buffer] = []
    for path in group.paths:
        try:
            parts.append(read(path))
        except FetchError as exc:
            first = group.specs[0].name if group.specs else "(none)"
            raise MissingShardError(f"{describe(path)}: shard missing or unreadable "
                                    f"(first weight in its group: '{first}'): {exc}") from exc
    sizes = [len(p) for p in parts]
    starts = np.cumsum([0] + sizes)
    buffer = _join_shards(parts)
    end = int(starts[-1])

    def shard_of(offset: int) -> str:
        if not group.paths:
            return "(group with no shard paths)"
        idx = int(np.searchsorted(starts, offset, side="right") - 1)
        return describe(group.paths[min(max(idx, 0), len(group.paths) - 1)])

    out: Dict[str, np.ndarray] = {}
    offset = 0
    for spec in group.specs:
        if spec.dtype == "string" and not spec.quantization:
            out[spec.name], offset = _read_strings(buffer, offset, spec, end, shard_of)
            continue
        size = spec.nbytes or 0
        if offset + size > end:
            raise ShardSizeError(
                f"{shard_of(end)}: the shards of this group hold {end} bytes but weight '{spec.name}' "
                f"{list(spec.shape)} {spec.stored_dtype} needs bytes {offset}..{offset + size} "
                "(truncated or missing shard?)")
        if spec.quantization:
            codes = _view(buffer, offset, QUANT_DTYPES[spec.quantization["dtype"]], spec.numel)
            array = dequantize(codes, spec)
        else:
            array = _view(buffer, offset, STORED_DTYPES[spec.dtype], spec.numel)
        out[spec.name] = array.reshape(spec.shape)
        offset += size
    if offset != end:
        raise ShardSizeError(
            f"{shard_of(offset)}: {end - offset} bytes past the last weight "
            f"('{group.specs[-1].name if group.specs else '(none)'}'); the manifest describes "
            f"{offset} bytes but the shards hold {end}")
    return out


def decode_manifest(groups: Sequence[WeightGroup], read: Callable[[str], Buffer],
                    describe: Callable[[str], str]) -> Dict[str, np.ndarray]:
    """All weights of all groups, keyed by name (a later duplicate wins, as in tfjs)."""
    weights: Dict[str, np.ndarray] = {}
    for group in groups:
        if not group.specs and not group.paths:
            continue
        weights.update(decode_group(group, read, describe))
    return weights


def encode_weights(named: Sequence[Tuple[str, np.ndarray]]) -> Tuple[bytes, List[Dict[str, Any]]]:
    """Inverse of decoding for unquantized weights: the bytes and manifest entries (tfjs order)."""
    chunks: List[bytes] = []
    specs: List[Dict[str, Any]] = []
    for name, array in named:
        array = np.asarray(array)
        if array.dtype == object:
            dtype = "string"
            body = bytearray()
            for item in array.reshape(-1):
                data = item.encode("utf-8") if isinstance(item, str) else bytes(item)
                body += np.array([len(data)], _STRING_LEN).tobytes() + data
            chunks.append(bytes(body))
        else:
            dtype = {np.dtype("float32"): "float32", np.dtype("int32"): "int32",
                     np.dtype("bool"): "bool", np.dtype("complex64"): "complex64"}.get(array.dtype)
            if dtype is None:
                raise WeightsError(f"weight '{name}': dtype {array.dtype} has no tfjs equivalent")
            chunks.append(np.ascontiguousarray(array, dtype=STORED_DTYPES[dtype]).tobytes())
        specs.append({"name": name, "shape": list(array.shape), "dtype": dtype})
    return b"".join(chunks), specs
