"""Downloads: URL forms, the on-disk cache, revalidation, offline mode, retries and progress.

URL forms (:func:`resolve_url`):

- ``https://host/path/model.json`` as is; a folder URL ``https://host/path/`` reads its
  ``model.json``;
- TF Hub / Kaggle Models handles (``from_tfhub=True``, or auto-detected for ``tfhub.dev`` and
  ``kaggle.com/models/`` URLs): ``<handle>/model.json?tfjs-format=file``, as tfjs-converter's
  ``loadGraphModel(url, {fromTFHub: true})`` builds it; the query string is kept on shard URLs;
- ``hf://owner/repo[@rev]/path/model.json``: the Hugging Face Hub file
  ``https://huggingface.co/owner/repo/resolve/<rev or main>/path/model.json`` (the host is
  ``$HF_ENDPOINT`` when set, as huggingface_hub does); ``$HF_TOKEN``, when set, is sent to that
  host as an ``Authorization: Bearer`` header.

The cache (:class:`Downloader`): one file per URL, named by the sha256 of the URL, beside a JSON
sidecar (``<sha256>.json``: url, etag, last_modified, size). It is on by default for URL loads,
as torch.hub's is: in ``$TORCH_TFJS_CACHE``, else ``$XDG_CACHE_HOME/torch_tfjs``, else
``~/.cache/torch_tfjs``; ``cache_dir=`` picks another folder and ``cache_dir=False`` (or
``TORCH_TFJS_CACHE=off``) turns it off. A cached file is revalidated on each load
(``If-None-Match`` / ``If-Modified-Since``; ``304 Not Modified`` keeps it); offline
(``offline=True`` or ``TORCH_TFJS_OFFLINE=1``) the cache alone answers, and a file missing from it
is a :class:`~torch_tfjs.errors.FetchError` naming the URL. Files are written under a temporary
name in the cache folder and renamed into place, so concurrent loads never see a partial file.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import os
import re
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any, Dict, Mapping, Optional, Tuple, Union

from .._log import logger
from ..errors import FetchError

PathLike = Union[str, os.PathLike[str]]
#: ``cache_dir`` option: a folder, ``None`` (the default cache), ``True`` (same) or ``False`` (none).
CacheOption = Union[str, os.PathLike[str], bool, None]

CACHE_ENV = "TORCH_TFJS_CACHE"
OFFLINE_ENV = "TORCH_TFJS_OFFLINE"
HF_ENDPOINT_ENV = "HF_ENDPOINT"
HF_TOKEN_ENV = "HF_TOKEN"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
TFHUB_QUERY = "tfjs-format=file"
DEFAULT_RETRIES = 3
#: First back-off delay (seconds); doubled after each failed try.
BACKOFF_BASE = 0.5
#: Cap on a server's ``Retry-After`` (seconds) and on any back-off delay.
MAX_RETRY_DELAY = 10.0
#: A temporary download file older than this (seconds) was left by a killed process: removed.
STALE_PART_AGE = 24 * 3600
#: Downloads at least this large get a progress bar (when ``progress`` allows one).
PROGRESS_MIN_BYTES = 4 * 1024**2
_CHUNK = 1 << 20
_OFF = {"0", "off", "false", "no", "none"}
_ON = {"1", "on", "true", "yes"}


# --- options --------------------------------------------------------------------------------------
def default_cache_dir() -> Optional[Path]:
    """``$TORCH_TFJS_CACHE`` (``off`` / ``0``: no cache), else ``$XDG_CACHE_HOME/torch_tfjs``,
    else ``~/.cache/torch_tfjs``."""
    env = os.environ.get(CACHE_ENV)
    if env is not None and env.strip():
        if env.strip().lower() in _OFF:
            return None
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "torch_tfjs"


def resolve_cache_dir(option: CacheOption) -> Optional[Path]:
    """The cache folder for a ``cache_dir`` option (``None`` / ``True``: the default one;
    ``False``: no cache)."""
    if option is None or option is True:
        return default_cache_dir()
    if option is False:
        return None
    return Path(os.fspath(option)).expanduser()


def offline_mode(option: Optional[bool]) -> bool:
    """``option`` when given, else whether ``$TORCH_TFJS_OFFLINE`` is set to 1 / true / yes / on."""
    if option is not None:
        return bool(option)
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _ON


def hf_endpoint() -> str:
    return (os.environ.get(HF_ENDPOINT_ENV) or DEFAULT_HF_ENDPOINT).rstrip("/")


def is_tfhub_url(url: str) -> bool:
    """A TF Hub or Kaggle Models handle (``fromTFHub`` is auto-detected for these)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "tfhub.dev" or host.endswith(".tfhub.dev"):
        return True
    return (host == "kaggle.com" or host.endswith(".kaggle.com")) and parts.path.startswith("/models/")


