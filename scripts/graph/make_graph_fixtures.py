"""Regenerate the GraphModel fixtures with the real tensorflowjs converter + tfjs in Node.

    scripts/.tfenv/bin/python scripts/graph/make_graph_fixtures.py                 # everything
    scripts/.tfenv/bin/python scripts/graph/make_graph_fixtures.py --category image
    scripts/.tfenv/bin/python scripts/graph/make_graph_fixtures.py --case conv2d_same

Each case file scripts/graph/cases/<category>.py (and scripts/graph/models/<name>.py for whole
models) defines ``CASES = [dict(name, covers, description, fn, inputs, tolerance?, dynamic_batch?,
converter?, notes?, xfail?, track?, reference?, tf1_graph?, output_names?)]`` (``converter``: extra keyword
arguments for ``convert_tf_saved_model``, e.g. ``control_flow_v2=True``; ``track``: tf.Modules whose
resources ``fn`` captures, e.g. lookup tables; ``tf1_graph=True``: ``fn`` builds a TF1 graph (v1 control
flow, TensorArrayV3) that is frozen and converted with ``convert_tf_frozen_model``, outputs named
``output_names``)
with ``inputs = [dict(shape, dtype='float32'|'int32'|'bool'|'string', values?, range?, signature_shape?)]``
(string inputs need ``values`` and are written as ``input_<i>.json``, a nested list of str; tfjs
string outputs come back as ``output_<i>.json``).
For every case: ``fn`` is wrapped in a tf.Module + tf.function(input_signature), saved as a
SavedModel, converted with tensorflowjs's ``convert_tf_saved_model`` (default optimisations, so
grappler fuses ops as real users get), seeded inputs are written as input_<i>.npy and
``node scripts/tfjs/run_graph_model.mjs <dir>`` computes output_<i>.npy with tfjs executeAsync.
``reference="tf"`` (where tfjs computes something else than the graph's TF op, e.g. ``Mod``): tfjs
still runs, but output_<i>.npy are TF's eager results of ``fn``, case.json says ``follows: "tf"``
and its notes give the largest difference tfjs showed.
Output: tests/fixtures/graph/<category>/<name>/ (models: tests/fixtures/models/<name>/).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE.parent
REPO = SCRIPTS.parent
FIXTURES = REPO / "tests" / "fixtures"
RUNNER = SCRIPTS / "tfjs" / "run_graph_model.mjs"
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402,F401  (import the real Keras packages before the stubs below exist)

try:  # Keras 3 probes for jax at import time; import it before a stub named jax exists
    import keras  # noqa: F401
except Exception:  # pragma: no cover
    pass


def _stub_optional_converter_imports() -> None:
    """tensorflowjs 4.22's converters package imports TF Decision Forests and JAX at module level
    (for converters we never use here). Install empty stand-ins so ``import tensorflowjs`` works
    without them; real modules win when installed."""
    for name in ("tensorflow_decision_forests", "jax", "jax.experimental", "jax.experimental.jax2tf"):
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:
            sys.modules[name] = types.ModuleType(name)
    if isinstance(sys.modules.get("jax"), types.ModuleType) and not hasattr(sys.modules["jax"], "experimental"):
        sys.modules["jax"].experimental = sys.modules["jax.experimental"]
    if not hasattr(sys.modules["jax.experimental"], "jax2tf"):
        sys.modules["jax.experimental"].jax2tf = sys.modules["jax.experimental.jax2tf"]


_stub_optional_converter_imports()
import tensorflowjs  # noqa: E402
from tensorflowjs.converters import tf_saved_model_conversion_v2 as tfjs_conv  # noqa: E402

from casekit import fnv1a  # noqa: E402

DTYPES = {"float32": tf.float32, "int32": tf.int32, "bool": tf.bool, "string": tf.string}


def make_input(rng: np.random.Generator, spec: dict) -> np.ndarray:
    shape = tuple(spec["shape"])
    dtype = spec.get("dtype", "float32")
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "string":  # written as JSON (nested lists of str), not .npy
        return np.resize(np.asarray(spec["values"], dtype=object), n).reshape(shape)
    if spec.get("values") is not None:
        vals = np.resize(np.asarray(spec["values"]), n).reshape(shape)
        return vals.astype(np.bool_ if dtype == "bool" else dtype)
    if dtype == "int32":
        lo, hi = spec.get("range", (0, 10))
        return rng.integers(lo, hi, size=shape).astype(np.int32)
    if dtype == "bool":
        return rng.random(size=shape) < 0.5
    if "range" in spec:
        lo, hi = spec["range"]
        return rng.uniform(lo, hi, size=shape).astype(np.float32)
    return rng.standard_normal(size=shape).astype(np.float32)


def model_ops(model_json: dict) -> list:
    topo = model_json.get("modelTopology", {})
    ops = {n["op"] for n in topo.get("node", [])}
    for fdef in (topo.get("library") or {}).get("function", []) or []:
        ops.update(n["op"] for n in fdef.get("nodeDef", []) or [])
    ops.update(n["op"] for n in (model_json.get("modelInitializer") or {}).get("node", []) or [])
    return sorted(ops)


def convert_tf1_graph(case: dict, out_dir: Path) -> None:
    """A TF1 graph as the Object Detection API exported them: ``fn`` is called on placeholders in a
    ``tf.Graph`` with control flow v2 off (tf.while_loop / tf.map_fn / TensorArray become
    Enter/Merge/Switch/NextIteration/Exit/LoopCond and TensorArrayV3 ops), the GraphDef is written
    as a frozen graph and converted with ``convert_tf_frozen_model`` (signature: outputs only;
    tfjs feeds the Placeholders by name)."""
    tf.compat.v1.disable_control_flow_v2()
    try:
        graph = tf.Graph()
        with graph.as_default():
            placeholders = [tf.compat.v1.placeholder(DTYPES[spec.get("dtype", "float32")],
                                                     spec.get("signature_shape", spec["shape"]),
                                                     name=spec.get("name", f"x{i}"))
                            for i, spec in enumerate(case["inputs"])]
            outs = case["fn"](*placeholders)
            outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
            names = case.get("output_names") or [f"out{i}" for i in range(len(outs))]
            for name, out in zip(names, outs):
                tf.identity(out, name=name)
            graph_def = graph.as_graph_def()
    finally:
        tf.compat.v1.enable_control_flow_v2()
    with tempfile.TemporaryDirectory() as tmp:
        frozen = os.path.join(tmp, "frozen.pb")
        Path(frozen).write_bytes(graph_def.SerializeToString())
        tfjs_conv.convert_tf_frozen_model(frozen, ",".join(names), str(out_dir), **case.get("converter", {}))


def save_and_convert(case: dict, out_dir: Path) -> None:
    if case.get("tf1_graph"):
        return convert_tf1_graph(case, out_dir)
    specs = []
    for i, spec in enumerate(case["inputs"]):
        shape = list(spec.get("signature_shape", spec["shape"]))
        if case.get("dynamic_batch") and shape and "signature_shape" not in spec:
            shape[0] = None
        specs.append(tf.TensorSpec(shape, DTYPES[spec.get("dtype", "float32")], name=spec.get("name", f"x{i}")))
    fn = case["fn"]
    module = tf.Module()
    if isinstance(fn, tf.Module) or hasattr(fn, "variables"):
        module.model = fn  # track the variables of a Keras model / tf.Module
    for i, obj in enumerate(case.get("track", [])):  # resources a lambda captures (lookup tables)
        setattr(module, f"tracked_{i}", obj)
    names = [s.name for s in specs]
    scope = {"fn": fn}
    exec(f"def serve({', '.join(names)}):\n    return fn({', '.join(names)})\n", scope)  # named args = signature keys
    module.serve = tf.function(scope["serve"], input_signature=specs, autograph=False)
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "saved_model")
        tf.saved_model.save(module, saved, signatures=module.serve.get_concrete_function())
        tfjs_conv.convert_tf_saved_model(saved, str(out_dir), signature_def="serving_default",
                                         saved_model_tags="serve", **case.get("converter", {}))


def generate(category: str, case: dict, kind_dir: Path, family: str) -> str:
    name = case["name"]
    out_dir = kind_dir / name
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    try:
        save_and_convert(case, out_dir)
        model_json = json.loads((out_dir / "model.json").read_text())
        sig = model_json.get("signature") or {}
        in_keys = list((sig.get("inputs") or {}).keys())
        out_keys = list((sig.get("outputs") or {}).keys())
        rng = np.random.default_rng(fnv1a(f"{category}/{name}"))
        meta = {
            "name": name,
            "kind": "graph-model",
            "family": family,
            "covers": list(case.get("covers", [])),
            "ops": model_ops(model_json),
            "description": case.get("description", ""),
            "generator": f"tensorflowjs {tensorflowjs.__version__} converter, TF {tf.__version__}",
            "reference": "tfjs 4.22.0 executeAsync",
            "inputs": [],
            "outputs": [],
        }
        expected_keys = [s.get("name", f"x{i}") for i, s in enumerate(case["inputs"])]
        by_node = {}
        for k, info in (sig.get("inputs") or {}).items():
            by_node[k] = k
            by_node[info.get("name", k).split(":")[0]] = k
        for i, spec in enumerate(case["inputs"]):
            key = by_node.get(expected_keys[i])  # the converter keys inputs by tensor name ("x0:0")
            if key is None and not in_keys:  # a frozen graph's signature has no inputs: Placeholder names
                key = expected_keys[i]
            if key is None:
                raise RuntimeError(f"signature inputs {in_keys} lack {expected_keys[i]}")
            arr = make_input(rng, spec)
            if arr.dtype == object:
                fname = f"input_{i}.json"
                (out_dir / fname).write_text(json.dumps(arr.tolist(), ensure_ascii=False) + "\n")
            else:
                fname = f"input_{i}.npy"
                np.save(out_dir / fname, arr, allow_pickle=False)
            meta["inputs"].append({"file": fname, "name": key})
        (out_dir / "case.json").write_text(json.dumps(meta, indent=2) + "\n")
        proc = subprocess.run(["node", str(RUNNER), str(out_dir)], cwd=SCRIPTS, capture_output=True, text=True)
        if proc.returncode != 0:
            err = [l.strip() for l in proc.stderr.splitlines() if "Error" in l] or proc.stderr.strip().splitlines()[-3:]
            raise RuntimeError("tfjs: " + " | ".join(err[:2]))
        for i, key in enumerate(out_keys):
            fname = next((f"output_{i}.{ext}" for ext in ("npy", "json")
                          if (out_dir / f"output_{i}.{ext}").exists()), None)
            if fname is None:
                raise RuntimeError(f"tfjs wrote no output_{i}.npy / .json")
            meta["outputs"].append({"file": fname, "name": key})
        if case.get("tolerance") is not None:
            meta["tolerance"] = case["tolerance"]
        if case.get("notes"):
            meta["notes"] = case["notes"]
        if case.get("reference") == "tf":
            tf_reference(case, out_dir, meta)
        if case.get("xfail"):  # a known gap of torch_tfjs: the test must fail until it is fixed
            meta["xfail"] = case["xfail"]
        (out_dir / "case.json").write_text(json.dumps(meta, indent=2) + "\n")
        missing = [op for op in meta["covers"] if op not in meta["ops"]]
        shapes = [tuple(np.load(out_dir / o["file"]).shape) if o["file"].endswith(".npy") else
                  np.asarray(json.loads((out_dir / o["file"]).read_text()), dtype=object).shape
                  for o in meta["outputs"]]
        return f"ok    {family}/{name} ops={meta['ops']} out={shapes}" + (f"  WARNING covers not in graph: {missing}" if missing else "")
    except Exception as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        if os.environ.get("GRAPH_FIXTURES_TRACEBACK"):
            traceback.print_exc()
        msg = str(exc).strip().splitlines()
        raise RuntimeError(f"FAIL  {family}/{name}: {type(exc).__name__}: {msg[0] if msg else ''}") from None


def tf_reference(case: dict, out_dir: Path, meta: dict) -> None:
    """Replace tfjs's outputs by TF's (eager ``fn`` on the same inputs); note how far tfjs was."""
    args = [tf.constant(np.load(out_dir / i["file"])) for i in meta["inputs"]]
    result = case["fn"](*args)
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    if len(results) != len(meta["outputs"]):
        raise RuntimeError(f"fn returned {len(results)} values, the signature has {len(meta['outputs'])}")
    worst = 0.0
    for out in meta["outputs"]:  # signature keys output_<k> name fn's k-th result
        key = out["name"]
        k = int(key.rsplit("_", 1)[1]) if key.startswith("output_") else 0
        ref = results[k].numpy()
        tfjs_out = np.load(out_dir / out["file"])
        worst = max(worst, float(np.max(np.abs(tfjs_out.astype(np.float64) - ref.astype(np.float64)))))
        np.save(out_dir / out["file"], ref, allow_pickle=False)
    meta["reference"] = f"TF {tf.__version__} eager (the graph's own op semantics)"
    meta["follows"] = "tf"
    meta["notes"] = (meta.get("notes", "") + f" tfjs 4.22 differs by up to {worst:g} here.").strip()


def load_cases(path: Path) -> list:
    spec = importlib.util.spec_from_file_location(f"graph_cases_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CASES


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--category", help="one case file (cases/<category>.py, or 'models')")
    ap.add_argument("--case", help="one case by name")
    args = ap.parse_args(argv)
    sources = [(p.stem, p, FIXTURES / "graph" / p.stem, p.stem) for p in sorted((HERE / "cases").glob("*.py"))]
    sources += [("models", p, FIXTURES / "models", "models") for p in sorted((HERE / "models").glob("*.py"))]
    written = failed = 0
    for category, path, kind_dir, family in sources:
        if args.category and args.category != category:
            continue
        for case in load_cases(path):
            if args.case and args.case != case["name"]:
                continue
            try:
                print(generate(category, case, kind_dir, family), flush=True)
                written += 1
            except RuntimeError as exc:
                print(str(exc), flush=True)
                failed += 1
    print(f"{written} case(s) written, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
