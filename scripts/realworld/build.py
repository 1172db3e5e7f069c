#!/usr/bin/env python3
"""Materialise the real-world tfjs regression suite (tests/realworld/manifest.json).

For each manifest entry: fetch the artifact (model.json + every shard) into
``<cache>/<id>/model/``, verify every sha256, write seeded inputs (``input_<i>.npy`` +
``inputs.json``) and run ``@tensorflow/tfjs`` 4.22 in Node (``reference.mjs``, one child process
per model, with a timeout) for the reference outputs (``output_<i>.npy`` + ``reference.json``).

    python scripts/realworld/build.py                     # everything (already built: skipped)
    python scripts/realworld/build.py --only human-age --only tfjs-e2e-gru --force
    python scripts/realworld/build.py --jobs 2 --timeout 300 --no-reference

Sources: ``npm`` entries come from ``npm pack <package>@<version>`` (tarballs are kept in
``<cache>/_npm/``); ``github`` entries are read from a local bare mirror when
``TORCH_TFJS_MIRRORS`` names a folder holding ``<owner>+<name>/repo`` (``git show
<commit>:<path>``), else from ``https://raw.githubusercontent.com/<repo>/<commit>/<path>``.
Cache: ``--cache`` or ``TORCH_TFJS_REALWORLD_DIR`` (default ``tests/realworld/.models``, gitignored).
Needs Python (stdlib + numpy), npm and Node with ``scripts/node_modules`` (``cd scripts && npm ci``).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "tests" / "realworld" / "manifest.json"
REFERENCE_JS = Path(__file__).resolve().parent / "reference.mjs"
DEFAULT_CACHE = REPO / "tests" / "realworld" / ".models"


def cache_dir(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get("TORCH_TFJS_REALWORLD_DIR") or DEFAULT_CACHE)


def load_manifest() -> list:
    return json.loads(MANIFEST.read_text())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- fetching ------------------------------------------------------------------------------------

def _npm_tarball(pkg: str, version: str, cache: Path) -> Path:
    store = cache / "_npm"
    store.mkdir(parents=True, exist_ok=True)
    name = f"{pkg.lstrip('@').replace('/', '-')}-{version}.tgz"
    tgz = store / name
    if not tgz.exists():
        out = subprocess.run(["npm", "pack", f"{pkg}@{version}", "--pack-destination", str(store), "--silent"],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()
        made = store / out[-1]
        if made != tgz:
            made.rename(tgz)
    return tgz


def _fetch_npm(src: dict, names: list, cache: Path) -> dict:
    tgz = _npm_tarball(src["package"], src["version"], cache)
    base = posixpath.dirname(src["path"])
    want = {posixpath.normpath(posixpath.join("package", base, n)): n for n in names}
    found = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            if member.name in want:
                found[want[member.name]] = tar.extractfile(member).read()
    return found


def _fetch_github(src: dict, names: list) -> dict:
    base = posixpath.dirname(src["path"])
    mirrors = os.environ.get("TORCH_TFJS_MIRRORS")
    gitdir = Path(mirrors) / src["repo"].replace("/", "+") / "repo" if mirrors else None
    found = {}
    for n in names:
        path = posixpath.normpath(posixpath.join(base, n))
        if gitdir is not None and gitdir.exists():
            r = subprocess.run(["git", "--git-dir", str(gitdir), "show", f"{src['commit']}:{path}"],
                               capture_output=True)
            if r.returncode == 0:
                found[n] = r.stdout
                continue
        url = f"https://raw.githubusercontent.com/{src['repo']}/{src['commit']}/{path}"
        with urllib.request.urlopen(url, timeout=120) as resp:
            found[n] = resp.read()
    return found


def materialise(entry: dict, cache: Path) -> Path:
    """Fetch and verify the artifact; returns the model folder (model.json + shards)."""
    model_dir = cache / entry["id"] / "model"
    files = entry["files"]
    json_name = posixpath.basename(entry["source"]["path"])

    def target(name):
        return model_dir / ("model.json" if name == json_name else name)

    if all(target(n).exists() and sha256(target(n).read_bytes()) == h for n, h in files.items()):
        return model_dir
    src = entry["source"]
    data = _fetch_npm(src, list(files), cache) if src["kind"] == "npm" else _fetch_github(src, list(files))
    missing = sorted(set(files) - set(data))
    if missing:
        raise RuntimeError(f"{entry['id']}: not found in the source: {missing}")
    for n, h in files.items():
        got = sha256(data[n])
        if got != h:
            raise RuntimeError(f"{entry['id']}: {n}: sha256 {got} != manifest {h}")
    if model_dir.exists():
        shutil.rmtree(model_dir)
    for n, blob in data.items():
        t = target(n)
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_bytes(blob)
    return model_dir


# --- inputs and references -----------------------------------------------------------------------

def make_inputs(entry: dict, work: Path) -> list:
    """Seeded inputs: ``value`` (a constant), else uniform in ``range`` (ints: [lo, hi))."""
    specs = []
    for i, spec in enumerate(entry["inputs"]):
        rng = np.random.default_rng(spec.get("seed", i))
        shape = tuple(spec["shape"])
        dtype = spec.get("dtype", "float32")
        if "value" in spec:
            arr = np.full(shape, spec["value"], dtype=dtype)
        elif dtype == "int32":
            lo, hi = spec.get("range", [0, 10])
            arr = rng.integers(lo, hi, size=shape).astype(np.int32)
        else:
            lo, hi = spec.get("range", [0.0, 1.0])
            arr = rng.uniform(lo, hi, size=shape).astype(np.float32)
        file = f"input_{i}.npy"
        np.save(work / file, arr)
        specs.append({"name": spec["name"], "file": file})
    (work / "inputs.json").write_text(json.dumps(specs, indent=1) + "\n")
    return specs


def stamp(entry: dict) -> str:
    return sha256(json.dumps([entry["files"], entry["inputs"]], sort_keys=True).encode())


def run_reference(entry: dict, model_dir: Path, work: Path, timeout: float) -> dict:
    for old in work.glob("output_*.npy"):
        old.unlink()
    t0 = time.time()
    try:
        proc = subprocess.run(["node", str(REFERENCE_JS), str(model_dir), str(work)], cwd=REPO / "scripts",
                              capture_output=True, text=True, timeout=timeout)
        ref_file = work / "reference.json"
        if ref_file.exists() and proc.returncode == 0:
            ref = json.loads(ref_file.read_text())
        else:
            ref = {"ok": False, "stage": "node", "error": (proc.stderr or proc.stdout)[-2000:]}
    except subprocess.TimeoutExpired:
        ref = {"ok": False, "stage": "timeout", "error": f"tfjs did not finish within {timeout:.0f} s"}
    ref["wall_s"] = round(time.time() - t0, 2)
    ref["stamp"] = stamp(entry)
    (work / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")
    return ref


def build_one(entry: dict, cache: Path, timeout: float, force: bool, reference: bool) -> str:
    work = cache / entry["id"]
    try:
        model_dir = materialise(entry, cache)
    except Exception as exc:  # noqa: BLE001 - reported, the other models go on
        return f"{entry['id']}: FETCH FAILED: {exc}"
    ref_file = work / "reference.json"
    if not force and ref_file.exists():
        ref = json.loads(ref_file.read_text())
        if ref.get("stamp") == stamp(entry):
            return f"{entry['id']}: up to date (tfjs {'ok' if ref.get('ok') else 'error'})"
    make_inputs(entry, work)
    if not reference:
        return f"{entry['id']}: fetched, inputs written"
    ref = run_reference(entry, model_dir, work, timeout)
    if ref.get("ok"):
        return f"{entry['id']}: tfjs ok ({ref['wall_s']} s)"
    return f"{entry['id']}: tfjs FAILED at {ref.get('stage')}: {ref.get('error', '')[:200]}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="entry id (repeatable)")
    ap.add_argument("--cache", help="cache folder (default $TORCH_TFJS_REALWORLD_DIR or tests/realworld/.models)")
    ap.add_argument("--jobs", type=int, default=1, help="models built at once (default 1)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per tfjs run (default 600)")
    ap.add_argument("--force", action="store_true", help="recompute references even when up to date")
    ap.add_argument("--no-reference", action="store_true", help="fetch and write inputs only")
    args = ap.parse_args(argv)
    entries = load_manifest()
    if args.only:
        unknown = set(args.only) - {e["id"] for e in entries}
        if unknown:
            ap.error(f"unknown ids: {sorted(unknown)}")
        entries = [e for e in entries if e["id"] in args.only]
    cache = cache_dir(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    failed = 0
    with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(build_one, e, cache, args.timeout, args.force, not args.no_reference)
                   for e in entries]
        for fut in futures:
            line = fut.result()
            failed += "FETCH FAILED" in line
            print(line, flush=True)
    print(f"{len(entries)} models in {cache}; {failed} could not be fetched")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
