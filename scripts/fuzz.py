"""Seeded structural fuzzer for tfjs artifacts: every failure must be a ``torch_tfjs.errors.TfjsError``.

Each case takes a real fixture (model.json + shards + stored inputs), applies one random
mutation (a JSON value set to null / a wrong type / a huge number / a string where an object
was, a key deleted, a list shortened, or a shard truncated / extended / corrupted), writes it to
a temporary folder, loads it with :func:`torch_tfjs.load` and, when that works, calls the model
with the fixture's inputs. Outcomes:

- ``loaded`` / ``ran``: fine (a mutation may be harmless);
- ``typed``: a :class:`~torch_tfjs.errors.TfjsError` was raised (fine);
- ``untyped``: anything else escaped (a bug: printed with its mutation path);
- ``slow``: one case took longer than ``--slow`` seconds (a hang in the making).

    python scripts/fuzz.py --n 100000 --seed 1          # the long run
    python scripts/fuzz.py --n 2000 --seed 0 --show 20  # quick look

The test suite imports :func:`run` (tests/test_hostile_fuzz.py).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

#: Fixtures mutated by default: small models of both formats and the common layer families.
DEFAULT_FIXTURES = (
    "models/models/multi_io_shared",
    "models/models/nested_shared_sequential",
    "models/models/embedding_lstm_text",
    "layers/conv/conv2d_k3_same_s2_odd",
    "layers/conv/separable_k3_same",
    "layers/conv/conv2d_transpose_k3_same_s2",
    "layers/core/dense_relu",
    "layers/core/flatten_reshape_permute",
    "layers/pooling/max2d_pool3_same_s2",
    "layers/normalization/batchnorm_nhwc",
    "layers/recurrent/gru_sequences_sigmoid",
    "layers/recurrent/lstm_initial_state",
    "layers/merge/concat_axis1",
    "layers/reshaping/zero_padding2d",
    "models/graph_cnn",
    "models/graph_control_v2",
    "graph/convolution/conv2d_bias_relu",
    "graph/convolution/max_pool_same",
    "graph/matrices/matmul_bias_relu",
    "graph/normalization/conv_fused_batch_norm",
    "graph/transformation/reshape_dynamic",
    "graph/slice_join/concat",
    "graph/reduction/sum_mean",
    "graph/arithmetic/add_broadcast",
)

Path_ = Tuple[Any, ...]


@dataclass
class Fixture:
    """A fixture held in memory: model.json parsed, shards as bytes, inputs as arrays."""

    name: str
    model_json: Dict[str, Any]
    shards: Dict[str, bytes]
    inputs: List[np.ndarray]
    paths: List[Path_] = field(default_factory=list)


def load_fixture(folder: Path) -> Fixture:
    model_json = json.loads((folder / "model.json").read_text())
    shards: Dict[str, bytes] = {}
    for group in model_json.get("weightsManifest") or []:
        for p in group.get("paths", []):
            shards[p] = (folder / p).read_bytes()
    inputs: List[np.ndarray] = []
    case = folder / "case.json"
    if case.is_file():
        for entry in json.loads(case.read_text()).get("inputs", []):
            if str(entry.get("file", "")).endswith(".npy"):
                inputs.append(np.load(folder / entry["file"], allow_pickle=False))
    fx = Fixture(folder.name, model_json, shards, inputs)
    fx.paths = list(_all_paths(model_json))
    return fx


def resolve_fixtures(names: Sequence[str]) -> List[Fixture]:
    out = []
    for name in names:
        folder = FIXTURES / name
        if (folder / "model.json").is_file():
            out.append(load_fixture(folder))
    return out


def _all_paths(obj: Any, prefix: Path_ = ()) -> List[Path_]:
    """Every path into the JSON tree (the root excluded)."""
    out: List[Path_] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out.extend(_all_paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out.extend(_all_paths(v, prefix + (i,)))
    return out


def _get(obj: Any, path: Path_) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def format_path(path: Path_) -> str:
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (("." if text else "") + str(p))
    return text or "(root)"


_WRONG_TYPES: Tuple[Any, ...] = ("x", "", 1.5, -1, 0, True, [], {}, [1, 2], {"a": 1})
_HUGE: Tuple[Any, ...] = (2 ** 62, 10 ** 30, 1e308, -(2 ** 40), 2 ** 31, 65537)


def mutate_json(model_json: Dict[str, Any], paths: List[Path_], rng: random.Random
                ) -> Tuple[Dict[str, Any], str]:
    """One structural mutation of a copy of ``model_json``; (mutated, description)."""
    doc = copy.deepcopy(model_json)
    path = rng.choice(paths)
    parent, key = _get(doc, path[:-1]), path[-1]
    value = parent[key]
    kind = rng.choice(("null", "type", "huge", "delete", "shorten", "str_for_dict", "type", "null"))
    if kind == "shorten" and not isinstance(value, list):
        kind = "delete"
    if kind == "str_for_dict" and not isinstance(value, (dict, list)):
        kind = "type"
    if kind == "null":
        parent[key] = None
        desc = "null"
    elif kind == "type":
        new = rng.choice([v for v in _WRONG_TYPES if type(v) is not type(value)])
        parent[key] = copy.deepcopy(new)
        desc = f"= {new!r}"
    elif kind == "huge":
        new = rng.choice(_HUGE)
        parent[key] = new
        desc = f"= {new!r}"
    elif kind == "delete":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
        desc = "deleted"
    elif kind == "shorten":
        n = rng.randrange(len(value)) if value else 0
        parent[key] = value[:n]
        desc = f"shortened to {n}"
    else:
        parent[key] = "not-an-object"
        desc = "= 'not-an-object'"
    return doc, f"{format_path(path)} {desc}"


def mutate_shards(shards: Dict[str, bytes], rng: random.Random) -> Tuple[Dict[str, bytes], str]:
    """Truncate, extend, zero or corrupt one shard."""
    if not shards:
        return dict(shards), "no shard"
    name = rng.choice(sorted(shards))
    data = shards[name]
    kind = rng.choice(("truncate", "extend", "empty", "flip", "gzip_garbage"))
    out = dict(shards)
    if kind == "truncate" and data:
        n = rng.randrange(len(data))
        out[name] = data[:n]
        return out, f"shard {name} truncated to {n}"
    if kind == "extend":
        out[name] = data + b"\0" * rng.choice((1, 3, 4, 1000))
        return out, f"shard {name} extended"
    if kind == "empty":
        out[name] = b""
        return out, f"shard {name} emptied"
    if kind == "gzip_garbage":
        out[name] = b"\x1f\x8b" + data[2:]
        return out, f"shard {name} given a gzip magic"
    if data:
        buf = bytearray(data)
        for _ in range(8):
            i = rng.randrange(len(buf))
            buf[i] = rng.randrange(256)
        out[name] = bytes(buf)
    return out, f"shard {name} corrupted"


def make_case(fx: Fixture, rng: random.Random) -> Tuple[Dict[str, Any], Dict[str, bytes], str]:
    if fx.shards and rng.random() < 0.15:
        shards, desc = mutate_shards(fx.shards, rng)
        return fx.model_json, shards, desc
    doc, desc = mutate_json(fx.model_json, fx.paths, rng)
    return doc, fx.shards, desc


def write_case(folder: Path, doc: Dict[str, Any], shards: Dict[str, bytes]) -> None:
    for p in list(folder.iterdir()):
        p.unlink()
    (folder / "model.json").write_text(json.dumps(doc))
    for name, data in shards.items():
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            continue
        (folder / name).write_bytes(data)


def try_case(folder: Path, inputs: List[np.ndarray]) -> Tuple[str, Optional[BaseException]]:
    """Load and call; ("typed" | "loaded" | "ran" | "untyped", exception)."""
    import torch
    import torch_tfjs
    from torch_tfjs.errors import TfjsError

    try:
        model = torch_tfjs.load(folder)
    except TfjsError:
        return "typed", None
    except Exception as exc:  # noqa: BLE001 - what the fuzzer hunts
        return "untyped", exc
    if not inputs:
        return "loaded", None
    try:
        with torch.no_grad():
            model(*[torch.from_numpy(np.array(a)) for a in inputs])
    except TfjsError:
        return "typed", None
    except Exception as exc:  # noqa: BLE001
        return "untyped", exc
    return "ran", None


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    failures: List[Tuple[str, str, str]] = field(default_factory=list)  # fixture, mutation, error
    slowest: Tuple[float, str] = (0.0, "")


def run(n: int, seed: int, fixtures: Optional[Sequence[str]] = None, *, slow: float = 5.0,
        keep: int = 50, budget_s: Optional[float] = None) -> Report:
    """Run ``n`` mutated cases (round-robin over ``fixtures``), seeded by ``seed``."""
    import torch
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rng = random.Random(seed)
    fxs = resolve_fixtures(fixtures or DEFAULT_FIXTURES)
    if not fxs:
        raise SystemExit("no fixture found")
    report = Report()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tfjs-fuzz-") as tmp:
        folder = Path(tmp)
        for i in range(n):
            if budget_s is not None and time.monotonic() - start > budget_s:
                report.counts["skipped (budget)"] += n - i
                break
            fx = fxs[i % len(fxs)]
            doc, shards, desc = make_case(fx, rng)
            write_case(folder, doc, shards)
            t0 = time.monotonic()
            outcome, exc = try_case(folder, fx.inputs)
            took = time.monotonic() - t0
            if took > report.slowest[0]:
                report.slowest = (took, f"{fx.name}: {desc}")
            if took > slow:
                report.counts["slow"] += 1
                report.failures.append((fx.name, desc, f"slow: {took:.1f} s"))
            report.counts[outcome] += 1
            if exc is not None and len(report.failures) < keep:
                tb = traceback.extract_tb(exc.__traceback__)
                at = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
                report.failures.append((fx.name, desc, f"{type(exc).__name__} at {at}: {exc}"[:300]))
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=20, help="untyped failures to print")
    parser.add_argument("--slow", type=float, default=5.0, help="seconds counted as a hang")
    parser.add_argument("--fixture", action="append", help="fixture folder under tests/fixtures")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    t0 = time.monotonic()
    report = run(args.n, args.seed, args.fixture, slow=args.slow, keep=max(args.show, 1))
    took = time.monotonic() - t0
    print(f"{args.n} cases, seed {args.seed}, {took:.1f} s")
    for outcome, count in sorted(report.counts.items()):
        print(f"  {outcome:10s} {count}")
    print(f"  slowest case: {report.slowest[0]:.2f} s ({report.slowest[1]})")
    for fixture, desc, err in report.failures[:args.show]:
        print(f"- {fixture}: {desc}\n    {err}")
    bad = report.counts["untyped"] + report.counts["slow"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
