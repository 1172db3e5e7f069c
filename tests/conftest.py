import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _private_download_cache(tmp_path_factory, monkeypatch):
    """URL loads cache by default: each test gets an empty cache of its own (never ~/.cache),
    online, whatever the environment says."""
    monkeypatch.setenv("TORCH_TFJS_CACHE", str(tmp_path_factory.mktemp("tfjs-cache")))
    monkeypatch.delenv("TORCH_TFJS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    yield


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


#: Markers of opt-in sweeps: their tests are deselected unless ``-m`` names the marker, except
#: those marked ``default=True`` (``pytest.mark.export_sweep(default=True)``: in every run).
OPT_IN_MARKERS = ("export_sweep", "export_ops")


def _opted_out(item, markers):
    marks = [item.get_closest_marker(m) for m in markers]
    return any(m is not None and not m.kwargs.get("default") for m in marks)


def _deselect_opt_in(config, items):
    """Drop opt-in sweep tests from the run unless ``-m`` asks for them."""
    expression = config.getoption("markexpr") or ""
    opted_out = [m for m in OPT_IN_MARKERS if m not in expression]
    if not opted_out:
        return
    keep, drop = [], []
    for item in items:
        (drop if _opted_out(item, opted_out) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_modifyitems(config, items):
    _deselect_opt_in(config, items)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
