"""``torch-tfjs`` command line: inspect, convert and verify artifacts, run the bundled demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import ArtifactError, ExportError, ModelInputError, TfjsError

EXAMPLES = Path(__file__).parent / "examples"


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .inspection import format_report, inspect_artifact

    report = inspect_artifact(args.src)
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0 if report["loadable"] else 3


def _cmd_demo(args: argparse.Namespace) -> int:
    """Load the bundled example models, run them on their stored inputs, compare with tfjs."""
    import numpy as np
    import torch

    from . import load

    failures = 0
    examples = sorted(p for p in EXAMPLES.iterdir() if (p / "model.json").is_file()) if EXAMPLES.is_dir() else []
    if not examples:
        print("no bundled examples found", file=sys.stderr)
        return 1
    for folder in examples:
        meta = json.loads((folder / "case.json").read_text())
        model = load(folder)
        inputs = [torch.from_numpy(np.load(folder / i["file"])) for i in meta["inputs"]]
        with torch.no_grad():
            out = model(*inputs)
        outs = out if isinstance(out, list) else [out]
        kind = type(model).__name__
        print(f"{folder.name}: {meta.get('description', '')} [{kind}]")
        for spec, tensor in zip(meta["outputs"], outs):
            ref = np.load(folder / spec["file"])
            err = float(np.max(np.abs(tensor.numpy().astype(np.float64) - ref)))
            bound = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
            ok = err <= bound
            failures += not ok
            first = tensor.reshape(tensor.shape[0], -1)[0, :5].tolist()
            print(f"  output {spec.get('name')}: shape {list(tensor.shape)}, first row "
                  f"{[round(v, 5) for v in first]}")
            print(f"  max |torch - tfjs| = {err:.3g}  ({'OK' if ok else 'MISMATCH'}, bound {bound:.1g})")
    return 1 if failures else 0


def _by_input(values: Optional[List[str]], names: List[str], what: str) -> Dict[str, List[int]]:
    """``[NAME=]1,2,3`` options → ``{input name: ints}`` (NAME optional for one-input models)."""
    out: Dict[str, List[int]] = {}
    for value in values or []:
        name, sep, numbers = value.rpartition("=")
        if not sep:
            if len(names) != 1:
                raise ExportError(f"{what} {value!r}: name the input (NAME=...), the model takes {names}")
            name = names[0]
        if name not in names:
            raise ExportError(f"{what} {value!r}: unknown input {name!r}; inputs: {names}")
        try:
            out[name] = [int(v) for v in numbers.split(",") if v.strip()]
        except ValueError:
            raise ExportError(f"{what} {value!r}: expected comma-separated integers") from None
    return out


def _export_inputs(model: Any, shapes: Dict[str, List[int]], batch: int, free: int) -> Any:
    """Example zeros: the given shapes, the signature's defaults for the rest (None if none given)."""
    from . import export

    if not shapes:
        return None
    defaults = export.example_inputs(model, batch, free)
    return [torch_zeros(shapes[spec.name], d.dtype) if spec.name in shapes else d
            for spec, d in zip(model.signature.inputs, defaults)]


def torch_zeros(shape: List[int], dtype: Any) -> Any:
    import torch
    return torch.zeros(shape, dtype=dtype)


