"""URL loading against a local HTTP server on 127.0.0.1 (no other address is ever contacted)."""

from __future__ import annotations

import gzip
import json
import threading
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import List

import numpy as np
import pytest

from torch_tfjs.errors import FetchError, MissingShardError, UnsafePathError
from torch_tfjs.io import encode_weights, read_artifact


class _Handler(SimpleHTTPRequestHandler):
    log: List[str] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802
        type(self).log.append(self.path)
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path.endswith(".gz.json") or parsed.path.endswith(".gzbin"):
            target = Path(self.directory) / parsed.path.lstrip("/")
            if not target.is_file():
                self.send_error(404)
                return
            body = gzip.compress(target.read_bytes())
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.path = parsed.path  # serve files regardless of the query string
        super().do_GET()


@pytest.fixture()
def server(tmp_path):
    _Handler.log = []
    handler = partial(_Handler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _model(folder: Path, paths: List[str], name: str = "model.json", n: int = 12) -> np.ndarray:
    values = np.arange(n, dtype=np.float32)
    data, specs = encode_weights([("w", values)])
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [len(data) // len(paths)] * len(paths)
    sizes[-1] += len(data) - sum(sizes)
    pos = 0
    for p, size in zip(paths, sizes):
        (folder / p).parent.mkdir(parents=True, exist_ok=True)
        (folder / p).write_bytes(data[pos:pos + size])
        pos += size
    (folder / name).write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": []},
        "weightsManifest": [{"paths": paths, "weights": specs}]}))
    return values


def test_relative_shards_and_query_string_kept(server):
    root, base = server
    values = _model(root / "models" / "m1", ["group1-shard1of2.bin", "shards/group1-shard2of2.bin"])
    art = read_artifact(f"{base}/models/m1/model.json?tfjs-format=file&v=2")
    assert np.array_equal(art.weights["w"], values)
    assert _Handler.log == ["/models/m1/model.json?tfjs-format=file&v=2",
                            "/models/m1/group1-shard1of2.bin?tfjs-format=file&v=2",
                            "/models/m1/shards/group1-shard2of2.bin?tfjs-format=file&v=2"]


def test_gzip_served_model_and_shards(server):
    root, base = server
    values = _model(root, ["w.gzbin"], name="model.gz.json")
    art = read_artifact(f"{base}/model.gz.json")
    assert np.array_equal(art.weights["w"], values)


def test_404_shard_names_the_url(server):
    root, base = server
    _model(root, ["present.bin", "gone.bin"])
    (root / "gone.bin").unlink()
    with pytest.raises(MissingShardError, match=r"gone\.bin.*HTTP 404"):
        read_artifact(f"{base}/model.json")


def test_404_model(server):
    _, base = server
    with pytest.raises(FetchError, match="HTTP 404"):
        read_artifact(f"{base}/nothing/model.json")


def test_traversal_path_is_never_requested(server):
    root, base = server
    _model(root / "m", ["w.bin"])
    (root / "secret.bin").write_bytes(b"\0" * 48)
    model = json.loads((root / "m" / "model.json").read_text())
    model["weightsManifest"][0]["paths"] = ["../secret.bin"]
    (root / "m" / "model.json").write_text(json.dumps(model))
    with pytest.raises(UnsafePathError):
        read_artifact(f"{base}/m/model.json")
    assert _Handler.log == ["/m/model.json"]


def test_size_cap(server):
    root, base = server
    _model(root, ["w.bin"], n=1000)  # 4000-byte shard, model.json ~160 bytes
    with pytest.raises(MissingShardError, match="exceeds the cap of 1000"):
        read_artifact(f"{base}/model.json", max_bytes=1000)
    with pytest.raises(FetchError, match="model.json: .* exceeds the cap of 100"):
        read_artifact(f"{base}/model.json", max_bytes=100)


def test_cache_dir_revalidates_then_serves_offline(server, tmp_path_factory):
    root, base = server
    values = _model(root, ["w.bin"])
    cache = tmp_path_factory.mktemp("cache")
    read_artifact(f"{base}/model.json", cache_dir=cache)
    first = len(_Handler.log)
    # online: each file is revalidated (If-Modified-Since; the server answers 304)
    art = read_artifact(f"{base}/model.json", cache_dir=cache)
    assert np.array_equal(art.weights["w"], values)
    # offline: nothing is requested
    after = len(_Handler.log)
    art = read_artifact(f"{base}/model.json", cache_dir=cache, offline=True)
    assert len(_Handler.log) == after and after == 2 * first
    assert np.array_equal(art.weights["w"], values)
