"""Fixtures with tf.keras ``TensorFlowOpLayer`` layers: raw TF ops called on Keras tensors.

Run with the TensorFlow environment (see scripts/README.md, "Keras-converted fixtures"):

    scripts/.tfenv/bin/python scripts/keras/make_tfoplayer_fixtures.py              # every case
    scripts/.tfenv/bin/python scripts/keras/make_tfoplayer_fixtures.py --case keras2_tfoplayer_math

tf.keras wrapped each raw TF op applied to a Keras tensor in a ``TensorFlowOpLayer`` in TF 2.0-2.3
functional models; from TF 2.4 eager code gets ``TFOpLambda`` instead, but graph mode (TF1
behaviour) still builds ``TensorFlowOpLayer`` (tf_keras ``engine/base_layer_utils.py:
_create_keras_history_helper``). So this script turns eager execution off first
(``tf.compat.v1.disable_eager_execution``, process-wide, hence a script of its own), builds the
models with tf_keras 2.x and raw TF ops, and converts them with the real ``tensorflowjs`` converter
(``save_keras_model``). The layers are real tf_keras ``TensorFlowOpLayer``\\ s (config written by
``TensorFlowOpLayer.get_config``: ``node_def`` as ``json_format.MessageToDict``, ``constants`` by
input index), and the references are Keras's ``predict``, i.e. TF running those very ops.

Array constants: the converter (H5 path) writes them as plain nested lists, as TF 2.0-2.3 did
(``numpy.ndarray.tolist()`` in ``get_json_type``); newer tf_keras ``model.to_json()`` writes
``{"class_name": "__numpy__", "config": {"value", "dtype"}}``. Cases with ``numpy_constants``
replace the converted constants by the ones ``model.to_json()`` wrote for the same layers (the
only difference); the reference is again Keras rebuilt from the rewritten model.json.

tfjs 4.22 cannot load any of these (``Unknown layer: TensorFlowOpLayer``); when Node and the
pinned @tensorflow/tfjs are installed (scripts/node_modules) the script confirms it with
``tfjs/check_saved.mjs`` and records tfjs's error in case.json ``notes``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_keras_fixtures as mk  # noqa: E402  (TF, tf_keras, tensorflowjs and shared helpers)

tf = mk.tf
np = mk.np
tf.compat.v1.disable_eager_execution()  # before any model: TensorFlowOpLayer is a graph-mode layer
K = mk.tf_keras

OUT = mk.OUT
SCRIPTS = Path(__file__).resolve().parents[1]


def _const(rng: Any, *shape: int) -> Any:
    return rng.normal(0.0, 0.5, size=shape).astype(np.float32)


def keras2_tfoplayer_math() -> Any:
    """Elementwise TF ops, casts and reductions on a Dense output (one TensorFlowOpLayer each)."""
    inp = K.Input(shape=(4,), name="x")
    h = K.layers.Dense(4, name="d")(inp)
    a = h + 3.0                                                   # AddV2, constant 2nd
    b = tf.raw_ops.Add(x=a, y=h)                                  # Add (legacy op)
    c = tf.subtract(b, 0.5 * h)                                   # Mul with constant 1st, Sub
    d = tf.math.truediv(c, tf.abs(h) + 1.0)                       # Abs, RealDiv
    e = tf.maximum(tf.minimum(d, 2.0), -2.0)                      # Minimum, Maximum
    f = tf.pow(tf.sigmoid(h) + 0.5, 1.5)                          # Sigmoid, Pow
    g = tf.sqrt(tf.square(h) + 1.0) * tf.math.rsqrt(tf.exp(-tf.abs(h)) + 1.0)  # Square Sqrt Neg Exp Rsqrt
    lg = tf.math.log(tf.nn.softplus(h) + 0.1)                     # Softplus, Log
    r = tf.nn.relu(h) + tf.nn.relu6(h * 4.0) + tf.tanh(h)         # Relu, Relu6, Tanh
    t = tf.cast(tf.cast(h * 3.0, tf.int32), tf.float32)           # Cast float -> int (truncates) -> float
    cat = tf.concat([e, f, g, lg, r, t], axis=-1)                 # ConcatV2 (axis constant last)
    reds = tf.concat([
        tf.reduce_mean(cat, axis=1, keepdims=True),               # Mean keep_dims
        tf.expand_dims(tf.reduce_sum(cat, axis=-1), -1),          # Sum, ExpandDims
        tf.reduce_max(cat, axis=[1], keepdims=True),              # Max
        tf.reduce_min(cat, axis=1, keepdims=True),                # Min
        tf.reduce_prod(tf.sigmoid(cat) + 0.5, axis=1, keepdims=True),  # Prod
    ], axis=1)
    return K.Model(inp, [cat, reds], name="keras2_tfoplayer_math")


def keras2_tfoplayer_shapes() -> Any:
    """Shape-changing TF ops on a conv output: transpose, reshape (static and from tf.shape),
    strided slices with every mask, slice, pack / unpack / split, gather, tile, matmuls with the
    transpose / adjoint flags, einsum, both resizes and the three pads."""
    rng = np.random.default_rng(7)
    img = K.Input(shape=(4, 6, 3), name="image")
    c = K.layers.Conv2D(4, 1, name="conv")(img)                   # (N, 4, 6, 4)
    t = tf.transpose(c, [0, 3, 1, 2])                             # Transpose -> (N, 4, 4, 6)
    r = tf.reshape(t, [-1, 4, 24])                                # Reshape
    s1 = r[:, 1:3, ::-2]                                          # StridedSlice begin/end mask, stride -2
    s2 = r[..., 0]                                                # ellipsis + shrink
    s3 = r[:, tf.newaxis, 2, 3:]                                  # new_axis + shrink
    sl = tf.slice(c, [0, 1, 2, 0], [-1, 2, 3, -1])               # Slice with size -1
    q = tf.squeeze(tf.expand_dims(s2, 1), axis=[1])               # ExpandDims, Squeeze(dims)
    q_all = tf.squeeze(tf.expand_dims(tf.expand_dims(s2, -1), 1))  # Squeeze() all size-1 axes
    n = tf.shape(c)[0]                                            # Shape, StridedSlice shrink
    flat = tf.reshape(c, tf.stack([n, -1]))                       # Pack (constant -1), Reshape by tensor
    rows = tf.reshape(c, [-1, 4])
    mm_a = tf.matmul(rows, _const(rng, 5, 4), transpose_b=True)   # MatMul transpose_b, array constant
    mm_b = tf.matmul(_const(rng, 4, 3), tf.transpose(rows), transpose_a=True)  # constant 1st, transpose_a
    bmm = tf.matmul(r, r, transpose_b=True)                       # BatchMatMulV2 adj_y
    ein = tf.einsum("bij,bkj->bik", r, r * 0.5)                   # Einsum
    rb = tf.image.resize(c, [7, 9])                               # ResizeBilinear half_pixel_centers
    rb_ac = tf.compat.v1.image.resize_bilinear(c, [3, 5], align_corners=True)
    rn = tf.compat.v1.image.resize_nearest_neighbor(c, [7, 9], half_pixel_centers=True)
    rn_ac = tf.compat.v1.image.resize_nearest_neighbor(c, [3, 5], align_corners=True)
    paddings = [[0, 0], [1, 2], [0, 1], [0, 0]]
    pz = tf.pad(c, paddings)                                      # Pad
    pv = tf.pad(c, paddings, constant_values=1.5)                 # PadV2
    pr = tf.pad(c, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="REFLECT")      # MirrorPad
    ps = tf.pad(c, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="SYMMETRIC")
    pk = tf.stack([s2, s2 * 2.0], axis=1)                         # Pack
    u0, u1, u2, u3 = tf.unstack(t, axis=1)                        # Unpack (4 outputs)
    sp0, sp1 = tf.split(r, 2, axis=2)                             # Split (2 outputs)
    sv0, sv1 = tf.split(r, [5, -1], axis=2)                       # SplitV with -1
    parts = tf.concat([u0 - u3 + u1 * u2, sp0 - sp1, sv1[:, :, :5] + sv0], axis=2)
    gat = tf.gather(r, [2, 0, 2], axis=1)                         # GatherV2
    til = tf.tile(s2, [1, 2])                                     # Tile
    outs = [t, s1, s2, s3, sl, q, q_all, flat, mm_a, mm_b, bmm, ein, rb, rb_ac, rn, rn_ac,
            pz, pv, pr, ps, pk, parts, gat, til]
    return K.Model(img, outs, name="keras2_tfoplayer_shapes")


def keras2_tfoplayer_more() -> Any:
    """The remaining supported ops, on a float input ``x`` and on ``k`` (halves, for rounding
    ties and integer division of negatives): unary math and activations, integer Div / FloorDiv /
    FloorMod / Mean, comparisons and logic, BiasAdd (NHWC, NCHW), AddN, SelectV2, Fill,
    ZerosLike, Any / All, ArgMax / ArgMin, Cast to bool, Concat (v1), BatchMatMul (v1, adj_x)."""
    x = K.Input(shape=(6,), name="x")
    k = K.Input(shape=(6,), name="k")
    h = K.layers.Dense(6, name="d")(x)
    unary = tf.concat([
        tf.identity(h), tf.stop_gradient(h), tf.sign(k), tf.math.reciprocal(h + 3.0),
        tf.math.expm1(h), tf.math.log1p(tf.abs(h)), tf.floor(k), tf.math.ceil(k), tf.round(k),
        tf.sin(h), tf.cos(h), tf.math.erf(h), tf.nn.elu(h), tf.nn.selu(h), tf.nn.softsign(h),
        tf.nn.leaky_relu(h, alpha=0.3), tf.nn.softmax(h), tf.nn.log_softmax(h),
        tf.math.squared_difference(h, k), tf.raw_ops.Div(x=h, y=k + 0.25),
        tf.math.floordiv(h, 0.7), tf.math.floormod(h, 0.7),
        tf.add_n([h, k, h * k]), tf.where(h > k, h, k * 2.0), tf.zeros_like(h) + tf.fill(tf.shape(h), 0.5),
        tf.nn.bias_add(h, tf.constant(np.linspace(-1.0, 1.0, 6, dtype=np.float32))),
    ], axis=1)
    ki = tf.cast(k * 4.0, tf.int32)                                # negative and positive ints
    ints = tf.stack([
        tf.raw_ops.Div(x=ki, y=tf.constant(3, tf.int32)), tf.math.floordiv(ki, 3), tf.math.floormod(ki, 3),
        tf.tile(tf.reduce_mean(ki, axis=1, keepdims=True), [1, 6]),
    ], axis=1)
    logic = tf.stack([
        tf.greater(h, k), tf.greater_equal(h, k), tf.less(h, k), tf.less_equal(h, k),
        tf.equal(k, 0.5), tf.not_equal(k, 0.5), tf.logical_and(h > 0, k > 0),
        tf.logical_or(h > 0, k > 0), tf.logical_not(h > 0), tf.cast(k, tf.bool),
    ], axis=1)
    reductions = tf.concat([
        tf.cast(tf.stack([tf.reduce_any(h > 1.0, axis=1), tf.reduce_all(h > -1.0, axis=1)], axis=1), tf.float32),
        tf.cast(tf.stack([tf.argmax(h, axis=1), tf.cast(tf.math.argmin(k, axis=-1, output_type=tf.int32), tf.int64)],
                         axis=1), tf.float32),
    ], axis=1)
    grid = tf.reshape(h, [-1, 2, 3])
    bmm = tf.raw_ops.BatchMatMul(x=grid, y=grid, adj_x=True)      # (N, 3, 3)
    img = tf.reshape(tf.raw_ops.Concat(concat_dim=1, values=[h, k]), [-1, 2, 2, 3])
    nchw = tf.nn.bias_add(img, tf.constant([0.5, -0.5], tf.float32), data_format="NCHW")
    return K.Model([x, k], [unary, ints, logic, reductions, bmm, nchw], name="keras2_tfoplayer_more")


def _halves(rng: Any, shape: Any) -> Any:
    return (rng.integers(-7, 8, size=shape) / 2.0).astype(np.float32)


class Case:
    def __init__(self, name: str, build: Callable[[], Any], inputs: Callable[[Any], List[Any]],
                 description: str, numpy_constants: bool = False, seed_name: Optional[str] = None):
        self.name, self.build, self.inputs, self.description = name, build, inputs, description
        self.numpy_constants = numpy_constants
        self.seed_name = seed_name or name


CASES = [
    Case("keras2_tfoplayer_math", keras2_tfoplayer_math,
         lambda rng: [rng.normal(0.0, 1.0, size=(3, 4)).astype(np.float32)],
         "tf.keras TensorFlowOpLayer elementwise ops (AddV2, Add, Sub, Mul, RealDiv, Maximum, Minimum, "
         "Pow, Sqrt, Rsqrt, Exp, Log, Square, Neg, Abs, Relu, Relu6, Sigmoid, Tanh, Softplus), Cast "
         "float->int32->float, ConcatV2, ExpandDims and Mean/Sum/Max/Min/Prod with keep_dims"),
    Case("keras2_tfoplayer_shapes", keras2_tfoplayer_shapes,
         lambda rng: [rng.normal(0.0, 1.0, size=(2, 4, 6, 3)).astype(np.float32)],
         "tf.keras TensorFlowOpLayer shape ops: Transpose, Reshape (static and from Shape + Pack), "
         "StridedSlice (begin/end/ellipsis/new_axis/shrink masks, negative stride), Slice, "
         "ExpandDims, Squeeze, MatMul (transpose_a/b, array constants), BatchMatMulV2 (adj_y), "
         "Einsum, ResizeBilinear / ResizeNearestNeighbor (half_pixel_centers, align_corners), "
         "Pad, PadV2, MirrorPad (REFLECT, SYMMETRIC), Pack, Unpack, Split, SplitV, GatherV2, Tile"),
    Case("keras2_tfoplayer_more", keras2_tfoplayer_more,
         lambda rng: [rng.normal(0.0, 1.0, size=(4, 6)).astype(np.float32), _halves(rng, (4, 6))],
         "tf.keras TensorFlowOpLayer: Identity, StopGradient, Sign, Reciprocal, Expm1, Log1p, Floor, "
         "Ceil, Round (ties), Sin, Cos, Erf, Elu, Selu, Softsign, LeakyRelu, Softmax, LogSoftmax, "
         "SquaredDifference, Div (float, int), FloorDiv, FloorMod (float, int), AddN, SelectV2, "
         "Fill, ZerosLike, BiasAdd (NHWC, NCHW), integer Mean, comparisons, LogicalAnd/Or/Not, "
         "Cast to bool, Any, All, ArgMax, ArgMin, Tile, Concat (v1), BatchMatMul (adj_x)"),
    Case("keras2_tfoplayer_numpy_constants", keras2_tfoplayer_shapes,
         lambda rng: [rng.normal(0.0, 1.0, size=(2, 4, 6, 3)).astype(np.float32)],
         "keras2_tfoplayer_shapes with its array constants as tf_keras model.to_json() writes "
         "them ({class_name: __numpy__, config: {value, dtype}} objects, not plain lists)",
         numpy_constants=True, seed_name="keras2_tfoplayer_shapes"),
]


def use_to_json_constants(out_dir: Path, model: Any) -> None:
    """Put the constants ``model.to_json()`` writes into the converted model.json."""
    written = {l["name"]: l["config"]["constants"] for l in json.loads(model.to_json())["config"]["layers"]
               if l["class_name"] == "TensorFlowOpLayer"}
    path = out_dir / "model.json"
    artifact = json.loads(path.read_text())
    layers = artifact["modelTopology"]["model_config"]["config"]["layers"]
    changed = 0
    for layer in layers:
        if layer["class_name"] == "TensorFlowOpLayer":
            changed += layer["config"]["constants"] != written[layer["name"]]
            layer["config"]["constants"] = written[layer["name"]]
    assert changed, "model.to_json() wrote the same constants"
    path.write_text(json.dumps(artifact))


def run_from_artifact(out_dir: Path, weights: List[Any], inputs: List[Any]) -> List[Any]:
    """Keras's outputs for the topology *as written in model.json*: tf_keras rebuilds the model
    from it (each TensorFlowOpLayer recreating its op from ``node_def`` and ``constants``), gets
    the weights and runs the graph in a session (not ``predict``, which wants every output to
    keep the batch size)."""
    topology = json.loads((out_dir / "model.json").read_text())["modelTopology"]
    rebuilt = K.models.model_from_json(json.dumps(topology["model_config"]))
    assert any(type(l).__name__ == "TensorFlowOpLayer" for l in rebuilt.layers)
    rebuilt.set_weights(weights)
    outputs = K.backend.function(rebuilt.inputs, rebuilt.outputs)(inputs)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def tfjs_refusal(out_dir: Path) -> Optional[str]:
    """tfjs's error when it loads the artifact (None: it loaded, or Node is unavailable)."""
    if not (SCRIPTS / "node_modules" / "@tensorflow" / "tfjs").exists() or shutil.which("node") is None:
        return None
    run = subprocess.run(["node", "tfjs/check_saved.mjs", str(out_dir), str(out_dir / "input_0.npy")],
                         cwd=SCRIPTS, capture_output=True, text=True, timeout=300)
    for f in out_dir.glob("tfjs_output_*.npy"):
        f.unlink()
    if run.returncode == 0:
        return None
    lines = [l for l in run.stderr.splitlines() if "Error" in l]
    line = lines[0] if lines else run.stderr.strip().splitlines()[-1]
    return line.split(". This may be due")[0].strip()


