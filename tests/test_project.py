"""Project-level guarantees: the README's commands are what CI runs; the CLI answers."""

from pathlib import Path

import pytest

from torch_tfjs.cli import main

ROOT = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines()
                if l.strip() and not l.startswith("#") and not l.startswith("set ") and not l.startswith("cd ")]
    assert len(ci_lines) == 1
    assert ci_lines[0] in readme


def test_readme_commands_install_torch_from_the_cpu_index():
    """Both set-up commands take torch from PyTorch's CPU index (PyPI's Linux torch is a
    multi-GB CUDA build), with few, short retries where that index is unreachable."""
    readme = (ROOT / "README.md").read_text()
    commands = [l for l in readme.splitlines() if l.startswith("python3 -m venv .venv &&")]
    assert len(commands) == 2
    for command in commands:
        torch_step = next(step for step in command.split(" && ") if " torch==" in step)
        args = torch_step.split()
        assert args[args.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
        assert int(args[args.index("--retries") + 1]) <= 1
        assert float(args[args.index("--timeout") + 1]) <= 15


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "torch-tfjs" in capsys.readouterr().out


def test_cli_inspect_reports_typed_errors(tmp_path, capsys):
    (tmp_path / "model.json").write_text("{not json")
    assert main(["inspect", str(tmp_path)]) == 2
    assert "ModelJSONError" in capsys.readouterr().err


def test_support_matrix_is_current():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "support_matrix.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_demo_runs_bundled_layers_and_graph_models(capsys):
    """README command 1: the bundled examples (both formats) load and match tfjs."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "[LayersModel]" in out and "[GraphModel]" in out and "MISMATCH" not in out
