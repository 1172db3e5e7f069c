"""Build a one-op graph model (inputs fed or constant) to test an emitter end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

import torch_tfjs
from torch_tfjs.io import encode_weights

_DT = {np.dtype("float32"): "DT_FLOAT", np.dtype("int32"): "DT_INT32", np.dtype("bool"): "DT_BOOL",
       np.dtype("int64"): "DT_INT64", np.dtype("complex64"): "DT_COMPLEX64"}


def attr(value: Any) -> Dict[str, Any]:
    """Python value → AttrValue JSON (ints as strings, as MessageToDict writes them)."""
    import base64
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str) and value.startswith("DT_"):
        return {"type": value}
    if isinstance(value, str):
        return {"s": base64.b64encode(value.encode()).decode()}
    if isinstance(value, list):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return {"list": {"i": [str(v) for v in value]}} if value else {"list": {}}
        if all(isinstance(v, float) for v in value):
            return {"list": {"f": value}}
        if all(isinstance(v, str) for v in value):
            return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in value]}}
    raise TypeError(value)


def single_op_model(folder: Path, op: str, inputs: Sequence[Tuple[np.ndarray, bool]],
                    attrs: Optional[Dict[str, Any]] = None, n_outputs: int = 1):
    """``inputs``: (array, is_const) pairs. Returns (model, fed arrays in order)."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes: List[Dict[str, Any]] = []
    weights = []
    fed = []
    names = []
    for i, (array, is_const) in enumerate(inputs):
        array = np.asarray(array)
        dtype = _DT[array.dtype]
        name = f"in{i}"
        names.append(name)
        if is_const:
            stored = array.astype(np.int32) if array.dtype == np.int64 else array
            nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}})
            weights.append((name, stored))
        else:
            nodes.append({"name": name, "op": "Placeholder", "attr": {"dtype": {"type": dtype}}})
            fed.append(array)
    nodes.append({"name": "op", "op": op, "input": names,
                  "attr": {k: attr(v) for k, v in (attrs or {}).items()}})
    data, specs = encode_weights(weights)
    (folder / "w.bin").write_bytes(data)
    sig = {"inputs": {f"in{i}": {"name": f"in{i}:0"} for i, (_, c) in enumerate(inputs) if not c},
           "outputs": {f"out{k}": {"name": f"op:{k}"} for k in range(n_outputs)}}
    (folder / "model.json").write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": nodes}, "signature": sig,
        "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}))
    return torch_tfjs.load_graph_model(folder), fed


def run_single_op(folder: Path, op: str, inputs, attrs=None, n_outputs: int = 1):
    model, fed = single_op_model(folder, op, inputs, attrs, n_outputs)
    with torch.no_grad():
        out = model(*[torch.from_numpy(np.array(a)) for a in fed])
    return out
