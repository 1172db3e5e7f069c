"""Where the time of each benchmarked model goes, eager and compiled: torch.profiler's ops per
call, grouped by kind (oneDNN convs, im2col convs, GEMMs, inductor's fused loops, elementwise
ops, copies, ...), beside ONNX Runtime's time for the same input in the same run.

"compiled" is ``optimize_for_inference``'s default (an AOTInductor package with small convs
lowered, from torch_tfjs's cache folder, compiled on first use): its time is that package's. Its
AOTI runner records no profiler events, so the breakdown comes from a second package of the
same model compiled into a temporary folder with inductor's per-kernel profiling on: every
fused loop and oneDNN / MKL call is then an event, but the records slow the call (MobileNetV2
0.35/96 batch 1: 2.1 → 4.8 ms, the events summing to 2.1 ms), so read its kinds as shares of
the work, not as the package's timings. "outside ops" is the wall time of a call less the ops'
own time: for eager, Python (torch_tfjs's layer loop, fx code) and dispatch between ops.

    .venv/bin/python scripts/profile_models.py --models mobilenetv2,blazeface --batches 1 \\
        --threads 1 --modes eager,compiled

Needs what ``scripts/bench.py`` needs (the bench cache, the TF environment for the synthetic
models, onnxruntime for the ORT column; without it the column says so).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

import bench  # first: puts this checkout's torch_tfjs on sys.path
from bench_candidates import OrtCandidate, interleaved, short_error, summary

import torch

import torch_tfjs

#: (kind, pattern on the profiler's event name), first match wins
KINDS: List[Tuple[str, str]] = [
    ("oneDNN conv", r"mkldnn_convolution|_convolution_pointwise|mkldnn::_convolution"),
    ("im2col conv", r"_slow_conv2d|thnn_conv|slow_conv_dilated|_nnpack"),
    ("depthwise conv (torch)", r"_conv_depthwise"),
    ("GEMM", r"addmm|::mm$|::bmm|mkl_linear|_linear_pointwise|baddbmm|matmul"),
    ("inductor fused loops", r"cpp_fused|graph_\d+_cpp|kernel_cpp"),
    ("copies", r"copy_|contiguous|clone|::cat$|_to_copy"),
    ("padding", r"constant_pad_nd|::pad$|reflection_pad|replication_pad"),
    ("pooling / reductions", r"pool|::mean$|::sum$|::amax|::max$"),
    ("elementwise", r"clamp|::add|::mul|::sub|::div|sigmoid|::relu|hardtanh|addcmul|silu|tanh"
                    r"|exp|where|::neg"),
    ("allocation", r"::empty|resize_|::fill_|zero_"),
]
#: wrapper events whose time is their children's (listed only through their children)
WRAPPERS = re.compile(r"^aten::(conv2d|convolution|_convolution|conv1d|conv3d|linear|pad)$")


def kind_of(name: str) -> str:
    for kind, pattern in KINDS:
        if re.search(pattern, name):
            return kind
    return "other ops"


def profile_calls(run: Callable[[], Any], calls: int) -> Dict[str, Tuple[int, float]]:
    """Event name → (count per call, self time per call in ms) over ``calls`` calls."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            run()
    out: Dict[str, Tuple[int, float]] = {}
    for e in prof.key_averages():
        if e.key.startswith("ProfilerStep") or e.self_cpu_time_total <= 0:
            continue
        out[e.key] = (round(e.count / calls), e.self_cpu_time_total / 1e3 / calls)
    return out


def median_ms(run: Callable[[], Any], rounds: int) -> float:
    return summary(interleaved({"run": run}, rounds, 3)["run"])["median"]


def report(label: str, wall_ms: float, ort_ms: Optional[float], ops: Dict[str, Tuple[int, float]],
           top: int) -> None:
    """Print one mode's call time and its ops by kind (per model call)."""
    kept = {name: v for name, v in ops.items() if not WRAPPERS.search(name)}
    by_kind: Dict[str, List[float]] = defaultdict(lambda: [0, 0.0])
    for name, (count, ms) in kept.items():
        k = by_kind[kind_of(name)]
        k[0] += count
        k[1] += ms
    op_ms = sum(ms for _, ms in by_kind.values())
    ratio = f", {wall_ms / ort_ms:.2f}x ORT" if ort_ms else ""
    print(f"  {label}: {wall_ms:.3f} ms per call{ratio}; ops {op_ms:.3f} ms, outside ops "
          f"{max(wall_ms - op_ms, 0.0):.3f} ms")
    for kind, (count, ms) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
        per = f", {ms / count * 1e3:.1f} us each" if count else ""
        print(f"    {kind:<24} {ms:7.3f} ms  {count:4d} ops{per}")
    names = sorted(((ms, name, count) for name, (count, ms) in kept.items()), reverse=True)[:top]
    print("    top ops: " + "; ".join(f"{n} {c}x {ms:.3f} ms" for ms, n, c in names))


