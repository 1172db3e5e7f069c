"""CPU speed and memory of torch_tfjs against ONNX Runtime and tfjs, on graph and layers models.

    python scripts/bench.py                                  # every model, both formats, batch 1 and 8
    python scripts/bench.py --models mobilenetv2,unet --formats graph --batches 1 --runs 10
    python scripts/bench.py --no-compile --no-tfjs           # quicker
    python scripts/bench.py --smoke                          # project venv only, committed fixtures, ~30 s

Models (scripts/bench_models.py, built in the TF environment ``scripts/.tfenv`` and cached under
``scripts/.bench_cache/<model>/``): MobileNetV2 0.35/96, EfficientNetB0/64, a small UNet and a small
transformer encoder, each saved as a graph model and as a LayersModel, and converted to ONNX
from the graph model by tf2onnx. For each model × format × batch it measures, on the CPU:

- ONNX Runtime (CPUExecutionProvider, ``intra_op_num_threads`` = --threads) latency and session
  creation time, in a subprocess under scripts/.tfenv (scripts/bench_ort.py);
- torch_tfjs eager latency (``eval()``, ``torch.no_grad()``) and the eager time per op;
- ``torch.compile`` latency and compile time (the first call), with a fresh compile per model,
  format and batch (``torch._dynamo.reset()`` first); compilation is :func:`compile_model`;
- tfjs latency in Node, pure-JS CPU backend (scripts/tfjs/bench.mjs);
- load: model.json → ready module, median of several loads in a fresh process (files read once
  first), against reading the weight shards into memory in that process and against ORT session
  creation; peak RSS of one load in another fresh process, over the RSS after ``import torch,
  torch_tfjs``, against the weight bytes;
- correctness: max|Δ| of torch_tfjs's output to ORT, tfjs and Keras (and compiled to eager).

Latencies are medians of --runs timed calls after --warmup untimed ones, each also shown as a
ratio to ORT from the same run. The report ends with PASS / MISS lines for the targets of the
issue "Speed and memory: as fast as ONNX Runtime on CPU" and a Markdown table for docs/performance.md's
"Measurements" section. Progress goes to stderr, the report to stdout. Set-up: scripts/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
TF_PYTHON = SCRIPTS / ".tfenv" / "bin" / "python"
CACHE = SCRIPTS / ".bench_cache"
FIXTURES = REPO / "tests" / "fixtures" / "models"
MODELS = ("mobilenetv2", "efficientnetb0", "unet", "transformer")
FORMATS = ("graph", "layers")
# smoke mode: committed fixtures, one per format (model name → (format, folder))
SMOKE_MODELS = {"graph_mobilenet_like": ("graph", FIXTURES / "graph_mobilenet_like"),
                "mobilenet_like": ("layers", FIXTURES / "models" / "mobilenet_like")}
SMOKE_COMPILE = ("graph_mobilenet_like", 1)  # the one (model, batch) smoke mode compiles

# the issue's targets
COMPILE_TARGET = 1.0   # torch.compile latency ≤ 1.0× ORT, every model and batch
EAGER_TARGET = 1.5     # eager ≤ 1.5× ORT, geometric mean over pairs where ORT takes ≥ 1 ms
EAGER_MIN_ORT_MS = 1.0
LOAD_TARGET = 1.5      # load ≤ 1.5× reading the weight bytes
RSS_TARGET = 1.3       # peak RSS during load ≤ 1.3× weight bytes


#: --compile-mode choices: how :func:`compile_model` compiles.
COMPILE_MODES = {
    "frozen": "torch_tfjs.optimize_for_inference (torch.compile, inductor, frozen weights, C++ wrapper)",
    "frozen-python": "torch_tfjs.optimize_for_inference(cpp_wrapper=False) (frozen weights, Python wrapper)",
    "plain": "torch.compile(model) (inductor defaults)",
}


def compile_model(model, mode: str = "frozen"):
    """The one place the benchmark compiles a torch_tfjs model (graph and layers alike)."""
    import torch

    import torch_tfjs

    if mode == "plain":
        return torch.compile(model)
    return torch_tfjs.optimize_for_inference(model, cpp_wrapper=mode != "frozen-python")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def short_error(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:120] if lines else ''}".rstrip(": ")


def last_json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the worker's output")


# --- workers (fresh processes of this script, project venv) ------------------------------------

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
    """Peak RSS of one load over the RSS after ``import torch, torch_tfjs`` and its loaders
    (:func:`import_loaders`), in KiB.

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


