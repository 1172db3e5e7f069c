"""mypy --strict on the public API and on the README's quickstart: the type hints users' IDEs
and type checkers see are checked, not only written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ["torch_tfjs/__init__.py", "torch_tfjs/signature.py", "torch_tfjs/errors.py",
          "torch_tfjs/layers/model.py", "torch_tfjs/graph/model.py",
          "torch_tfjs/aoti.py", "torch_tfjs/inference.py", "torch_tfjs/_jit_backend.py",
          "torch_tfjs/_allocator.py"]


def test_public_api_and_readme_quickstart_type_check(tmp_path):
    pytest.importorskip("mypy")
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no Python quickstart"
    quickstart = tmp_path / "readme_quickstart.py"
    quickstart.write_text(blocks[0])
    # --follow-imports=silent: the modules named are checked strictly; what they import is read
    # for its types without reporting its own (internal) findings.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "mypy_cache"), *PUBLIC, str(quickstart)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
