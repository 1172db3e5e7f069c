"""Whole models with and without small-convolution lowering (``torch_tfjs._lowering``).

Each model is compiled by inductor with frozen weights and the C++ wrapper (as
``torch_tfjs.optimize_for_inference`` does) as is, and with ``conv_decompositions()`` (the
calibrated cost model) added to inductor's decompositions; with ``--aoti`` also as AOTInductor
packages of the exported program (batch static), plain and after ``lower_small_convs``. Per
thread count and batch the variants are timed in interleaved rounds (median and minimum per
call) and checked against eager.

    PYTHONPATH=. .venv/bin/python scripts/bench_lowering.py MODEL_DIR [MODEL_DIR ...]
        [--batches 1,8] [--threads 1,2] [--rounds 7] [--calls 30] [--aoti]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Sequence

import torch

import torch_tfjs
from torch_tfjs import _lowering
from torch_tfjs.programs import export_program

from calibrate_lowering import time_rounds


def lowered_backend(gm: torch.fx.GraphModule, example_inputs: Sequence[torch.Tensor]):
    """Inductor with the cost model's convolutions lowered."""
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.decomposition import select_decomp_table

    table = {**select_decomp_table(), **_lowering.conv_decompositions()}
    return compile_fx(gm, example_inputs, decompositions=table)


def example(model: torch.nn.Module, batch: int) -> torch.Tensor:
    """A random input of the model's (single) input shape at ``batch``."""
    (spec,) = model.signature.inputs
    shape = [batch if i == 0 else (d if d else 32) for i, d in enumerate(spec.shape)]
    dtype = spec.torch_dtype or torch.float32
    torch.manual_seed(0)
    if dtype.is_floating_point:
        return torch.rand(shape, dtype=dtype)
    return torch.randint(0, 255, shape, dtype=dtype)


def aoti(model: torch.nn.Module, x: torch.Tensor, lowered: bool, folder: Path) -> Callable:
    """An AOTInductor package of the model specialised to ``x``'s shape, loaded."""
    from torch._inductor import aoti_compile_and_package, aoti_load_package

    with torch.no_grad():
        program = export_program(model, (x,), dynamic_shapes=[[]])
        if lowered:
            program = _lowering.lower_small_convs(program)
        name = f"{'lowered' if lowered else 'plain'}-{x.shape[0]}-{torch.get_num_threads()}.pt2"
        aoti_compile_and_package(program, package_path=str(folder / name),
                                 inductor_configs={"freezing": True})
    runner = aoti_load_package(str(folder / name))
    return lambda: runner(x)


def measure(path: str, batch: int, use_aoti: bool, rounds: int, calls: int, folder: Path) -> None:
    models = {name: torch_tfjs.load(path).eval() for name in ("inductor", "inductor+lowered")}
    x = example(models["inductor"], batch)
    with torch.no_grad():
        expected = models["inductor"](x)
        expected = expected if isinstance(expected, torch.Tensor) else next(iter(expected.values()))
        fns: Dict[str, Callable] = {}
        compile_s: Dict[str, float] = {}
        for name, model in models.items():
            backend = lowered_backend if "lowered" in name else "inductor"
            compiled = torch.compile(model, backend=backend)
            start = time.perf_counter()
            compiled(x)
            compile_s[name] = time.perf_counter() - start
            fns[name] = (lambda c: lambda: c(x))(compiled)
        if use_aoti:
            for lowered in (False, True):
                name = "aoti+lowered" if lowered else "aoti"
                start = time.perf_counter()
                fns[name] = aoti(models["inductor"], x, lowered, folder)
                compile_s[name] = time.perf_counter() - start
        diffs = {}
        for name, fn in fns.items():
            out = fn()
            out = out if isinstance(out, torch.Tensor) else (
                out[0] if isinstance(out, (list, tuple)) else next(iter(out.values())))
            diffs[name] = float((out - expected).abs().max())
            for _ in range(3):
                fn()
        times = time_rounds(fns, rounds, calls)
    torch._dynamo.reset()
    base = {"inductor": statistics.median(times["inductor"]),
            "aoti": statistics.median(times["aoti"]) if "aoti" in times else None}
    for name, values in times.items():
        ref = base["aoti" if name.startswith("aoti") else "inductor"]
        print(f"| {Path(path).name} | {batch} | {torch.get_num_threads()} | {name} "
              f"| {statistics.median(values) * 1e3:.3f} ({min(values) * 1e3:.3f}) "
              f"| {statistics.median(values) / ref:.2f} | {compile_s[name]:.0f} s "
              f"| {diffs[name]:.1e} |", flush=True)


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--aoti", action="store_true", help="also AOTInductor packages")
    args = parser.parse_args(list(argv) or None)
    from torch._inductor import config
    config.freezing = True  # as optimize_for_inference compiles
    config.cpp_wrapper = True
    print(f"torch {torch.__version__}, {time.strftime('%Y-%m-%d')}; median (min) per call of "
          f"{args.rounds} interleaved rounds of {args.calls} calls; ratio to the same compiler "
          "without lowering\n")
    print("| model | batch | threads | compiled | ms per call (min) | ratio | compile "
          "| max abs Δ vs eager |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench_lowering-") as folder:
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)  # inductor's kernels take the count at compile time
            for path in args.models:
                for batch in (int(b) for b in args.batches.split(",")):
                    measure(path, batch, args.aoti, args.rounds, args.calls, Path(folder))


if __name__ == "__main__":
    main()
