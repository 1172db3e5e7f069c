"""Tensors derived from a layer's weights (a BatchNormalization's scale and shift, a conv kernel
with a BatchNormalization folded in), computed once and reused while the weights are unchanged.

Only in plain eager inference (no autograd, not tracing or compiling): a cached tensor must not
join an autograd graph or be baked into a trace. "Unchanged" means the same tensor objects (held
through weak references, so a replaced weight is not kept alive by the cache and its id cannot be
mistaken for a new tensor's) at the same ``_version`` (every in-place update, an optimizer step
or ``load_state_dict`` included, bumps it).
"""

from __future__ import annotations

import weakref
from typing import Callable, Optional, Sequence, Tuple, TypeVar

import torch

T = TypeVar("T")


def plain_inference() -> bool:
    """Eager, without autograd: results may be cached and computed in any layout."""
    # torch._C._is_tracing is torch.jit.is_tracing without its Python wrapper (this runs per
    # layer per call); Dynamo cannot trace it, so is_compiling is asked first
    return not (torch.compiler.is_compiling() or torch.is_grad_enabled() or torch._C._is_tracing())


def _version(t: Optional[torch.Tensor]) -> int:
    if t is None:
        return -1
    # inference tensors (made under torch.inference_mode, like a cached scale) keep no counter
    return -2 if t.is_inference() else t._version


class DerivedCache:
    """One cached value computed from a fixed list of source tensors (``None`` entries allowed)."""

    __slots__ = ("_refs", "_versions", "_value")

    def __init__(self) -> None:
        self._refs: Tuple[Optional[weakref.ref], ...] = ()
        self._versions: Tuple[int, ...] = ()
        self._value: object = None

    def get(self, sources: Sequence[Optional[torch.Tensor]], compute: Callable[[], T]) -> T:
        """``compute()``, or its cached value when ``sources`` are the same tensors at the same
        versions as when it was computed (always computed outside plain eager inference)."""
        if not plain_inference():
            return compute()
        refs = self._refs
        if len(refs) == len(sources):  # a plain loop: this runs per layer per call
            for ref, t, version in zip(refs, sources, self._versions):
                if ref is None:
                    if t is not None:
                        break
                elif ref() is not t or _version(t) != version:
                    break
            else:
                return self._value  # type: ignore[return-value]
        value = compute()
        self._refs = tuple(weakref.ref(t) if t is not None else None for t in sources)
        self._versions = tuple(_version(t) for t in sources)
        self._value = value
        return value

    def __reduce__(self) -> Tuple[type, Tuple[()]]:
        return DerivedCache, ()  # copies and pickles start empty (weak references do not copy)
