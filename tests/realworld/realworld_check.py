"""Shared by tests/realworld/test_realworld.py and scripts/realworld/score.py: run one built
real-world model with torch_tfjs and compare it with its tfjs reference."""
from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
BUILD_HINT = "build the models first: python scripts/realworld/build.py (see tests/realworld/README.md)"


def cache_dir() -> Path:
    return Path(os.environ.get("TORCH_TFJS_REALWORLD_DIR") or HERE / ".models")


def entries() -> list:
    return json.loads(MANIFEST.read_text())


def tolerance(ref_max: float) -> float:
    return 1e-4 * max(1.0, ref_max)


def _as_list(out, model, ref_outputs):
    """torch_tfjs outputs in the reference's order (matched by output key / node name)."""
    if isinstance(out, dict):  # structured outputs: by key when tfjs used the same keys, else in order
        keys = [o.get("key") or o["node"] for o in ref_outputs]
        return [out[k] for k in keys] if all(k in out for k in keys) else list(out.values())
    outs = out if isinstance(out, (list, tuple)) else [out]
    names = list(getattr(model, "output_names", None) or [])
    keys = [o.get("key") or o["node"] for o in ref_outputs]
    if names and set(names) >= set(keys) and len(names) == len(outs):
        by = dict(zip(names, outs))
        return [by[k] for k in keys]
    return list(outs)


def check(entry: dict, cache: Path | None = None) -> dict:
    """{status: pass|fail|error|tfjs-error-typed|tfjs-error-untyped|tfjs-error-torch-ran|not-built,
    load_ok, max_abs, ref_max, tol, reason, outputs: [...]}"""
    import torch_tfjs
    from torch_tfjs.errors import TfjsError

    work = (cache or cache_dir()) / entry["id"]
    res = {"id": entry["id"], "format": entry["format"], "era": entry.get("era"), "load_ok": None,
           "max_abs": None, "ref_max": None, "tol": None, "reason": "", "outputs": []}
    ref_file = work / "reference.json"
    if not ref_file.exists():
        return {**res, "status": "not-built", "reason": BUILD_HINT}
    ref = json.loads(ref_file.read_text())
    specs = json.loads((work / "inputs.json").read_text())
    arrays = [np.load(work / s["file"]) for s in specs]
    t0 = time.perf_counter()
    try:
        model = torch_tfjs.load(str(work / "model"))
        model.eval()
    except Exception as exc:  # noqa: BLE001
        res.update(load_ok=False, reason=f"load: {type(exc).__name__}: {str(exc)[:400]}")
        if not ref.get("ok"):
            typed = isinstance(exc, TfjsError)
            res["reason"] += f" | tfjs also fails ({ref.get('stage')}: {ref.get('error', '')[:200]})"
            return {**res, "status": "tfjs-error-typed" if typed else "tfjs-error-untyped"}
        return {**res, "status": "error"}
    res["load_ok"] = True
    res["load_s"] = round(time.perf_counter() - t0, 2)
    tensors = [torch.from_numpy(a) for a in arrays]
    t0 = time.perf_counter()
    try:
        with torch.no_grad():
            if entry["format"] == "graph-model":
                out = model({s["name"]: t for s, t in zip(specs, tensors)})
            else:
                out = model(*tensors)
    except Exception as exc:  # noqa: BLE001
        msg = f"run: {type(exc).__name__}: {str(exc)[:400]}"
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            last = tb[-1]
            msg += f" [at {Path(last.filename).name}:{last.lineno}]"
        res["reason"] = msg
        if not ref.get("ok"):
            typed = isinstance(exc, TfjsError)
            res["reason"] += f" | tfjs also fails ({ref.get('stage')}: {ref.get('error', '')[:200]})"
            return {**res, "status": "tfjs-error-typed" if typed else "tfjs-error-untyped"}
        return {**res, "status": "error"}
    res["run_s"] = round(time.perf_counter() - t0, 2)
    if not ref.get("ok"):
        res["reason"] = f"tfjs cannot run it ({ref.get('stage')}: {ref.get('error', '')[:300]}); torch_tfjs ran"
        return {**res, "status": "tfjs-error-torch-ran"}
    got = _as_list(out, model, ref["outputs"])
    if len(got) != len(ref["outputs"]):
        res["reason"] = f"{len(got)} outputs, tfjs has {len(ref['outputs'])}"
        return {**res, "status": "fail"}
    ratio, ok, reasons = -1.0, True, []
    for o, g in zip(ref["outputs"], got):
        want = np.load(work / o["file"]).astype(np.float64)
        have = g.detach().cpu().numpy().astype(np.float64) if isinstance(g, torch.Tensor) else np.asarray(g, np.float64)
        key = o.get("key") or o["node"]
        info = {"key": key, "shape": list(have.shape), "ref_shape": o["shape"]}
        if list(have.shape) != list(o["shape"]):
            ok = False
            reasons.append(f"{key}: shape {list(have.shape)} != tfjs {o['shape']}")
            res["outputs"].append(info)
            continue
        rmax = float(np.max(np.abs(want))) if want.size else 0.0
        finite = np.isfinite(want) & np.isfinite(have)
        same_nonfinite = bool(np.all((np.isfinite(want) == np.isfinite(have)) & (np.isnan(want) == np.isnan(have))))
        d = float(np.max(np.abs(want[finite] - have[finite]))) if finite.any() else 0.0
        if not same_nonfinite:
            d = float("inf")
        tol = tolerance(float(np.max(np.abs(want[np.isfinite(want)]))) if np.isfinite(want).any() else 0.0)
        info.update(max_abs=d, ref_max=rmax, tol=tol)
        res["outputs"].append(info)
        if d > tol:
            ok = False
            reasons.append(f"{key}: max|d| {d:.3g} > tol {tol:.3g}")
        if d / tol > ratio:  # report the output closest to (or furthest past) its tolerance
            ratio = d / tol
            res.update(max_abs=d, ref_max=rmax, tol=tol)
    res["reason"] = "; ".join(reasons)
    return {**res, "status": "pass" if ok else "fail"}
