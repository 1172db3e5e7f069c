"""Decoding of a tfjs ``weightsManifest`` into numpy arrays.

The format (tfjs-core ``io_utils.decodeWeights``): a manifest is a list of groups; a group's
shard files are concatenated in order and its weights lie back to back in manifest order (a
weight may straddle two shards). All numbers are little-endian. Quantized entries store codes
(uint8/uint16, dequantised as ``q * scale + min`` in double precision, then rounded once to the
entry's dtype) or float16 halves.

Every weight gets its own writable, C-contiguous array of its final dtype, filled straight from
the shards (``readinto`` for local files: no whole-shard buffer, no joined copy); quantized
weights are dequantized once, a chunk of codes at a time. Peak memory while decoding is the
decoded weights plus, for downloaded or gzip-compressed shards, one shard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import (MissingShardError, ModelJSONError, ShardSizeError, WeightDTypeError,
                      WeightsError, FetchError)
from .sources import BufferShard, ShardReader

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


#: The most elements one weight may declare (tfjs's own limit: typed arrays are int32-indexed).
MAX_WEIGHT_ELEMENTS = 2**31 - 1


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
    numel = math.prod(shape)
    if numel > MAX_WEIGHT_ELEMENTS:  # refused before anything is allocated
        raise ModelJSONError(f"{where} ({name}): shape {shape} has {numel} elements, more than "
                             f"the {MAX_WEIGHT_ELEMENTS} one weight may have")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str) or (dtype not in STORED_DTYPES and dtype != "string"):
        raise WeightDTypeError(f"{where} ({name}): unknown dtype {dtype!r}; tfjs defines "
                               f"{sorted([*STORED_DTYPES, 'string'])}")
    quant = entry.get("quantization")
    if quant is not None:
        if not isinstance(quant, dict) or not isinstance(quant.get("dtype"), str) \
                or quant["dtype"] not in QUANT_DTYPES:
            raise WeightDTypeError(
                f"{where} ({name}): unknown quantization {quant!r}; tfjs defines uint8, uint16, float16")
        if quant["dtype"] == "float16":
            if dtype != "float32":
                raise WeightDTypeError(f"{where} ({name}): float16 quantization needs dtype float32, got {dtype}")
        else:
            if not all(isinstance(quant.get(k), (int, float)) and not isinstance(quant.get(k), bool)
                       and math.isfinite(quant[k]) for k in ("min", "scale")):
                raise WeightDTypeError(f"{where} ({name}): {quant['dtype']} quantization needs numeric "
                                       "'min' and 'scale'")
            if dtype not in ("float32", "int32"):
                raise WeightDTypeError(f"{where} ({name}): cannot dequantize to dtype {dtype}")
    group = entry.get("group", "model") or "model"
    return WeightSpec(name, tuple(shape), dtype, str(group), quant, group_index)


#: Quantized weights are dequantized this many codes at a time (bounds the float64 temporary).
_DEQUANT_CHUNK = 1 << 18


def _dequantize_into(codes: np.ndarray, spec: WeightSpec, out: np.ndarray) -> None:
    """Dequantize 1-D ``codes`` into the same-sized 1-D ``out`` (float32 or int32)."""
    quant = spec.quantization
    assert quant is not None
    if quant["dtype"] == "float16":
        np.copyto(out, codes, casting="unsafe")  # exact: every half is a float32
        return
    # tfjs computes q * scale + min in double precision and stores once into the target array.
    values = codes.astype(np.float64)
    values *= float(quant["scale"])
    values += float(quant["min"])
    if out.dtype == np.int32:
        values += 0.5  # JS Math.round: ties toward +inf
        np.floor(values, out=values)
    np.copyto(out, values, casting="unsafe")


def _target_dtype(spec: WeightSpec) -> np.dtype:
    if spec.quantization and spec.quantization["dtype"] != "float16" and spec.dtype == "int32":
        return STORED_DTYPES["int32"]
    return STORED_DTYPES["float32"]


def dequantize(codes: np.ndarray, spec: WeightSpec) -> np.ndarray:
    """Turn stored codes into the entry's dtype exactly as tfjs does."""
    codes = np.asarray(codes)
    out = np.empty(codes.shape, _target_dtype(spec))
    flat, src = out.reshape(-1), codes.reshape(-1)
    for start in range(0, src.size, _DEQUANT_CHUNK):
        stop = start + _DEQUANT_CHUNK
        _dequantize_into(src[start:stop], spec, flat[start:stop])
    return out


