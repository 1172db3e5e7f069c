"""The candidates scripts/bench.py times against each other, and the interleaved rounds that time them.

A candidate is one way to run a model on one input: ONNX Runtime on an ONNX file, torch_tfjs
eager, ``optimize_for_inference`` (torch.compile, inductor, frozen weights), the AOTInductor
package with every conv a oneDNN call (``optimize_for_inference(model, backend="aoti",
lower_convs=False)``) and with small convolutions lowered (``lower_convs=True``, the default since
2026-12-03). The last two are detected: when this
checkout's torch_tfjs does not have them, the candidate is reported ``n/a: not available``.

:func:`interleaved` runs every candidate once per round on the same input, in an order rotated
each round, so a busy machine slows all of them alike; medians and minima come from those rounds.
"""

from __future__ import annotations

import importlib.util
import inspect
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

#: candidate key → label in the report; the order is the report's column order.
CANDIDATES = {
    "ort": "ONNX Runtime",
    "eager": "eager",
    "compiled": "optimize_for_inference",
    "aoti": "AOTI",
    "lowered": "AOTI + lowered convs",
    "onednn_gemm": "AOTI + lowered, oneDNN GEMMs",
    "autotuned": "AOTI + lowered + max_autotune",
}
#: the compiled ones, checked against eager
TORCH_CANDIDATES = ("compiled", "aoti", "lowered", "onednn_gemm", "autotuned")


@dataclass
class Candidate:
    """One way to run the model under test: ``run(x)`` returns the first output as numpy, or
    ``status`` says why it cannot be timed (``n/a: ...``, ``failed: ...``)."""

    key: str
    run: Optional[Callable[[Any], Any]] = None
    status: Optional[str] = None
    first_call_s: Optional[float] = None  # the first call: compiling for the compiled candidates
    note: Optional[str] = None  # e.g. AOTI fell back to inductor
    diff: Optional[Dict[str, float]] = None  # max|Δ| of its output to eager's
    times: Dict[int, List[float]] = field(default_factory=dict)  # threads → per-call ms


def short_error(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:120] if lines else ''}".rstrip(": ")


def first_output(y: Any) -> np.ndarray:
    """The first output of a call (tensor, list / tuple, or dict by name) as float64 numpy."""
    if isinstance(y, dict):
        y = next(iter(y.values()))
    if isinstance(y, (list, tuple)):
        y = y[0]
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    return np.asarray(y).astype(np.float64)


