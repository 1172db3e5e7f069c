"""Real published tfjs models for scripts/bench.py: a detector, a pose net, a ResNet-like
embedder, a MobileNet-class classifier and a face embedder.

They come from the real-world regression suite's cache (``scripts/realworld/build.py``; one
folder per model id holding ``model/model.json`` + shards, ``input_0.npy`` and tfjs's
``output_0.npy``), found at ``--realworld-dir``, else ``$TORCH_TFJS_REALWORLD_DIR``, else
``tests/realworld/.models``. Without it these models are skipped with a message.

There is no TF source for them, so their ONNX file for ONNX Runtime is written by
``torch_tfjs.export_onnx`` (free dims stay dynamic; :func:`export`), cached in
``scripts/.bench_cache/realworld/<name>/`` and rewritten when torch, torch_tfjs's source or the
model changes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
DEFAULT_DIR = REPO / "tests" / "realworld" / ".models"
ENV = "TORCH_TFJS_REALWORLD_DIR"

#: bench name → (model id in tests/realworld/manifest.json, class, description)
MODELS: Dict[str, Dict[str, str]] = {
    "blazeface": {"id": "human-blazeface-back", "class": "detector",
                  "description": "BlazeFace back-camera face detector (human), graph, 256x256, batch fixed at 1"},
    "movenet": {"id": "human-movenet-lightning", "class": "pose",
                "description": "MoveNet Lightning pose net (human), graph, int32 192x192, batch fixed at 1"},
    "faceres": {"id": "human-faceres-deep", "class": "resnet",
                "description": "FaceRes deep (human): ResNet-like face embedder + age / gender heads, graph, 224x224"},
    "nsfw-mobilenetv2": {"id": "nsfwjs-mobilenet-v2", "class": "mobilenet",
                         "description": "nsfwjs MobileNetV2 classifier, LayersModel, 224x224"},
    "mobilefacenet": {"id": "human-mobilefacenet", "class": "face-embedder",
                      "description": "MobileFaceNet face embedder (human), graph, 112x112"},
}


def find_dir(flag: Optional[str]) -> Optional[Path]:
    """The real-world cache folder (flag, then $TORCH_TFJS_REALWORLD_DIR, then the default), or
    None when it does not exist."""
    for candidate in (flag, os.environ.get(ENV), str(DEFAULT_DIR)):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
        if candidate:  # an explicit choice that is missing: do not fall through to another
            return None
    return None


def subjects(names: List[str], root: Path, batches: List[int], log) -> List[dict]:
    """One benchmark subject per real-world model (same keys as the synthetic ones): inputs per
    batch (batch 1: the suite's seeded input; larger batches: it, repeated, where the batch dim is
    free), tfjs's output as the batch-1 reference."""
    import torch_tfjs

    out = []
    for name in names:
        entry = MODELS[name]
        folder = root / entry["id"]
        model_dir = folder / "model"
        if not (model_dir / "model.json").exists() or not (folder / "input_0.npy").exists():
            log(f"{name}: skipped: {folder} has no model/model.json or input_0.npy "
                "(build it: python scripts/realworld/build.py --only " + entry["id"] + ")")
            continue
        model = torch_tfjs.load(model_dir)  # ~0.1-0.5 s: the signature and the format
        spec = model.signature.inputs[0]
        x = np.load(folder / "input_0.npy")
        free_batch = spec.shape is None or spec.shape[0] is None
        inputs = {b: np.ascontiguousarray(np.concatenate([x] * b)) for b in batches if b == 1 or free_batch}
        refs = {"tfjs": {1: np.load(folder / "output_0.npy").astype(np.float64)}} \
            if (folder / "output_0.npy").exists() else {}
        fmt = "layers" if isinstance(model, torch_tfjs.LayersModel) else "graph"
        out.append({"name": name, "class": entry["class"], "description": entry["description"] + f" [{entry['id']}]",
                    "formats": {fmt: model_dir}, "inputs": inputs, "refs": refs, "realworld": True,
                    "onnx": None, "onnx_status": "not exported yet", "onnx_how": "torch_tfjs.export_onnx",
                    "skipped_batches": [b for b in batches if b not in inputs]})
    return out


def source_key(model_dir: Path) -> str:
    """What the exported ONNX file depends on: torch's version, torch_tfjs's source, the model."""
    import torch

    h = hashlib.sha256(torch.__version__.encode())
    for f in sorted((REPO / "torch_tfjs").rglob("*.py")):
        h.update(f.read_bytes())
    h.update((model_dir / "model.json").read_bytes())
    return h.hexdigest()[:16]


def export(s: dict, model_dir: Path, folder: Path, log) -> None:
    """Write (or reuse) ``folder/model.onnx`` from the model at ``model_dir`` with
    torch_tfjs.export_onnx; sets the subject's ``onnx``, ``onnx_status`` and ``onnx_how``."""
    import torch_tfjs

    s["onnx_how"] = "torch_tfjs.export_onnx"
    path, stamp = folder / "model.onnx", folder / "key.txt"
    key = source_key(model_dir)
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        s["onnx"], s["onnx_status"] = path, "ok"
        return
    folder.mkdir(parents=True, exist_ok=True)
    log(f"{s['name']}: exporting ONNX with torch_tfjs.export_onnx ...")
    try:
        torch_tfjs.export_onnx(torch_tfjs.load(model_dir).eval(), path)
    except Exception as exc:  # noqa: BLE001 -- reported in the ORT column
        s["onnx"], s["onnx_status"] = None, f"export_onnx failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        return
    stamp.write_text(key)
    s["onnx"], s["onnx_status"] = path, "ok"