def _bytes_of(array: np.ndarray) -> memoryview:
    """A writable byte view of a C-contiguous array's memory (any dtype, any rank)."""
    return memoryview(array.reshape(-1).view(np.uint8))


class _GroupStream:
    """A group's shards read in order as one stream of bytes.

    Shards are opened one at a time and closed as soon as they are consumed, so at most one
    shard is held at once (a downloaded one whole, a local file not at all). When the source
    knows every shard's size up front (local files), the total is known before anything is read.
    """

    def __init__(self, group: WeightGroup, source: Any):
        self.paths = list(group.paths)
        self.source = source
        self.first = group.specs[0].name if group.specs else "(none)"
        self.shard: Optional[ShardReader] = None  # the open shard
        self.left = 0                   # bytes left in it
        self.opened = 0                 # shards opened so far
        self.pos = 0                    # offset in the group's byte stream
        self.pushed = b""               # bytes read ahead and given back (see unread)
        #: Each shard's size: known up front when the source can tell, else once opened.
        self.sizes: List[Optional[int]] = [self._guard(p, source.size_of) for p in self.paths]
        self.total: Optional[int] = None
        self._sum_sizes()
        #: Bytes the manifest needs from the group (None with strings, known only when read):
        #: no shard is inflated or downloaded past it.
        sizes = [spec.nbytes for spec in group.specs]
        self.need: Optional[int] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]

    def _open(self, index: int) -> ShardReader:
        """Shard ``index`` opened, limited to what the manifest still needs from it."""
        limit = None
        if self.need is not None:
            start = sum(s or 0 for s in self.sizes[:index])
            limit = max(self.need - start, 0)
        return self._guard(self.paths[index], lambda p: self.source.open_relative(p, limit))

    def _guard(self, path: str, fn: Callable[[str], Any]) -> Any:
        try:
            return fn(path)
        except FetchError as exc:
            self.close()
            raise MissingShardError(f"{self.source.describe(path)}: shard missing or unreadable "
                                    f"(first weight in its group: '{self.first}'): {exc}") from exc

    def _sum_sizes(self) -> None:
        known = [s for s in self.sizes if s is not None]
        self.total = sum(known) if len(known) == len(self.sizes) else None

    def _set_size(self, index: int, size: int) -> None:
        if self.sizes[index] != size:
            self.sizes[index] = size
            self._sum_sizes()

    def _advance(self) -> bool:
        """Close the current shard and open the next; False when none is left."""
        if self.shard is not None:
            self.shard.close()
            self.shard = None
        if self.opened >= len(self.paths):
            return False
        self.shard = self._open(self.opened)
        self._set_size(self.opened, self.shard.size)
        self.opened += 1
        self.left = self.shard.size
        return True

    def readinto_many(self, views: List[memoryview]) -> int:
        """Fill the byte ``views`` in turn, crossing shards; short only at the end of the group.
        (Consumes ``views``.)"""
        done, i = 0, 0
        while self.pushed and i < len(views):
            n = min(len(views[i]), len(self.pushed))
            views[i][:n] = self.pushed[:n]
            self.pushed = self.pushed[n:]
            done += n
            if n < len(views[i]):
                views[i] = views[i][n:]
            else:
                i += 1
        while i < len(views):
            if self.left == 0 and not self._advance():
                break
            batch, room = [], self.left  # the views (or the part of one) this shard holds
            while i < len(views) and room:
                view = views[i]
                if len(view) <= room:
                    batch.append(view)
                    room -= len(view)
                    i += 1
                else:
                    batch.append(view[:room])
                    views[i] = view[room:]
                    room = 0
            want = self.left - room
            assert self.shard is not None
            n = self.shard.readinto_many(batch)
            done += n
            if n < want:  # the file is shorter than it said (changed under us): it ends here
                self._set_size(self.opened - 1, self.shard.size - self.left + n)
                self.left = 0
                views[i:i] = _after(batch, n)  # continued from the next shard
            else:
                self.left -= n
        self.pos += done
        return done

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the group)."""
        out = bytearray(n)
        got = self.readinto_many([memoryview(out)])
        return bytes(out[:got])

    def unread(self, data: bytes) -> None:
        """Give back bytes read ahead: the next reads return them first."""
        self.pushed = bytes(data) + self.pushed
        self.pos -= len(data)

    def remaining(self) -> int:
        """Bytes left after the current position (opens the shards whose size is unknown)."""
        left = self.left + len(self.pushed)
        for i in range(self.opened, len(self.paths)):
            if self.sizes[i] is None:
                with self._open(i) as shard:
                    self._set_size(i, shard.size)
            left += int(self.sizes[i])  # type: ignore[arg-type]
        return left

    def end(self) -> int:
        """The group's total size (reads through unknown shards)."""
        return self.pos + self.remaining()

    def shard_of(self, offset: int) -> str:
        if not self.paths:
            return "(group with no shard paths)"
        starts, pos = [], 0
        for size in self.sizes:
            starts.append(pos)
            pos += size or 0
        idx = int(np.searchsorted(starts, offset, side="right") - 1)
        return self.source.describe(self.paths[min(max(idx, 0), len(self.paths) - 1)])

    def close(self) -> None:
        if self.shard is not None:
            self.shard.close()
            self.shard = None


