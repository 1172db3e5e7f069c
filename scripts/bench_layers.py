"""Eager CPU latency of a MobileNet-v1-sized LayersModel: torch_tfjs vs tfjs in Node.

Builds the model with tfjs (scripts/tfjs/bench_layers.mjs), times tfjs ``predict`` on the
pure-JS CPU backend, loads the same artifact with torch_tfjs and times the eager forward pass
(and ``torch.compile`` when --compile is given), then prints the ratios. Needs Node and
``npm ci`` in scripts/. A benchmark, not a test: numbers depend on the machine.

    python scripts/bench_layers.py [--runs 5] [--threads N] [--compile]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import torch

import torch_tfjs
from bench_graph import time_torch  # same timing rules for both benchmarks

SCRIPTS = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        line = subprocess.run(["node", "tfjs/bench_layers.mjs", tmp, str(args.runs)], cwd=SCRIPTS,
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        tfjs = json.loads(line)
        model = torch_tfjs.load_layers_model(tmp).eval()
    x = torch.randn(1, 224, 224, 3)
    results = {"tfjs": tfjs["median_ms"], "torch_tfjs eager": time_torch(model, x, args.runs)[0]}
    if args.compile:
        results["torch_tfjs compiled"] = time_torch(torch.compile(model), x, args.runs)[0]
    print(f"MobileNet-v1 1.0/224 ({tfjs['params']:,} params), batch 1, CPU, "
          f"median of {args.runs}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, ms in results.items():
        print(f"  {name:22s} {ms:9.1f} ms   ({results['tfjs'] / ms:6.1f}x tfjs)")


if __name__ == "__main__":
    main()