def make(case: Case) -> None:
    out_dir = OUT / case.name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    model = case.build()
    mk.randomize_weights(model, mk.rng_for(case.seed_name))
    inputs = case.inputs(mk.rng_for(case.seed_name + "/inputs"))
    classes = {type(l).__name__ for l in model.layers}
    assert "TensorFlowOpLayer" in classes and "TFOpLambda" not in classes, classes
    mk.convert_keras2(model, out_dir)
    if case.numpy_constants:
        use_to_json_constants(out_dir, model)
    outputs = run_from_artifact(out_dir, model.get_weights(), inputs)
    for i, x in enumerate(inputs):
        np.save(out_dir / f"input_{i}.npy", x)
    for i, y in enumerate(outputs):
        y = np.asarray(y)
        np.save(out_dir / f"output_{i}.npy", y.astype(np.float32) if y.dtype.kind == "f" else y)
    ops = sorted({l.node_def.op
                  for l in model.layers if type(l).__name__ == "TensorFlowOpLayer"})
    refusal = tfjs_refusal(out_dir)
    notes = (f"tfjs {mk.TFJS_VERSION.split('.')[0]}.x cannot load it: {refusal}" if refusal
             else "tfjs-layers has no TensorFlowOpLayer class")
    meta: Dict[str, Any] = {
        "name": case.name,
        "kind": "layers-model",
        "family": "keras",
        "covers": sorted(classes - {"Functional"}),
        "description": case.description,
        "generator": f"tensorflowjs {mk.TFJS_VERSION} converter from tf_keras {mk.KERAS2_VERSION} "
                     "(graph mode: TensorFlowOpLayer)",
        "reference": f"Keras {mk.KERAS2_VERSION} predict (TF running the wrapped ops)",
        "inputs": [{"file": f"input_{i}.npy", "name": mk.tensor_layer_name(t)} for i, t in enumerate(model.inputs)],
        "outputs": [{"file": f"output_{i}.npy", "name": mk.tensor_layer_name(t)} for i, t in enumerate(model.outputs)],
        "tf_ops": ops,
        "notes": notes,
    }
    (out_dir / "case.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    print(f"{case.name}: {size} bytes, {len(ops)} TF ops {ops}; {notes}")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="case name (repeatable); default: all")
    args = ap.parse_args(argv)
    known = {c.name: c for c in CASES}
    names = args.case or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {sorted(known)}")
    for n in names:
        make(known[n])
    return 0


if __name__ == "__main__":
    sys.exit(main())
