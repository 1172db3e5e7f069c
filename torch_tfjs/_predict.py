"""``model.predict`` for both model kinds, as Keras / tfjs ``predict``: NumPy (or tensors) in,
NumPy out, run in batches of ``batch_size`` in eval mode without autograd."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np
import torch
from torch import nn

from .errors import ModelInputError
from .signature import Signature


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_numpy(v) for v in value]
    return value


def _concat(parts: Sequence[Any]) -> Any:
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, list):
        return [_concat([p[i] for p in parts]) for i in range(len(first))]
    return np.concatenate(parts, axis=0) if len(parts) > 1 else first


def _rows(value: Any) -> int:
    return int(value.shape[0]) if hasattr(value, "shape") and len(value.shape) else -1


def predict(model: nn.Module, signature: Signature, args: Sequence[Any],
            batch_size: int = 32) -> Any:
    """Run ``model`` on ``args`` (as its call takes them) in batches along axis 0, in eval mode
    and under ``torch.no_grad()``; outputs as NumPy arrays in the call's structure (one array,
    a list, or a dict for structured outputs). Inputs with a fixed batch size in the signature
    run in one call."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    values: List[Any] = signature.bind(args)
    values = [v if isinstance(v, torch.Tensor) or s.dtype == "string" else np.asarray(v)
              for v, s in zip(values, signature.inputs)]
    rows = {_rows(v) for v in values}
    if len(rows) != 1 or -1 in rows:
        raise ModelInputError(f"{signature.model}: predict needs inputs with a batch axis of one "
                              f"size, got {[list(getattr(v, 'shape', [])) for v in values]}")
    n = rows.pop()
    fixed = any(s.shape and s.shape[0] is not None for s in signature.inputs)
    step = n if fixed or n == 0 else batch_size
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = []
            for start in range(0, max(n, 1), max(step, 1)):
                chunk: Dict[str, Any] = {s.name: v[start:start + step]
                                         for s, v in zip(signature.inputs, values)}
                parts.append(_to_numpy(model(chunk)))
    finally:
        model.train(was_training)
    return _concat(parts)