def max_diff(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[Dict[str, Any]]:
    """max|a - b| and max|b|; a reference that is itself NaN / inf is reported, not compared."""
    if a is None or b is None:
        return None
    if a.shape != b.shape:
        return {"diff": float("inf"), "ref": float(np.abs(b).max()) if b.size else 0.0,
                "shape": f"{a.shape} vs {b.shape}"}
    if b.size and not np.isfinite(b).all():
        return {"diff": float("nan"), "ref": float("nan"),
                "bad_ref": f"{int((~np.isfinite(b)).sum())} of {b.size} reference values are NaN / inf"}
    return {"diff": float(np.abs(a.astype(np.float64) - b).max()) if b.size else 0.0,
            "ref": float(np.abs(b).max()) if b.size else 0.0}


def bound(ref: float) -> float:
    """The test suite's tolerance: 1e-4 · max(1, max|ref|)."""
    return 1e-4 * max(1.0, ref)


# --- availability (features that land on main while this script already exists) ----------------

def aoti_available() -> Optional[str]:
    """None when ``optimize_for_inference(model, backend="aoti")`` exists, else why not."""
    if importlib.util.find_spec("torch_tfjs.aoti") is None:
        return "n/a: not available"  # no torch_tfjs.aoti in this checkout
    return None


def lowered_option() -> Tuple[Optional[str], Optional[str]]:
    """(keyword of optimize_for_inference that lowers small convs, None) or (None, why not)."""
    import torch_tfjs

    params = inspect.signature(torch_tfjs.optimize_for_inference).parameters
    for name in ("lower_convs", "lower_small_convs", "lowered_convs"):
        if name in params:
            return name, None
    return None, "n/a: not available"  # optimize_for_inference has no lower_convs option


# --- building the candidates -----------------------------------------------------------------------

def torch_runner(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn(x)`` under ``torch.inference_mode()``, first output as numpy."""
    import torch

    def run(x: Any) -> Any:
        with torch.inference_mode():
            return fn(x)

    return run


def compiled_candidate(key: str, model: Any, x: Any, **options: Any) -> Candidate:
    """optimize_for_inference(model, **options), compiled by its first call on ``x`` (timed)."""
    import torch

    import torch_tfjs

    try:
        torch._dynamo.reset()
        fast = torch_tfjs.optimize_for_inference(model, **options)
        run = torch_runner(fast)
        start = time.perf_counter()
        run(x)
        ran = getattr(fast, "backend", None)  # what actually runs: "inductor" after an AOTI fallback
        note = f"ran as {ran}" if options.get("backend") not in (None, ran) else None
        return Candidate(key, run, first_call_s=time.perf_counter() - start, note=note)
    except Exception as exc:  # noqa: BLE001 -- reported, not fatal
        return Candidate(key, status=f"failed: {short_error(exc)}")


def optional_kwargs(**wanted: Any) -> Dict[str, Any]:
    """Those of ``wanted`` that this checkout's optimize_for_inference accepts."""
    import torch_tfjs

    params = inspect.signature(torch_tfjs.optimize_for_inference).parameters
    return {k: v for k, v in wanted.items() if k in params}


def build_torch_candidates(model: Any, x: Any, wanted: List[str], aoti_cache: Optional[str] = None
                           ) -> List[Candidate]:
    """eager and the compiled candidates in ``wanted``, each warmed by one (timed) first call;
    AOTI packages go to ``aoti_cache`` (torch_tfjs's cache folder when None)."""
    out = []
    if "eager" in wanted:
        run = torch_runner(model)
        start = time.perf_counter()
        run(x)
        out.append(Candidate("eager", run, first_call_s=time.perf_counter() - start))
    if "compiled" in wanted:
        out.append(compiled_candidate("compiled", model, x, **optional_kwargs(backend="inductor")))
    if "aoti" in wanted:
        why = aoti_available()
        out.append(Candidate("aoti", status=why) if why else compiled_candidate(
            "aoti", model, x, backend="aoti", **optional_kwargs(cache_dir=aoti_cache, lower_convs=False)))
    if "lowered" in wanted:
        name, why = lowered_option()
        out.append(Candidate("lowered", status=why) if why else compiled_candidate(
            "lowered", model, x, **{name: True}, **optional_kwargs(cache_dir=aoti_cache)))
    if "onednn_gemm" in wanted:  # opt-in: the default before cpp_gemm (its A/B)
        out.append(compiled_candidate("onednn_gemm", model, x, **optional_kwargs(
            cache_dir=aoti_cache, cpp_gemm=False)) if optional_kwargs(cpp_gemm=False)
            else Candidate("onednn_gemm", status="n/a: not available"))
    if "autotuned" in wanted:  # opt-in: not in the default candidate list (compiles 1.5-3x longer)
        out.append(compiled_candidate("autotuned", model, x, **optional_kwargs(
            cache_dir=aoti_cache, max_autotune=True)) if optional_kwargs(max_autotune=True)
            else Candidate("autotuned", status="n/a: not available"))
    return out


class OrtCandidate:
    """ONNX Runtime on one .onnx file: one session per thread count (``intra_op_num_threads``),
    CPUExecutionProvider, sequential, all graph optimisations; spinning off unless ``spin``
    (ORT's idle pool threads would spin on the cores while torch's candidates run)."""

    def __init__(self, path: str, spin: bool = False) -> None:
        import onnxruntime as ort

        self.ort, self.path, self.spin = ort, path, spin
        self.sessions: Dict[int, Any] = {}
        self.session_ms: Dict[int, float] = {}

    def session(self, threads: int) -> Any:
        if threads not in self.sessions:
            options = self.ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
            start = time.perf_counter()
            self.sessions[threads] = self.ort.InferenceSession(self.path, sess_options=options,
                                                               providers=["CPUExecutionProvider"])
            self.session_ms[threads] = (time.perf_counter() - start) * 1000
        return self.sessions[threads]

    def runner(self, threads: int) -> Callable[[Any], Any]:
        session = self.session(threads)
        name = session.get_inputs()[0].name

        def run(x: Any) -> Any:
            return session.run(None, {name: x})[0]

        return run


# --- timing ----------------------------------------------------------------------------------------

def interleaved(calls: Dict[str, Callable[[], Any]], rounds: int, warmup: int, burst: int = 1
                ) -> Dict[str, List[float]]:
    """Per-call milliseconds of each call, ``rounds`` rounds after ``warmup`` untimed ones.

    Every round runs every candidate (``burst`` calls in a row, timed together and divided),
    in an order rotated by one each round, so that a busy machine or a warm cache favours none."""
    keys = list(calls)
    for _ in range(warmup):
        for k in keys:
            calls[k]()
    times: Dict[str, List[float]] = {k: [] for k in keys}
    for r in range(rounds):
        shift = r % len(keys) if keys else 0
        for k in keys[shift:] + keys[:shift]:
            fn = calls[k]
            start = time.perf_counter()
            for _ in range(burst):
                fn()
            times[k].append((time.perf_counter() - start) * 1000 / burst)
    return times


def time_call(fn: Callable[[Any], Any], x: Any, warmup: int, runs: int) -> Tuple[float, float]:
    """(median, best) milliseconds of ``fn(x)`` over ``runs`` calls after ``warmup`` calls, no
    autograd (scripts/bench_native.py)."""
    import torch

    with torch.no_grad():
        t = interleaved({"fn": lambda: fn(x)}, runs, warmup)["fn"]
    return statistics.median(t), min(t)


def summary(times: List[float]) -> Dict[str, float]:
    return {"median": statistics.median(times), "best": min(times)}