def resolve_url(url: str, from_tfhub: Optional[bool] = None) -> Tuple[str, Dict[str, str]]:
    """The model.json URL for what a user passed (see the module docstring) and the request
    headers it implies (a Hugging Face token)."""
    headers: Dict[str, str] = {}
    if url.lower().startswith("hf://"):
        url, headers = _hf_url(url)
    elif from_tfhub or (from_tfhub is None and is_tfhub_url(url)):
        parts = urllib.parse.urlsplit(url)
        path, query = parts.path, parts.query
        if not path.endswith(".json"):
            path = path.rstrip("/") + "/model.json"
        if TFHUB_QUERY not in query.split("&"):
            query = f"{query}&{TFHUB_QUERY}" if query else TFHUB_QUERY
        url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))
        logger.debug("TF Hub / Kaggle handle: model.json at %s", url)
    if urllib.parse.urlsplit(url).path.endswith("/"):
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit(parts._replace(path=parts.path + "model.json"))
    return url, headers


_HF_RE = re.compile(r"^hf://(?P<owner>[^/@?#]+)/(?P<repo>[^/@?#]+)(?:@(?P<rev>[^/?#]+))?(?P<path>/[^?#]*)?$",
                    re.IGNORECASE)


def _hf_url(url: str) -> Tuple[str, Dict[str, str]]:
    match = _HF_RE.match(url)
    if not match:
        raise FetchError(f"{url}: not a Hugging Face file URL (expected "
                         "hf://owner/repo[@revision]/path/model.json)")
    rev = urllib.parse.quote(urllib.parse.unquote(match["rev"] or "main"), safe="")
    path = (match["path"] or "/").lstrip("/")
    if not path or path.endswith("/"):
        path += "model.json"
    resolved = f"{hf_endpoint()}/{match['owner']}/{match['repo']}/resolve/{rev}/{path}"
    token = os.environ.get(HF_TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    logger.debug("%s: Hugging Face file %s", url, resolved)
    return resolved, headers


# --- progress -------------------------------------------------------------------------------------
def _stderr_is_tty() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


class _Progress:
    """A progress bar on stderr: ``tqdm`` when installed, else one line rewritten in place
    (bytes, percentage, rate, ETA)."""

    def __init__(self, name: str, total: Optional[int]):
        self.name, self.total, self.done = name, total, 0
        self.start = self._last = time.monotonic()
        self.stream = sys.stderr
        self._bar: Any = None
        try:
            import tqdm  # optional

            self._bar = tqdm.tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                  desc=name, file=self.stream, leave=True)
        except ImportError:
            self._bar = None

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            self._draw(now)

    def _draw(self, now: float, end: str = "") -> None:
        elapsed = max(now - self.start, 1e-6)
        rate = self.done / elapsed
        text = f"{self.name}: {_human(self.done)}"
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            text += (f" / {_human(self.total)} {100 * self.done // self.total:3d}%"
                     f" {_human(rate)}/s ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        else:
            text += f" {_human(rate)}/s"
        self.stream.write("\r" + text + end)
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            self._draw(time.monotonic(), end="\n")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


# --- the downloader -------------------------------------------------------------------------------
class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but never sends the ``Authorization`` header to another host (a Hugging
    Face token stays with huggingface.co when a file redirects to a CDN)."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> Optional[urllib.request.Request]:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and (urllib.parse.urlsplit(newurl).netloc.lower()
                                != urllib.parse.urlsplit(req.full_url).netloc.lower()):
            for name in [k for k in new.headers if k.lower() == "authorization"]:
                del new.headers[name]
        return new


_OPENER = urllib.request.build_opener(_RedirectHandler)


