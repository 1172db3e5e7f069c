"""scripts/bench.py --smoke: the benchmark runs end to end on committed fixtures with only the
project venv (no TF environment, ONNX Runtime or Node) and prints its report and table."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_bench_smoke_prints_the_table():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--smoke"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "| model | format | batch | ONNX Runtime |" in out
    for model, fmt in (("graph_mobilenet_like", "graph"), ("mobilenet_like", "layers")):
        row = re.search(rf"^\| {model} \| {fmt} \| 1 \| not measured \(smoke\) \| ([\d.]+) ms( †)? \|", out, re.M)
        assert row, f"no batch-1 row for {model} ({fmt}) in:\n{out}"
        assert float(row.group(1)) > 0
        assert re.search(rf"^\| {model} \| {fmt} \| [\d.]+ MB \| [\d.]+ ms \| [\d.]+ ms \|", out, re.M), \
            f"no load row for {model} ({fmt})"
    assert "MISMATCH" not in out
    assert re.search(r"^(PASS|MISS|N/A ) +peak RSS during load", out, re.M)
