"""Is the gap to ONNX Runtime the converter's or torch's? MobileNetV2 0.35/96 written by hand in
torch against the same architecture loaded by torch_tfjs, in one run.

The hand-written model is what a torch user would write: nn.Conv2d with symmetric padding
(TF's SAME pads stride-2 convs asymmetrically; the FLOPs are the same), BatchNorm already folded
into conv biases, ReLU6, channels_last memory, eval mode. Its weights are random: only speed is
compared. Both are timed eager and compiled the same way (``torch_tfjs.optimize_for_inference``,
which works on any module). Needs the bench cache (``scripts/bench.py`` builds it).

    .venv/bin/python scripts/bench_native.py [--runs 50] [--batches 1,8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import CACHE, time_call  # first: puts this checkout's torch_tfjs on sys.path

import torch
from torch import nn

import torch_tfjs


def _conv(cin: int, cout: int, kernel: int, stride: int, groups: int = 1, relu6: bool = True) -> nn.Module:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=True)]
    if relu6:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [_conv(cin, hidden, 1, 1)] if expand != 1 else []
        layers += [_conv(hidden, hidden, 3, stride, groups=hidden), _conv(hidden, cout, 1, 1, relu6=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v2(alpha: float = 0.35, classes: int = 1000) -> nn.Module:
    """Keras's MobileNetV2 layer sizes (``_make_divisible`` channel rounding)."""
    def width(channels: int) -> int:
        v = channels * alpha
        rounded = max(8, int(v + 4) // 8 * 8)
        return rounded + 8 if rounded < 0.9 * v else rounded

    stages = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
              (6, 320, 1, 1)]
    layers = [_conv(3, width(32), 3, 2)]
    cin = width(32)
    for expand, channels, repeats, stride in stages:
        cout = width(channels)
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += [_conv(cin, 1280, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


class ChannelsLastInput(nn.Module):
    """Takes NHWC like the converted model; one view at the edge, channels_last inside."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.permute(0, 3, 1, 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--batches", default="1,8")
    args = ap.parse_args()
    folder = Path(CACHE) / "mobilenetv2" / "graph"
    if not (folder / "model.json").exists():
        raise SystemExit(f"{folder} missing: run scripts/bench.py --models mobilenetv2 first")
    models = {"hand-written torch": ChannelsLastInput(mobilenet_v2()).eval(),
              "torch_tfjs graph model": torch_tfjs.load_graph_model(folder).eval()}
    print(f"MobileNetV2 0.35/96, CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"median of {args.runs} runs (best in brackets)")
    for batch in (int(b) for b in args.batches.split(",")):
        x = torch.randn(batch, 96, 96, 3)
        for name, model in models.items():
            torch._dynamo.reset()
            with torch.no_grad():
                eager, eager_best = time_call(model, x, 5, args.runs)
            fast = torch_tfjs.optimize_for_inference(model, backend="inductor")
            fast(x)  # compiles
            compiled, compiled_best = time_call(fast, x, 5, args.runs)
            print(f"  batch {batch}  {name:24s} eager {eager:6.2f} ms [{eager_best:.2f}]   "
                  f"optimize_for_inference {compiled:6.2f} ms [{compiled_best:.2f}]")


if __name__ == "__main__":
    main()
