"""Loading from the network: URL forms (folder, TF Hub / Kaggle, hf://), the download cache
(revalidation, offline mode, atomic concurrent fills), retries and the progress bar.

Every request goes to a local HTTP server on 127.0.0.1 that mimics each host's URL layout; it
serves a bounded number of requests per test and stops with the test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
import time
import types
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

from torch_tfjs.errors import FetchError, MissingShardError
from torch_tfjs.io import encode_weights, net, read_artifact

MAX_REQUESTS = 200  # per test: a runaway loop fails fast instead of hammering the server


class Site:
    """What the fake host serves: files by URL path, the failures to answer first, and a log."""

    def __init__(self) -> None:
        self.files: Dict[str, bytes] = {}
        self.fail: Dict[str, List[Tuple[int, Optional[str]]]] = {}  # path -> (status, Retry-After)
        self.truncate: set = set()
        self.redirect: Dict[str, str] = {}  # path -> Location
        self.require_query: Optional[str] = None  # TF Hub: files exist only with ?tfjs-format=file
        self.chunk_delay = 0.0
        self.log: List[Tuple[str, Dict[str, str], int]] = []
        self.lock = threading.Lock()

    def paths(self) -> List[str]:
        return [p for p, _, _ in self.log]

    def statuses(self) -> List[int]:
        return [s for _, _, s in self.log]


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def _reply(self, status: int, headers: Dict[str, str], body: bytes = b"",
                   send: Optional[int] = None) -> None:
            with site.lock:
                if len(site.log) >= MAX_REQUESTS:
                    status, body = 503, b""
                site.log.append((self.path, dict(self.headers), status))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            data = body[:send] if send is not None else body
            if site.chunk_delay:
                for i in range(0, len(data), 4096):
                    self.wfile.write(data[i:i + 4096])
                    self.wfile.flush()
                    time.sleep(site.chunk_delay)
            else:
                self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            parts = urllib.parse.urlsplit(self.path)
            with site.lock:
                pending = site.fail.get(parts.path)
                failure = pending.pop(0) if pending else None
            if failure is not None:
                status, retry_after = failure
                self._reply(status, {"Retry-After": retry_after} if retry_after else {}, b"busy")
                return
            if parts.path in site.redirect:
                self._reply(302, {"Location": site.redirect[parts.path]})
                return
            body = site.files.get(parts.path)
            if body is None or (site.require_query and site.require_query not in parts.query.split("&")):
                self._reply(404, {}, b"not found")
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._reply(304, {"ETag": etag})
                return
            self._reply(200, {"ETag": etag, "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}, body,
                        send=len(body) // 2 if parts.path in site.truncate else None)

    return Handler


@pytest.fixture()
def site():
    s = Site()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    s.base = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setattr(net, "BACKOFF_BASE", 0.01)


def _publish(site: Site, folder: str, n: int = 12, shards: int = 2, seed: float = 0.0) -> np.ndarray:
    """A graph-model whose one weight is split over ``shards`` files under ``folder``."""
    values = np.arange(n, dtype=np.float32) + seed
    data, specs = encode_weights([("w", values)])
    step = -(-len(data) // shards)
    paths = [f"group1-shard{i + 1}of{shards}.bin" for i in range(shards)]
    for i, p in enumerate(paths):
        site.files[f"{folder}/{p}"] = data[i * step:(i + 1) * step]
    site.files[f"{folder}/model.json"] = json.dumps({
        "format": "graph-model", "modelTopology": {"node": []},
        "weightsManifest": [{"paths": paths, "weights": specs}]}).encode()
    return values


def _cache_files(cache: Path) -> List[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# --- URL forms ------------------------------------------------------------------------------------
def test_folder_url_reads_its_model_json(site):
    values = _publish(site, "/models/m")
    art = read_artifact(f"{site.base}/models/m/", cache_dir=False)
    assert np.array_equal(art.weights["w"], values)
    assert site.paths() == ["/models/m/model.json", "/models/m/group1-shard1of2.bin",
                            "/models/m/group1-shard2of2.bin"]


def test_tfhub_handle(site):
    handle = "/google/tfjs-model/toy/1/default/1"
    values = _publish(site, handle)
    site.require_query = "tfjs-format=file"
    with pytest.raises(FetchError, match="HTTP 404"):  # as tfhub.dev: the handle is no file
        read_artifact(f"{site.base}{handle}", cache_dir=False, from_tfhub=False)
    site.log.clear()
    art = read_artifact(f"{site.base}{handle}", cache_dir=False, from_tfhub=True)
    assert np.array_equal(art.weights["w"], values)
    assert site.paths() == [f"{handle}/model.json?tfjs-format=file",
                            f"{handle}/group1-shard1of2.bin?tfjs-format=file",
                            f"{handle}/group1-shard2of2.bin?tfjs-format=file"]


@pytest.mark.parametrize("url, expected", [
    ("https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/3/default/1",
     "https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/3/default/1"
     "/model.json?tfjs-format=file"),
    ("https://www.kaggle.com/models/google/mobilenet-v2/TfJs/100-224-classification/3/",
     "https://www.kaggle.com/models/google/mobilenet-v2/TfJs/100-224-classification/3"
     "/model.json?tfjs-format=file"),
    ("https://tfhub.dev/a/b/1/model.json?tfjs-format=file", "https://tfhub.dev/a/b/1/model.json?tfjs-format=file"),
    ("https://example.com/m/model.json?v=2", "https://example.com/m/model.json?v=2"),
    ("https://example.com/m/", "https://example.com/m/model.json"),
    ("https://www.kaggle.com/code/x/", "https://www.kaggle.com/code/x/model.json"),
])
def test_resolve_url_detects_tfhub_and_kaggle(url, expected):
    assert net.resolve_url(url)[0] == expected


def test_hf_url_forms(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    url, headers = net.resolve_url("hf://owner/repo@v1.0/web/model.json")
    assert url == "https://huggingface.co/owner/repo/resolve/v1.0/web/model.json"
    assert headers == {"Authorization": "Bearer hf_secret"}
    assert net.resolve_url("hf://owner/repo")[0] == "https://huggingface.co/owner/repo/resolve/main/model.json"
    assert net.resolve_url("hf://o/r/sub/")[0] == "https://huggingface.co/o/r/resolve/main/sub/model.json"
    monkeypatch.delenv("HF_TOKEN")
    assert net.resolve_url("hf://o/r/m.json")[1] == {}
    with pytest.raises(FetchError, match="not a Hugging Face file URL"):
        net.resolve_url("hf://just-owner")


def test_hf_hub_layout_token_and_headers_on_every_request(site, monkeypatch):
    values = _publish(site, "/owner/repo/resolve/v2/web")
    monkeypatch.setenv("HF_ENDPOINT", site.base)
    monkeypatch.setenv("HF_TOKEN", "hf_t0k")
    art = read_artifact("hf://owner/repo@v2/web/model.json", headers={"X-Extra": "1"})
    assert np.array_equal(art.weights["w"], values)
    assert site.paths() == ["/owner/repo/resolve/v2/web/model.json",
                            "/owner/repo/resolve/v2/web/group1-shard1of2.bin",
                            "/owner/repo/resolve/v2/web/group1-shard2of2.bin"]
    for _, headers, _ in site.log:  # model.json and both shards
        assert headers["Authorization"] == "Bearer hf_t0k" and headers["X-Extra"] == "1"
    with pytest.raises(FetchError, match=r"resolve/main/web/model\.json: HTTP 404"):
        read_artifact("hf://owner/repo/web/model.json")


def test_authorization_is_not_sent_to_another_host_on_redirect(site, monkeypatch):
    values = _publish(site, "/o/r/resolve/main")
    port = site.base.rsplit(":", 1)[1]
    # the shard redirects to a "CDN": the same server under another host name (still loopback)
    site.files["/cdn/shard1"] = site.files["/o/r/resolve/main/group1-shard1of2.bin"]
    site.redirect["/o/r/resolve/main/group1-shard1of2.bin"] = f"http://localhost:{port}/cdn/shard1"
    site.redirect["/o/r/resolve/main/group1-shard2of2.bin"] = "/o/r/resolve/main/moved2"
    site.files["/o/r/resolve/main/moved2"] = site.files["/o/r/resolve/main/group1-shard2of2.bin"]
    monkeypatch.setenv("HF_ENDPOINT", site.base)
    monkeypatch.setenv("HF_TOKEN", "hf_t0k")
    art = read_artifact("hf://o/r", cache_dir=False)
    assert np.array_equal(art.weights["w"], values)
    auth = {path: headers.get("Authorization") for path, headers, _ in site.log}
    assert auth == {"/o/r/resolve/main/model.json": "Bearer hf_t0k",
                    "/o/r/resolve/main/group1-shard1of2.bin": "Bearer hf_t0k",
                    "/cdn/shard1": None,  # another host: no token
                    "/o/r/resolve/main/group1-shard2of2.bin": "Bearer hf_t0k",
                    "/o/r/resolve/main/moved2": "Bearer hf_t0k"}  # same host: kept


# --- the cache ------------------------------------------------------------------------------------
def test_default_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("TORCH_TFJS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert net.default_cache_dir() == tmp_path / "xdg" / "torch_tfjs"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert net.default_cache_dir() == Path.home() / ".cache" / "torch_tfjs"
    monkeypatch.setenv("TORCH_TFJS_CACHE", "off")
    assert net.default_cache_dir() is None
    assert net.resolve_cache_dir(False) is None
    assert net.resolve_cache_dir(tmp_path / "c") == tmp_path / "c"


def test_cache_is_on_by_default_keyed_by_url_with_a_sidecar(site):
    values = _publish(site, "/m", shards=1)
    read_artifact(f"{site.base}/m/model.json")
    cache = Path(os.environ["TORCH_TFJS_CACHE"])
    shard_url = f"{site.base}/m/group1-shard1of1.bin"
    key = hashlib.sha256(shard_url.encode()).hexdigest()
    assert (cache / key).read_bytes() == site.files["/m/group1-shard1of1.bin"]
    meta = json.loads((cache / f"{key}.json").read_text())
    assert meta["url"] == shard_url and meta["size"] == values.nbytes
    assert meta["etag"].startswith('"') and meta["last_modified"].endswith("GMT")
    assert len(_cache_files(cache)) == 4  # model.json and shard, each with its sidecar


def test_revalidation_304_then_changed_etag_refetches(site, tmp_path):
    _publish(site, "/m")
    read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path)
    site.log.clear()
    read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path)
    assert site.statuses() == [304, 304, 304]
    assert all(h.get("If-None-Match", "").startswith('"') and h.get("If-Modified-Since")
               for _, h, _ in site.log)
    changed = _publish(site, "/m", seed=100.0)  # same sizes, new bytes: new ETags
    site.log.clear()
    art = read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path)
    assert site.statuses() == [304, 200, 200]  # model.json unchanged
    assert np.array_equal(art.weights["w"], changed)
    site.log.clear()
    art = read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path, offline=True)
    assert site.log == [] and np.array_equal(art.weights["w"], changed)


def test_offline_hit_and_miss(site, tmp_path, monkeypatch):
    values = _publish(site, "/m")
    url = f"{site.base}/m/model.json"
    with pytest.raises(FetchError, match=rf"{url}: not in the cache .* offline mode is on"):
        read_artifact(url, cache_dir=tmp_path, offline=True)
    read_artifact(url, cache_dir=tmp_path)
    site.log.clear()
    monkeypatch.setenv("TORCH_TFJS_OFFLINE", "1")
    assert np.array_equal(read_artifact(url, cache_dir=tmp_path).weights["w"], values)
    assert site.log == []
    # a shard missing from the cache: a typed error naming the shard's URL
    shard = f"{site.base}/m/group1-shard2of2.bin"
    (tmp_path / hashlib.sha256(shard.encode()).hexdigest()).unlink()
    with pytest.raises(MissingShardError, match=rf"{shard}.*not in the cache"):
        read_artifact(url, cache_dir=tmp_path)
    assert site.log == []
    read_artifact(url, cache_dir=tmp_path, offline=False)  # refilled
    assert np.array_equal(read_artifact(url, cache_dir=tmp_path).weights["w"], values)


def test_cache_off_writes_nothing(site, tmp_path, monkeypatch):
    _publish(site, "/m")
    monkeypatch.setenv("TORCH_TFJS_CACHE", str(tmp_path / "c"))
    read_artifact(f"{site.base}/m/model.json", cache_dir=False)
    monkeypatch.setenv("TORCH_TFJS_CACHE", "off")
    read_artifact(f"{site.base}/m/model.json")
    assert not (tmp_path / "c").exists()
    with pytest.raises(FetchError, match=r"not in the cache \(turned off\)"):
        read_artifact(f"{site.base}/m/model.json", offline=True)


def test_a_server_gone_falls_back_to_the_cached_copy(tmp_path, caplog):
    s = Site()
    values = _publish(s, "/m")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/m/model.json"
    try:
        read_artifact(url, cache_dir=tmp_path)
    finally:
        httpd.shutdown()
        httpd.server_close()
    art = read_artifact(url, cache_dir=tmp_path, retries=0)  # connection refused now
    assert np.array_equal(art.weights["w"], values)
    assert "using the cached copy" in caplog.text


def _check_cache_complete(site: Site, cache: Path, folder: str = "/m") -> None:
    for path, body in site.files.items():
        if path.startswith(folder + "/"):
            key = hashlib.sha256(f"{site.base}{path}".encode()).hexdigest()
            assert (cache / key).read_bytes() == body
            assert json.loads((cache / f"{key}.json").read_text())["size"] == len(body)
    assert not [n for n in _cache_files(cache) if n.endswith(".part")]


def test_concurrent_fill_from_8_threads(site, tmp_path):
    values = _publish(site, "/m", n=64 * 1024)  # 2 shards of 128 KiB, sent in slow chunks
    site.chunk_delay = 0.002
    results: List[object] = [None] * 8

    def load(i: int) -> None:
        try:
            results[i] = read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path).weights["w"]
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=load, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for r in results:
        assert isinstance(r, np.ndarray) and np.array_equal(r, values), r
    _check_cache_complete(site, tmp_path)


def _fill_in_child(url: str, cache: str, out: str) -> None:
    weights = read_artifact(url, cache_dir=cache).weights["w"]
    np.save(out, weights)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks two loader processes")
def test_concurrent_fill_from_2_processes(site, tmp_path):
    import multiprocessing

    values = _publish(site, "/m", n=64 * 1024)
    site.chunk_delay = 0.002
    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("fork")  # torch is imported already: no second import
    procs = [ctx.Process(target=_fill_in_child,
                         args=(f"{site.base}/m/model.json", str(cache), str(tmp_path / f"out{i}.npy")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    for i in range(2):
        assert np.array_equal(np.load(tmp_path / f"out{i}.npy"), values)
    assert set(site.statuses()) <= {200, 304}  # each downloaded (or revalidated) into one cache
    _check_cache_complete(site, cache)


def test_truncated_download_leaves_no_partial_file(site, tmp_path):
    _publish(site, "/m")
    site.truncate.add("/m/group1-shard2of2.bin")
    with pytest.raises(MissingShardError, match=r"truncated: \d+ of \d+ bytes .*gave up after 1 tries"):
        read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path, retries=0)
    shard = hashlib.sha256(f"{site.base}/m/group1-shard2of2.bin".encode()).hexdigest()
    names = _cache_files(tmp_path)
    assert shard not in names and not [n for n in names if n.endswith(".part")]
    site.truncate.clear()  # a later load completes the cache
    read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path)
    _check_cache_complete(site, tmp_path)


def test_interrupted_download_leaves_no_partial_file(site, tmp_path, monkeypatch):
    _publish(site, "/m", n=4096)
    monkeypatch.setattr(net, "PROGRESS_MIN_BYTES", 1)

    def interrupt(self, n):
        raise KeyboardInterrupt

    monkeypatch.setattr(net._Progress, "update", interrupt)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path, progress=True)
    assert _cache_files(tmp_path) == []


def test_stale_temporary_files_are_swept(site, tmp_path):
    _publish(site, "/m")
    old, young = tmp_path / ".abc.x.part", tmp_path / ".def.y.part"
    old.write_bytes(b"left by a killed process")
    young.write_bytes(b"a download in progress")
    os.utime(old, (time.time() - 2 * net.STALE_PART_AGE,) * 2)
    read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path)
    assert not old.exists() and young.exists()


# --- retries --------------------------------------------------------------------------------------
def test_retries_after_5xx_and_429_then_succeeds(site, tmp_path):
    values = _publish(site, "/m")
    site.fail["/m/model.json"] = [(503, "0"), (502, None)]
    site.fail["/m/group1-shard1of2.bin"] = [(429, "0")]
    art = read_artifact(f"{site.base}/m/model.json", cache_dir=tmp_path)
    assert np.array_equal(art.weights["w"], values)
    assert site.statuses() == [503, 502, 200, 429, 200, 200]


def test_gives_up_after_the_retries(site):
    _publish(site, "/m")
    site.fail["/m/model.json"] = [(503, None)] * 10
    with pytest.raises(FetchError, match=r"HTTP 503 .*gave up after 3 tries"):
        read_artifact(f"{site.base}/m/model.json", cache_dir=False, retries=2)
    assert site.statuses() == [503, 503, 503]


def test_4xx_is_never_retried(site):
    with pytest.raises(FetchError, match="HTTP 404"):
        read_artifact(f"{site.base}/nothing/model.json", cache_dir=False)
    site.fail["/m/model.json"] = [(403, None)]
    with pytest.raises(FetchError, match="HTTP 403"):
        read_artifact(f"{site.base}/m/model.json", cache_dir=False)
    assert site.statuses() == [404, 403]


def test_retry_after_is_capped(site, monkeypatch):
    values = _publish(site, "/m")
    monkeypatch.setattr(net, "MAX_RETRY_DELAY", 0.05)
    site.fail["/m/model.json"] = [(503, "3600")]
    start = time.monotonic()
    assert np.array_equal(read_artifact(f"{site.base}/m/model.json", cache_dir=False).weights["w"], values)
    assert time.monotonic() - start < 5
    assert net._retry_after("7") == 7.0 and net._retry_after("soon") is None
    assert net._retry_after("Wed, 01 Jan 2020 00:00:00 GMT") == 0.0


def test_connection_refused_is_retried_then_named():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/model.json"
    with pytest.raises(FetchError, match=rf"{url}: .*gave up after 2 tries"):
        read_artifact(url, cache_dir=False, retries=1, timeout=5)


# --- progress -------------------------------------------------------------------------------------
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream, progress, shown", [
    (_Tty, None, True), (io.StringIO, None, False), (_Tty, False, False), (io.StringIO, True, True)])
def test_progress_bar(site, monkeypatch, stream, progress, shown):
    _publish(site, "/m", n=64 * 1024, shards=1)
    monkeypatch.setattr(net, "PROGRESS_MIN_BYTES", 100 * 1024)  # the shard, not model.json
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain fallback
    err = stream()
    monkeypatch.setattr(sys, "stderr", err)
    read_artifact(f"{site.base}/m/model.json", cache_dir=False, progress=progress)
    text = err.getvalue()
    if shown:
        assert text.startswith("\rgroup1-shard1of1.bin: ") and text.endswith("\n")
        last = text.rstrip("\n").rsplit("\r", 1)[-1]
        assert "256.0 KiB / 256.0 KiB 100%" in last and "/s ETA 0:00" in last
        assert "model.json" not in text
    else:
        assert text == ""


def test_progress_uses_tqdm_when_installed(site, monkeypatch):
    _publish(site, "/m", n=1024, shards=1)
    monkeypatch.setattr(net, "PROGRESS_MIN_BYTES", 1024)
    calls: List[Tuple[str, object]] = []

    class FakeBar:
        def __init__(self, **kwargs):
            calls.append(("init", kwargs["total"]))

        def update(self, n):
            calls.append(("update", n))

        def close(self):
            calls.append(("close", None))

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeBar))
    read_artifact(f"{site.base}/m/model.json", cache_dir=False, progress=True)
    assert calls == [("init", 4096), ("update", 4096), ("close", None)]
