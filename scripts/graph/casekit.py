"""Helpers for GraphModel case files (scripts/graph/cases/*.py): deterministic constants."""

from __future__ import annotations

import numpy as np


def fnv1a(text: str) -> int:
    """32-bit FNV-1a, the same hash scripts/tfjs/lib.mjs seeds its RNG with."""
    h = 2166136261
    for ch in text.encode("utf-8"):
        h ^= ch
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def rng(key: str) -> np.random.Generator:
    return np.random.default_rng(fnv1a(key))


def weights(key: str, shape, scale: float = 0.5, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Seeded float32 constant (uniform in [-scale, scale] or [lo, hi]); same key, same values."""
    r = rng(key)
    if lo is not None:
        return r.uniform(lo, hi, size=shape).astype(np.float32)
    return r.uniform(-scale, scale, size=shape).astype(np.float32)
