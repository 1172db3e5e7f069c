"""``torch-tfjs`` command line: inspect artifacts and run the bundled demo."""

from __future__ import annotations

import argparse
import json
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
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TfjsError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
