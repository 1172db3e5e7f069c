#!/usr/bin/env python3
"""Find where a built graph model's torch_tfjs output first departs from tfjs.

    python scripts/realworld/first_diff.py human-blazepose-lite [--max-nodes 80] [--threshold 1e-5]

Takes up to --max-nodes non-Const nodes of the graph in model.json order (evenly spaced, all of
them if the graph is small), asks tfjs (reference.mjs with a node list: executeAsync(feed, names))
and torch_tfjs (GraphModel.execute(feed, names)) for those tensors on the model's inputs, and
prints each node's op, shape and max|Δ| relative to max(1, max|ref|), marking the first one past
--threshold. Narrow down with --from / --to (node indices as printed) and a larger --max-nodes.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "realworld"))
sys.path.insert(0, str(ROOT))

from realworld_check import cache_dir  # noqa: E402

SKIP = {"Const", "Identity", "NoOp", "Placeholder", "PlaceholderWithDefault", "Enter", "Exit", "Switch",
        "Merge", "NextIteration", "LoopCond"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("id")
    ap.add_argument("--max-nodes", type=int, default=80)
    ap.add_argument("--threshold", type=float, default=1e-5)
    ap.add_argument("--from", dest="start", type=int, default=0)
    ap.add_argument("--to", dest="stop", type=int, default=None)
    args = ap.parse_args(argv)
    import torch_tfjs

    work = cache_dir() / args.id
    mj = json.loads((work / "model" / "model.json").read_text())
    nodes = [(i, n) for i, n in enumerate(mj["modelTopology"]["node"]) if n["op"] not in SKIP]
    nodes = [(i, n) for i, n in nodes if i >= args.start and (args.stop is None or i <= args.stop)]
    if len(nodes) > args.max_nodes:
        idx = np.linspace(0, len(nodes) - 1, args.max_nodes).round().astype(int)
        nodes = [nodes[k] for k in sorted(set(idx))]
    names = [n["name"] for _, n in nodes]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for f in work.glob("input_*.npy"):
            (tmp / f.name).write_bytes(f.read_bytes())
        (tmp / "inputs.json").write_text((work / "inputs.json").read_text())
        (tmp / "nodes.json").write_text(json.dumps(names))
        subprocess.run(["node", str(ROOT / "scripts" / "realworld" / "reference.mjs"), str(work / "model"),
                        str(tmp), str(tmp / "nodes.json")], cwd=ROOT / "scripts", check=True)
        ref = json.loads((tmp / "nodes_reference.json").read_text())
        if not ref.get("ok"):
            sys.exit(f"tfjs: {ref.get('error')}")
        want = [np.load(tmp / o["file"]) for o in ref["outputs"]]
    specs = json.loads((work / "inputs.json").read_text())
    feed = {s["name"]: torch.from_numpy(np.load(work / s["file"])) for s in specs}
    model = torch_tfjs.load(str(work / "model")).eval()
    with torch.no_grad():
        got = model.execute(feed, names)
    first = None
    for (i, n), w, g in zip(nodes, want, got):
        g = g.detach().cpu().numpy() if isinstance(g, torch.Tensor) else np.asarray(g)
        if g.shape != w.shape:
            rel, note = float("inf"), f"shape {list(g.shape)} vs tfjs {list(w.shape)}"
        else:
            d = np.abs(g.astype(np.float64) - w.astype(np.float64))
            rel = float(d.max() / max(1.0, np.abs(w).max())) if d.size else 0.0
            note = f"max|ref| {np.abs(w).max() if w.size else 0:.3g}"
        mark = ""
        if first is None and rel > args.threshold:
            first, mark = n["name"], "  <== first past threshold"
        print(f"{i:5d} {n['op']:28s} {n['name'][:70]:70s} {str(list(w.shape)):20s} rel {rel:.2e} {note}{mark}")
    print(f"first node past {args.threshold:g}: {first}")


if __name__ == "__main__":
    main()
