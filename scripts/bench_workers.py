"""Fresh-process measurements of scripts/bench.py (project venv), one JSON line on stdout.

    python scripts/bench_workers.py load  FMT MODEL_DIR N THREADS     # load time vs raw weight read
    python scripts/bench_workers.py rss   FMT MODEL_DIR THREADS       # peak RSS of one load
    python scripts/bench_workers.py first FMT MODEL_DIR INPUT.npy THREADS CANDIDATE [AOTI_CACHE]  # eager | aoti

``first`` times, in a process that has imported nothing yet: ``import torch, torch_tfjs``, the load
(model.json → module), and the wall time from "model loaded" to the first output (for ``aoti``:
``optimize_for_inference(model, backend="aoti")`` plus its first call, which finds the package an
earlier process compiled in the on-disk cache), then a second and third call.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # this checkout's torch_tfjs, not an installed one
    sys.path.insert(0, str(REPO))


def weight_files(model_dir: Path) -> List[Path]:
    manifest = json.loads((model_dir / "model.json").read_text()).get("weightsManifest") or []
    return [model_dir / p for group in manifest for p in group["paths"]]


def loader(fmt: str):
    import torch_tfjs

    return torch_tfjs.load_graph_model if fmt == "graph" else torch_tfjs.load_layers_model


def worker_load(fmt: str, model_dir: Path, n: int, threads: int) -> dict:
    """Median of ``n`` loads vs median of ``n`` raw reads of the weight shards (page cache warm)."""
    import torch
    import torch_tfjs  # noqa: F401

    torch.set_num_threads(threads)
    files = [model_dir / "model.json", *weight_files(model_dir)]
    for f in files:  # warm the page cache
        f.read_bytes()
    read_ms = []
    for _ in range(n):
        start = time.perf_counter()
        for f in files[1:]:
            with open(f, "rb") as fh:
                fh.read()
        read_ms.append((time.perf_counter() - start) * 1000)
    load = loader(fmt)
    load_ms = []
    for _ in range(n):
        gc.collect()
        start = time.perf_counter()
        model = load(model_dir)
        load_ms.append((time.perf_counter() - start) * 1000)
        del model
    return {"read_ms": statistics.median(read_ms), "load_ms": statistics.median(load_ms),
            "first_load_ms": load_ms[0], "weight_bytes": sum(f.stat().st_size for f in files[1:])}


def _proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise OSError(f"no {key} in /proc/self/status")


def import_loaders() -> None:
    """Import everything a load imports lazily (the importer, the builder, every op and layer
    module), so that the RSS baseline holds the library's code and a load's figure is the load."""
    import torch_tfjs.graph.importer  # noqa: F401
    import torch_tfjs.layers.build  # noqa: F401
    from torch_tfjs.graph import registry as op_registry
    from torch_tfjs.layers import registry as layer_registry

    op_registry._ensure_loaded()
    layer_registry._ensure_loaded()


def worker_rss(fmt: str, model_dir: Path, threads: int) -> dict:
    """Peak RSS of one load over the RSS after ``import torch, torch_tfjs`` and its loaders, KiB.

    Linux: the peak (VmHWM) is reset to the current RSS after the imports (``/proc/self/clear_refs``),
    so neither the imports' own transient peak nor the parent's RSS, which ``ru_maxrss`` inherits
    across fork + exec, hides the load. Elsewhere: ``ru_maxrss`` before and after."""
    import resource

    import torch
    import torch_tfjs  # noqa: F401

    def maxrss() -> int:
        value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return value // 1024 if sys.platform == "darwin" else value  # bytes on macOS

    torch.set_num_threads(threads)
    import_loaders()
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to VmRSS
        base, method = _proc_status_kib("VmRSS"), "VmHWM"
    except OSError:
        base, method = maxrss(), "ru_maxrss"
    model = loader(fmt)(model_dir)
    peak = _proc_status_kib("VmHWM") if method == "VmHWM" else maxrss()
    del model
    return {"base_kib": base, "peak_kib": peak, "method": method}


def worker_first(fmt: str, model_dir: Path, input_file: Path, threads: int, candidate: str,
                 aoti_cache: Optional[str] = None) -> dict:
    """Import, load, loaded → first output, second and third call, in this fresh process (s)."""
    start = time.perf_counter()
    import numpy as np
    import torch

    import torch_tfjs

    imported = time.perf_counter()
    torch.set_num_threads(threads)
    x = torch.from_numpy(np.load(input_file))
    before_load = time.perf_counter()
    model = loader(fmt)(model_dir).eval()
    loaded = time.perf_counter()
    with torch.inference_mode():
        run = torch_tfjs.optimize_for_inference(model, backend="aoti", **({"cache_dir": aoti_cache} if aoti_cache else {})) \
            if candidate == "aoti" else model
        run(x)
        first = time.perf_counter()
        run(x)
        second = time.perf_counter()
        run(x)
        third = time.perf_counter()
    return {"import_s": imported - start, "load_s": loaded - before_load, "first_s": first - loaded,
            "second_s": second - first, "third_s": third - second}


def run_worker(kind: str, *args: str, env: dict = None) -> dict:
    """Run one worker in a fresh interpreter; {"error": last stderr line} when it fails."""
    proc = subprocess.run([sys.executable, str(HERE), kind, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:160]}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": "no JSON line in the worker's output"}


def main(argv: List[str]) -> int:
    kind, fmt, folder, *rest = argv
    if kind == "load":
        result = worker_load(fmt, Path(folder), int(rest[0]), int(rest[1]))
    elif kind == "rss":
        result = worker_rss(fmt, Path(folder), int(rest[0]))
    elif kind == "first":
        result = worker_first(fmt, Path(folder), Path(rest[0]), int(rest[1]), rest[2], *rest[3:4])
    else:
        raise SystemExit(f"unknown worker {kind!r}: load, rss or first")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
