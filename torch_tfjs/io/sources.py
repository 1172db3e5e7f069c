"""Where an artifact's bytes come from: a local folder or file, a ``file://`` URL or ``http(s)://``.

A :class:`ModelSource` knows the location of ``model.json`` and its *base* (the folder or URL
prefix that shard paths are relative to). It refuses any shard path that would leave the base,
so nothing outside the model's folder or URL prefix is ever opened.
"""

from __future__ import annotations

import gzip
import hashlib
import mmap
import os
import posixpath
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional, Union

from ..errors import FetchError, UnsafePathError

PathLike = Union[str, "os.PathLike[str]"]

#: Default cap on one downloaded file (model.json or shard).
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_TIMEOUT = 60.0
_GZIP_MAGIC = b"\x1f\x8b"
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def maybe_gunzip(data: Union[bytes, bytearray, memoryview], what: str) -> Union[bytes, bytearray, memoryview]:
    """Decompress ``data`` when it starts with the gzip magic (some hosts serve tfjs files so)."""
    if bytes(data[:2]) == _GZIP_MAGIC:
        try:
            return bytearray(gzip.decompress(bytes(data)))
        except (OSError, EOFError) as exc:
            raise FetchError(f"{what}: looks gzip-compressed but does not decompress: {exc}") from exc
    return data


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


class ModelSource:
    """Abstract source of model.json and the files beside it."""

    #: Human-readable location of model.json (used in every error message).
    model_file: str

    def read_model_json(self) -> bytes:
        raise NotImplementedError

    def read_relative(self, path: str) -> Union[bytes, bytearray, memoryview, mmap.mmap]:
        """Bytes of a file named relative to the base (already validated, gunzipped)."""
        raise NotImplementedError

    def describe(self, path: str) -> str:
        """Location of a relative file, for error messages."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError


class LocalSource(ModelSource):
    """A model.json on the local file system; shards are memory-mapped copy-on-write."""

    def __init__(self, model_json: Path):
        self.path = model_json
        self.base = model_json.parent
        self._real_base = os.path.realpath(self.base)
        self.model_file = str(model_json)

    def read_model_json(self) -> bytes:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read {self.model_file}: {exc}") from exc
        return bytes(maybe_gunzip(data, self.model_file))

    def _resolve(self, path: str) -> Path:
        rel = check_relative_path(path, self.model_file)
        full = self.base / urllib.parse.unquote(rel)
        real = os.path.realpath(full)
        if os.path.commonpath([real, self._real_base]) != self._real_base:
            raise UnsafePathError(
                f"{self.model_file}: weight path {path!r} resolves outside the model folder ({real})")
        return full

    def exists(self, path: str) -> bool:
        return self._resolve(path).is_file()

    def describe(self, path: str) -> str:
        return str(self.base / path)

    def read_relative(self, path: str) -> Union[bytes, bytearray, memoryview, mmap.mmap]:
        full = self._resolve(path)
        try:
            with open(full, "rb") as fh:
                head = fh.read(2)
                size = os.fstat(fh.fileno()).st_size
                if head == _GZIP_MAGIC:
                    fh.seek(0)
                    return maybe_gunzip(fh.read(), str(full))
                if size == 0:
                    return b""
                # Copy-on-write mapping: zero-copy views that training may still write to.
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        except FileNotFoundError as exc:
            raise FetchError(f"{full}: no such file") from exc
        except OSError as exc:
            raise FetchError(f"cannot read {full}: {exc}") from exc


class HttpSource(ModelSource):
    """A model.json served over http(s). Shard URLs = base prefix + path + the model URL's query,
    as tfjs's http loader builds them."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: Optional[PathLike] = None):
        parts = urllib.parse.urlsplit(url)
        self.url = url
        self.model_file = url
        self.query = parts.query
        base_path = parts.path.rsplit("/", 1)[0] + "/"
        self.base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, base_path, "", ""))
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    def _url_for(self, path: str) -> str:
        rel = check_relative_path(path, self.model_file)
        url = self.base + rel
        return url + ("?" + self.query if self.query else "")

    def describe(self, path: str) -> str:
        return self._url_for(path)

    def exists(self, path: str) -> bool:  # pragma: no cover - only used by inspect
        return True

    def _fetch(self, url: str) -> bytearray:
        cached = None
        if self.cache_dir is not None:
            cached = self.cache_dir / hashlib.sha256(url.encode()).hexdigest()
            if cached.is_file():
                return bytearray(cached.read_bytes())
        request = urllib.request.Request(url, headers={"User-Agent": "torch-tfjs"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                declared = resp.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"{url}: {declared} bytes exceeds the cap of {self.max_bytes}")
                out = bytearray()
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > self.max_bytes:
                        raise FetchError(f"{url}: more than the cap of {self.max_bytes} bytes")
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise FetchError(f"{url}: {exc.reason}") from exc
        except TimeoutError as exc:
            raise FetchError(f"{url}: timed out after {self.timeout} s") from exc
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".part")
            tmp.write_bytes(out)
            tmp.replace(cached)
        return out

    def read_model_json(self) -> bytes:
        return bytes(maybe_gunzip(self._fetch(self.url), self.url))

    def read_relative(self, path: str) -> Union[bytes, bytearray, memoryview]:
        url = self._url_for(path)
        return maybe_gunzip(self._fetch(url), url)


def open_source(src: PathLike, *, timeout: float = DEFAULT_TIMEOUT,
                max_bytes: int = DEFAULT_MAX_BYTES,
                cache_dir: Optional[PathLike] = None) -> ModelSource:
    """Turn what a user passed (folder, file, ``file://`` or ``http(s)://`` URL) into a source."""
    if isinstance(src, ModelSource):
        return src
    text = os.fspath(src)
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return HttpSource(text, timeout=timeout, max_bytes=max_bytes, cache_dir=cache_dir)
    if lowered.startswith("file://"):
        parts = urllib.parse.urlsplit(text)
        text = urllib.request.url2pathname(parts.path)
    elif _SCHEME_RE.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        raise FetchError(f"{text}: unsupported URL scheme (use a path, file://, http:// or https://)")
    path = Path(text)
    if path.is_dir():
        path = path / "model.json"
    if not path.is_file():
        raise FetchError(f"{path}: no such file (expected a model.json or a folder holding one)")
    return LocalSource(path)
