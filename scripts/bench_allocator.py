"""Eager speed with and without torch_tfjs's malloc tuning (``torch_tfjs._allocator``), each in a
fresh process: a process that compiled or allocated much before has a large heap already, which
hides the page faults this tuning removes.

    python scripts/bench_allocator.py                       # the real-world benchmark models
    python scripts/bench_allocator.py --models blazeface,movenet --batch 8 --calls 50

For each model and setting (``TORCH_TFJS_MALLOC_TUNING=0`` / ``1``): load, 5 warm-up calls, then
the median time of ``--calls`` calls, the minor page faults per call and the process's peak RSS.
Models come from the real-world cache (see scripts/bench_realworld.py); 1 thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

import bench_realworld  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
import torch_tfjs
torch.set_num_threads(1)
folder, batch, calls = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = torch_tfjs.load(folder + "/model").eval()
x = torch.from_numpy(np.load(folder + "/input_0.npy"))
x = x.repeat(batch, *([1] * (x.dim() - 1)))
with torch.inference_mode():
    for _ in range(5):
        model(x)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(json.dumps({"ms": float(np.median(times)) * 1e3, "faults": faults / calls,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(folder: Path, batch: int, calls: int, tuning: str) -> dict:
    env = dict(os.environ, TORCH_TFJS_MALLOC_TUNING=tuning)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(REPO), str(folder), str(batch), str(calls)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{folder.name}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(bench_realworld.MODELS),
                    help=f"of {', '.join(bench_realworld.MODELS)}")
    ap.add_argument("--batch", type=int, default=1, help="the input repeated along its batch axis")
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--realworld-dir", help="the real-world cache (default: $TORCH_TFJS_REALWORLD_DIR)")
    args = ap.parse_args(argv)
    root = bench_realworld.find_dir(args.realworld_dir)
    if root is None:
        raise SystemExit("no real-world cache: build it with scripts/realworld/build.py")
    print("| model | batch | glibc defaults | kept | minor faults per call | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        folder = root / bench_realworld.MODELS[name]["id"]
        off, on = (measure(folder, args.batch, args.calls, v) for v in ("0", "1"))
        print(f"| {name} | {args.batch} | {off['ms']:.1f} ms | {on['ms']:.1f} ms | "
              f"{off['faults']:,.0f} → {on['faults']:,.0f} | {off['peak_mb']:.0f} / {on['peak_mb']:.0f} MB |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
