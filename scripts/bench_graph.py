"""CPU latency of a MobileNet-v1-sized GraphModel: torch_tfjs (eager, torch.compile) vs tfjs in Node.

Builds tf_keras ``MobileNet(alpha=1.0, 224x224x3)`` with seeded weights (and BatchNorm statistics)
in the TensorFlow environment (``scripts/.tfenv``, run as a subprocess: this script's own Python
needs only torch), converts it with the ``tensorflowjs`` converter to a graph model (grappler fuses
the convolutions into ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative``), times tfjs ``predict`` and
``executeAsync`` on the pure-JS CPU backend (scripts/tfjs/bench_graph.mjs), loads the artifact with
torch_tfjs and times the eager forward pass and ``torch.compile`` (batch 1), then prints medians, best times, the ratios
and the largest output difference to tfjs. A benchmark, not a test: numbers depend on the machine.
Needs Node + ``npm ci`` in scripts/ and the TF environment described in scripts/README.md.

    python scripts/bench_graph.py [--runs 5] [--threads N] [--no-compile] [--backend inductor]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

SCRIPTS = Path(__file__).resolve().parent
TF_PYTHON = SCRIPTS / ".tfenv" / "bin" / "python"
SIZE = 224


def make_model(out_dir: str) -> None:
    """Runs under the TF environment: build, seed, save and convert the model into out_dir."""
    sys.path.insert(0, str(SCRIPTS / "graph"))
    import make_graph_fixtures as mgf  # imports TF, tf_keras and tensorflowjs (with its stubs)
    import numpy as np
    import tf_keras as keras

    model = keras.applications.MobileNet(input_shape=(SIZE, SIZE, 3), alpha=1.0, weights=None, classes=1000)
    rng = np.random.default_rng(1234)
    for w in model.weights:
        name = w.name
        if "moving_variance" in name or "gamma" in name:
            value = rng.uniform(0.5, 1.5, size=w.shape)
        elif "moving_mean" in name or "beta" in name or "bias" in name:
            value = rng.uniform(-0.1, 0.1, size=w.shape)
        else:  # kernels: He-uniform, so activations stay O(1) through 28 layers
            fan_in = int(np.prod(w.shape[:-1])) if len(w.shape) > 1 else 1
            if "depthwise" in name:
                fan_in = int(np.prod(w.shape[:2]))
            bound = np.sqrt(6.0 / fan_in)
            value = rng.uniform(-bound, bound, size=w.shape)
        w.assign(value.astype(np.float32))
    case = dict(fn=model, inputs=[dict(shape=[1, SIZE, SIZE, 3])], dynamic_batch=True)
    mgf.save_and_convert(case, Path(out_dir))
    params = int(sum(np.prod(w.shape) for w in model.weights))
    print(json.dumps({"params": params}))


def time_torch(fn, x, runs: int) -> Tuple[float, float]:
    """(median, best) milliseconds of ``fn(x)`` over ``runs`` calls after one warm-up call
    (which also compiles a ``torch.compile``d model). Shared with bench_layers.py."""
    import torch

    with torch.no_grad():
        fn(x)  # warm-up (and compilation)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend")
    parser.add_argument("--make-model", metavar="DIR", help=argparse.SUPPRESS)  # internal (TF env)
    args = parser.parse_args()
    if args.make_model:
        make_model(args.make_model)
        return

    import numpy as np
    import torch

    import torch_tfjs

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        start = time.perf_counter()
        made = subprocess.run([str(TF_PYTHON), __file__, "--make-model", model_dir], check=True,
                              capture_output=True, text=True, env=env).stdout.strip().splitlines()[-1]
        convert_s = time.perf_counter() - start
        params = json.loads(made)["params"]
        x = np.random.default_rng(7).standard_normal((1, SIZE, SIZE, 3)).astype(np.float32)
        np.save(os.path.join(tmp, "input.npy"), x)
        line = subprocess.run(["node", "tfjs/bench_graph.mjs", model_dir, os.path.join(tmp, "input.npy"),
                               str(args.runs), os.path.join(tmp, "output.npy")], cwd=SCRIPTS,
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        tfjs = json.loads(line)
        reference = np.load(os.path.join(tmp, "output.npy"))
        start = time.perf_counter()
        model = torch_tfjs.load_graph_model(model_dir).eval()
        load_s = time.perf_counter() - start
    xt = torch.from_numpy(x)
    with torch.no_grad():
        diff = float((model(xt) - torch.from_numpy(reference)).abs().max())
    results = {"tfjs predict": (tfjs["predict_ms"], tfjs["predict_min_ms"]),
               "tfjs executeAsync": (tfjs["execute_async_ms"], tfjs["execute_async_min_ms"]),
               "torch_tfjs eager": time_torch(model, xt, args.runs)}
    compile_s = None
    if not args.no_compile:
        compiled = torch.compile(model, fullgraph=True, backend=args.backend)
        start = time.perf_counter()
        with torch.no_grad():
            out = compiled(xt)
        compile_s = time.perf_counter() - start
        diff_c = float((out - torch.from_numpy(reference)).abs().max())
        results[f"torch_tfjs compiled ({args.backend})"] = time_torch(compiled, xt, args.runs)
    print(f"MobileNet-v1 1.0/224 graph model ({params:,} params), batch 1, CPU, median of {args.runs}; "
          f"{tfjs['runtime']}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"  convert (TF env) {convert_s:.1f} s, torch_tfjs load {load_s:.2f} s"
          + (f", first compiled call {compile_s:.1f} s" if compile_s is not None else ""))
    print(f"  max|torch_tfjs - tfjs| = {diff:.3g} (eager)" + (f", {diff_c:.3g} (compiled)" if compile_s else "")
          + f"; tfjs softmax max {reference.max():.3g}, min {reference.min():.3g}")
    base = results["tfjs predict"][0]
    print(f"  {'':32s} {'median':>9s}      {'best':>9s}")
    for name, (ms, best) in results.items():
        print(f"  {name:32s} {ms:9.1f} ms   {best:9.1f} ms   ({base / ms:6.1f}x tfjs predict, medians)")


if __name__ == "__main__":
    main()