def _after(views: List[memoryview], n: int) -> List[memoryview]:
    """What of ``views`` is left unfilled once ``n`` bytes were read into them in turn."""
    for i, view in enumerate(views):
        if n < len(view):
            return [view[n:]] + views[i + 1:]
        n -= len(view)
    return []


class _CallableSource:
    """Adapts the older ``read(path) -> bytes`` / ``describe(path)`` pair to a source."""

    def __init__(self, read: Callable[[str], Buffer], describe: Callable[[str], str]):
        self._read, self.describe = read, describe

    def open_relative(self, path: str, limit: Optional[int] = None) -> ShardReader:
        return BufferShard(self._read(path))

    def size_of(self, path: str) -> Optional[int]:
        return None


def _as_source(source: Any, describe: Optional[Callable[[str], str]]) -> Any:
    if callable(source) and not hasattr(source, "open_relative"):
        if describe is None:
            raise TypeError("decoding with a read(path) function needs describe(path) too")
        return _CallableSource(source, describe)
    return source


def _past_end(stream: _GroupStream, spec: WeightSpec, offset: int, size: int) -> ShardSizeError:
    end = stream.end()
    return ShardSizeError(
        f"{stream.shard_of(end)}: the shards of this group hold {end} bytes but weight "
        f"'{spec.name}' {list(spec.shape)} {spec.stored_dtype} needs bytes "
        f"{offset}..{offset + size} (truncated or missing shard?)")


#: Strings are parsed from read-ahead blocks of this size (what is left over is given back).
_STRING_BLOCK = 1 << 16


def _read_strings(stream: _GroupStream, spec: WeightSpec) -> np.ndarray:
    out = np.empty(spec.numel, dtype=object)
    block, at, base = b"", 0, stream.pos  # read-ahead bytes, position in them, their offset

    def take(n: int) -> Optional[bytes]:
        nonlocal block, at, base
        if at + n > len(block):
            more = stream.read(max(n - (len(block) - at), _STRING_BLOCK))
            block, base, at = block[at:] + more, base + at, 0
            if n > len(block):
                return None
        data = block[at:at + n]
        at += n
        return data

    for i in range(spec.numel):
        offset = base + at
        head = take(4)
        if head is None:
            stream.remaining()
            raise ShardSizeError(f"{stream.shard_of(offset)}: weight '{spec.name}' (string) runs "
                                 "past the end of the weight data")
        data = take(int(np.frombuffer(head, dtype=_STRING_LEN)[0]))
        if data is None:
            stream.remaining()
            raise ShardSizeError(f"{stream.shard_of(offset + 4)}: weight '{spec.name}' (string) "
                                 "runs past the end of the weight data")
        out[i] = data
    stream.unread(block[at:])
    return out.reshape(spec.shape)


def _is_plain(spec: WeightSpec) -> bool:
    return not spec.quantization and spec.dtype != "string"


