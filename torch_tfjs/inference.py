"""Fast inference: a loaded model compiled with its weights frozen.

``torch.compile(model)`` treats parameters as inputs that may change between calls, so on the CPU
inductor calls plain convolutions and matmuls and runs activations, BatchNorm and residual adds
as separate kernels. For inference the weights are constants; inductor's *freezing* then folds
BatchNorm and other constant arithmetic into the conv weights, prepacks conv and linear weights
for oneDNN once, and fuses conv + activation and conv + add. :func:`optimize_for_inference`
compiles that way and keeps the trained model untouched.

Two ways to run the compiled code:

- ``backend="aoti"`` (the default): ``torch.export`` → AOTInductor package (C++ wrapper, frozen
  weights), run through the C++ runner with no Python guards per call; packages are cached on
  disk (:class:`~torch_tfjs.aoti.PackageCache`), so a model compiles once per machine, not once
  per process. Models that ``torch.export`` cannot capture (data-dependent shapes, TF1 loops)
  fall back to ``"inductor"``, with a log line.
- ``backend="inductor"``: ``torch.compile`` with freezing (and inductor's C++ wrapper); compiles
  in each process. Any other ``torch.compile`` backend name is passed through as is.
- ``backend="onednn"`` (opt-in): per input shape a TorchScript trace, frozen, with oneDNN Graph
  fusion (:mod:`torch_tfjs._jit_backend`); no C++ compile, fastest on small CPU models. Any
  failure (untraceable model, fusion error, outputs off eager) falls back to ``"aoti"``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import torch
from torch import nn

from . import _jit_backend, aoti
from ._log import logger
from ._loading import module_float_dtype
from .errors import ExportError
from .io.net import CacheOption, resolve_cache_dir
from .signature import Signature

_T = TypeVar("_T")
BACKENDS = ("aoti", "inductor", "onednn")


class InferenceModel(nn.Module):
    """A loaded model compiled for inference (see :func:`optimize_for_inference`).

    Calls take and return exactly what the wrapped model's calls do and always run without
    autograd. The weights count as constants of the compiled code: after changing ``model``'s
    parameters (fine-tuning), make a new one. ``backend`` says what actually runs (``"aoti"``,
    or ``"inductor"`` after a fallback).
    """

    def __init__(self, model: nn.Module, *, dynamic: Optional[bool], cpp_wrapper: bool,
                 backend: str, cache_dir: CacheOption = None,
                 num_threads: Optional[int] = None, lower_convs: bool = True,
                 max_autotune: bool = False, cpp_gemm: bool = True) -> None:
        super().__init__()
        self.lower_convs = lower_convs
        self.max_autotune = max_autotune
        self.cpp_gemm = cpp_gemm
        self.model = model
        self.backend = backend
        self.dynamic = dynamic
        self.num_threads = num_threads
        self._cpp_wrapper = cpp_wrapper
        self._compiled: Any = None
        self._options: Dict[str, Any] = {}
        if backend in ("aoti", "onednn"):
            signature = getattr(model, "signature", None)
            if not isinstance(signature, Signature):
                raise ExportError(f"backend={backend!r} needs a torch_tfjs model with a signature, got "
                                  f"{type(model).__name__}")
            self._signature: Signature = signature
            self._cache = aoti.PackageCache(resolve_cache_dir(cache_dir))
            self._fingerprint: Optional[str] = None
            self._packages: Dict[Tuple[Any, ...], aoti.CompiledPackage] = {}
            self._lock = threading.Lock()
            self._float_dtype = module_float_dtype(model)
            self._traced: Dict[Tuple[Any, ...], Callable[..., Any]] = {}
        else:
            self._use_torch_compile(backend)

    # --- backends ------------------------------------------------------------------------------
    def _use_torch_compile(self, backend: str) -> None:
        self.backend = backend
        self._options = {"freezing": True, "cpp_wrapper": self._cpp_wrapper} \
            if backend == "inductor" else {}
        self._compiled = torch.compile(self.model, dynamic=self.dynamic, backend=backend)

    def _traced_for(self, values: Sequence[Any]) -> Optional[Callable[..., Any]]:
        """The oneDNN Graph program for these inputs' shapes, traced on first need; ``None``
        after falling back to ``"aoti"`` (this call then runs there)."""
        if any(not isinstance(v, torch.Tensor) for v in values):
            self._fall_back("string inputs cannot be traced")
            return None
        shape_key = tuple((tuple(t.shape), t.dtype) for t in values)

        def trace() -> Optional[Callable[..., Any]]:
            try:
                return _jit_backend.compile_traced(self.model, values)
            except ExportError as exc:
                self._fall_back(str(exc))
                return None

        return self._memo(self._traced, shape_key, "onednn", trace)

    def _memo(self, table: Dict[Tuple[Any, ...], _T], key: Tuple[Any, ...], backend: str,
              build: Callable[[], Optional[_T]]) -> Optional[_T]:
        """``table[key]``, built once under the lock while ``backend`` is still the one in use
        (``None`` when it is not, or when ``build`` fell back)."""
        found = table.get(key)
        if found is not None:
            return found
        with self._lock:
            if self.backend != backend:
                return None
            found = table.get(key)
            if found is None:
                found = build()
                if found is not None:
                    table[key] = found
        return found

    def _fall_back(self, reason: str) -> None:
        logger.warning("optimize_for_inference: backend='onednn' cannot run %s (%s); falling "
                       "back to backend='aoti'", type(self.model).__name__, reason)
        self.backend = "aoti"

    def _package_for(self, values: Sequence[Any]) -> Optional[aoti.CompiledPackage]:
        """The AOTI package that runs these inputs, compiled (or read from the disk cache) on
        first need; ``None`` after falling back to torch.compile."""
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        if len(tensors) != len(values):  # string inputs: nothing to export
            with self._lock:
                if self.backend == "aoti":
                    logger.warning("optimize_for_inference: string inputs cannot be exported; "
                                   "falling back to torch.compile (backend='inductor')")
                    self._use_torch_compile("inductor")
            return None
        free = [sorted(axes) for axes in self._signature.free_dims()] if self.dynamic else None
        shape_key = tuple((tuple(t.shape) if not self.dynamic else None, t.dtype) for t in tensors)
        return self._memo(self._packages, shape_key, "aoti", lambda: self._load_or_compile(tensors, free))

    def _load_or_compile(self, tensors: List[torch.Tensor],
                         free: Optional[List[List[int]]]) -> Optional[aoti.CompiledPackage]:
        if self._fingerprint is None:
            self._fingerprint = aoti.model_fingerprint(self.model)
        dynamic_axes = free if free is not None else [[] for _ in tensors]
        threads = torch.get_num_threads()  # compiled into the kernels: part of the key
        gemm = aoti.gemm_option(self.max_autotune, self.cpp_gemm)
        key = aoti.package_key(self._fingerprint, tensors if free is None else
                               [t.new_empty(0) for t in tensors], dynamic_axes,
                               {"threads": threads, "lower_convs": self.lower_convs,
                                **({gemm: True} if gemm else {})})
        examples = [t.detach() for t in tensors]
        transform = None
        if self.lower_convs:
            from ._lowering import lower_small_convs

            batch = int(tensors[0].shape[0]) if tensors and tensors[0].dim() else None
            transform = lambda program: lower_small_convs(program, batch=batch)  # noqa: E731
        try:
            path = self._cache.get_or_compile(key, lambda target: aoti.compile_package(
                self.model, target, examples, dynamic_axes, threads=threads, transform=transform,
                max_autotune=self.max_autotune, cpp_gemm=self.cpp_gemm))
            return aoti.load_package(path)
        except ExportError as exc:
            logger.warning("optimize_for_inference: AOTInductor cannot compile %s (%s); falling "
                           "back to torch.compile (backend='inductor')", type(self.model).__name__, exc)
            self._use_torch_compile("inductor")
            return None

    # --- calls ---------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with torch.no_grad(), _threads(self.num_threads):
            if self.backend in ("aoti", "onednn") and not kwargs:
                values = self._signature.check(self._signature.bind(args), self._float_dtype)
                if self.backend == "onednn":
                    program = self._traced_for(values)
                    if program is not None:
                        return program(*values)
                package = self._package_for(values)
                if package is not None:
                    return package.run(values)
            if self._compiled is None:  # keyword arguments: torch.compile takes them
                with self._lock:
                    if self._compiled is None:
                        self._use_torch_compile("inductor")
            if not self._options:
                return self._compiled(*args, **kwargs)
            # Compiling happens lazily, inside a call that meets a new input shape, and freezing
            # must be on from Dynamo's capture (it marks the weights constant) to inductor's
            # lowering: so the options are set around every call and restored after it (a few
            # microseconds; no effect on the user's other compiles).
            from torch._inductor import config
            saved = {key: getattr(config, key) for key in self._options}
            for key, value in self._options.items():
                setattr(config, key, value)
            try:
                return self._compiled(*args, **kwargs)
            finally:
                for key, value in saved.items():
                    setattr(config, key, value)

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}, dynamic={self.dynamic}, num_threads={self.num_threads}"


class _threads:
    """Run a block with ``torch.set_num_threads(n)`` and restore the previous count after it
    (nothing when ``n`` is ``None`` or already current)."""

    def __init__(self, n: Optional[int]) -> None:
        self.n = n
        self.saved: Optional[int] = None

    def __enter__(self) -> None:
        if self.n is not None and torch.get_num_threads() != self.n:
            self.saved = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        if self.saved is not None:
            torch.set_num_threads(self.saved)
            self.saved = None


def optimize_for_inference(model: nn.Module, *, backend: str = "aoti", dynamic: Optional[bool] = False,
                           cpp_wrapper: bool = True, cache_dir: CacheOption = None,
                           num_threads: Optional[int] = None, lower_convs: bool = True,
                           max_autotune: bool = False, cpp_gemm: bool = True) -> InferenceModel:
    """Compile a LayersModel or GraphModel for inference with frozen weights.

    - ``backend="aoti"`` (default): AOTInductor packages, compiled on the first call with a new
      input shape and cached on disk in ``<cache>/aoti/`` (``cache_dir``: torch_tfjs's cache
      folder, as for downloads; ``False``: a temporary folder for this object only). A later
      process, even a fresh one, loads the package in milliseconds instead of compiling again.
      Models that ``torch.export`` cannot capture fall back to ``"inductor"`` with a warning in
      the ``torch_tfjs`` log. ``"inductor"``: ``torch.compile`` with freezing, compiled in each
      process; other ``torch.compile`` backend names are passed through. ``"onednn"``: per
      input shape a frozen TorchScript trace with oneDNN Graph fusion, built in seconds and
      checked once against eager; models it cannot run (control flow, fusion errors) fall back
      to ``"aoti"`` with a warning in the log.
    - ``dynamic=False`` (default) compiles one specialised kernel set per input shape (the first
      call with a new batch size compiles again); ``True`` compiles once with every axis the
      signature leaves free dynamic (slower kernels on the CPU); ``None`` (``torch.compile``
      backends only) lets torch decide.
    - ``cpp_wrapper`` (``"inductor"`` only; AOTI always drives its kernels from C++): ``True``
      (default) has inductor drive the kernels from C++ instead of Python, less per-kernel
      overhead for small inputs, for a longer first compile.
    - ``num_threads``: CPU threads for each call (set around the call, restored after it);
      ``None`` uses ``torch.get_num_threads()``. AOTI compiles the thread count into the
      package (one package per count; 1 thread skips OpenMP entirely). On a machine shared with other busy processes,
      fewer threads than cores avoids OpenMP's collapse under contention (see
      docs/performance.md).
    - ``lower_convs`` (``"aoti"`` only; default ``True``): small depthwise and 1×1 convolutions
      become plain ops that inductor fuses with their neighbours, where the cost model of
      :mod:`torch_tfjs._lowering` says that is faster (MobileNetV2 0.35 at batch 1: 1.5-1.6×
      faster than plain AOTI at 1 and 2 threads); the first compile takes about twice as long.
      ``False`` compiles every conv as a oneDNN call.
    - ``max_autotune=True`` (``"aoti"`` only; opt-in): inductor times candidate kernels and may
      generate its own C++ GEMMs fused with their epilogues instead of calling oneDNN / MKL per
      matmul (:data:`torch_tfjs.aoti.AUTOTUNE_CONFIGS`). ``scripts/bench.py``, batch 1, 1 thread:
      MobileNetV2 0.35/96 3.18 → 1.80 ms per call; nsfwjs MobileNetV2 and MoveNet unchanged; the
      compile takes up to 3× longer. Part of the package cache key.
    - ``cpp_gemm`` (``"aoti"`` only; default ``True``): every matmul (linear layers, lowered 1×1
      convs) is inductor's C++ GEMM template fused with its epilogue, without timing candidates
      (:data:`torch_tfjs.aoti.CPP_GEMM_CONFIGS`; the compile takes up to 1.7× as long), and
      small GEMMs skip oneDNN's fixed per-call cost. A graph with a matmul the template
      cannot take (attention's activation × activation) is compiled again without it (logged).
      ``False``: one oneDNN / MKL call per matmul. Ignored with ``max_autotune=True``, which
      times the template against those calls. Part of the package cache key.

    ``model`` is put in eval mode and shared, not copied; it stays trainable and its own weights
    are not modified. The compiled code holds copies of the weights it transforms (BatchNorm
    folded into convs, prepacked kernels), so after changing ``model``'s weights make a new
    InferenceModel (the AOTI cache key includes the weights' bytes, so it compiles anew).
    """
    if backend in ("aoti", "onednn") and dynamic is None:
        dynamic = False
    if backend == "onednn" and dynamic:
        raise ExportError("backend='onednn' traces one program per input shape: dynamic=True is "
                         "not supported (use backend='aoti')")
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"num_threads must be a positive int or None, got {num_threads!r}")
    model.eval()
    return InferenceModel(model, dynamic=dynamic, cpp_wrapper=cpp_wrapper, backend=backend,
                          cache_dir=cache_dir, num_threads=num_threads, lower_convs=lower_convs,
                          max_autotune=max_autotune, cpp_gemm=cpp_gemm)
