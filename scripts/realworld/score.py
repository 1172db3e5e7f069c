#!/usr/bin/env python3
"""Score torch_tfjs on the real-world suite (after scripts/realworld/build.py).

    python scripts/realworld/score.py                 # table + totals
    python scripts/realworld/score.py --only human-rvm --json out.json

Columns: id, format, era, load ok, max|Δ| (the output closest to or furthest past its
tolerance), tolerance 1e-4·max(1, max|ref|), result, reason. Results: pass; fail (numbers or
shapes differ); error (torch_tfjs raised where tfjs ran); tfjs-error-typed (tfjs cannot run it and
torch_tfjs raises a torch_tfjs.errors error: accepted); tfjs-error-untyped; tfjs-error-torch-ran
(no reference); not-built. A manifest ``known_failure`` is shown after the reason.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "realworld"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from realworld_check import check, entries  # noqa: E402


def fmt(x):
    return "-" if x is None else f"{x:.2e}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    rows = []
    print('| id | format | era | load ok | max abs diff | tolerance | result | reason |')
    print('|---|---|---|---|---|---|---|---|')
    for e in entries():
        if args.only and e["id"] not in args.only:
            continue
        r = check(e)
        if e.get("known_failure"):
            r["known_failure"] = e["known_failure"]
        rows.append(r)
        reason = r["reason"] + (f" [known: {e['known_failure']}]" if e.get("known_failure") else "")
        print(f"| {r['id']} | {r['format']} | {(r['era'] or '')[:28]} | "
              f"{'-' if r['load_ok'] is None else ('yes' if r['load_ok'] else 'no')} | {fmt(r['max_abs'])} | "
              f"{fmt(r['tol'])} | {r['status']} | {reason[:300]} |", flush=True)
    ok = sum(r["status"] in ("pass", "tfjs-error-typed") for r in rows)
    by = {}
    for r in rows:
        by[r["status"]] = by.get(r["status"], 0) + 1
    print(f"\n{len(rows)} models, {ok} pass ({', '.join(f'{k}: {v}' for k, v in sorted(by.items()))})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