class _Retryable(Exception):
    def __init__(self, message: str, delay: Optional[float] = None):
        super().__init__(message)
        self.delay = delay


class Downloader:
    """Fetches URLs for one load: caps, headers, cache, offline mode, retries and progress."""

    def __init__(self, *, timeout: float, max_bytes: int, headers: Mapping[str, str],
                 cache_dir: Optional[Path], offline: bool = False, progress: Optional[bool] = None,
                 retries: int = DEFAULT_RETRIES):
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.headers = dict(headers)
        self.cache_dir = cache_dir
        self.offline = offline
        self.progress = progress
        if retries < 0:
            raise FetchError(f"retries must be >= 0, got {retries}")
        self.retries = retries
        self._swept = False

    # cache entries
    def cache_paths(self, url: str) -> Tuple[Path, Path]:
        assert self.cache_dir is not None
        key = hashlib.sha256(url.encode()).hexdigest()
        return self.cache_dir / key, self.cache_dir / (key + ".json")

    def _cached(self, url: str) -> Optional[Dict[str, Any]]:
        """The sidecar of a complete cache entry for ``url`` (None when there is none)."""
        if self.cache_dir is None:
            return None
        data, meta = self.cache_paths(url)
        try:
            size = data.stat().st_size
        except OSError:
            return None
        info: Dict[str, Any] = {"url": url, "size": size}
        try:
            loaded = json.loads(meta.read_text("utf-8"))
            if isinstance(loaded, dict) and loaded.get("url") == url:
                info = loaded
        except (OSError, ValueError):
            pass  # an entry from before sidecars: served, revalidated by a plain download
        if info.get("size") != size:
            return None  # data and sidecar disagree (a concurrent refill): not trusted
        return info

    def _read_cached(self, url: str, cap: int) -> bytearray:
        data, _ = self.cache_paths(url)
        with open(data, "rb") as fh:
            out = bytearray(fh.read(cap + 1))
        if len(out) > cap:
            raise FetchError(f"{url}: the cached copy ({data}) exceeds the cap of {cap} bytes")
        return out

    def fetch(self, url: str, cap: Optional[int] = None) -> bytearray:
        """The bytes at ``url``, at most ``cap`` (default: ``max_bytes``)."""
        limit = self.max_bytes if cap is None else min(cap, self.max_bytes)
        entry = self._cached(url)
        if self.offline:
            if entry is None:
                where = f"the cache {self.cache_dir}" if self.cache_dir else "the cache (turned off)"
                raise FetchError(f"{url}: not in {where} and offline mode is on (offline=True or "
                                 f"{OFFLINE_ENV}=1); load it once online first")
            logger.debug("%s: offline, from the cache", url)
            return self._read_cached(url, limit)
        conditional: Dict[str, str] = {}
        if entry is not None:
            if entry.get("etag"):
                conditional["If-None-Match"] = str(entry["etag"])
            if entry.get("last_modified"):
                conditional["If-Modified-Since"] = str(entry["last_modified"])
        try:
            result = self._with_retries(url, limit, conditional)
        except FetchError as exc:
            if entry is not None and isinstance(exc.__cause__, (urllib.error.URLError, OSError)) \
                    and not isinstance(exc.__cause__, urllib.error.HTTPError):
                logger.warning("%s: cannot revalidate (%s); using the cached copy", url, exc)
                return self._read_cached(url, limit)
            raise
        if result is None:  # 304 Not Modified
            logger.debug("%s: not modified, from the cache", url)
            return self._read_cached(url, limit)
        return result

    def _with_retries(self, url: str, limit: int, conditional: Mapping[str, str]) -> Optional[bytearray]:
        attempt = 0
        while True:
            try:
                return self._download(url, limit, conditional)
            except _Retryable as exc:
                if attempt >= self.retries:
                    raise FetchError(f"{url}: {exc} (gave up after {attempt + 1} tries)") \
                        from exc.__cause__
                delay = exc.delay if exc.delay is not None else BACKOFF_BASE * 2 ** attempt
                delay = min(max(delay, 0.0), MAX_RETRY_DELAY)
                logger.info("%s: %s; retrying in %.1f s (%d/%d)", url, exc, delay, attempt + 1,
                            self.retries)
                time.sleep(delay)
                attempt += 1

    def _download(self, url: str, limit: int, conditional: Mapping[str, str]) -> Optional[bytearray]:
        """One try: the body (cached on the way), ``None`` for 304; :class:`_Retryable` for what
        another try may fix (connection errors, 5xx, 429)."""
        request = urllib.request.Request(url, headers={**self.headers, **conditional})
        try:
            resp = _OPENER.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304 and conditional:
                return None
            if exc.code == 429 or 500 <= exc.code < 600:
                raise _Retryable(f"HTTP {exc.code} {exc.reason}",
                                 _retry_after(exc.headers.get("Retry-After"))) from exc
            raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):  # another try cannot help
                raise FetchError(f"{url}: {exc.reason}") from exc
            raise _Retryable(str(exc.reason)) from exc
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise _Retryable(f"timed out after {self.timeout} s" if isinstance(exc, TimeoutError)
                             else str(exc) or type(exc).__name__) from exc
        with resp:
            declared_text = resp.headers.get("Content-Length")
            declared = int(declared_text) if declared_text and declared_text.isdigit() else None
            if declared is not None and declared > limit:
                raise FetchError(f"{url}: {declared} bytes exceeds the cap of {limit}")
            return self._receive(url, resp, limit, declared)

    def _receive(self, url: str, resp: Any, limit: int, declared: Optional[int]) -> bytearray:
        tmp: Optional[IO[bytes]] = None
        if self.cache_dir is not None:
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                self._sweep()
                key = self.cache_paths(url)[0].name
                tmp = tempfile.NamedTemporaryFile(dir=self.cache_dir, prefix=f".{key}.",
                                                  suffix=".part", delete=False)
            except OSError as exc:
                logger.warning("cache folder %s not writable (%s); downloading without it",
                               self.cache_dir, exc)
        bar = None
        show = self.progress if self.progress is not None else _stderr_is_tty()
        if show and declared is not None and declared >= PROGRESS_MIN_BYTES:
            bar = _Progress(url.rsplit("/", 1)[-1].split("?")[0] or url, declared)
        out = bytearray()
        try:
            while True:
                try:
                    chunk = resp.read(_CHUNK)
                except (TimeoutError, OSError, http.client.HTTPException) as exc:
                    raise _Retryable(f"connection lost after {len(out)} bytes: "
                                     f"{exc or type(exc).__name__}") from exc
                if not chunk:
                    break
                out += chunk
                if len(out) > limit:
                    raise FetchError(f"{url}: more than the cap of {limit} bytes")
                if tmp is not None:
                    tmp.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if declared is not None and len(out) != declared:
                raise _Retryable(f"truncated: {len(out)} of {declared} bytes received")
            if tmp is not None:
                tmp.flush()
                os.fsync(tmp.fileno())
                tmp.close()
                self._commit(url, Path(tmp.name), resp, len(out))
                tmp = None
        finally:
            if bar is not None:
                bar.close()
            if tmp is not None:  # failed or interrupted: no partial file is left
                tmp.close()
                _unlink(Path(tmp.name))
        logger.debug("%s: downloaded %d bytes", url, len(out))
        return out

    def _sweep(self) -> None:
        """Once per load: remove temporary files that a killed process left (older than
        :data:`STALE_PART_AGE`; a younger one may belong to a download in progress)."""
        if self._swept or self.cache_dir is None:
            return
        self._swept = True
        cutoff = time.time() - STALE_PART_AGE
        for path in self.cache_dir.glob(".*.part"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass

    def _commit(self, url: str, tmp: Path, resp: Any, size: int) -> None:
        """Rename the downloaded file into place, then write its sidecar the same way."""
        data, meta = self.cache_paths(url)
        info = {"url": url, "etag": resp.headers.get("ETag"),
                "last_modified": resp.headers.get("Last-Modified"), "size": size}
        try:
            os.replace(tmp, data)
            with tempfile.NamedTemporaryFile("w", dir=self.cache_dir, prefix=f".{meta.name}.",
                                             suffix=".part", delete=False, encoding="utf-8") as fh:
                json.dump(info, fh)
            os.replace(fh.name, meta)
        except OSError as exc:
            logger.warning("%s: could not store in the cache (%s)", url, exc)
            _unlink(tmp)
        else:
            logger.debug("%s: cached as %s", url, data)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (a number or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
