"""scripts/bench.py --smoke: the benchmark runs end to end on committed fixtures with only the
project venv (no TF environment, ONNX Runtime or real-world models) and prints its report and
tables; and its parts that need no compiling (the interleaved rounds, option parsing)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SCRIPTS = ROOT / "scripts"


@pytest.fixture
def bench_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import bench
    import bench_candidates

    return bench, bench_candidates


def test_bench_smoke_prints_the_tables():
    result = subprocess.run([sys.executable, str(SCRIPTS / "bench.py"), "--smoke"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "| model | class | format | batch | threads | ONNX Runtime | eager |" in out
    for model, fmt in (("graph_mobilenet_like", "graph"), ("mobilenet_like", "layers")):
        for threads in (1, 2):
            row = re.search(rf"^\| {model} \| mobilenet \| {fmt} \| 1 \| {threads} \| not measured \(smoke\) "
                            r"\| ([\d.]+) ms( †)? \|", out, re.M)
            assert row, f"no batch-1 row for {model} ({fmt}, {threads} threads) in:\n{out}"
            assert float(row.group(1)) > 0
        assert re.search(rf"^\| {model} \| {fmt} \| [\d.]+ MB \| [\d.]+ ms \| [\d.]+ ms \|", out, re.M), \
            f"no load row for {model} ({fmt})"
    # the one compiled (model, batch): optimize_for_inference timed and checked against eager
    assert re.search(r"^\| graph_mobilenet_like \| mobilenet \| graph \| 1 \| 1 \| [^|]+ \| [\d.]+ ms( †)? "
                     r"\| [\d.]+ ms", out, re.M), out
    assert re.search(r"^PASS +compiled outputs within 1e-4·max\(1, max\|ref\|\) of eager: [1-9]", out, re.M), out
    assert "MISMATCH" not in out
    assert re.search(r"^(PASS|MISS|N/A ) +peak RSS during load", out, re.M)


def test_interleaved_rotates_and_counts(bench_modules):
    _, cand = bench_modules
    order = []
    times = cand.interleaved({k: (lambda k=k: order.append(k)) for k in "abc"}, rounds=3, warmup=1, burst=2)
    assert order[:3] == list("abc")  # warm-up: once each, in order
    assert order[3:] == list("aabbcc") + list("bbccaa") + list("ccaabb")  # rotated, burst of 2
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for v in times.values() for t in v)


def test_max_diff_and_bound(bench_modules):
    import numpy as np

    _, cand = bench_modules
    d = cand.max_diff(np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    assert d == {"diff": 0.5, "ref": 2.5}
    assert cand.bound(2.5) == pytest.approx(2.5e-4) and cand.bound(0.1) == pytest.approx(1e-4)
    assert "bad_ref" in cand.max_diff(np.zeros(2), np.array([0.0, np.nan]))
    assert cand.max_diff(np.zeros(2), np.zeros(3))["diff"] == float("inf")


def test_quick_defaults_and_explicit_flags(bench_modules):
    bench, _ = bench_modules
    args = bench.parse_args(["--quick"])
    assert args.models == list(bench.QUICK_MODELS) and args.batches == [1] and args.threads == [1]
    assert args.loads == 0 and args.rounds == 8
    args = bench.parse_args(["--quick", "--threads", "2", "--models", "unet"])
    assert args.threads == [2] and args.models == ["unet"]
    with pytest.raises(SystemExit):
        bench.parse_args(["--models", "resnet9000"])


def test_missing_realworld_dir_skips_with_a_message(bench_modules, tmp_path, monkeypatch):
    bench, _ = bench_modules
    import bench_realworld

    missing = tmp_path / "nope"
    monkeypatch.setenv(bench_realworld.ENV, str(missing))
    assert bench_realworld.find_dir(None) is None  # an explicit env var is not replaced by the default
    assert bench_realworld.find_dir(str(tmp_path)) == tmp_path
    args = bench.parse_args(["--models", "movenet", "--realworld-dir", str(missing)])
    assert bench.realworld_subjects(args, ["movenet"]) == []
    assert "real-world models skipped (movenet)" in bench.SKIPPED[-1]
