"""ONNX Runtime worker of scripts/bench.py (runs under scripts/.tfenv, which has onnxruntime).

    scripts/.tfenv/bin/python scripts/bench_ort.py model.onnx --inputs b1.npy b8.npy --out-dir DIR
        [--threads N] [--warmup 5] [--runs 30]

CPUExecutionProvider, ``intra_op_num_threads`` = --threads (0: onnxruntime's default), one
inter-op thread, sequential execution, all graph optimisations (the default). Times session
creation (median of 3), then for each input file ``--warmup`` untimed runs and the median and best
of ``--runs`` timed ``session.run`` calls; writes the output of each input to
``DIR/ort_<input file name>`` and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def make_session(path: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--inputs", nargs="+", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    Path(args.model).read_bytes()  # warm page cache, as for torch_tfjs's load
    session_ms = []
    for _ in range(3):
        start = time.perf_counter()
        session = make_session(args.model, args.threads)
        session_ms.append((time.perf_counter() - start) * 1000)
    name = session.get_inputs()[0].name
    results = {}
    for file in args.inputs:
        x = np.load(file)
        feed = {name: x}
        for _ in range(args.warmup):
            out = session.run(None, feed)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            out = session.run(None, feed)
            times.append((time.perf_counter() - start) * 1000)
        np.save(Path(args.out_dir) / f"ort_{Path(file).name}", out[0])
        results[str(x.shape[0])] = {"median_ms": statistics.median(times), "min_ms": min(times)}
    print(json.dumps({"version": ort.__version__, "session_ms": statistics.median(session_ms),
                      "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