def instrumented_copy(model: Any, x: torch.Tensor) -> Callable[[], Any]:
    """The default package of ``model`` compiled again, with a profiler event per kernel, into
    a temporary folder (never torch_tfjs's cache: the records slow it down)."""
    import torch._inductor.config as inductor_config

    with inductor_config.patch({"cpp.enable_kernel_profile": True}):
        probe = torch_tfjs.optimize_for_inference(model, cache_dir=False)
        with torch.inference_mode():
            probe(x)
    return lambda: probe(x)


def profile_one(args: argparse.Namespace, modes: List[str], label: str, model: Any, x: np.ndarray,
                ort_run: Optional[Callable[[Any], Any]]) -> None:
    xt = torch.from_numpy(x)
    runs: Dict[str, Callable[[], Any]] = {}
    if ort_run is not None:
        runs["ort"] = lambda: ort_run(x)
    if "eager" in modes:
        runs["eager"] = lambda: model(xt)
    if "compiled" in modes:
        torch._dynamo.reset()
        fast = torch_tfjs.optimize_for_inference(model)
        start = time.perf_counter()
        with torch.inference_mode():
            fast(xt)
        print(f"{label}: compiled / loaded from the cache in {time.perf_counter() - start:.1f} s "
              f"({fast.backend})")
        runs["compiled"] = lambda: fast(xt)
        probe = instrumented_copy(model, xt)
    with torch.inference_mode():
        times = interleaved(runs, args.rounds, 3)
        median = {k: summary(t)["median"] for k, t in times.items()}
        ort_ms = median.get("ort")
        print(f"{label}: ORT {ort_ms:.3f} ms" if ort_ms else f"{label}: no ORT")
        if "eager" in modes:
            ops = profile_calls(runs["eager"], args.calls)
            report("eager", median["eager"], ort_ms, ops, args.top)
        if "compiled" in modes:
            ratio = f", {median['compiled'] / ort_ms:.2f}x ORT" if ort_ms else ""
            print(f"  compiled: {median['compiled']:.3f} ms per call{ratio}")
            report("instrumented copy", median_ms(probe, args.rounds), None,
                   profile_calls(probe, args.calls), args.top)
    torch._dynamo.reset()


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(bench.MODELS))
    ap.add_argument("--formats", default="graph,layers", help="synthetic models' formats")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--modes", default="eager,compiled", help="of eager, compiled")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved timed rounds (median)")
    ap.add_argument("--calls", type=int, default=20, help="profiled calls per mode")
    ap.add_argument("--top", type=int, default=5, help="ops listed by name per mode")
    ap.add_argument("--realworld-dir", default=None)
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    bench_argv = ["--models", args.models, "--formats", args.formats, "--batches", args.batches,
                  "--threads", str(args.threads), "--candidates", "ort,eager", "--loads", "0"]
    if args.realworld_dir:
        bench_argv += ["--realworld-dir", args.realworld_dir]
    bench_args = bench.parse_args(bench_argv)
    names = bench_args.models
    subjects = bench.synthetic_subjects(bench_args, [n for n in names if n in bench.SYNTHETIC])
    subjects += bench.realworld_subjects(bench_args, [n for n in names if n not in bench.SYNTHETIC])
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torch_tfjs {torch_tfjs.__version__}, "
          f"{args.threads} thread(s)")
    for s in subjects:
        ort = None
        if s.get("onnx_status") == "ok":
            try:
                ort = OrtCandidate(str(s["onnx"]))
            except Exception as exc:  # noqa: BLE001 -- the ORT column is then missing
                print(f"{s['name']}: ORT failed: {short_error(exc)}")
        for fmt, path in s["formats"].items():
            model = bench.loader(fmt)(path).eval()
            for b, x in s["inputs"].items():
                profile_one(args, modes, f"{s['name']} {fmt} batch {b}", model, x,
                            ort.runner(args.threads) if ort else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
