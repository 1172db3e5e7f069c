"""Small tfjs models bundled with torch_tfjs (``torch-tfjs demo`` runs them; the docs use them).

    import torch_tfjs
    from torch_tfjs import examples

    model = torch_tfjs.load(examples.path("mobilenet_like"))
    x = examples.load_input("mobilenet_like")          # the stored input tfjs was run on

Each folder holds ``model.json`` + weights, ``input_<i>.npy`` / ``output_<i>.npy`` (the input and
what tfjs 4.22 computed from it) and ``case.json`` (description, input and output names).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

ROOT = Path(__file__).parent


def names() -> List[str]:
    """The bundled examples' folder names (``graph_cnn``, ``layers_mobilenet_like``, ...)."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "model.json").is_file())


def path(name: str) -> Path:
    """The folder of a bundled example, by folder name or without its ``layers_`` prefix
    (``path("mobilenet_like")`` == ``path("layers_mobilenet_like")``)."""
    for candidate in (name, f"layers_{name}", f"graph_{name}"):
        if (ROOT / candidate / "model.json").is_file():
            return ROOT / candidate
    raise KeyError(f"no bundled example {name!r}; the examples are {names()}")


def load_input(name: str, index: int = 0) -> np.ndarray:
    """The example's stored input ``index`` (what the tfjs reference output was computed from)."""
    return np.load(path(name) / f"input_{index}.npy", allow_pickle=False)


def load_output(name: str, index: int = 0) -> np.ndarray:
    """The output tfjs 4.22 computed for the stored inputs."""
    return np.load(path(name) / f"output_{index}.npy", allow_pickle=False)


__all__ = ["ROOT", "load_input", "load_output", "names", "path"]
