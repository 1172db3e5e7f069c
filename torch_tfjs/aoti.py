"""AOTInductor packages: a model compiled ahead of time into a shared library plus its frozen
weights, in one ``.pt2`` file that runs without Python-side compilation.

:func:`compile_package` exports the model (``programs.export_program``: the signature's free
axes dynamic unless told otherwise), compiles it with inductor's AOT mode and frozen weights and
writes the package. :func:`load_package` loads one through the C++ loader only, without importing
inductor (which alone takes seconds), so a package written earlier runs its first call in tens of
milliseconds. The package keeps the model's :class:`~torch_tfjs.signature.Signature` in its
metadata, so a loaded package takes and returns what the model does (positional, list or dict by
input name; outputs as the model packs them). C++ programs load the same file with
``torch::inductor::AOTIModelPackageLoader``.

:class:`PackageCache` keeps packages on disk for ``optimize_for_inference(backend="aoti")``, keyed
by everything that changes the compiled code: the model's structure and weight bytes, the input
shapes and dynamic axes, the dtype, torch's version and the CPU's instruction set.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from ._loading import module_float_dtype
from ._allocator import enter_call, leave_call
from ._log import logger
from .errors import ExportError, ModelInputError
from .programs import DynamicAxes, export_program
from .signature import Signature, TensorSpec, shape_from_dims

PathLike = Union[str, "os.PathLike[str]"]
#: Metadata keys the package stores (strings, as AOTInductor's metadata requires).
META_FORMAT = "torch_tfjs.format"
META_SIGNATURE = "torch_tfjs.signature"
META_FLOAT_DTYPE = "torch_tfjs.float_dtype"
FORMAT = "torch_tfjs-aoti/1"
#: Inductor options of every package: frozen weights (BatchNorm folded, conv weights prepacked).
INDUCTOR_CONFIGS: Dict[str, Any] = {"freezing": True}
#: Added by ``max_autotune=True``: inductor times candidate kernels and may generate its own C++
#: GEMMs (fused with their epilogues) instead of calling oneDNN / MKL for each matmul.
AUTOTUNE_CONFIGS: Dict[str, Any] = {"max_autotune": True, "max_autotune_gemm_backends": "CPP,ATEN"}
#: Added by ``cpp_gemm=True``: every matmul becomes inductor's C++ GEMM template (fused with its
#: epilogue), its only candidate, so nothing is timed (the compile takes up to 1.7× the plain
#: one, where max_autotune's takes 2-4×). A small GEMM (a lowered 1×1 conv at batch 1) runs in
#: a fraction of a oneDNN call's fixed cost. Graphs with a matmul the template cannot take (two
#: activations multiplied, as in attention) fail early under it and are compiled again without.
CPP_GEMM_CONFIGS: Dict[str, Any] = {"max_autotune": True, "max_autotune_gemm_backends": "CPP"}
#: GEMM option name (as :func:`gemm_option` gives it) → the inductor configs it adds.
GEMM_CONFIGS: Dict[str, Dict[str, Any]] = {"max_autotune": AUTOTUNE_CONFIGS,
                                           "cpp_gemm": CPP_GEMM_CONFIGS}


def gemm_option(max_autotune: bool, cpp_gemm: bool) -> Optional[str]:
    """Which GEMM option a compile uses: ``max_autotune`` overrides ``cpp_gemm``; ``None`` for
    one oneDNN / MKL call per matmul. (Also the option's entry in the package cache key.)"""
    return "max_autotune" if max_autotune else "cpp_gemm" if cpp_gemm else None

ProgramTransform = Callable[[Any], Any]


def compile_package(model: nn.Module, path: PathLike, inputs: Optional[Sequence[torch.Tensor]] = None,
                    dynamic_shapes: Optional[DynamicAxes] = None, *, threads: Optional[int] = None,
                    transform: Optional[ProgramTransform] = None, max_autotune: bool = False,
                    cpp_gemm: bool = False) -> Path:
    """Compile ``model`` with AOTInductor into the package ``path`` (``.pt2``); returns the path.

    ``inputs`` / ``dynamic_shapes`` are those of :func:`~torch_tfjs.programs.export_program`
    (default: zeros with batch 2 and other free axes 32, every free axis dynamic; give
    ``dynamic_shapes=[[]] * n`` for a program specialised to the inputs' shapes, whose kernels
    are faster). ``transform`` rewrites the exported program before compiling (e.g. lowering
    small convolutions). ``threads``: the CPU thread count compiled into the kernels (fastest,
    1 skips OpenMP entirely); ``None`` (default) lets the package use the running process's
    OpenMP thread count (``torch.set_num_threads``), for packages that run elsewhere.
    ``max_autotune``: :data:`AUTOTUNE_CONFIGS` (about 3× the compile time). ``cpp_gemm``:
    :data:`CPP_GEMM_CONFIGS` (``optimize_for_inference``'s default), compiled again without them
    when inductor finds a matmul the template cannot take (logged). Compiling takes seconds to
    minutes on a CPU and needs a C++ compiler.
    The file is written atomically (a partial package never appears under ``path``)."""
    from torch._inductor import aoti_compile_and_package

    signature = getattr(model, "signature", None)
    if not isinstance(signature, Signature):
        raise ExportError(f"cannot compile {type(model).__name__}: it has no model.signature")
    with torch.no_grad():  # freezing applies to programs captured without autograd
        program = export_program(model, inputs, dynamic_shapes)
        if transform is not None:
            program = transform(program)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(suffix=".partial.pt2", prefix=f".{target.stem}-", dir=target.parent)
        os.close(handle)
        configs = dict(INDUCTOR_CONFIGS)
        # inductor otherwise bakes the compiling process's torch.get_num_threads() into the code
        configs.update({"cpp.threads": threads} if threads is not None else {"cpp.dynamic_threads": True})
        configs["aot_inductor.metadata"] = {
            META_FORMAT: FORMAT,
            META_SIGNATURE: json.dumps(_signature_json(signature)),
            META_FLOAT_DTYPE: str(module_float_dtype(model)).replace("torch.", ""),
        }
        option = gemm_option(max_autotune, cpp_gemm)
        gemm_configs = GEMM_CONFIGS[option] if option else {}
        try:
            try:
                aoti_compile_and_package(program, package_path=partial,
                                         inductor_configs=dict(configs, **gemm_configs))
            except Exception as exc:  # noqa: BLE001 - retried without the C++ GEMM template
                if option != "cpp_gemm":
                    raise
                logger.info("AOTInductor: %s has a matmul that inductor's C++ GEMM template "
                            "cannot take (%s: %s); compiling with oneDNN / MKL matmuls",
                            type(model).__name__, type(exc).__name__, _first_line(exc))
                aoti_compile_and_package(program, package_path=partial, inductor_configs=configs)
            os.replace(partial, target)
        except Exception as exc:
            Path(partial).unlink(missing_ok=True)
            raise ExportError(f"AOTInductor could not compile {type(model).__name__}: "
                              f"{type(exc).__name__}: {_first_line(exc)}") from exc
    return target


class CompiledPackage:
    """An AOTInductor package loaded for calls (see :func:`load_package`).

    ``package(x)``, ``package(x1, x2)``, ``package([x1, x2])`` or ``package({"name": x})``:
    inputs are matched and checked as the model's own calls are (names, ranks, known sizes,
    dtypes). ``signature`` is the model's signature (``None`` for a package that another tool
    wrote; it then takes positional tensors only). Calls from several threads are safe; with
    ``num_runners`` > 1 that many run at once.
    """

    def __init__(self, path: PathLike, *, num_runners: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no AOTInductor package at {self.path}")
        try:
            self._loader = torch._C._aoti.AOTIModelPackageLoader(
                str(self.path), "model", False, num_runners, -1)
        except Exception as exc:
            raise ExportError(f"{self.path}: not a loadable AOTInductor package (written by another "
                              f"torch version or for another device?): {_first_line(exc)}") from exc
        metadata: Mapping[str, str] = self._loader.get_metadata()
        self.signature: Optional[Signature] = (
            _signature_from_json(json.loads(metadata[META_SIGNATURE]), self.path.name)
            if META_SIGNATURE in metadata else None)
        self.float_dtype = getattr(torch, metadata.get(META_FLOAT_DTYPE, "float32"), torch.float32)
        from torch.utils import _pytree

        self._out_spec = _pytree.treespec_loads(self._loader.get_call_spec()[1])
        self._unflatten = _pytree.tree_unflatten

    def __call__(self, *args: Any) -> Any:
        if self.signature is not None:
            values = self.signature.check(self.signature.bind(args), self.float_dtype)
        else:
            values = list(args)
        return self.run([v if isinstance(v, torch.Tensor) else torch.as_tensor(v) for v in values])

    def run(self, tensors: List[torch.Tensor]) -> Any:
        """Run on tensors already matched and checked against the signature (one per input)."""
        entered = enter_call()  # activations reuse freed heap pages call after call (_allocator)
        try:
            flat = self._loader.run(tensors)
        except Exception as exc:  # the runner checks shapes against the compiled ones
            shapes = [list(t.shape) for t in tensors]
            raise ModelInputError(f"{self.path.name}: the package refused inputs of shapes {shapes}: "
                                  f"{_first_line(exc)}") from exc
        finally:
            leave_call(entered)
        return self._unflatten(flat, self._out_spec)

    def predict(self, *args: Any) -> Any:
        """One call on NumPy arrays (or tensors); outputs as NumPy arrays in the call's structure.
        Unlike the models' ``predict`` it does not split the batch (a package compiled for static
        shapes takes only those)."""
        from ._predict import _to_numpy

        with torch.no_grad():
            return _to_numpy(self(*args))

    def __repr__(self) -> str:
        return f"CompiledPackage({str(self.path)!r}, signature={self.signature})"


def load_package(path: PathLike, *, num_runners: int = 1) -> CompiledPackage:
    """Load an AOTInductor package written by :func:`compile_package` (or by
    ``torch-tfjs convert SRC out.pt2 --aot``). Needs the torch version that compiled it."""
    return CompiledPackage(path, num_runners=num_runners)


def is_package(path: PathLike) -> bool:
    """Whether ``path`` is an AOTInductor package (a ``.pt2`` zip holding compiled code), as
    opposed to a ``torch.export`` program."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any("/data/aotinductor/" in f"/{name}" for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


# --- the on-disk cache ------------------------------------------------------------------------

class PackageCache:
    """Packages on disk, one per (model, input shapes, options, torch build, CPU), in
    ``<root>/aoti/``. ``root`` is torch_tfjs's cache folder (``$TORCH_TFJS_CACHE``, else
    ``$XDG_CACHE_HOME/torch_tfjs``, else ``~/.cache/torch_tfjs``); ``None`` keeps packages in a
    temporary folder removed with this object."""

    def __init__(self, root: Optional[PathLike]) -> None:
        self._temporary: Optional[tempfile.TemporaryDirectory[str]] = None
        if root is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="torch_tfjs-aoti-")
            self.folder = Path(self._temporary.name)
        else:
            self.folder = Path(root) / "aoti"
        self._lock = threading.Lock()

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}.pt2"

    def get_or_compile(self, key: str, compile_to: Callable[[Path], Any]) -> Path:
        """The package for ``key``, compiled by ``compile_to(path)`` when it is not cached.
        Concurrent compiles of one key in several processes each write atomically; the last
        rename wins and every reader sees a whole file."""
        path = self.path_for(key)
        with self._lock:
            if not path.is_file():
                compile_to(path)
        return path


def model_fingerprint(model: nn.Module) -> str:
    """A digest of what the compiled code depends on: the model's class and structure (its fx
    code or its printed module tree), signature, and every parameter's and buffer's bytes."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(type(model).__qualname__.encode())
    code = getattr(getattr(model, "graph_module", None), "code", None)  # GraphModel: fx code
    digest.update((code if isinstance(code, str) else repr(model)).encode())
    config = getattr(model, "keras_config", None)  # LayersModel: strides, paddings, ... live here
    if config is not None:
        digest.update(json.dumps(config, sort_keys=True, default=repr).encode())
    signature = getattr(model, "signature", None)
    if isinstance(signature, Signature):
        digest.update(json.dumps(_signature_json(signature), sort_keys=True).encode())
    tensors = list(model.named_parameters()) + list(model.named_buffers())
    for name, tensor in tensors:
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        data = tensor.detach().cpu().contiguous()
        if data.is_floating_point() and data.dtype not in (torch.float32, torch.float64, torch.float16):
            data = data.view(torch.int16) if data.element_size() == 2 else data.float()
        if data.dtype == torch.bool:
            data = data.to(torch.uint8)
        digest.update(data.numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def package_key(fingerprint: str, inputs: Sequence[torch.Tensor],
                dynamic_axes: Optional[Sequence[Sequence[int]]], options: Mapping[str, Any]) -> str:
    """The cache key of a package: model fingerprint, input shapes and dtypes, dynamic axes,
    compile options, torch_tfjs and torch versions, and the CPU (its instruction set)."""
    from . import __version__

    cpu = torch.backends.cpu.get_cpu_capability()
    facts = {
        "model": fingerprint,
        "inputs": [[list(t.shape), str(t.dtype)] for t in inputs],
        "dynamic": [list(a) for a in dynamic_axes] if dynamic_axes is not None else None,
        "options": {k: repr(v) for k, v in sorted(options.items())},
        "torch": torch.__version__, "torch_tfjs": __version__, "format": FORMAT,
        "cpu": [cpu, platform.machine()],
    }
    return hashlib.blake2b(json.dumps(facts, sort_keys=True).encode(), digest_size=16).hexdigest()


# --- helpers ----------------------------------------------------------------------------------

def _signature_json(signature: Signature) -> Dict[str, Any]:
    def spec(s: TensorSpec) -> Dict[str, Any]:
        return {"name": s.name, "shape": s.tfjs_shape(), "dtype": s.dtype, "aliases": list(s.aliases)}

    return {"model": signature.model, "inputs": [spec(s) for s in signature.inputs],
            "outputs": [spec(s) for s in signature.outputs], "check_batch": signature.check_batch,
            "structured": signature.structured, "integers_to_float": signature.integers_to_float,
            "list_of_one": signature.list_of_one}


def _signature_from_json(data: Mapping[str, Any], where: str) -> Signature:
    def spec(entry: Mapping[str, Any]) -> TensorSpec:
        return TensorSpec(str(entry["name"]), shape_from_dims(entry.get("shape")),
                          entry.get("dtype"), aliases=tuple(entry.get("aliases", ())))

    try:
        return Signature([spec(e) for e in data["inputs"]], [spec(e) for e in data["outputs"]],
                         model=str(data.get("model", where)),
                         check_batch=bool(data.get("check_batch", True)),
                         structured=bool(data.get("structured", False)),
                         integers_to_float=bool(data.get("integers_to_float", True)),
                         list_of_one=bool(data.get("list_of_one", True)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{where}: the package's torch_tfjs signature metadata is malformed: {exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


__all__: List[str] = ["CompiledPackage", "PackageCache", "compile_package", "is_package",
                      "load_package", "model_fingerprint", "package_key"]
