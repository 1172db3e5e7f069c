"""The report of scripts/bench.py: per-model lines, the issue's PASS / MISS targets and Markdown
tables for docs/performance.md ("Measurements").

A row is one model × format × batch × thread count: ``times`` (candidate → {median, best} ms),
``status`` (candidate → why it has no time), ``first_call_s`` (candidate → its first call, the
compile for the compiled ones) and ``diffs`` (candidate → max|Δ| to eager's output).
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path
from typing import Dict, List, Optional

from bench_candidates import CANDIDATES, TORCH_CANDIDATES, bound

# issue 16's targets ("Inference at the hardware's pace on CPU"), ratios to ORT in one run
AOTI_GEOMEAN = 1.0       # AOTI geometric mean over rows where ORT needs ≥ 5 ms ...
AOTI_WORST = 1.3         # ... and none above this
AOTI_MIN_ORT_MS = 5.0
MOBILENET_B1 = 1.5       # MobileNet-class batch 1
MOBILENET_B8 = 1.0       # MobileNet-class batch 8
EAGER_GEOMEAN = 1.5      # eager, geometric mean over rows where ORT needs ≥ 1 ms
EAGER_MIN_ORT_MS = 1.0
AOTI_FIRST_CALL_S = 1.0  # a cached AOTI package: model loaded → first output, fresh process
LOAD_TARGET = 1.5        # load ≤ 1.5× reading the weight bytes (earlier issue)
RSS_TARGET = 1.3         # peak RSS during load ≤ 1.3× the weight bytes (earlier issue)
NOISY = 1.3              # a median this many times the best round: the machine was busy


def fms(ms: Optional[float]) -> str:
    if ms is None:
        return "-"
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def fs(s: Optional[float]) -> str:
    return "-" if s is None else f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def ratio(row: dict, key: str) -> Optional[float]:
    t, ort = row["times"].get(key), row["times"].get("ort")
    return t["median"] / ort["median"] if t and ort else None


def geomean(values: List[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def verdict(ok: Optional[bool]) -> str:
    return {True: "PASS", False: "MISS", None: "N/A "}[ok]


def cell(row: dict, key: str, markdown: bool = False) -> str:
    """'1.41 ms (6.69×) [best 1.30]' or the status; a † / [noisy] mark when median > 1.3× best."""
    t = row["times"].get(key)
    if not t:
        return row["status"].get(key) or "-"
    r = ratio(row, key)
    text = fms(t["median"]) + (f" ({r:.2f}×)" if r is not None and key != "ort" else "")
    if markdown:
        return text + (" †" if t["median"] > NOISY * t["best"] else "")
    return text + f" [best {fms(t['best'])}]"


def machine_line(threads: List[int], versions: Dict[str, str]) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "; ".join([f"CPU: {cpu}, {os.cpu_count()} cores",
                      f"threads {', '.join(map(str, threads))} (torch.set_num_threads, ORT intra_op_num_threads)",
                      f"torch {versions['torch']}", f"torch_tfjs {versions['torch_tfjs']}",
                      f"onnxruntime {versions.get('ort', 'not measured')}"])


def header(args, versions: Dict[str, str]) -> List[str]:
    load = " / ".join(f"{v:.2f}" for v in versions["loadavg"])
    busy = max(versions["loadavg"]) > 0.5 * (os.cpu_count() or 1)
    return [
        "torch_tfjs benchmark" + (" (SMOKE: committed fixtures, few rounds; not a measurement)" if args.smoke else ""),
        machine_line(args.threads, versions),
        f"Load average (1 min) at start / end: {load} on {os.cpu_count()} cores"
        + ("  !!! the machine was busy: figures are noisy" if busy else "")
        + f"; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')} (PASSIVE keeps torch's 2-thread "
        "figures sane on busy cores; unset is torch's default)",
        f"Timing: {args.rounds} interleaved rounds after {args.warmup} warm-up; each round runs every candidate "
        f"once ({args.burst} call(s) in a row) on the same input, order rotated each round; median [best] per call.",
        "ONNX Runtime: CPUExecutionProvider, sequential, all graph optimisations, intra-op spinning "
        + ("on" if args.ort_spin else "off") + "; the ONNX file comes from tf2onnx (synthetic models, from their TF "
        "graph model) or from torch_tfjs.export_onnx (real-world models: there is no TF source; and synthetic "
        "models when tf2onnx is missing) — each model's line says which.",
        "Candidates: eager = model.eval() under torch.inference_mode(); optimize_for_inference = torch.compile "
        "(optimize_for_inference(model, backend=\"inductor\"): inductor, frozen weights, C++ wrapper); AOTI = "
        "optimize_for_inference(model, backend=\"aoti\", lower_convs=False) (every conv a oneDNN call), its package cache in a folder of this run per thread count; each "
        "compiled per model, format, batch and thread count (inductor bakes the thread count into its kernels); AOTI + lowered convs = optimize_for_inference(model) (lower_convs=True and cpp_gemm=True, the defaults; the targets judge it when measured); AOTI + lowered, oneDNN GEMMs = optimize_for_inference(model, cpp_gemm=False) (opt-in candidate: the default before cpp_gemm); AOTI + lowered + max_autotune = optimize_for_inference(model, max_autotune=True) (opt-in candidate); \"n/a: not available\" where this "
        "checkout has no torch_tfjs.aoti / no lower_convs option. "
        "Compile time: the candidate's first call (shorter when inductor's on-disk cache already holds kernels).",
    ]


def model_lines(s: dict, rows: List[dict], extra: dict) -> List[str]:
    out = ["", f"{s['name']} — {s['description']} (ORT on {s.get('onnx_how', '?')}: {s.get('onnx_status')})"]
    for fmt, info in extra.get("errors", {}).items():
        out.append(f"  {fmt:6s} !!! torch_tfjs cannot load it: {info}")
    for fmt, corr in extra.get("correctness", {}).items():
        parts = [f"eager vs {k} {fdiff(d)}" for k, d in corr.items() if d]
        bad = [k for k, d in corr.items() if not diff_ok(d)]
        out.append(f"  {fmt:6s} max|Δ|: " + (", ".join(parts) or "no reference")
                   + ("  !!! MISMATCH beyond 1e-4·max(1, max|ref|): " + ", ".join(bad) if bad else "  OK"))
    for b in s.get("skipped_batches", []):
        out.append(f"  batch {b}: not measured (the model's batch dim is fixed)")
    for r in rows:
        parts = [f"{CANDIDATES[k]} {cell(r, k)}" for k in CANDIDATES if k in r["wanted"]]
        out.append(f"  {r['fmt']:6s} b{r['batch']:<2d} t{r['threads']}: " + " | ".join(parts))
        comp = [f"{CANDIDATES[k]} {fs(r['first_call_s'][k])}" + (f" ({r['notes'][k]})" if k in r["notes"] else "")
                for k in TORCH_CANDIDATES if r["first_call_s"].get(k)]
        diffs = [f"{CANDIDATES[k]} {fdiff(r['diffs'][k])}" for k in CANDIDATES if r["diffs"].get(k)]
        if comp or diffs:
            out.append(f"  {'':6s} {'':9s} compile (first call): " + (", ".join(comp) or "-")
                       + "; max|Δ| to eager: " + (", ".join(diffs) or "-"))
    for fmt, f in extra.get("first", {}).items():
        for cand, res in f.items():
            if "error" in res:
                out.append(f"  {fmt:6s} fresh process, {cand}: failed: {res['error']}")
            else:
                out.append(f"  {fmt:6s} fresh process, {cand}: import torch + torch_tfjs {fs(res['import_s'])}, load "
                           f"{fs(res['load_s'])}, loaded → first output {fs(res['first_s'])}, then "
                           f"{fs(res['second_s'])}, {fs(res['third_s'])}")
    return out


def fdiff(d: Optional[dict]) -> str:
    if d is None:
        return "-"
    return "reference NaN" if "bad_ref" in d else f"{d['diff']:.2g}"


def diff_ok(d: Optional[dict]) -> bool:
    return d is None or "bad_ref" in d or d["diff"] <= bound(d["ref"])


def fast_key(rows: List[dict]) -> str:
    """The candidate the speed targets judge: optimize_for_inference's default (AOTI with small
    convs lowered) when measured, else plain AOTI, else optimize_for_inference (inductor)."""
    for key in ("lowered", "aoti"):
        if any(r["times"].get(key) for r in rows):
            return key
    return "compiled"


def targets(rows: List[dict], firsts: List[dict], loads: List[dict], mismatches: List[str]) -> List[str]:
    out = ["Targets (issue 16, \"Inference at the hardware's pace on CPU\"; ratios of medians to ORT in this run):"]
    fast = fast_key(rows)
    note = "" if fast in ("aoti", "lowered") else " [AOTI not measured: optimize_for_inference judged instead, for information]"
    for t in sorted({r["threads"] for r in rows}):
        rs = [r for r in rows if r["threads"] == t]
        big = [r for r in rs if ratio(r, fast) is not None and r["times"]["ort"]["median"] >= AOTI_MIN_ORT_MS]
        if big:
            g, worst = geomean([ratio(r, fast) for r in big]), max(ratio(r, fast) for r in big)
            ok = (g <= AOTI_GEOMEAN and worst <= AOTI_WORST) if fast in ("aoti", "lowered") else None
            out.append(f"{verdict(ok)}  {CANDIDATES[fast]} ≤ {AOTI_GEOMEAN}× ORT geometric mean where ORT ≥ "
                       f"{AOTI_MIN_ORT_MS:g} ms, none > {AOTI_WORST}× ({t} thread(s)): {g:.2f}×, worst {worst:.2f}× over "
                       + ", ".join(f"{r['model']} {r['fmt']} b{r['batch']} {ratio(r, fast):.2f}×" for r in big) + note)
        else:
            out.append(f"N/A   {CANDIDATES[fast]} geometric mean ({t} thread(s)): no row with ORT ≥ {AOTI_MIN_ORT_MS:g} ms")
        for batch, limit in ((1, MOBILENET_B1), (8, MOBILENET_B8)):
            mb = [r for r in rs if r["class"] == "mobilenet" and r["batch"] == batch and ratio(r, fast) is not None]
            ok = (all(ratio(r, fast) <= limit for r in mb) if fast in ("aoti", "lowered") else None) if mb else None
            out.append(f"{verdict(ok)}  MobileNet-class batch {batch}: {CANDIDATES[fast]} ≤ {limit}× ORT ({t} thread(s)): "
                       + (", ".join(f"{r['model']} {r['fmt']} {ratio(r, fast):.2f}×" for r in mb) or "not measured")
                       + (note if mb else ""))
        big = [r for r in rs if ratio(r, "eager") is not None and r["times"]["ort"]["median"] >= EAGER_MIN_ORT_MS]
        if big:
            g = geomean([ratio(r, "eager") for r in big])
            out.append(f"{verdict(g <= EAGER_GEOMEAN)}  eager ≤ {EAGER_GEOMEAN}× ORT geometric mean where ORT ≥ "
                       f"{EAGER_MIN_ORT_MS:g} ms ({t} thread(s)): {g:.2f}× over {len(big)} rows")
        else:
            out.append(f"N/A   eager geometric mean ({t} thread(s)): no row with ORT ≥ {EAGER_MIN_ORT_MS:g} ms")
    aoti = [f for f in firsts if f["candidate"] == "aoti" and "first_s" in f]
    ok = all(f["first_s"] < AOTI_FIRST_CALL_S for f in aoti) if aoti else None
    out.append(f"{verdict(ok)}  cached AOTI package: model loaded → first output < {AOTI_FIRST_CALL_S:g} s in a fresh "
               "process: " + (", ".join(f"{f['model']} {f['fmt']} {fs(f['first_s'])}" for f in aoti) or "not measured"))
    bad = [f"{r['model']} {r['fmt']} b{r['batch']} {CANDIDATES[k]} {r['diffs'][k]['diff']:.3g}"
           for r in rows for k in TORCH_CANDIDATES if not diff_ok(r["diffs"].get(k))]
    checked = sum(1 for r in rows for k in TORCH_CANDIDATES if r["diffs"].get(k))
    ok = None if not checked and not mismatches else not bad and not mismatches
    out.append(f"{verdict(ok)}  compiled outputs within 1e-4·max(1, max|ref|) of eager: {checked} checked"
               + ("; over: " + ", ".join(bad) if bad else "") + ("; " + "; ".join(mismatches) if mismatches else ""))
    have = [l for l in loads if "load" in l]
    out.append(f"{verdict(all(l['load'] <= LOAD_TARGET * l['read'] for l in have) if have else None)}  load ≤ "
               f"{LOAD_TARGET}× reading the weight bytes (earlier issue): "
               + (", ".join(f"{l['model']} {l['fmt']} {l['load'] / l['read']:.1f}×" for l in have) or "not measured"))
    have = [l for l in loads if "rss_mb" in l]
    out.append(f"{verdict(all(l['rss_mb'] * 1e6 <= RSS_TARGET * l['bytes'] for l in have) if have else None)}  peak "
               f"RSS during load ≤ {RSS_TARGET}× the weight bytes (earlier issue): "
               + (", ".join(f"{l['model']} {l['fmt']} {l['rss_mb'] * 1e6 / l['bytes']:.2f}×" for l in have)
                  or "not measured"))
    return out


def markdown(args, rows: List[dict], firsts: List[dict], loads: List[dict], correctness: List[dict],
             versions: Dict[str, str]) -> List[str]:
    keys = [k for k in CANDIDATES if any(k in r["wanted"] for r in rows)]
    out = ["Markdown (docs/performance.md, \"Measurements\"):", "", machine_line(args.threads, versions) + ".", "",
           f"Median of {args.rounds} interleaved rounds after {args.warmup} warm-up; ratios are to ONNX Runtime "
           "in the same rounds.", "",
           "| model | class | format | batch | threads | " + " | ".join(CANDIDATES[k] for k in keys)
           + " | compile: optimize_for_inference / AOTI |",
           "|---|---|---|---:|---:|" + "---:|" * len(keys) + "---:|"]
    for r in rows:
        comp = " / ".join(fs(r["first_call_s"].get(k)) for k in ("compiled", "aoti"))
        out.append(f"| {r['model']} | {r['class']} | {r['fmt']} | {r['batch']} | {r['threads']} | "
                   + " | ".join(cell(r, k, True) for k in keys) + f" | {comp} |")
    if any(t["median"] > NOISY * t["best"] for r in rows for t in r["times"].values() if t):
        out += ["", f"† median > {NOISY}× the best round: the machine was busy; rerun on a quiet machine."]
    if firsts:
        out += ["", "| model | format | candidate | import torch + torch_tfjs | load | loaded → first output "
                "| second call |", "|---|---|---|---:|---:|---:|---:|"]
        for f in firsts:
            if "error" in f:
                out.append(f"| {f['model']} | {f['fmt']} | {f['candidate']} | failed: {f['error'][:60]} | | | |")
            else:
                out.append(f"| {f['model']} | {f['fmt']} | {f['candidate']} | {fs(f['import_s'])} | {fs(f['load_s'])} "
                           f"| {fs(f['first_s'])} | {fs(f['second_s'])} |")
    if loads:
        out += ["", "| model | format | weights | read weights | load | load ÷ read | peak RSS Δ during load | ÷ weights |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        for l in loads:
            if "load" not in l:
                out.append(f"| {l['model']} | {l['fmt']} | load failed | | | | | |")
                continue
            rss = (f"{l['rss_mb']:.1f} MB | {l['rss_mb'] * 1e6 / l['bytes']:.2f}×") if "rss_mb" in l else "- | -"
            out.append(f"| {l['model']} | {l['fmt']} | {l['bytes'] / 1e6:.2f} MB | {fms(l['read'])} | {fms(l['load'])} | "
                       f"{l['load'] / l['read']:.1f}× | {rss} |")
    refs = list(dict.fromkeys(k for c in correctness for k in c["diffs"]))
    if refs:
        out += ["", "| model | format | " + " | ".join(f"max abs Δ, eager vs {k}" for k in refs) + " |",
                "|---|---|" + "---:|" * len(refs)]
        for c in correctness:
            out.append(f"| {c['model']} | {c['fmt']} | " + " | ".join(fdiff(c["diffs"].get(k)) for k in refs) + " |")
    return out