def _empty(stream: _GroupStream, spec: WeightSpec, offset: int, size: int,
           dtype: np.dtype) -> np.ndarray:
    """The weight's array; a manifest asking for more than the shards hold is refused (sizes not
    known up front are looked up when the allocation fails)."""
    total = stream.total
    if total is not None and offset + size > total:  # refuse before allocating anything
        raise _past_end(stream, spec, offset, size)
    try:
        return np.empty(spec.shape, dtype)
    except MemoryError:
        if offset + size > stream.end():
            raise _past_end(stream, spec, offset, size) from None
        raise


def _read_plain(stream: _GroupStream, specs: Sequence[WeightSpec],
                out: Dict[str, np.ndarray]) -> None:
    """Consecutive unquantized weights, each in its own array, filled by one batched read."""
    begin = offset = stream.pos
    arrays, views, offsets = [], [], []
    for spec in specs:
        dtype = STORED_DTYPES[spec.dtype]
        size = spec.numel * dtype.itemsize
        array = _empty(stream, spec, offset, size, dtype)
        arrays.append(array)
        offsets.append(offset)
        if size:
            views.append(_bytes_of(array))
        offset += size
    got = begin + stream.readinto_many(views)
    for spec, array, start in zip(specs, arrays, offsets):
        if start + array.nbytes > got:
            raise _past_end(stream, spec, start, array.nbytes)
        out[spec.name] = array


def _read_quantized(stream: _GroupStream, spec: WeightSpec) -> np.ndarray:
    """A quantized weight, dequantized once into its array, a chunk of codes at a time."""
    offset, size = stream.pos, spec.nbytes or 0
    assert spec.quantization is not None
    array = _empty(stream, spec, offset, size, _target_dtype(spec))
    flat = array.reshape(-1)
    codes = np.empty(min(spec.numel, _DEQUANT_CHUNK), QUANT_DTYPES[spec.quantization["dtype"]])
    for start in range(0, spec.numel, _DEQUANT_CHUNK):
        chunk = codes[:min(_DEQUANT_CHUNK, spec.numel - start)]
        if stream.readinto_many([_bytes_of(chunk)]) < chunk.nbytes:
            raise _past_end(stream, spec, offset, size)
        _dequantize_into(chunk, spec, flat[start:start + chunk.size])
    return array


def decode_group(group: WeightGroup, source: Any,
                 describe: Optional[Callable[[str], str]] = None) -> Dict[str, np.ndarray]:
    """Read a group's weights, each into its own array, straight from its shards.

    ``source``: a :class:`~.sources.ModelSource` (or a ``read(path)`` function returning a
    shard's bytes, with ``describe``). No buffer of whole shards is built: a local shard is read
    in place, a downloaded one is dropped once its weights are copied out.
    """
    stream = _GroupStream(group, _as_source(source, describe))
    try:
        out: Dict[str, np.ndarray] = {}
        specs, i = group.specs, 0
        while i < len(specs):
            spec = specs[i]
            if spec.dtype == "string" and not spec.quantization:
                out[spec.name] = _read_strings(stream, spec)
                i += 1
            elif spec.quantization:
                out[spec.name] = _read_quantized(stream, spec)
                i += 1
            else:
                j = i + 1
                while j < len(specs) and _is_plain(specs[j]):
                    j += 1
                _read_plain(stream, specs[i:j], out)
                i = j
        offset = stream.pos
        extra = stream.remaining()
        if extra:
            end = offset + extra
            raise ShardSizeError(
                f"{stream.shard_of(offset)}: {extra} bytes past the last weight "
                f"('{group.specs[-1].name if group.specs else '(none)'}'); the manifest describes "
                f"{offset} bytes but the shards hold {end}")
        return out
    finally:
        stream.close()


def decode_manifest(groups: Sequence[WeightGroup], source: Any,
                    describe: Optional[Callable[[str], str]] = None) -> Dict[str, np.ndarray]:
    """All weights of all groups, keyed by name (a later duplicate wins, as in tfjs).

    ``source``: a :class:`~.sources.ModelSource`, or ``read(path)`` with ``describe(path)``."""
    source = _as_source(source, describe)
    weights: Dict[str, np.ndarray] = {}
    for group in groups:
        if not group.specs and not group.paths:
            continue
        weights.update(decode_group(group, source))
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
