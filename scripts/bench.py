"""CPU speed of torch_tfjs against ONNX Runtime: synthetic and real published models, eager and
compiled, 1 and 2 threads, candidates interleaved round by round.

    python scripts/bench.py                          # every model, batch 1 and 8, 1 and 2 threads
    python scripts/bench.py --quick                  # mobilenetv2 + movenet, graph, batch 1, 1 thread, few rounds
    python scripts/bench.py --models unet,faceres --batches 8 --threads 2 --rounds 10
    python scripts/bench.py --candidates ort,eager   # no compiling
    python scripts/bench.py --smoke                  # project venv only, committed fixtures, ~30 s

Models:

- synthetic (scripts/bench_models.py, built in the TF environment ``scripts/.tfenv``, cached in
  ``scripts/.bench_cache/<model>/``): MobileNetV2 0.35/96, EfficientNetB0/64, a small UNet and a
  small transformer encoder, as graph model and LayersModel; ONNX from tf2onnx (when the TF
  environment lacks tf2onnx: torch_tfjs.export_onnx of the graph model; the report says which);
- real published tfjs models (scripts/bench_realworld.py; from the real-world suite's cache,
  ``--realworld-dir`` or ``$TORCH_TFJS_REALWORLD_DIR``, skipped with a message when absent): a
  detector, a pose net, a ResNet-like embedder, a MobileNet-class classifier, a face embedder;
  ONNX from torch_tfjs.export_onnx (there is no TF source).

Candidates (scripts/bench_candidates.py): ONNX Runtime in this process (``intra_op_num_threads``
= the thread count), torch_tfjs eager, ``optimize_for_inference``, its AOTInductor backend and its
lowered-convs option (both reported ``n/a: not available`` where this checkout lacks them). For
each model × format × batch × thread count every candidate is built (its first call, the
compile, timed: inductor bakes the thread count into its kernels), then they run in interleaved
rounds. Fresh processes
(scripts/bench_workers.py) time import, load and "model loaded → first output" for eager and a
cached AOTI package, and the load time and peak RSS. The report ends with PASS / MISS lines for
issue 16's targets and Markdown tables for docs/performance.md. Progress goes to stderr, the
report to stdout. Set-up: scripts/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
if str(REPO) not in sys.path:  # this checkout's torch_tfjs, not an installed one
    sys.path.insert(0, str(REPO))

import bench_realworld  # noqa: E402
from bench_candidates import (CANDIDATES, TORCH_CANDIDATES,  # noqa: E402
                              OrtCandidate, aoti_available,
                              build_torch_candidates, first_output, interleaved, max_diff, short_error,
                              summary, time_call)
from bench_report import header, markdown, model_lines, targets  # noqa: E402
from bench_workers import loader, run_worker  # noqa: E402

__all__ = ["CACHE", "time_call"]  # scripts/bench_native.py

TF_PYTHON = SCRIPTS / ".tfenv" / "bin" / "python"
CACHE = SCRIPTS / ".bench_cache"
FIXTURES = REPO / "tests" / "fixtures" / "models"
SYNTHETIC = {"mobilenetv2": "mobilenet", "efficientnetb0": "efficientnet", "unet": "unet",
             "transformer": "transformer"}  # name → class
MODELS = (*SYNTHETIC, *bench_realworld.MODELS)
FORMATS = ("graph", "layers")
QUICK_MODELS = ("mobilenetv2", "movenet")
OPT_IN = ("onednn_gemm", "autotuned")  # candidates run only when asked for
# smoke mode: committed fixtures, one per format (model name → (format, folder))
SMOKE_MODELS = {"graph_mobilenet_like": ("graph", FIXTURES / "graph_mobilenet_like"),
                "mobilenet_like": ("layers", FIXTURES / "models" / "mobilenet_like")}
SMOKE_COMPILE = ("graph_mobilenet_like", 1)  # the one (model, batch) smoke mode compiles (1st thread count)


SKIPPED: List[str] = []  # models not measured and why (also in the report)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def skip(message: str) -> None:
    SKIPPED.append(message)
    log(message)


# --- subjects: the models, their inputs, references and ONNX files ------------------------------

def smoke_subjects(args) -> List[dict]:
    subjects = []
    for name, (fmt, folder) in SMOKE_MODELS.items():
        case = json.loads((folder / "case.json").read_text())
        x = np.load(folder / case["inputs"][0]["file"])
        y = np.load(folder / case["outputs"][0]["file"])
        subjects.append({"name": name, "class": "mobilenet", "formats": {fmt: folder},
                         "description": case["description"].split(":")[0][:80] + " (test fixture)",
                         "inputs": {b: x[:b] for b in args.batches if b <= x.shape[0]},
                         "refs": {"tfjs": {x.shape[0]: y.astype(np.float64)}},
                         "onnx": None, "onnx_status": "not measured (smoke)", "onnx_how": "-"})
    return subjects


def synthetic_subjects(args, names: List[str]) -> List[dict]:
    """Build / check the synthetic models in the TF environment, then read their inputs, Keras
    references and tf2onnx's ONNX file (or export one with torch_tfjs when tf2onnx failed)."""
    if not names:
        return []
    if not TF_PYTHON.exists():
        skip(f"synthetic models skipped ({', '.join(names)}): {TF_PYTHON} is missing (see scripts/README.md)")
        return []
    log(f"building / checking models in {CACHE} (TF environment) ...")
    proc = subprocess.run([str(TF_PYTHON), str(SCRIPTS / "bench_models.py"), "--cache", str(CACHE),
                           "--models", ",".join(names)], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    for line in proc.stdout.strip().splitlines():
        log("  " + line)
    if proc.returncode != 0:
        raise SystemExit("bench_models.py failed:\n" + "\n".join(proc.stderr.strip().splitlines()[-15:]))
    subjects = []
    for name in names:
        d = CACHE / name
        meta = json.loads((d / "meta.json").read_text())
        x8 = np.load(d / f"input_b{max(meta['batches'])}.npy")
        inputs, keras = {}, {}
        for b in args.batches:
            f = d / f"input_b{b}.npy"
            inputs[b] = np.load(f) if f.exists() else np.concatenate([x8] * -(-b // len(x8)))[:b]
            if (d / f"keras_b{b}.npy").exists():
                keras[b] = np.load(d / f"keras_b{b}.npy").astype(np.float64)
        s = {"name": name, "class": SYNTHETIC[name], "description": meta["description"],
             "formats": {fmt: d / fmt for fmt in args.formats}, "inputs": inputs, "refs": {"Keras": keras},
             "onnx": d / "model.onnx", "onnx_status": meta["onnx"], "onnx_how": "tf2onnx"}
        if "ort" in args.candidates and meta["onnx"] != "ok":
            log(f"{name}: {meta['onnx']}; using torch_tfjs.export_onnx instead")
            bench_realworld.export(s, d / "graph", d / "torch_tfjs_onnx", log)
        subjects.append(s)
    return subjects


def realworld_subjects(args, names: List[str]) -> List[dict]:
    if not names:
        return []
    root = bench_realworld.find_dir(args.realworld_dir)
    if root is None:
        skip(f"real-world models skipped ({', '.join(names)}): no folder at --realworld-dir / "
            f"${bench_realworld.ENV} / {bench_realworld.DEFAULT_DIR} (build it: python scripts/realworld/build.py)")
        return []
    subjects = bench_realworld.subjects(names, root, args.batches, skip)
    for s in subjects:
        fmt, model_dir = next(iter(s["formats"].items()))
        if "ort" in args.candidates:
            bench_realworld.export(s, model_dir, CACHE / "realworld" / s["name"], log)
        else:
            s["onnx_status"] = "not measured"
    return subjects


# --- measuring one model ---------------------------------------------------------------------------

def measure(args, s: dict, fmt: str, tmp: Path) -> Dict[str, Any]:
    """Rows (batch × threads), correctness and fresh-process figures of one model in one format."""
    import torch

    out: Dict[str, Any] = {"rows": [], "correctness": {}, "firsts": [], "loads": []}
    try:
        model = loader(fmt)(s["formats"][fmt]).eval()
    except Exception as exc:  # noqa: BLE001 -- reported, not fatal
        out["error"] = short_error(exc)
        return out
    ort = None
    ort_status = s["onnx_status"] if s["onnx_status"] != "ok" else None
    if "ort" in args.candidates and not ort_status:
        try:
            ort = OrtCandidate(str(s["onnx"]), spin=args.ort_spin)
        except Exception as exc:  # noqa: BLE001
            ort_status = f"ORT failed: {short_error(exc)}"
    corr: Dict[str, Any] = {}
    for b, x in s["inputs"].items():
        xt = torch.from_numpy(x)
        for threads in args.threads:
            wanted = list(args.candidates)
            if args.smoke and ((s["name"], b) != SMOKE_COMPILE or threads != args.threads[0]):
                wanted = [k for k in wanted if k not in TORCH_CANDIDATES]
            elif args.smoke:
                wanted = [k for k in wanted if k not in TORCH_CANDIDATES[1:]]  # one compile only
            # inductor bakes the thread count of the compile into its kernels (1: serial code;
            # N < cores: num_threads(N)): every thread count gets its own compile
            torch.set_num_threads(threads)
            log(f"{s['name']} {fmt} b{b} t{threads}: building candidates ...")
            cands = {c.key: c for c in build_torch_candidates(model, xt, ["eager", *wanted],
                                                              aoti_cache_for(args, threads))}
            eager_y = first_output(cands["eager"].run(xt))
            for ref, per_batch in s["refs"].items():
                d = max_diff(eager_y, per_batch[b]) if b in per_batch else None
                if d and (ref not in corr or d["diff"] > corr[ref]["diff"]):
                    corr[ref] = d
            calls = {k: (lambda c=c: c.run(xt)) for k, c in cands.items() if c.run}
            diffs = {k: max_diff(first_output(c.run(xt)), eager_y) for k, c in cands.items() if c.run and k != "eager"}
            status = {k: c.status for k, c in cands.items() if c.status}
            status.update({k: "not measured (smoke)" for k in TORCH_CANDIDATES if k in args.candidates and k not in cands})
            status["ort"] = ort_status or ("not measured" if not ort else None)
            if ort:
                run = ort.runner(threads)
                calls = {"ort": lambda: run(x), **calls}
                diffs["ort"] = max_diff(first_output(run(x)), eager_y)
            log(f"{s['name']} {fmt} b{b} t{threads}: {args.rounds} rounds of {', '.join(calls)} ...")
            times = interleaved(calls, args.rounds, args.warmup, args.burst)
            out["rows"].append({"model": s["name"], "class": s["class"], "fmt": fmt, "batch": b, "threads": threads,
                                "wanted": ["ort", "eager", *wanted], "times": {k: summary(t) for k, t in times.items()},
                                "status": status, "diffs": diffs,
                                "first_call_s": {k: c.first_call_s for k, c in cands.items()},
                                "notes": {k: c.note for k, c in cands.items() if c.note}})
            del cands, calls
            torch._dynamo.reset()
    out["correctness"] = corr
    if ort:
        out["ort_session_ms"] = ort.session_ms
    del model
    out["firsts"] = fresh_first_calls(args, s, fmt, tmp)
    if args.loads:
        out["loads"] = [measure_load(args, s, fmt)]
    return out


def aoti_cache_for(args, threads: int) -> Optional[str]:
    """This run's AOTI package folder for ``threads``: inductor bakes the thread count into a
    package's kernels; the cache key holds it since 464f47c, and one folder per count keeps
    older checkouts honest too (None: torch_tfjs's own cache, as --aoti-cache default asks)."""
    return str(Path(args.aoti_cache) / f"threads{threads}") if args.aoti_cache else None


def fresh_first_calls(args, s: dict, fmt: str, tmp: Path) -> List[dict]:
    """Import, load, loaded → first output in fresh processes: eager, and AOTI (its package
    compiled by this process's candidate, cached on disk) when it was measured."""
    if args.smoke or args.no_first_call:
        return []
    b = min(s["inputs"])
    x_file = tmp / f"{s['name']}_{fmt}_b{b}.npy"
    np.save(x_file, s["inputs"][b])
    kinds = ["eager"] + (["aoti"] if "aoti" in args.candidates and not aoti_available() else [])
    out = []
    for kind in kinds:
        log(f"{s['name']} {fmt}: first call in a fresh process ({kind}) ...")
        cache = aoti_cache_for(args, max(args.threads))
        res = run_worker("first", fmt, str(s["formats"][fmt]), str(x_file), str(max(args.threads)), kind,
                         *([cache] if cache else []))
        out.append({"model": s["name"], "fmt": fmt, "candidate": kind, **res})
    return out


def measure_load(args, s: dict, fmt: str) -> dict:
    log(f"{s['name']} {fmt}: load and peak RSS (fresh processes) ...")
    folder = str(s["formats"][fmt])
    ld = run_worker("load", fmt, folder, str(args.loads), str(max(args.threads)))
    rss = run_worker("rss", fmt, folder, str(max(args.threads)))
    entry: Dict[str, Any] = {"model": s["name"], "fmt": fmt}
    if "error" not in ld:
        entry.update(read=ld["read_ms"], load=ld["load_ms"], bytes=ld["weight_bytes"])
        if "error" not in rss:
            entry["rss_mb"] = (rss["peak_kib"] - rss["base_kib"]) * 1024 / 1e6
    return entry


# --- command line ----------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help=f"comma-separated, of {', '.join(MODELS)} (default: all)")
    ap.add_argument("--formats", default=",".join(FORMATS), help="synthetic models' formats")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2", help="thread counts (torch.set_num_threads, ORT intra-op)")
    ap.add_argument("--candidates", default=",".join(k for k in CANDIDATES if k not in OPT_IN),
                    help=f"of {', '.join(CANDIDATES)} (default: all but {', '.join(OPT_IN)}: "
                         "autotuned compiles for minutes, onednn_gemm is the default path before "
                         "cpp_gemm)")
    ap.add_argument("--rounds", type=int, default=30, help="interleaved timed rounds (median, best)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    ap.add_argument("--burst", type=int, default=1, help="calls in a row per candidate and round")
    ap.add_argument("--loads", type=int, default=5, help="timed loads in a fresh process (0: skip load / RSS)")
    ap.add_argument("--no-first-call", action="store_true", help="skip the fresh-process first-call workers")
    ap.add_argument("--ort-spin", action="store_true", help="let ORT's idle intra-op threads spin (ORT's default)")
    ap.add_argument("--aoti-cache", default=None,
                    help="AOTI package cache (default: a fresh folder per run, so compile times are real; "
                         "'default': torch_tfjs's own cache)")
    ap.add_argument("--realworld-dir", default=None,
                    help=f"real-world model cache (default: ${bench_realworld.ENV}, else tests/realworld/.models)")
    ap.add_argument("--quick", action="store_true", help="development: " + ",".join(QUICK_MODELS)
                    + ", graph, batch 1, 1 thread, 8 rounds, no load / RSS (explicit flags still apply)")
    ap.add_argument("--smoke", action="store_true",
                    help="committed fixtures, project venv only (no TF env, ORT or real-world models), few rounds")
    given = {a.split("=")[0] for a in (sys.argv[1:] if argv is None else argv)}
    args = ap.parse_args(argv)
    if args.quick:
        if "--models" not in given:
            args.models = ",".join(QUICK_MODELS)
        for flag, attr, value in (("--formats", "formats", "graph"), ("--batches", "batches", "1"),
                                  ("--threads", "threads", "1"), ("--rounds", "rounds", 8),
                                  ("--warmup", "warmup", 2), ("--loads", "loads", 0)):
            if flag not in given:
                setattr(args, attr, value)
    args.candidates = [c for c in args.candidates.split(",") if c]
    args.threads = [int(t) for t in str(args.threads).split(",") if t]
    if args.smoke:
        args.models, args.formats, args.batches = list(SMOKE_MODELS), list(FORMATS), [1, 2]
        args.candidates = [c for c in args.candidates if c != "ort"]
        args.rounds, args.warmup, args.loads = min(args.rounds, 5), min(args.warmup, 2), min(args.loads, 3)
        return args
    args.models = [m for m in (args.models or ",".join(MODELS)).split(",") if m]
    args.formats = [f for f in args.formats.split(",") if f]
    args.batches = [int(b) for b in str(args.batches).split(",") if b]
    for values, known, what in ((args.models, MODELS, "model"), (args.formats, FORMATS, "format"),
                                (args.candidates, tuple(CANDIDATES), "candidate")):
        for v in values:
            if v not in known:
                ap.error(f"unknown {what} {v!r}; known: {', '.join(known)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    import torch_tfjs

    versions: Dict[str, Any] = {"torch": torch.__version__, "torch_tfjs": torch_tfjs.__version__,
                                "loadavg": [os.getloadavg()[0]] if hasattr(os, "getloadavg") else [0.0]}
    if "ort" in args.candidates:
        try:
            import onnxruntime
            versions["ort"] = onnxruntime.__version__
        except ImportError:
            log("ONNX Runtime not importable in this venv: ORT not measured (pip install onnxruntime)")
            args.candidates.remove("ort")
    start = time.perf_counter()
    if args.smoke:
        subjects = smoke_subjects(args)
    else:
        subjects = synthetic_subjects(args, [m for m in args.models if m in SYNTHETIC])
        subjects += realworld_subjects(args, [m for m in args.models if m in bench_realworld.MODELS])
    lines, rows, firsts, loads, correctness, mismatches = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        if args.aoti_cache is None:
            args.aoti_cache = str(Path(tmp) / "torch_tfjs_cache")
        elif args.aoti_cache == "default":
            args.aoti_cache = None
        for s in subjects:
            extra: Dict[str, Any] = {"errors": {}, "correctness": {}, "first": {}}
            s_rows = []
            for fmt in s["formats"]:
                res = measure(args, s, fmt, Path(tmp))
                if "error" in res:
                    extra["errors"][fmt] = res["error"]
                    mismatches.append(f"{s['name']} {fmt}: torch_tfjs cannot load it: {res['error']}")
                    continue
                s_rows += res["rows"]
                firsts += res["firsts"]
                loads += res["loads"]
                extra["correctness"][fmt] = res["correctness"]
                extra["first"][fmt] = {f["candidate"]: f for f in res["firsts"]}
                correctness.append({"model": s["name"], "fmt": fmt, "diffs": res["correctness"]})
            rows += s_rows
            lines += model_lines(s, s_rows, extra)
    if hasattr(os, "getloadavg"):
        versions["loadavg"].append(os.getloadavg()[0])
    report = header(args, versions) + [f"!!! {m}" for m in SKIPPED] + lines + [""]
    report += targets(rows, firsts, loads, mismatches) + [""]
    report += markdown(args, rows, firsts, loads, correctness, versions) if rows else ["No model was measured."]
    print("\n".join(report))
    log(f"benchmark took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
