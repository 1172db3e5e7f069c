"""``torch-tfjs`` command line: inspect, convert and verify artifacts, run the bundled demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from .errors import TfjsError

EXAMPLES = Path(__file__).parent / "examples"


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .inspection import format_report, inspect_artifact

    report = inspect_artifact(args.src)
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0 if report["loadable"] else 3


def _cmd_demo(args: argparse.Namespace) -> int:
    """Load the bundled example models, run them on their stored inputs, compare with tfjs."""
    import numpy as np
    import torch

    from . import load

    failures = 0
    examples = sorted(p for p in EXAMPLES.iterdir() if (p / "model.json").is_file()) if EXAMPLES.is_dir() else []
    if not examples:
        print("no bundled examples found", file=sys.stderr)
        return 1
    for folder in examples:
        meta = json.loads((folder / "case.json").read_text())
        model = load(folder)
        inputs = [torch.from_numpy(np.load(folder / i["file"])) for i in meta["inputs"]]
        with torch.no_grad():
            out = model(*inputs)
        outs = out if isinstance(out, list) else [out]
        kind = type(model).__name__
        print(f"{folder.name}: {meta.get('description', '')} [{kind}]")
        for spec, tensor in zip(meta["outputs"], outs):
            ref = np.load(folder / spec["file"])
            err = float(np.max(np.abs(tensor.numpy().astype(np.float64) - ref)))
            bound = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
            ok = err <= bound
            failures += not ok
            first = tensor.reshape(tensor.shape[0], -1)[0, :5].tolist()
            print(f"  output {spec.get('name')}: shape {list(tensor.shape)}, first row "
                  f"{[round(v, 5) for v in first]}")
            print(f"  max |torch - tfjs| = {err:.3g}  ({'OK' if ok else 'MISMATCH'}, bound {bound:.1g})")
    return 1 if failures else 0


def _cmd_convert(args: argparse.Namespace) -> int:
    """Load SRC and write OUT: .safetensors, .pt (TorchScript), .pt2 (torch.export) or a folder."""
    from . import export, load

    model = load(args.src)
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix == ".safetensors":
        export.save_safetensors(model, out)
        what = "safetensors"
    elif suffix == ".pt":
        out.parent.mkdir(parents=True, exist_ok=True)
        export.save_torchscript(model, out)
        what = "TorchScript (torch.jit.trace)"
    elif suffix == ".pt2":
        out.parent.mkdir(parents=True, exist_ok=True)
        export.save_exported(model, out)
        what = "torch.export program"
    else:
        export.save_model(model, out, quantize=args.quantize, shard_size=args.shard_size)
        what = f"tfjs {type(model).__name__} folder" + (f" ({args.quantize})" if args.quantize else "")
    if suffix in (".safetensors", ".pt", ".pt2") and (args.quantize or
                                                     args.shard_size != export.DEFAULT_SHARD_SIZE):
        print("note: --quantize / --shard-size apply to tfjs folder output only; ignored",
              file=sys.stderr)
    print(f"wrote {out}: {what}")
    return 0


def _load_any(src: str):  # type: ignore[no-untyped-def]
    """A tfjs artifact, or a .pt (TorchScript) / .pt2 (torch.export) file written by convert."""
    import torch

    from . import load

    lowered = src.lower()
    if lowered.endswith(".pt") and Path(src).is_file():
        return torch.jit.load(src)
    if lowered.endswith(".pt2") and Path(src).is_file():
        return torch.export.load(src).module()
    return load(src)


def _cmd_verify(args: argparse.Namespace) -> int:
    """Run SRC on the given inputs and compare every output with the expected arrays."""
    import numpy as np
    import torch

    model = _load_any(args.src)
    try:
        model.eval()
    except Exception:  # torch.export modules may refuse eval(); they run as exported
        pass
    inputs = [torch.from_numpy(np.load(f, allow_pickle=False)) for f in args.inputs]
    try:
        with torch.no_grad():
            out = model(*inputs)
    except TfjsError:
        raise
    except Exception as exc:  # a traced / exported program refusing these inputs, ...
        print(f"error: running {args.src} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if isinstance(out, dict):  # structured outputs, in their key order
        out = list(out.values())
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(outs) != len(args.expected):
        print(f"error: the model returns {len(outs)} output(s), {len(args.expected)} expected file(s) "
              "given", file=sys.stderr)
        return 1
    failures = 0
    for i, (tensor, file) in enumerate(zip(outs, args.expected)):
        ref = np.load(file, allow_pickle=False)
        actual = tensor.detach().cpu().numpy()
        if actual.shape != ref.shape:
            print(f"output {i}: shape {list(actual.shape)} != expected {list(ref.shape)}  MISMATCH")
            failures += 1
            continue
        err = float(np.max(np.abs(actual.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
        bound = args.tolerance * max(1.0, float(np.max(np.abs(ref.astype(np.float64)))) if ref.size else 1.0)
        ok = err <= bound
        failures += not ok
        print(f"output {i}: max|delta| = {err:.3g}, bound {bound:.3g}  {'OK' if ok else 'MISMATCH'}")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torch-tfjs",
        description="Load TensorFlow.js LayersModels and GraphModels as PyTorch models.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"torch-tfjs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="show format, inputs/outputs, layers or ops, weights, and "
                                       "what this version cannot load yet")
    p.add_argument("src", help="folder with model.json, a model.json path, file:// or http(s):// URL")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("demo", help="run the bundled example models and compare with tfjs's outputs")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser(
        "convert", help="save a tfjs model as .safetensors, TorchScript (.pt), torch.export (.pt2) "
                        "or a re-saved tfjs folder",
        description="Load SRC and write OUT, chosen by OUT's suffix: '.safetensors' (weights keyed "
                    "by manifest name, Keras / TF layout), '.pt' (TorchScript via torch.jit.trace), "
                    "'.pt2' (torch.export.export + torch.export.save), anything else a folder "
                    "holding a tfjs model.json + shards (layers or graph model, as SRC). .pt is "
                    "traced on zero example inputs built from the model's input shapes: batch 1, "
                    "unknown dimensions 1, int32 for integer inputs; shapes that steer control "
                    "flow are fixed by that trace. .pt2 is exported on the same inputs with batch "
                    "2 and a dynamic batch dimension where the model allows one.")
    p.add_argument("src", help="folder with model.json, a model.json path, file:// or http(s):// URL")
    p.add_argument("out", help="output: *.safetensors, *.pt, *.pt2, or a folder")
    from .io.save import DEFAULT_SHARD_SIZE, QUANTIZE_CHOICES
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES, default=None,
                   help="quantize float32 weights as the tensorflowjs converter does (folder output "
                        "only)")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="BYTES",
                   help=f"bytes per weight shard (folder output only; default {DEFAULT_SHARD_SIZE})")
    p.set_defaults(func=_cmd_convert)
    p = sub.add_parser(
        "verify", help="run a model on .npy inputs and compare with expected .npy outputs",
        description="Run SRC (a tfjs artifact, or a .pt / .pt2 file written by convert) on the "
                    "inputs and print max|delta| per output with its bound, tolerance * max(1, "
                    "max|expected|). Exit status 0 when every output is within its bound, 1 "
                    "otherwise.")
    p.add_argument("src", help="tfjs folder / model.json / URL, or a .pt / .pt2 file")
    p.add_argument("--inputs", nargs="+", required=True, metavar="NPY",
                   help="input arrays in the model's input order")
    p.add_argument("--expected", nargs="+", required=True, metavar="NPY",
                   help="expected outputs in the model's output order")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="relative tolerance (default 1e-4)")
    p.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TfjsError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped to `head` that stopped reading: not an error
        # Python would complain again flushing stdout at exit: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