def run_worker(kind: str, fmt: str, model_dir: Path, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, fmt, str(model_dir), *extra],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:160]}
    return last_json_line(proc.stdout)


# --- measurement -------------------------------------------------------------------------------

def time_call(fn, x, warmup: int, runs: int) -> Tuple[float, float]:
    """(median, best) milliseconds of ``fn(x)`` over ``runs`` calls after ``warmup`` calls."""
    import torch

    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def first_output(y):
    if isinstance(y, dict):
        y = next(iter(y.values()))
    if isinstance(y, (list, tuple)):
        y = y[0]
    return y.detach().float().numpy()


def count_ops(model, fmt: str, x) -> Dict[str, Any]:
    """Ops one forward runs: the fx graph's call nodes (graph models), or the aten ops dispatched
    by one forward (layers models, which have no fx graph)."""
    import torch

    if fmt == "graph" and hasattr(model, "graph_module"):
        nodes = [n for n in model.graph_module.graph.nodes
                 if n.op in ("call_function", "call_module", "call_method")]
        return {"ops": len(nodes), "kind": "fx ops"}
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), Count():
        model(x)
    return {"ops": Count.n, "kind": "aten ops"}


def max_diff(a, b) -> Optional[Dict[str, float]]:
    import numpy as np

    if a is None or b is None:
        return None
    if a.shape != b.shape:
        return {"diff": float("inf"), "ref": float(np.abs(b).max()) if b.size else 0.0}
    if b.size and not np.isfinite(b).all():  # the reference's own failure, not a mismatch
        return {"diff": float("nan"), "ref": float("nan"),
                "bad_ref": f"{int((~np.isfinite(b)).sum())} of {b.size} reference values are NaN / inf"}
    return {"diff": float(np.abs(a.astype(np.float64) - b).max()), "ref": float(np.abs(b).max())}


def bound(ref: float) -> float:
    return 1e-4 * max(1.0, ref)  # the test suite's tolerance


# --- formatting --------------------------------------------------------------------------------

def fms(ms: Optional[float]) -> str:
    if ms is None:
        return "-"
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    return f"{ms:.0f} ms"


def fratio(value: Optional[float], base: Optional[float], unit: str = "× ORT") -> str:
    if value is None or not base:
        return ""
    return f"{value / base:.2f}{unit}" if value / base < 100 else f"{value / base:.0f}{unit}"


def fdiff(d: Optional[dict]) -> str:
    if d is None:
        return "-"
    return "reference NaN" if "bad_ref" in d else f"{d['diff']:.2g}"


NOISY = 1.3  # a median this many times the best run: the machine was busy during the runs


def noisy(row: dict, key: str, markdown: bool = False) -> str:
    median, best = row[key], row["best"].get(key)
    if median is None or not best or median <= NOISY * best:
        return ""
    return " †" if markdown else f" [noisy: best {fms(best)}]"


def cell(ms: Optional[float], status: Optional[str], base: Optional[float], mark: str = "") -> str:
    if ms is None:
        return status or "-"
    r = fratio(ms, base, "×")
    return (f"{fms(ms)} ({r})" if r else fms(ms)) + mark


