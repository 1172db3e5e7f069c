"""Calibrate the small-convolution cost model of ``torch_tfjs._lowering``.

For depthwise 3×3 (stride 1 and 2), depthwise 5×5 and 1×1 convolutions over a grid of shapes
typical of MobileNet, face-embedder and pose models, a conv + bias + ReLU6 block (channels-last
input) is compiled twice with inductor (frozen weights, C++ wrapper, as
``torch_tfjs.optimize_for_inference`` does): once as is (oneDNN through aten) and once with the
convolution lowered by ``conv_decompositions(lower_always)``. The two are timed in interleaved
rounds (median of the per-call round times, and the minimum), per thread count and batch. It
prints a Markdown table and, per kind, the multiply-add threshold that loses the least time over
the grid (the decisions ``should_lower`` makes with it and with the current constants).

    .venv/bin/python scripts/calibrate_lowering.py [--threads 1,2] [--batches 1,8]
        [--kinds dw3,dw3s2,dw5,pw] [--rounds 7] [--calls 100] [--quick]

Each grid point compiles two graphs (3-20 s each on 2 busy cores; inductor's cache makes a rerun
fast). ``--quick`` takes two shapes per kind.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from torch_tfjs import _lowering
from torch_tfjs._lowering import ConvShape, conv_decompositions, lower_always


@dataclass(frozen=True)
class Point:
    """One grid point: a conv of ``kind`` on an ``size``×``size`` input."""

    kind: str  # dw3 (3×3 stride 1), dw3s2, dw5, pw (1×1)
    size: int
    cin: int
    cout: int

    def shape(self, batch: int, dtype: torch.dtype = torch.float32) -> ConvShape:
        kernel = {"dw3": 3, "dw3s2": 3, "dw5": 5, "pw": 1}[self.kind]
        stride = 2 if self.kind == "dw3s2" else 1
        groups = 1 if self.kind == "pw" else self.cin
        return ConvShape(batch, self.cin, self.cout, self.size, self.size, (kernel, kernel),
                         (stride, stride), (kernel // 2, kernel // 2), (1, 1), groups, dtype)


#: MobileNetV2 0.35 at 96-224, MobileFaceNet at 112 (56→7, 64-512 channels), MoveNet
#: lightning at 192 (96→6): depthwise sizes × channels and 1×1 expand / project shapes.
GRID: Dict[str, List[Point]] = {
    "dw3": [Point("dw3", 6, 192, 192), Point("dw3", 12, 96, 96), Point("dw3", 24, 48, 48),
            Point("dw3", 24, 144, 144), Point("dw3", 48, 48, 48), Point("dw3", 56, 64, 64)],
    "dw3s2": [Point("dw3s2", 24, 96, 96), Point("dw3s2", 48, 48, 48), Point("dw3s2", 56, 128, 128)],
    "dw5": [Point("dw5", 12, 96, 96), Point("dw5", 24, 48, 48)],
    "pw": [Point("pw", 6, 96, 32), Point("pw", 12, 16, 96), Point("pw", 12, 96, 32),
           Point("pw", 24, 24, 144), Point("pw", 48, 16, 96)],
}
QUICK = {kind: [points[0], points[-1]] for kind, points in GRID.items()}


def _block_type() -> type:
    """A fresh conv + bias + ReLU6 module class: its own ``forward`` code object, so Dynamo
    compiles each grid point afresh (no recompile limit, no guard chains across points)."""
    source = ("def forward(self, x):\n"
              "    y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1,\n"
              "                 self.groups)\n"
              "    return torch.clamp(y, 0.0, 6.0)\n")
    namespace: Dict[str, Callable] = {}
    exec(compile(source, "<calibration block>", "exec"), {"torch": torch, "F": F}, namespace)
    return type("Block", (nn.Module,), {"forward": namespace["forward"]})


def block(shape: ConvShape) -> nn.Module:
    module = _block_type()()
    per_group = shape.in_channels // shape.groups
    weight = torch.randn(shape.out_channels, per_group, *shape.kernel) * 0.1
    module.weight = nn.Parameter(weight.to(shape.dtype))
    module.bias = nn.Parameter((torch.randn(shape.out_channels) * 0.1).to(shape.dtype))
    module.stride, module.padding, module.groups = shape.stride, shape.padding, shape.groups
    return module.eval()


def lowered_backend(gm: torch.fx.GraphModule, example_inputs: Sequence[torch.Tensor]):
    """Inductor with every depthwise / 1×1 convolution lowered."""
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.decomposition import select_decomp_table

    table = {**select_decomp_table(), **conv_decompositions(lower_always)}
    return compile_fx(gm, example_inputs, decompositions=table)


def time_rounds(fns: Dict[str, Callable[[], object]], rounds: int,
                calls: int) -> Dict[str, List[float]]:
    """Per-call seconds of each function in each round; the functions alternate within a round
    (order flipped every round) so drifting machine load hits them alike."""
    out: Dict[str, List[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = fns[name]
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            out[name].append((time.perf_counter() - start) / calls)
    return out


@dataclass
class Result:
    point: Point
    threads: int
    batch: int
    macs: int
    onednn: Tuple[float, float]  # median, min (µs)
    lowered: Tuple[float, float]
    max_diff: float
    compile_s: float

    @property
    def ratio(self) -> float:
        return self.lowered[0] / self.onednn[0]


def measure(point: Point, batch: int, threads: int, rounds: int, calls: int,
            dtype: torch.dtype = torch.float32) -> Result:
    shape = point.shape(batch, dtype)
    torch.manual_seed(0)
    model = block(shape)
    x = torch.randn(batch, shape.in_channels, shape.height, shape.width).to(dtype).contiguous(
        memory_format=torch.channels_last)
    start = time.perf_counter()
    with torch.no_grad():
        plain = torch.compile(model, backend="inductor")
        lowered = torch.compile(block_copy(model), backend=lowered_backend)
        expected, got = plain(x), lowered(x)
        compile_s = time.perf_counter() - start
        max_diff = float((expected.float() - got.float()).abs().max())
        for _ in range(10):
            plain(x), lowered(x)
        times = time_rounds({"onednn": lambda: plain(x), "lowered": lambda: lowered(x)},
                            rounds, calls)
    torch._dynamo.reset()
    stats = {k: (statistics.median(v) * 1e6, min(v) * 1e6) for k, v in times.items()}
    return Result(point, threads, batch, shape.macs, stats["onednn"], stats["lowered"],
                  max_diff, compile_s)


def block_copy(model: nn.Module) -> nn.Module:
    """The same weights in a module of a fresh class (its own Dynamo cache entry)."""
    copy = _block_type()()
    copy.weight, copy.bias = model.weight, model.bias
    copy.stride, copy.padding, copy.groups = model.stride, model.padding, model.groups
    return copy.eval()


def fit_threshold(results: List[Result], stat: int = 0) -> Tuple[int, float]:
    """The multiply-add threshold (lower iff macs <= it) losing the least time summed over
    ``results`` (time of the decision taken minus the faster of the two), and that loss (µs).
    ``stat``: 0 fits the medians, 1 the minima (less disturbed by other load)."""
    candidates = sorted({0} | {r.macs for r in results})

    def loss(threshold: int) -> float:
        total = 0.0
        for r in results:
            lowered, onednn = r.lowered[stat], r.onednn[stat]
            total += (lowered if r.macs <= threshold else onednn) - min(lowered, onednn)
        return total

    best = min(candidates, key=lambda t: (loss(t), -t))
    return best, loss(best)


def report(results: List[Result], dtype: torch.dtype = torch.float32) -> None:
    print("\n| kind | input | threads | batch | MACs | oneDNN µs (min) | lowered µs (min) "
          "| lowered ÷ oneDNN | should_lower | max abs Δ |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in results:
        p = r.point
        decided = _lowering.should_lower(p.shape(r.batch, dtype))
        print(f"| {p.kind} | {p.size}×{p.size}×{p.cin}→{p.cout} | {r.threads} | {r.batch} "
              f"| {r.macs:,} | {r.onednn[0]:.1f} ({r.onednn[1]:.1f}) "
              f"| {r.lowered[0]:.1f} ({r.lowered[1]:.1f}) | {r.ratio:.2f} | {decided} "
              f"| {r.max_diff:.1e} |")
    print("\nFitted thresholds (lower iff MACs <= threshold; loss = µs lost over the grid):")
    groups = {"depthwise 3x3 (stride 1 and 2)": ("dw3", "dw3s2"), "depthwise 5x5": ("dw5",),
              "1x1": ("pw",)}
    # per thread count: the loss is in µs, so one slow setting would outweigh the others
    for threads in sorted({r.threads for r in results}):
        for label, kinds in groups.items():
            chosen = [r for r in results if r.point.kind in kinds and r.threads == threads]
            if not chosen:
                continue
            wins = sum(r.ratio < 1 for r in chosen)
            fits = [fit_threshold(chosen, stat) for stat in (0, 1)]
            print(f"  {threads} thread(s), {label}: medians {fits[0][0]:,} (loss "
                  f"{fits[0][1]:.0f} µs), minima {fits[1][0]:,} (loss {fits[1][1]:.0f} µs); "
                  f"lowered faster in {wins}/{len(chosen)}")
    print(f"Current constants: DEPTHWISE_MAX_KERNEL={_lowering.DEPTHWISE_MAX_KERNEL}, "
          f"DEPTHWISE_MAX_MACS={_lowering.DEPTHWISE_MAX_MACS:,}, "
          f"POINTWISE_MAX_MACS={_lowering.POINTWISE_MAX_MACS:,}")


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--kinds", default=",".join(GRID))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="two shapes per kind")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    args = parser.parse_args(list(argv) or None)
    from torch._inductor import config
    config.freezing = True  # as optimize_for_inference compiles
    config.cpp_wrapper = True
    grid = QUICK if args.quick else GRID
    dtype = getattr(torch, args.dtype)
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)  # inductor's kernels take the count at compile time
        for kind in args.kinds.split(","):
            for point in grid[kind]:
                for batch in (int(b) for b in args.batches.split(",")):
                    r = measure(point, batch, threads, args.rounds, args.calls, dtype)
                    print(f"{kind} {point.size}x{point.size}x{point.cin}->{point.cout} t{threads} "
                          f"b{batch}: oneDNN {r.onednn[0]:.1f} µs, lowered {r.lowered[0]:.1f} µs "
                          f"({r.ratio:.2f}), compile {r.compile_s:.0f} s", flush=True)
                    results.append(r)
    print(f"\n{args.dtype}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}; "
          f"median (min) per call of {args.rounds} interleaved rounds of {args.calls} calls")
    report(results, dtype)


if __name__ == "__main__":
    main()