def _cmd_convert(args: argparse.Namespace) -> int:
    """Load SRC and write OUT: .safetensors, .pt (TorchScript), .pt2 (torch.export), .onnx or a
    folder."""
    from . import export, load, programs

    model = load(args.src)
    out = Path(args.out)
    suffix = out.suffix.lower()
    names = model.signature.input_names if hasattr(model, "signature") else []
    shapes = _by_input(args.input_shape, names, "--input-shape")
    dynamic = _by_input(args.dynamic, names, "--dynamic") if args.dynamic is not None else None
    if suffix == ".safetensors":
        export.save_safetensors(model, out)
        what = "safetensors"
    elif suffix == ".pt":
        out.parent.mkdir(parents=True, exist_ok=True)
        export.save_torchscript(model, out, _export_inputs(model, shapes, 1, 1))
        what = "TorchScript (torch.jit.trace)"
    elif suffix == ".pt2" and args.aot:
        from . import aoti

        transform = None
        if not args.no_lower_convs:
            from ._lowering import lower_small_convs

            transform = lambda program: lower_small_convs(program, batch=1)  # noqa: E731
        aoti.compile_package(model, out, _export_inputs(
            model, shapes, programs.EXPORT_BATCH, programs.EXPORT_FREE), dynamic, transform=transform,
            max_autotune=args.max_autotune, cpp_gemm=not args.no_cpp_gemm)
        what = ("AOTInductor package (frozen weights; load with torch_tfjs.aoti.load_package, "
                "torch._inductor.aoti_load_package or C++ AOTIModelPackageLoader)")
    elif suffix == ".pt2":
        out.parent.mkdir(parents=True, exist_ok=True)
        program = export.save_exported(model, out, _export_inputs(
            model, shapes, programs.EXPORT_BATCH, programs.EXPORT_FREE), dynamic)
        what = "torch.export program, inputs " + ", ".join(
            _program_shapes(program, names))
    elif suffix == ".onnx":
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx_program = export.export_onnx(model, out, _export_inputs(
            model, shapes, programs.EXPORT_BATCH, programs.EXPORT_FREE), dynamic)
        what = "ONNX (torch.onnx.export, dynamo), inputs " + ", ".join(_onnx_shapes(onnx_program))
    else:
        quantize = args.quantize or "source"
        export.save_model(model, out, quantize=None if quantize == "none" else quantize,
                          shard_size=args.shard_size)
        what = f"tfjs {type(model).__name__} folder (weights: {quantize})"
    if suffix in (".safetensors", ".pt", ".pt2", ".onnx") and (args.quantize or
                                                     args.shard_size != export.DEFAULT_SHARD_SIZE):
        print("note: --quantize / --shard-size apply to tfjs folder output only; ignored",
              file=sys.stderr)
    if args.aot and suffix != ".pt2":
        print("note: --aot applies to .pt2 output only; ignored", file=sys.stderr)
    if suffix not in (".pt", ".pt2", ".onnx") and (args.input_shape or args.dynamic is not None):
        print("note: --input-shape / --dynamic apply to .pt / .pt2 / .onnx output only; ignored",
              file=sys.stderr)
    print(f"wrote {out}: {what}")
    return 0


def _program_shapes(program: Any, names: List[str]) -> List[str]:
    """``name [s0, 32, 32, 3]`` per user input of an exported program (symbols = dynamic)."""
    users = set(program.graph_signature.user_inputs)
    nodes = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in users]
    return [f"{name} {[str(d) if not isinstance(d, int) else d for d in n.meta['val'].shape]}"
            for name, n in zip(names, nodes) if hasattr(n.meta.get("val"), "shape")]


def _onnx_shapes(onnx_program: Any) -> List[str]:
    """``name ['s0', 32, 32, 3]`` per input of an ONNX model (strings = dynamic)."""
    try:
        graph_inputs = onnx_program.model_proto.graph.input
    except Exception:  # the summary line is informative only
        return []
    out = []
    for value in graph_inputs:
        dims = value.type.tensor_type.shape.dim
        out.append(f"{value.name} {[d.dim_param if d.dim_param else d.dim_value for d in dims]}")
    return out


class _OnnxRunner:
    """An .onnx file run by ONNX Runtime on the CPU, called like a model: tensors in (in the
    file's input order), tensors out."""

    def __init__(self, path: str) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ExportError(f"running {path} needs onnxruntime (the onnx extra): "
                              "pip install torch_tfjs[onnx]") from None
        try:
            self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds for unreadable models
            raise ArtifactError(f"ONNX Runtime cannot load {path}: {type(exc).__name__}: "
                                f"{str(exc).strip()[:300]}") from None
        self.path = path
        self.names = [i.name for i in self.session.get_inputs()]

    def eval(self) -> "_OnnxRunner":
        return self

    def __call__(self, *inputs: Any) -> List[Any]:
        import torch

        if len(inputs) != len(self.names):
            raise ModelInputError(f"{self.path} takes {len(self.names)} input(s) {self.names}, "
                                  f"{len(inputs)} given")
        feeds = {name: x.numpy() for name, x in zip(self.names, inputs)}
        return [torch.from_numpy(out) for out in self.session.run(None, feeds)]


def _load_any(src: str):  # type: ignore[no-untyped-def]
    """A tfjs artifact, or a .pt (TorchScript) / .pt2 (torch.export) / .onnx file written by
    convert (.onnx runs in ONNX Runtime)."""
    import torch

    from . import load

    lowered = src.lower()
    if lowered.endswith(".pt") and Path(src).is_file():
        return torch.jit.load(src)
    if lowered.endswith(".pt2") and Path(src).is_file():
        from . import aoti

        if aoti.is_package(src):
            return aoti.load_package(src)
        return torch.export.load(src).module()
    if lowered.endswith(".onnx") and Path(src).is_file():
        return _OnnxRunner(src)
    return load(src)


