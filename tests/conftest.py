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


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