def geomean(values: List[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def machine_line(args, versions: Dict[str, str]) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"CPU: {cpu}, {os.cpu_count()} cores", f"{args.threads} threads (torch, ORT intra-op)",
             f"torch {versions['torch']}", f"torch_tfjs {versions['torch_tfjs']}",
             f"onnxruntime {versions.get('ort', 'not measured')}",
             f"{versions.get('tfjs', 'tfjs not measured')} (Node, pure JS)"]
    return "; ".join(parts)


# --- the benchmark -----------------------------------------------------------------------------

def prepare_subjects(args, tmp: Path) -> List[dict]:
    """One entry per model: meta, inputs and Keras references per batch, formats and folders."""
    import numpy as np

    subjects = []
    if args.smoke:
        for name, (fmt, folder) in SMOKE_MODELS.items():
            case = json.loads((folder / "case.json").read_text())
            x = np.load(folder / case["inputs"][0]["file"])
            y = np.load(folder / case["outputs"][0]["file"])
            inputs = {b: x[:b] for b in args.batches if b <= x.shape[0]}
            description = case["description"].split(":")[0][:80] + " (test fixture)"
            subjects.append({"name": name, "description": description, "formats": {fmt: folder},
                             "inputs": inputs, "refs": {f"tfjs {fmt}": {x.shape[0]: y}},  # the fixture's reference
                             "onnx": None})
        return subjects
    if not TF_PYTHON.exists():
        raise SystemExit(f"{TF_PYTHON} is missing: the full benchmark needs the TF environment "
                         "(see scripts/README.md); `--smoke` needs only the project venv")
    log(f"building / checking models in {CACHE} (TF environment) ...")
    proc = subprocess.run([str(TF_PYTHON), str(SCRIPTS / "bench_models.py"), "--cache", str(CACHE),
                           "--models", ",".join(args.models)], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    for line in proc.stdout.strip().splitlines():
        log("  " + line)
    if proc.returncode != 0:
        raise SystemExit("bench_models.py failed:\n" + "\n".join(proc.stderr.strip().splitlines()[-15:]))
    for name in args.models:
        d = CACHE / name
        meta = json.loads((d / "meta.json").read_text())
        x8 = np.load(d / f"input_b{max(meta['batches'])}.npy")
        inputs, keras = {}, {}
        for b in args.batches:
            f = d / f"input_b{b}.npy"
            # other batch sizes: the largest cached batch, repeated (no Keras reference)
            inputs[b] = np.load(f) if f.exists() else np.concatenate([x8] * -(-b // len(x8)))[:b]
            if (d / f"keras_b{b}.npy").exists():
                keras[b] = np.load(d / f"keras_b{b}.npy")
        subjects.append({"name": name, "description": meta["description"], "params": meta["params"],
                         "formats": {fmt: d / fmt for fmt in args.formats}, "inputs": inputs,
                         "refs": {"Keras": keras}, "onnx": d / "model.onnx", "onnx_status": meta["onnx"]})
    for s in subjects:
        for b, x in s["inputs"].items():
            np.save(tmp / f"{s['name']}_b{b}.npy", x)
    return subjects


def measure_ort(args, s: dict, tmp: Path, versions: dict) -> None:
    import numpy as np

    s["ort"], s["ort_status"] = {}, None
    if args.smoke:
        s["ort_status"] = "not measured (smoke)"
        return
    if args.no_ort:
        s["ort_status"] = "not measured (--no-ort)"
        return
    if s["onnx_status"] != "ok":
        s["ort_status"] = s["onnx_status"]
        return
    log(f"{s['name']}: ONNX Runtime ...")
    files = [str(tmp / f"{s['name']}_b{b}.npy") for b in s["inputs"]]
    proc = subprocess.run([str(TF_PYTHON), str(SCRIPTS / "bench_ort.py"), str(s["onnx"]), "--inputs", *files,
                           "--out-dir", str(tmp), "--threads", str(args.threads), "--warmup", str(args.warmup),
                           "--runs", str(args.runs)], capture_output=True, text=True)
    if proc.returncode != 0:
        s["ort_status"] = "ORT failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:120]
        return
    res = last_json_line(proc.stdout)
    versions["ort"] = res["version"]
    s["ort_session_ms"] = res["session_ms"]
    s["ort"] = {int(b): r["median_ms"] for b, r in res["results"].items()}
    s["ort_best"] = {int(b): r["min_ms"] for b, r in res["results"].items()}
    s["refs"]["ORT"] = {b: np.load(tmp / f"ort_{s['name']}_b{b}.npy") for b in s["inputs"]}


def measure_tfjs(args, s: dict, fmt: str, tmp: Path, versions: dict) -> dict:
    import numpy as np

    if args.smoke:
        return {"status": "not measured (smoke)"}
    if args.no_tfjs:
        return {"status": "not measured (--no-tfjs)"}
    log(f"{s['name']} {fmt}: tfjs in Node ...")
    files = [str(tmp / f"{s['name']}_b{b}.npy") for b in s["inputs"]]
    try:
        proc = subprocess.run(["node", "tfjs/bench.mjs", fmt, str(s["formats"][fmt]), str(args.tfjs_runs),
                               str(tmp), *files], cwd=SCRIPTS, capture_output=True, text=True)
        res = last_json_line(proc.stdout)
    except (OSError, ValueError) as exc:
        return {"status": f"n/a: {short_error(exc)}"}
    versions["tfjs"] = res["runtime"]
    if "error" in res:
        return {"status": f"n/a: {res['error']}"}
    s["refs"][f"tfjs {fmt}"] = {b: np.load(tmp / f"tfjs_{fmt}_{s['name']}_b{b}.npy") for b in s["inputs"]}
    return {"ms": {int(b): r["median_ms"] for b, r in res["results"].items()},
            "best": {int(b): r["min_ms"] for b, r in res["results"].items()}, "method": res["method"]}


def measure_torch(args, s: dict, fmt: str) -> dict:
    import torch

    folder = s["formats"][fmt]
    log(f"{s['name']} {fmt}: torch_tfjs eager" + ("" if args.no_compile else " + torch.compile") + " ...")
    try:
        model = loader(fmt)(folder).eval()
    except Exception as exc:  # noqa: BLE001 -- reported, not fatal
        return {"error": short_error(exc)}
    out: Dict[str, Any] = {"eager": {}, "eager_best": {}, "compiled": {}, "compiled_best": {},
                           "compile_s": {}, "compile_status": {},
                           "outputs": {}, "compiled_diff": {}}
    first_batch = min(s["inputs"])
    out.update(count_ops(model, fmt, torch.from_numpy(s["inputs"][first_batch])))
    for b, x in s["inputs"].items():
        xt = torch.from_numpy(x)
        with torch.no_grad():
            out["outputs"][b] = first_output(model(xt))
        out["eager"][b], out["eager_best"][b] = time_call(model, xt, args.warmup, args.runs)
        skip = args.no_compile or (args.smoke and (s["name"], b) != SMOKE_COMPILE)
        if skip:
            out["compile_status"][b] = "not measured (--no-compile)" if args.no_compile else "not measured (smoke)"
            continue
        try:
            torch._dynamo.reset()
            compiled = compile_model(model, args.compile_mode)
            start = time.perf_counter()
            with torch.no_grad():
                y = first_output(compiled(xt))
            out["compile_s"][b] = time.perf_counter() - start
            out["compiled_diff"][b] = max_diff(y, out["outputs"][b])
            out["compiled"][b], out["compiled_best"][b] = time_call(compiled, xt, args.warmup, args.runs)
        except Exception as exc:  # noqa: BLE001 -- reported, not fatal
            out["compile_status"][b] = f"compile failed: {short_error(exc)}"
    del model
    torch._dynamo.reset()
    return out


def measure_load(args, s: dict, fmt: str) -> dict:
    log(f"{s['name']} {fmt}: load and peak RSS (fresh processes) ...")
    folder = s["formats"][fmt]
    load = run_worker("load", fmt, folder, str(args.loads), str(args.threads))
    rss = run_worker("rss", fmt, folder, str(args.threads))
    return {"load": load, "rss": rss}


def correctness(s: dict, fmt: str, r: dict) -> Dict[str, Optional[dict]]:
    """Worst max|Δ| of torch_tfjs's eager output against each reference, over the batches."""
    worst: Dict[str, Optional[dict]] = {}
    for ref_name, per_batch in s["refs"].items():
        if ref_name.startswith("tfjs ") and ref_name != f"tfjs {fmt}":
            continue
        diffs = [max_diff(r["outputs"].get(b), y) for b, y in per_batch.items() if b in r["outputs"]]
        diffs = [d for d in diffs if d is not None]
        worst["tfjs" if ref_name.startswith("tfjs ") else ref_name] = (
            max(diffs, key=lambda d: math.inf if "bad_ref" in d else d["diff"]) if diffs else None)
    compiled = [d for d in r["compiled_diff"].values() if d is not None]
    worst["compiled"] = max(compiled, key=lambda d: d["diff"]) if compiled else None
    return worst


def report(args, subjects: List[dict], versions: Dict[str, str]) -> str:
    lines: List[str] = []
    p = lines.append
    p("torch_tfjs benchmark" + (" (SMOKE: committed fixtures, few runs; not a measurement)" if args.smoke else ""))
    p(machine_line(args, versions))
    busy = [f"{load:.2f}" for load in versions["loadavg"]]
    p(f"Load average (1 min) at start / end: {' / '.join(busy)} on {os.cpu_count()} cores"
      + ("  !!! the machine was busy: figures are noisy" if max(versions["loadavg"]) > 0.5 * (os.cpu_count() or 1)
         else ""))
    p(f"Latency: median of {args.runs} runs after {args.warmup} warm-up (tfjs: {args.tfjs_runs} after 1); "
      "torch_tfjs under eval() + no_grad(); torch.compile: fresh compile per model, format and batch, "
      f"as {COMPILE_MODES[args.compile_mode]}")
    p("Compile time: the first call of that compile (shorter when inductor's on-disk cache holds kernels "
      "from an earlier run)")
    rows, loads, mismatches, bad_refs = [], [], [], []
    for s in subjects:
        p("")
        params = f"{s['params']:,} params, " if s.get("params") else ""
        p(f"{s['name']} — {s['description']} ({params}formats: {', '.join(s['formats'])})")
        for fmt, r in list(s["results"].items()):
            if "error" in r:
                p(f"  {fmt:6s} !!! torch_tfjs cannot load it: {r['error']}")
                mismatches.append(f"{s['name']} {fmt}: torch_tfjs cannot load it: {r['error']}")
                del s["results"][fmt]
                continue
            corr = correctness(s, fmt, r)
            r["correctness"] = corr
            parts, bad = [], []
            for ref_name, d in corr.items():
                if d is None:
                    continue
                if "bad_ref" in d:
                    parts.append(f"{ref_label(ref_name)}: not comparable")
                    bad_refs.append(f"{s['name']} {fmt}: {ref_name}: {d['bad_ref']}")
                    continue
                parts.append(f"{ref_label(ref_name)} {d['diff']:.2g}")
                if not d["diff"] <= bound(d["ref"]):
                    bad.append(f"{ref_name} {d['diff']:.3g} > {bound(d['ref']):.2g}")
            ref_max = max((d["ref"] for d in corr.values() if d and "bad_ref" not in d), default=None)
            status = "OK" if not bad else "!!! MISMATCH: " + "; ".join(bad)
            if bad:
                mismatches.append(f"{s['name']} {fmt}: " + "; ".join(bad))
            p(f"  {fmt:6s} max|Δ|: " + (", ".join(parts) or "no reference")
              + (f" (max|ref| {ref_max:.3g}, bound 1e-4·max(1, max|ref|))" if ref_max is not None else "")
              + f"  {status}")
        for fmt, r in s["results"].items():
            for b in s["inputs"]:
                ort = s["ort"].get(b)
                eager = r["eager"][b]
                comp = r["compiled"].get(b)
                tf_ms = r["tfjs"].get("ms", {}).get(b)
                row = dict(model=s["name"], fmt=fmt, batch=b, ort=ort, ort_status=s["ort_status"], eager=eager,
                           compiled=comp, compile_s=r["compile_s"].get(b), compile_status=r["compile_status"].get(b),
                           tfjs=tf_ms, tfjs_status=r["tfjs"].get("status"), ops=r["ops"], ops_kind=r["kind"],
                           best={"ort": s.get("ort_best", {}).get(b), "eager": r["eager_best"][b],
                                 "compiled": r["compiled_best"].get(b), "tfjs": r["tfjs"].get("best", {}).get(b)})
                rows.append(row)
                ort_text = fms(ort) + noisy(row, "ort") if ort is not None else s["ort_status"]
                eager_text = f"eager {fms(eager)}" + (f" ({fratio(eager, ort)})" if ort else "") + noisy(row, "eager")
                eager_text += f" [{r['ops']} {r['kind']}, {eager * 1000 / max(r['ops'], 1):.1f} µs/op]"
                if comp is not None:
                    comp_text = (f"compiled {fms(comp)}" + (f" ({fratio(comp, ort)})" if ort else "")
                                 + noisy(row, "compiled"))
                    comp_text += f" [compile {row['compile_s']:.1f} s]"
                else:
                    comp_text = f"compiled: {row['compile_status']}"
                tfjs_text = (f"tfjs {fms(tf_ms)}" + (f" ({fratio(tf_ms, ort)})" if ort else "") + noisy(row, "tfjs")
                             if tf_ms is not None else f"tfjs: {row['tfjs_status']}")
                p(f"  {fmt:6s} b{b:<3d} ORT {ort_text} | {eager_text} | {comp_text} | {tfjs_text}")
        for fmt, r in s["results"].items():
            ld, rss = r["load"]["load"], r["load"]["rss"]
            entry = dict(model=s["name"], fmt=fmt, ort_session=s.get("ort_session_ms"))
            if "error" in ld:
                p(f"  {fmt:6s} load: failed: {ld['error']}")
            else:
                entry.update(read=ld["read_ms"], load=ld["load_ms"], first=ld["first_load_ms"], bytes=ld["weight_bytes"])
                text = (f"  {fmt:6s} load {fms(ld['load_ms'])} (first in process {fms(ld['first_load_ms'])}) = "
                        f"{fratio(ld['load_ms'], ld['read_ms'], '×')} raw read of the weights "
                        f"({fms(ld['read_ms'])}, {ld['weight_bytes'] / 1e6:.2f} MB)")
                if entry["ort_session"]:
                    text += f", {fratio(ld['load_ms'], entry['ort_session'], '×')} ORT session ({fms(entry['ort_session'])})"
                p(text)
            if "error" in rss:
                p(f"  {fmt:6s} peak RSS: failed: {rss['error']}")
            elif "bytes" in entry:
                entry["rss_mb"] = (rss["peak_kib"] - rss["base_kib"]) * 1024 / 1e6
                p(f"  {fmt:6s} peak RSS during load +{entry['rss_mb']:.1f} MB over {rss['base_kib'] / 1024:.0f} MiB "
                  f"after imports ({rss['method']}) = {entry['rss_mb'] * 1e6 / entry['bytes']:.2f}× the weight bytes")
            loads.append(entry)

    p("")
    if mismatches:
        p("!!! CORRECTNESS: torch_tfjs fails to load or disagrees with a reference beyond 1e-4·max(1, max|ref|):")
        for m in mismatches:
            p(f"!!!   {m}")
    else:
        p("Correctness: torch_tfjs matches every reference within 1e-4·max(1, max|ref|).")
    for b in bad_refs:
        p(f"!!! REFERENCE NOT USABLE (not counted against torch_tfjs): {b}")
    p("")
    p("Targets (issue \"Speed and memory: as fast as ONNX Runtime on CPU\"):")
    lines.extend(targets(rows, loads))
    p("")
    lines.extend(markdown(args, rows, loads, subjects, versions))
    return "\n".join(lines)


def ref_label(key: str) -> str:
    return "compiled vs eager" if key == "compiled" else f"eager vs {key}"


def verdict(ok: Optional[bool]) -> str:
    return {True: "PASS", False: "MISS", None: "N/A "}[ok]


def targets(rows: List[dict], loads: List[dict]) -> List[str]:
    out = []
    formats = list(dict.fromkeys(r["fmt"] for r in rows))
    # torch.compile ≤ 1.0× ORT, every model and batch
    for fmt in formats:
        rs = [r for r in rows if r["fmt"] == fmt]
        have = [r for r in rs if r["ort"] and r["compiled"] is not None]
        missing = [f"{r['model']} b{r['batch']}" for r in rs if r not in have]
        over = [f"{r['model']} b{r['batch']} {r['compiled'] / r['ort']:.2f}×" for r in have
                if r["compiled"] > COMPILE_TARGET * r["ort"]]
        ok = None if not have else (not over and not missing)
        worst = max((r["compiled"] / r["ort"] for r in have), default=None)
        text = f"{verdict(ok)}  torch.compile ≤ {COMPILE_TARGET:.1f}× ORT for every model and batch ({fmt}): "
        text += (f"worst {worst:.2f}×" if worst is not None else "nothing measured")
        if over:
            text += "; over: " + ", ".join(over)
        if missing:
            text += "; not measured: " + ", ".join(missing)
        out.append(text)
    # eager ≤ 1.5× ORT, geometric mean over pairs where ORT ≥ 1 ms
    for fmt in formats:
        rs = [r for r in rows if r["fmt"] == fmt and r["ort"]]
        big = [r for r in rs if r["ort"] >= EAGER_MIN_ORT_MS]
        small = [r for r in rs if r["ort"] < EAGER_MIN_ORT_MS]
        if big:
            g = geomean([r["eager"] / r["ort"] for r in big])
            out.append(f"{verdict(g <= EAGER_TARGET)}  eager ≤ {EAGER_TARGET}× ORT, geometric mean over pairs with "
                       f"ORT ≥ {EAGER_MIN_ORT_MS:g} ms ({fmt}): {g:.2f}× over "
                       + ", ".join(f"{r['model']} b{r['batch']} {r['eager'] / r['ort']:.2f}×" for r in big))
        else:
            out.append(f"{verdict(None)}  eager ≤ {EAGER_TARGET}× ORT ({fmt}): no pair with ORT ≥ {EAGER_MIN_ORT_MS:g} ms measured")
        for r in small:
            out.append(f"        ORT < 1 ms ({fmt}): {r['model']} b{r['batch']}: ORT {fms(r['ort'])}, eager "
                       f"{fms(r['eager'])} over {r['ops']} {r['ops_kind']} = {r['eager'] * 1000 / max(r['ops'], 1):.1f} µs/op")
    if not any(r["ort"] for r in rows):
        for r in rows:
            out.append(f"        eager per op ({r['fmt']}): {r['model']} b{r['batch']}: {fms(r['eager'])} over "
                       f"{r['ops']} {r['ops_kind']} = {r['eager'] * 1000 / max(r['ops'], 1):.1f} µs/op")
    # load ≤ 1.5× raw read; peak RSS ≤ 1.3× weights
    have = [l for l in loads if "load" in l]
    over = [f"{l['model']} {l['fmt']} {l['load'] / l['read']:.1f}×" for l in have if l["load"] > LOAD_TARGET * l["read"]]
    out.append(f"{verdict(not over if have else None)}  load ≤ {LOAD_TARGET}× reading the weight bytes: "
               + (", ".join(f"{l['model']} {l['fmt']} {l['load'] / l['read']:.1f}×" for l in have) or "nothing measured"))
    have = [l for l in loads if "rss_mb" in l]
    over = [l for l in have if l["rss_mb"] * 1e6 > RSS_TARGET * l["bytes"]]
    out.append(f"{verdict(not over if have else None)}  peak RSS during load ≤ {RSS_TARGET}× the weight bytes: "
               + (", ".join(f"{l['model']} {l['fmt']} {l['rss_mb'] * 1e6 / l['bytes']:.2f}×" for l in have)
                  or "nothing measured"))
    return out


def markdown(args, rows, loads, subjects, versions) -> List[str]:
    out = ["Markdown (docs/performance.md, \"Measurements\"):", "", machine_line(args, versions) + ".", "",
           f"Median of {args.runs} runs after {args.warmup} warm-up (tfjs: {args.tfjs_runs}); "
           "ratios are to ONNX Runtime in the same run; torch.compile is "
           f"{COMPILE_MODES[args.compile_mode]}.", "",
           "| model | format | batch | ONNX Runtime | torch_tfjs eager | torch.compile | compile time | tfjs (Node, pure JS) |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ort = fms(r["ort"]) if r["ort"] is not None else r["ort_status"]
        comp_time = f"{r['compile_s']:.1f} s" if r["compile_s"] is not None else "-"
        ort = ort + noisy(r, "ort", True) if r["ort"] is not None else ort
        out.append(f"| {r['model']} | {r['fmt']} | {r['batch']} | {ort} | "
                   f"{cell(r['eager'], None, r['ort'], noisy(r, 'eager', True))} | "
                   f"{cell(r['compiled'], r['compile_status'], r['ort'], noisy(r, 'compiled', True))} | {comp_time} | "
                   f"{cell(r['tfjs'], r['tfjs_status'], r['ort'], noisy(r, 'tfjs', True))} |")
    if any(noisy(r, k) for r in rows for k in ("ort", "eager", "compiled", "tfjs")):
        out += ["", f"† median > {NOISY}× the best run: the machine was busy; rerun on a quiet machine."]
    out += ["", "| model | format | weights | read weights | load | load ÷ read | ORT session | load ÷ ORT session "
                "| peak RSS Δ during load | ÷ weights |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for l in loads:
        if "load" not in l:
            out.append(f"| {l['model']} | {l['fmt']} | load failed | | | | | | | |")
            continue
        sess = l["ort_session"]
        rss = f"{l['rss_mb']:.1f} MB" if "rss_mb" in l else "-"
        rss_ratio = f"{l['rss_mb'] * 1e6 / l['bytes']:.2f}×" if "rss_mb" in l else "-"
        out.append(f"| {l['model']} | {l['fmt']} | {l['bytes'] / 1e6:.2f} MB | {fms(l['read'])} | {fms(l['load'])} | "
                   f"{l['load'] / l['read']:.1f}× | {fms(sess) if sess else '-'} | "
                   f"{fratio(l['load'], sess, '×') if sess else '-'} | {rss} | {rss_ratio} |")
    refs = list(dict.fromkeys(k for s in subjects for r in s["results"].values() for k in r["correctness"]))
    out += ["", "| model | format | " + " | ".join(f"max abs Δ, {ref_label(k)}" for k in refs) + " |",
            "|---|---|" + "---:|" * len(refs)]
    for s in subjects:
        for fmt, r in s["results"].items():
            out.append(f"| {s['name']} | {fmt} | " + " | ".join(fdiff(r["correctness"].get(k)) for k in refs) + " |")
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per figure (median)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    ap.add_argument("--tfjs-runs", type=int, default=3, help="timed tfjs runs (one warm-up)")
    ap.add_argument("--loads", type=int, default=5, help="timed loads (median)")
    ap.add_argument("--threads", type=int, default=0, help="torch and ORT intra-op threads (0: all cores)")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--compile-mode", choices=sorted(COMPILE_MODES), default="frozen",
                    help="; ".join(f"{k}: {v}" for k, v in COMPILE_MODES.items()))
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--no-tfjs", action="store_true")
    ap.add_argument("--smoke", action="store_true",
                    help="committed fixtures, project venv only (no TF env, ORT or Node), batch 1 and 2, few runs")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # internal: load / rss workers
    args = ap.parse_args(argv)
    if not args.threads:
        args.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if args.smoke:
        args.models = list(SMOKE_MODELS)
        args.formats = list(FORMATS)
        args.batches = [1, 2]
        args.runs, args.warmup, args.loads = min(args.runs, 5), min(args.warmup, 2), min(args.loads, 3)
    else:
        args.models = [m for m in args.models.split(",") if m]
        args.formats = [f for f in args.formats.split(",") if f]
        args.batches = [int(b) for b in args.batches.split(",") if b]
        for m in args.models:
            if m not in MODELS:
                ap.error(f"unknown model {m!r}; known: {', '.join(MODELS)}")
        for f in args.formats:
            if f not in FORMATS:
                ap.error(f"unknown format {f!r}; known: {', '.join(FORMATS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        kind, fmt, folder, *extra = args.worker
        if kind == "load":
            result = worker_load(fmt, Path(folder), int(extra[0]), int(extra[1]))
        else:
            result = worker_rss(fmt, Path(folder), int(extra[0]))
        print(json.dumps(result))
        return 0

    import torch

    import torch_tfjs

    torch.set_num_threads(args.threads)
    versions: Dict[str, Any] = {"torch": torch.__version__, "torch_tfjs": torch_tfjs.__version__,
                                "loadavg": [os.getloadavg()[0]] if hasattr(os, "getloadavg") else [0.0]}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        subjects = prepare_subjects(args, tmp)
        for s in subjects:
            measure_ort(args, s, tmp, versions)
            s["results"] = {}
            for fmt in s["formats"]:
                s["results"][fmt] = {"tfjs": measure_tfjs(args, s, fmt, tmp, versions)}
        for s in subjects:
            for fmt in s["formats"]:
                s["results"][fmt].update(measure_torch(args, s, fmt))
        for s in subjects:
            for fmt in s["formats"]:
                s["results"][fmt]["load"] = measure_load(args, s, fmt)
    if hasattr(os, "getloadavg"):
        versions["loadavg"].append(os.getloadavg()[0])
    print(report(args, subjects, versions))
    log(f"benchmark took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