def _cmd_verify(args: argparse.Namespace) -> int:
    """Run SRC on the given inputs and compare every output with the expected arrays."""
    import numpy as np
    import torch

    model = _load_any(args.src)
    try:
        model.eval()
    except Exception:  # torch.export modules may refuse eval(); they run as exported
        pass
    inputs = [torch.from_numpy(np.load(f, allow_pickle=False)) for f in args.inputs]
    try:
        with torch.no_grad():
            out = model(*inputs)
    except TfjsError:
        raise
    except Exception as exc:  # a traced / exported program refusing these inputs, ...
        print(f"error: running {args.src} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if isinstance(out, dict):  # structured outputs, in their key order
        out = list(out.values())
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(outs) != len(args.expected):
        print(f"error: the model returns {len(outs)} output(s), {len(args.expected)} expected file(s) "
              "given", file=sys.stderr)
        return 1
    failures = 0
    for i, (tensor, file) in enumerate(zip(outs, args.expected)):
        ref = np.load(file, allow_pickle=False)
        actual = tensor.detach().cpu().numpy()
        if actual.shape != ref.shape:
            print(f"output {i}: shape {list(actual.shape)} != expected {list(ref.shape)}  MISMATCH")
            failures += 1
            continue
        err = float(np.max(np.abs(actual.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
        bound = args.tolerance * max(1.0, float(np.max(np.abs(ref.astype(np.float64)))) if ref.size else 1.0)
        ok = err <= bound
        failures += not ok
        print(f"output {i}: max|delta| = {err:.3g}, bound {bound:.3g}  {'OK' if ok else 'MISMATCH'}")
    return 1 if failures else 0


def _image_input(path: str, size: Optional[int]) -> Any:
    """An image file as a float32 [1, H, W, 3] array of 0..255 values (needs Pillow)."""
    import numpy as np
    try:
        from PIL import Image
    except ImportError:
        raise ExportError("--image needs Pillow: pip install Pillow (or pass the array with "
                          "--inputs x.npy)") from None
    image = Image.open(path).convert("RGB")
    if size:
        image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32)[None]


def _summary(name: str, value: Any) -> List[str]:
    """Shape, dtype, min/max/mean, and the top 5 of a classifier-shaped [N, K] output."""
    import numpy as np
    array = np.asarray(value)
    lines = [f"{name}: shape {list(array.shape)} {array.dtype}"]
    if array.size and array.dtype.kind in "fiub":
        as_float = array.astype(np.float64)
        lines[0] += (f"  min {as_float.min():.6g}  max {as_float.max():.6g}  "
                     f"mean {as_float.mean():.6g}")
        if array.ndim == 2 and array.shape[1] >= 2:
            for row in range(min(array.shape[0], 4)):
                top = np.argsort(-as_float[row], kind="stable")[:5]
                lines.append(f"  row {row} top-5: " + ", ".join(f"{i}: {as_float[row, i]:.5g}" for i in top))
    return lines


def _cmd_run(args: argparse.Namespace) -> int:
    """Run SRC on .npy inputs (or an image) and print / save its outputs."""
    import numpy as np

    model = _load_any(args.src)
    inputs = [np.load(f, allow_pickle=False) for f in args.inputs or []]
    if args.image:
        inputs.append(_image_input(args.image, args.size))
    if not inputs:
        raise ExportError("give the model's inputs: --inputs a.npy [b.npy ...] or --image FILE")
    if not hasattr(model, "predict"):
        raise ExportError(f"{args.src}: run takes tfjs artifacts and AOTInductor packages; "
                          "use verify for TorchScript / torch.export files")
    out = model.predict(*inputs)
    names = model.signature.output_names if model.signature is not None else []
    if isinstance(out, dict):
        named = list(out.items())
    else:
        outs = out if isinstance(out, list) else [out]
        named = [(names[i] if i < len(names) else f"output_{i}", o) for i, o in enumerate(outs)]
    for name, value in named:
        print("\n".join(_summary(name, value)))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.out, **{name: np.asarray(v) for name, v in named})
        print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torch-tfjs",
        description="Load TensorFlow.js LayersModels and GraphModels as PyTorch models.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"torch-tfjs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="show format, inputs/outputs, layers or ops, weights, and "
                                       "what this version cannot load yet")
    p.add_argument("src", help="folder with model.json, a model.json path, file:// or http(s):// URL")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("demo", help="run the bundled example models and compare with tfjs's outputs")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser(
        "convert", help="save a tfjs model as .safetensors, TorchScript (.pt), torch.export (.pt2), "
                        "ONNX (.onnx) or a re-saved tfjs folder",
        description="Load SRC and write OUT, chosen by OUT's suffix: '.safetensors' (weights keyed "
                    "by manifest name, Keras / TF layout), '.pt' (TorchScript via torch.jit.trace), "
                    "'.pt2' (torch.export.export + torch.export.save), '.onnx' (that "
                    "torch.export program through torch.onnx.export(dynamo=True); needs "
                    "pip install torch_tfjs[onnx]), anything else a folder "
                    "holding a tfjs model.json + shards (layers or graph model, as SRC). .pt is "
                    "traced on zero inputs of --input-shape (default: the model's input shapes with "
                    "batch 1 and unknown dimensions 1; int32 for integer inputs); shapes that steer "
                    "control flow are fixed by that trace. .pt2 is exported on zeros of "
                    "--input-shape (default batch 2, other unknown dimensions 32) with every "
                    "unknown dimension dynamic (or the --dynamic axes); where torch cannot keep "
                    "them dynamic it retries batch-only, then static, and warns what was pinned. "
                    ".onnx uses the same example inputs and dynamic axes as .pt2. "
                    "'.pt2 --aot' compiles that program with AOTInductor (frozen weights, C++; "
                    "needs a C++ compiler, tens of seconds) into a package that runs without "
                    "recompiling: torch_tfjs.aoti.load_package, torch._inductor.aoti_load_package "
                    "or C++ torch::inductor::AOTIModelPackageLoader.")
    p.add_argument("src", help="folder with model.json, a model.json path, file:// or http(s):// URL")
    p.add_argument("out", help="output: *.safetensors, *.pt, *.pt2, *.onnx, or a folder")
    from .io.save import DEFAULT_SHARD_SIZE, QUANTIZE_CHOICES
    p.add_argument("--quantize", choices=("source", "none") + QUANTIZE_CHOICES, default=None,
                   help="folder output: 'source' (default) writes each weight with the quantization "
                        "it was read with, 'none' float32, or quantize float32 weights as the "
                        "tensorflowjs converter does")
    p.add_argument("--input-shape", action="append", metavar="[NAME=]1,224,224,3",
                   help=".pt / .pt2 / .onnx: example input shape (repeat per input; NAME optional "
                        "for one-input models). Default: batch 2 and free axes 32 for .pt2 / .onnx, "
                        "1 for .pt")
    p.add_argument("--dynamic", action="append", metavar="[NAME=]0,1,2",
                   help=".pt2 / .onnx: the axes of that input to keep dynamic (empty: static; inputs not "
                        "named static). Default: every axis the model leaves free")
    p.add_argument("--aot", action="store_true",
                   help=".pt2: an AOTInductor package (compiled, frozen weights) instead of a "
                        "torch.export program")
    p.add_argument("--max-autotune", action="store_true",
                   help="--aot: let inductor time candidate kernels and generate its own fused C++ GEMMs "
                        "(faster small models at batch 1; about 3x the compile time)")
    p.add_argument("--no-cpp-gemm", action="store_true",
                   help="--aot: one oneDNN / MKL call per matmul (default: inductor's C++ GEMM "
                        "template fused with its epilogue, where it applies)")
    p.add_argument("--no-lower-convs", action="store_true",
                   help="--aot: compile every convolution as a oneDNN call (default: small depthwise and "
                        "1x1 convolutions become fused loops where the cost model says that is faster, "
                        "assuming batch 1)")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="BYTES",
                   help=f"bytes per weight shard (folder output only; default {DEFAULT_SHARD_SIZE})")
    p.set_defaults(func=_cmd_convert)
    p = sub.add_parser(
        "run", help="run a model on .npy inputs (or an image) and print / save its outputs",
        description="Run SRC on the inputs (model.predict) and print each output's name, shape, "
                    "min / max / mean, and the top-5 indices and values of a classifier-shaped "
                    "[N, K] output. --image (needs Pillow) adds an RGB image as a float32 "
                    "[1, H, W, 3] array of 0..255 values, resized to --size when given.")
    p.add_argument("src", help="folder with model.json, a model.json path, file:// or http(s):// "
                               "URL, or an AOTInductor .pt2 package (convert --aot)")
    p.add_argument("--inputs", nargs="+", metavar="NPY", help="input arrays in the model's input order")
    p.add_argument("--image", metavar="FILE", help="an image file as the (last) input (needs Pillow)")
    p.add_argument("--size", type=int, metavar="PIXELS", help="resize --image to PIXELS x PIXELS")
    p.add_argument("--out", metavar="NPZ", help="save the outputs by name to this .npz")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser(
        "verify", help="run a model on .npy inputs and compare with expected .npy outputs",
        description="Run SRC (a tfjs artifact, or a .pt / .pt2 / .onnx file written by convert, "
                    "AOTInductor packages included; .onnx runs in ONNX Runtime, which needs the "
                    "onnx extra) on the inputs and print max|delta| per output with its bound, "
                    "tolerance * max(1, "
                    "max|expected|). Exit status 0 when every output is within its bound, 1 "
                    "otherwise.")
    p.add_argument("src", help="tfjs folder / model.json / URL, or a .pt / .pt2 / .onnx file")
    p.add_argument("--inputs", nargs="+", required=True, metavar="NPY",
                   help="input arrays in the model's input order")
    p.add_argument("--expected", nargs="+", required=True, metavar="NPY",
                   help="expected outputs in the model's output order")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="relative tolerance (default 1e-4)")
    p.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TfjsError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped to `head` that stopped reading: not an error
        # Python would complain again flushing stdout at exit: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
