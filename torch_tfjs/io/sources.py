"""Where an artifact's bytes come from: a local folder or file, a ``file://`` URL or ``http(s)://``.

A :class:`ModelSource` knows the location of ``model.json`` and its *base* (the folder or URL
prefix that shard paths are relative to). It refuses any shard path that would leave the base,
so nothing outside the model's folder or URL prefix is ever opened.

Shards are handed to the weight decoder as :class:`ShardReader` streams so that each weight can
be read straight into its own array: a local file is read in place (``preadv`` / ``readinto``,
no whole-shard buffer); a downloaded or gzip-compressed shard is held in memory only until its
weights are copied out.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, Mapping, Optional, Sequence, Type, Union

from .._log import logger
from ..errors import FetchError, ShardSizeError, TfjsError, UnsafePathError
from .net import (DEFAULT_RETRIES, CacheOption, Downloader, offline_mode, resolve_cache_dir,
                  resolve_url)

PathLike = Union[str, os.PathLike[str]]

#: Default cap on one downloaded file (model.json or shard).
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_TIMEOUT = 60.0
_GZIP_MAGIC = b"\x1f\x8b"
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


Buffer = Union[bytes, bytearray, memoryview]


#: Default cap on model.json's size (after gunzip): ``max_json_bytes`` read option, or the
#: ``TORCH_TFJS_MAX_JSON_BYTES`` environment variable. The largest real topologies are a few MiB.
DEFAULT_MAX_JSON_BYTES = 256 * 1024**2
MAX_JSON_BYTES_ENV = "TORCH_TFJS_MAX_JSON_BYTES"
_CHUNK = 1 << 20


def max_json_bytes(option: Optional[int] = None) -> int:
    """The model.json cap: ``option`` when given, else the environment variable, else 256 MiB."""
    if option is not None:
        value: object = option
    else:
        value = os.environ.get(MAX_JSON_BYTES_ENV, DEFAULT_MAX_JSON_BYTES)
    try:
        cap = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise FetchError(f"max_json_bytes / {MAX_JSON_BYTES_ENV} must be an integer, got {value!r}") from None
    if cap <= 0:
        raise FetchError(f"max_json_bytes / {MAX_JSON_BYTES_ENV} must be positive, got {cap}")
    return cap


#: model.json inflating past this many bytes at more than BOMB_RATIO times its compressed size
#: is a gzip bomb (JSON text deflates 5-20x; deflate's limit is about 1032x): refused without
#: inflating the rest up to the cap.
BOMB_CHECK_BYTES = 32 * 1024 * 1024
BOMB_RATIO = 500


def gunzip_capped(read: Callable[[int], Buffer], what: str, limit: int,
                  error: Type[TfjsError] = FetchError, trailer: Optional[Buffer] = None,
                  bomb_ratio: Optional[int] = None) -> bytearray:
    """Inflate a gzip stream read by ``read(n)`` (chunks; empty at the end) to at most ``limit``
    bytes: decompression stops one byte past the cap (``zlib`` ``max_length``), so a gzip bomb
    is refused after allocating ``limit`` bytes, never the size it would inflate to.

    ``trailer``: the stream's last 4 bytes when known (gzip's ISIZE, the last member's size mod
    2**32): one above the cap refuses the stream at once, inflating nothing (a forged ISIZE
    would fail gzip's own length check anyway).
    ``bomb_ratio``: past :data:`BOMB_CHECK_BYTES` inflated, a stream inflating more than this many
    times its compressed size is refused (a bomb whose ISIZE lies)."""
    if trailer is not None and len(trailer) == 4:
        declared = int.from_bytes(bytes(trailer), "little")
        if declared > limit:
            raise error(f"{what}: gzip data declares {declared} bytes inflated, more than the "
                        f"cap of {limit}; refused")
    out = bytearray()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""
    used = 0  # compressed bytes the inflaters have consumed
    while True:
        chunk = inflater.unconsumed_tail or pending or bytes(read(_CHUNK))
        pending = b""
        if not chunk:
            if not inflater.eof:
                raise FetchError(f"{what}: looks gzip-compressed but the stream is truncated")
            return out
        try:
            # bounded pieces: peak memory stays near the cap, not twice it
            out += inflater.decompress(chunk, min(limit + 1 - len(out), _CHUNK * 16))
            used += len(chunk) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
        except zlib.error as exc:
            raise FetchError(f"{what}: looks gzip-compressed but does not decompress: {exc}") from exc
        if len(out) > limit:
            raise error(f"{what}: gzip data inflates to more than {limit} bytes (the cap), refused")
        if bomb_ratio and len(out) > BOMB_CHECK_BYTES and len(out) > bomb_ratio * max(used, 1):
            raise error(f"{what}: gzip data inflates more than {bomb_ratio} times its size "
                        f"({used} bytes became {len(out)}): a gzip bomb, refused")
        if inflater.eof:  # a further gzip member may follow (gzip files may be concatenated)
            rest = inflater.unused_data
            if not rest:
                rest = bytes(read(_CHUNK))
            if not rest:
                return out
            if bytes(rest[:2]) != _GZIP_MAGIC:
                return out  # trailing garbage after the stream: ignored, as gzip does
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest


def _buffer_reader(data: Buffer) -> Callable[[int], Buffer]:
    view, pos = memoryview(data).cast("B"), [0]

    def read(n: int) -> Buffer:
        chunk = view[pos[0]:pos[0] + n]
        pos[0] += len(chunk)
        return chunk
    return read


def maybe_gunzip(data: Buffer, what: str, limit: Optional[int] = None,
                 error: Type[TfjsError] = FetchError, bomb_ratio: Optional[int] = None) -> Buffer:
    """Decompress ``data`` when it starts with the gzip magic (some hosts serve tfjs files so),
    to at most ``limit`` bytes (default: the download cap)."""
    if bytes(data[:2]) == _GZIP_MAGIC:
        return gunzip_capped(_buffer_reader(data), what, DEFAULT_MAX_BYTES if limit is None else limit,
                             error, trailer=data[-4:], bomb_ratio=bomb_ratio)
    return data


def _file_trailer(fh: BinaryIO) -> bytes:
    """The last 4 bytes of an open file (gzip's ISIZE); the position is back at 0 after."""
    fh.seek(0, os.SEEK_END)
    if fh.tell() >= 4:
        fh.seek(-4, os.SEEK_END)
        tail = fh.read(4)
    else:
        tail = b""
    fh.seek(0)
    return tail


def _shard_error(what: str, limit: Optional[int]) -> Type[TfjsError]:
    return ShardSizeError if limit is not None else FetchError


def check_relative_path(path: str, model_file: str) -> str:
    """Validate a manifest path and return it normalised (posix, no ``.`` segments).

    Accepts only plain relative paths that stay inside the model's base: no scheme, no
    absolute path, no drive letter, no backslashes, no ``..`` that climbs out.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{model_file}: weight path {path!r} is not a non-empty string")
    bad = None
    if _SCHEME_RE.match(path) or path.startswith("//"):
        bad = "it names another scheme or host"
    elif path.startswith("/") or "\\" in path:
        bad = "it is absolute or uses backslashes"
    elif "\x00" in path or "?" in path or "#" in path:
        bad = "it contains a NUL, '?' or '#'"
    else:
        decoded = urllib.parse.unquote(path)
        norm = posixpath.normpath(decoded)
        if norm == ".." or norm.startswith("../") or norm.startswith("/") or "\\" in decoded:
            bad = "it leaves the model's folder"
    if bad:
        raise UnsafePathError(f"{model_file}: refusing weight path {path!r}: {bad}")
    return posixpath.normpath(path)


class ShardReader:
    """One shard opened for sequential reading: ``size`` bytes (after gunzip), read in order by
    :meth:`readinto_many`. Closing it drops whatever it holds (file handle or downloaded bytes)."""

    size: int

    def readinto_many(self, views: Sequence[memoryview]) -> int:
        """Fill the byte ``views`` in turn from the current position; the count read, short only
        at the end of the shard."""
        raise NotImplementedError

    def readinto(self, view: memoryview) -> int:
        return self.readinto_many([view])

    def close(self) -> None:
        pass

    def __enter__(self) -> "ShardReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BufferShard(ShardReader):
    """A shard already in memory (downloaded, gunzipped): weights are copied out of it."""

    def __init__(self, data: Buffer):
        self._data: Optional[memoryview] = memoryview(data).cast("B")
        self.size = len(self._data)
        self._pos = 0

    def readinto_many(self, views: Sequence[memoryview]) -> int:
        total = 0
        for view in views:
            if self._data is None:
                break
            n = min(len(view), self.size - self._pos)
            view[:n] = self._data[self._pos:self._pos + n]
            self._pos += n
            total += n
            if n < len(view):
                break
        return total

    def close(self) -> None:
        self._data = None  # the downloaded bytes go with the last reference


_IOV_MAX = 1024
if hasattr(os, "sysconf"):
    try:
        _IOV_MAX = max(16, min(int(os.sysconf("SC_IOV_MAX")), 1024))
    except (ValueError, OSError):
        pass


class FileShard(ShardReader):
    """A local shard file, read in place: each weight straight into its array, no copy of the
    file held. With ``os.preadv`` (Linux, BSD, macOS), one system call fills many weights."""

    def __init__(self, fh: BinaryIO, size: int, name: str):
        self._fh: Optional[BinaryIO] = fh  # unbuffered; positioned at 0
        self.size = size
        self.name = name
        self._pos = 0

    def readinto_many(self, views: Sequence[memoryview]) -> int:
        if self._fh is None:
            return 0
        try:
            if hasattr(os, "preadv"):
                n = self._preadv(self._fh.fileno(), [v for v in views if len(v)])
            else:
                n = self._sequential(views)
        except OSError as exc:
            raise FetchError(f"cannot read {self.name}: {exc}") from exc
        self._pos += n
        return n

    def _preadv(self, fd: int, views: List[memoryview]) -> int:
        total, i = 0, 0
        while i < len(views):
            batch = views[i:i + _IOV_MAX]
            n = os.preadv(fd, batch, self._pos + total)
            if n <= 0:
                break  # end of file
            total += n
            for view in batch:  # skip what was filled; a partly filled view continues
                if n >= len(view):
                    n -= len(view)
                    i += 1
                else:
                    views[i] = view[n:]
                    break
        return total

    def _sequential(self, views: Sequence[memoryview]) -> int:
        assert self._fh is not None
        total = 0
        for view in views:
            done = 0
            while done < len(view):
                n = self._fh.readinto(view[done:])
                if not n:
                    return total + done
                done += n
            total += done
        return total

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class ModelSource:
    """Abstract source of model.json and the files beside it.

    Subclasses implement :meth:`read_model_json`, :meth:`read_relative` and :meth:`describe`;
    :meth:`open_relative` and :meth:`size_of` have working defaults built on ``read_relative``.
    """

    #: Human-readable location of model.json (used in every error message).
    model_file: str
    #: Cap on model.json's bytes (after gunzip); see :func:`max_json_bytes`.
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES

    def read_model_json(self) -> bytes:
        raise NotImplementedError

    def read_relative(self, path: str, limit: Optional[int] = None) -> Buffer:
        """Bytes of a file named relative to the base (already validated, gunzipped). ``limit``:
        the most bytes the caller can use (a shard: what the manifest needs); a gzip file
        inflating past it is refused (:class:`ShardSizeError`) before it is inflated further."""
        raise NotImplementedError

    def open_relative(self, path: str, limit: Optional[int] = None) -> ShardReader:
        """A file named relative to the base, opened for sequential reading (gunzipped; see
        :meth:`read_relative` for ``limit``)."""
        return BufferShard(self.read_relative(path, limit))

    def size_of(self, path: str) -> Optional[int]:
        """The byte size :meth:`open_relative` will report, when known without reading the file
        (None otherwise). Raises :class:`FetchError` for a file known to be missing."""
        return None

    def describe(self, path: str) -> str:
        """Location of a relative file, for error messages."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError


class LocalSource(ModelSource):
    """A model.json on the local file system; shards are read in place, weight by weight."""

    def __init__(self, model_json: Path):
        self.path = model_json
        self.base = model_json.parent
        self._real_base = os.path.realpath(self.base)
        self.model_file = str(model_json)
        self._resolved: Dict[str, Path] = {}  # checked shard paths (each is looked at twice)

    def read_model_json(self) -> bytes:
        cap = self.max_json_bytes
        try:
            with open(self.path, "rb") as fh:
                if fh.read(2) == _GZIP_MAGIC:
                    return bytes(gunzip_capped(fh.read, self.model_file, cap,
                                               trailer=_file_trailer(fh), bomb_ratio=BOMB_RATIO))
                size = os.fstat(fh.fileno()).st_size
                if size > cap:  # refused from its size, before reading it
                    raise FetchError(f"{self.model_file}: {size} bytes exceeds the model.json cap of "
                                     f"{cap} (max_json_bytes / {MAX_JSON_BYTES_ENV})")
                fh.seek(0)
                data = fh.read(size + 1)  # (one more: a file that grew meanwhile is seen)
                if len(data) > cap:
                    raise FetchError(f"{self.model_file}: more than the model.json cap of {cap} "
                                     f"bytes (max_json_bytes / {MAX_JSON_BYTES_ENV})")
                return data
        except OSError as exc:
            raise FetchError(f"cannot read {self.model_file}: {exc}") from exc

    def _resolve(self, path: str) -> Path:
        if path in self._resolved:
            return self._resolved[path]
        rel = check_relative_path(path, self.model_file)
        full = self.base / urllib.parse.unquote(rel)
        real = os.path.realpath(full)
        if os.path.commonpath([real, self._real_base]) != self._real_base:
            raise UnsafePathError(
                f"{self.model_file}: weight path {path!r} resolves outside the model folder ({real})")
        self._resolved[path] = full
        return full

    def exists(self, path: str) -> bool:
        return self._resolve(path).is_file()

    def describe(self, path: str) -> str:
        return str(self.base / path)

    def read_relative(self, path: str, limit: Optional[int] = None) -> Buffer:
        with self.open_relative(path, limit) as shard:
            out = bytearray(shard.size)
            del out[shard.readinto(memoryview(out)):]
        return out

    def open_relative(self, path: str, limit: Optional[int] = None) -> ShardReader:
        full = self._resolve(path)
        try:
            fh = open(full, "rb", buffering=0)
        except FileNotFoundError as exc:
            raise FetchError(f"{full}: no such file") from exc
        except OSError as exc:
            raise FetchError(f"cannot read {full}: {exc}") from exc
        try:
            if fh.read(2) == _GZIP_MAGIC:  # inflated in chunks, never past what is needed
                with fh:
                    cap = DEFAULT_MAX_BYTES if limit is None else limit
                    return BufferShard(gunzip_capped(fh.read, str(full), cap,
                                                     _shard_error(str(full), limit),
                                                     trailer=_file_trailer(fh)))
            fh.seek(0)
            return FileShard(fh, os.fstat(fh.fileno()).st_size, str(full))
        except OSError as exc:
            fh.close()
            raise FetchError(f"cannot read {full}: {exc}") from exc

    def size_of(self, path: str) -> Optional[int]:
        full = self._resolve(path)
        try:
            with open(full, "rb", buffering=0) as fh:
                if fh.read(2) == _GZIP_MAGIC:
                    return None  # known once decompressed
                return os.fstat(fh.fileno()).st_size
        except FileNotFoundError as exc:
            raise FetchError(f"{full}: no such file") from exc
        except OSError as exc:
            raise FetchError(f"cannot read {full}: {exc}") from exc


class HttpSource(ModelSource):
    """A model.json served over http(s). Shard URLs = base prefix + path + the model URL's query,
    as tfjs's http loader builds them. Downloads go through a :class:`~.net.Downloader` (cache,
    revalidation, offline mode, retries, progress)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: CacheOption = None,
                 headers: Optional[Mapping[str, str]] = None, offline: Optional[bool] = None,
                 progress: Optional[bool] = None, from_tfhub: Optional[bool] = None,
                 retries: int = DEFAULT_RETRIES):
        self.source_url = url
        url, implied = resolve_url(url, from_tfhub)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise FetchError(f"{url}: unsupported URL scheme (use http:// or https://)")
        self.url = url
        self.model_file = url
        self.query = parts.query
        base_path = parts.path.rsplit("/", 1)[0] + "/"
        self.base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, base_path, "", ""))
        #: Extra request headers (an ``Authorization`` token, say), sent with every request.
        self.headers = {"User-Agent": "torch-tfjs", **implied, **dict(headers or {})}
        self.downloader = Downloader(timeout=timeout, max_bytes=max_bytes, headers=self.headers,
                                     cache_dir=resolve_cache_dir(cache_dir),
                                     offline=offline_mode(offline), progress=progress,
                                     retries=retries)

    @property
    def cache_dir(self) -> Optional[Path]:
        return self.downloader.cache_dir

    def _url_for(self, path: str) -> str:
        rel = check_relative_path(path, self.model_file)
        url = self.base + rel
        return url + ("?" + self.query if self.query else "")

    def describe(self, path: str) -> str:
        return self._url_for(path)

    def exists(self, path: str) -> bool:  # pragma: no cover - only used by inspect
        return True

    def _fetch(self, url: str, cap: Optional[int] = None) -> Buffer:
        """The bytes at ``url``, at most ``cap`` (default: ``max_bytes``)."""
        return self.downloader.fetch(url, cap)

    def read_model_json(self) -> bytes:
        cap = self.max_json_bytes
        return bytes(maybe_gunzip(self._fetch(self.url, cap), self.url, cap, bomb_ratio=BOMB_RATIO))

    def read_relative(self, path: str, limit: Optional[int] = None) -> Buffer:
        """The whole shard (downloaded files are only ever whole): the weight decoder copies its
        weights out and drops it before fetching the next one. A shard longer than ``limit``
        is not downloaded past it (it is refused by the decoder as too long)."""
        url = self._url_for(path)
        # room for a gzip-served shard's header and deflate's worst-case growth
        data = self._fetch(url, None if limit is None else limit + limit // 64 + 4096)
        return maybe_gunzip(data, url, limit, _shard_error(url, limit))


def open_source(src: PathLike, *, timeout: float = DEFAULT_TIMEOUT,
                max_bytes: int = DEFAULT_MAX_BYTES,
                cache_dir: CacheOption = None,
                headers: Optional[Mapping[str, str]] = None,
                offline: Optional[bool] = None, progress: Optional[bool] = None,
                from_tfhub: Optional[bool] = None,
                retries: int = DEFAULT_RETRIES) -> ModelSource:
    """Turn what a user passed (folder, file, ``file://``, ``http(s)://`` or ``hf://`` URL) into a
    source. ``timeout``, ``max_bytes``, ``cache_dir``, ``headers``, ``offline``, ``progress``,
    ``from_tfhub`` and ``retries`` apply to URLs only (see :mod:`torch_tfjs.io.net`)."""
    if isinstance(src, ModelSource):
        return src
    text = os.fspath(src)
    lowered = text.lower()
    if lowered.startswith(("http://", "https://", "hf://")):
        return HttpSource(text, timeout=timeout, max_bytes=max_bytes, cache_dir=cache_dir,
                          headers=headers, offline=offline, progress=progress,
                          from_tfhub=from_tfhub, retries=retries)
    if lowered.startswith("file://"):
        parts = urllib.parse.urlsplit(text)
        text = urllib.request.url2pathname(parts.path)
    elif _SCHEME_RE.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        raise FetchError(f"{text}: unsupported URL scheme (use a path, file://, http://, https:// "
                         "or hf://)")
    path = Path(text)
    if path.is_dir():
        logger.debug("%s: a folder; reading its model.json", path)
        path = path / "model.json"
    if not path.is_file():
        raise FetchError(f"{path}: no such file (expected a model.json or a folder holding one)")
    return LocalSource(path)
