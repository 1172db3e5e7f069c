"""The benchmark models of scripts/bench.py, built and converted in the TF environment.

Runs only under ``scripts/.tfenv/bin/python`` (TensorFlow, tf_keras, tensorflowjs, tf2onnx; see
scripts/README.md); scripts/bench.py calls it as a subprocess:

    scripts/.tfenv/bin/python scripts/bench_models.py --cache scripts/.bench_cache --models mobilenetv2,unet
    scripts/.tfenv/bin/python scripts/bench_models.py tf2onnx --tfjs model.json --output model.onnx --opset 17

For each model (tf_keras, seeded deterministic weights and BatchNorm / Normalization statistics) it
writes ``<cache>/<model>/``:

- ``graph/``: a graph model (SavedModel → ``convert_tf_saved_model`` via
  ``make_graph_fixtures.save_and_convert``, dynamic batch, so every batch size runs);
- ``layers/``: a LayersModel (``tensorflowjs.converters.save_keras_model``);
- ``model.onnx``: the graph model converted by tf2onnx's tfjs front end (``--tfjs``), or
  ``meta.json["onnx"]`` says why it failed;
- ``input_b<N>.npy`` and ``keras_b<N>.npy`` (Keras's own output) for each batch in ``BATCHES``;
- ``meta.json``: ``CACHE_VERSION``, description, parameter count, converter versions.

A model directory is rebuilt when ``meta.json`` is missing or its version differs from
``CACHE_VERSION`` (bump it whenever a builder, the seeding or the inputs change).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE_VERSION = "3"
SCRIPTS = Path(__file__).resolve().parent
BATCHES = (1, 2, 8)  # inputs written for each (2: smaller correctness checks)

DESCRIPTIONS = {
    "mobilenetv2": "tf_keras MobileNetV2 alpha 0.35, 96x96x3, logits",
    "efficientnetb0": "tf_keras EfficientNetB0, 64x64x3 (inputs 0..255), logits",
    "unet": "UNet 64x64x3: Conv3x3+BN+ReLU blocks 16/32/64, bottleneck 128, Conv2DTranspose + skip, 1x1 sigmoid",
    "transformer": "2 encoder blocks, 64 tokens x 128: MultiHeadAttention 4x32 + LayerNorm + Dense 512 gelu / 128, mean pool, Dense 10",
}
MODELS = tuple(DESCRIPTIONS)


# --- builders (tf_keras) ---------------------------------------------------------------------------

def conv_block(keras, x, filters):
    L = keras.layers
    for _ in range(2):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    return x


def build_unet(keras):
    L = keras.layers
    inputs = keras.Input((64, 64, 3))
    skips, x = [], inputs
    for filters in (16, 32, 64):
        x = conv_block(keras, x, filters)
        skips.append(x)
        x = L.MaxPool2D(2)(x)
    x = conv_block(keras, x, 128)
    for filters, skip in zip((64, 32, 16), reversed(skips)):
        x = L.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = L.Concatenate()([x, skip])
        x = conv_block(keras, x, filters)
    outputs = L.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="unet")


def build_transformer(keras):
    L = keras.layers
    inputs = keras.Input((64, 128))
    x = inputs
    for _ in range(2):
        attn = L.MultiHeadAttention(num_heads=4, key_dim=32)(x, x)
        x = L.LayerNormalization()(L.Add()([x, attn]))
        ffn = L.Dense(512, activation="gelu")(x)
        ffn = L.Dense(128)(ffn)
        x = L.LayerNormalization()(L.Add()([x, ffn]))
    x = L.GlobalAveragePooling1D()(x)
    outputs = L.Dense(10)(x)
    return keras.Model(inputs, outputs, name="transformer")


def build(name: str):
    """(model, input shape without batch, input range or None for standard normal)."""
    import tf_keras as keras

    if name == "mobilenetv2":
        model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                               classifier_activation=None)
        return model, (96, 96, 3), None
    if name == "efficientnetb0":
        model = keras.applications.EfficientNetB0(input_shape=(64, 64, 3), weights=None,
                                                  classifier_activation=None)
        return model, (64, 64, 3), (0.0, 255.0)
    if name == "unet":
        return build_unet(keras), (64, 64, 3), None
    if name == "transformer":
        return build_transformer(keras), (64, 128), None
    raise SystemExit(f"unknown model {name!r}; known: {', '.join(MODELS)}")


def seed_weights(model, seed: int = 1234) -> None:
    """Deterministic weights: He-uniform kernels (activations stay O(1) through deep stacks),
    BatchNorm / LayerNorm / Normalization statistics in sane ranges (variances positive)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for w in model.weights:
        name = w.name.split("/")[-1]
        if not w.dtype.is_floating:  # Normalization's int64 count
            continue
        if "variance" in name or "gamma" in name:
            value = rng.uniform(0.5, 1.5, size=w.shape)
        elif "mean" in name or "beta" in name or "bias" in name:
            value = rng.uniform(-0.1, 0.1, size=w.shape)
        else:
            fan_in = int(np.prod(w.shape[:-1])) if len(w.shape) > 1 else 1
            if "depthwise" in name:
                fan_in = int(np.prod(w.shape[:2]))
            bound = np.sqrt(6.0 / fan_in)
            value = rng.uniform(-bound, bound, size=w.shape)
        w.assign(value.astype(np.float32))
    for layer in model.layers:
        # Normalization snapshots its mean / variance variables into tensors when built (and
        # after adapt / load): without this the Keras model (and the graph model traced from it)
        # would keep mean 0, variance 1 while the saved LayersModel carries the seeded values
        if hasattr(layer, "adapt_mean") and hasattr(layer, "finalize_state"):
            layer.finalize_state()


# --- conversion ------------------------------------------------------------------------------------

def run_tf2onnx_shimmed(argv) -> None:
    """``python -m tf2onnx.convert`` with shims for numpy 2, onnx >= 1.15 and zero-size shape dims."""
    import runpy

    import numpy

    if not hasattr(numpy, "product"):  # tf2onnx 1.17 calls numpy.product, removed in numpy 2
        numpy.product = numpy.prod
    import tf2onnx.utils as tf2onnx_utils

    original = tf2onnx_utils.make_onnx_node_with_attr

    def make_onnx_node_with_attr(*args, **kwargs):
        # tfjs_utils passes _input_shapes (a list of lists), which onnx.helper.make_attribute rejects
        kwargs.pop("_input_shapes", None)
        return original(*args, **kwargs)

    tf2onnx_utils.make_onnx_node_with_attr = make_onnx_node_with_attr

    import tf2onnx.tfjs_utils as tfjs_utils

    read_attr = tfjs_utils.read_tfjs_attr_helper

    def read_tfjs_attr_helper(k, v, tf_dtypes=False):
        # protobuf JSON omits zero fields: a shape dim of size 0 (FusedBatchNormV3's reserve_space
        # outputs, which tf_keras LayerNormalization emits) is written {}, and tf2onnx wants "size"
        if k == "shape":
            v = dict(v, dim=[dict(d, size=d.get("size", 0)) for d in v.get("dim", [])])
        return read_attr(k, v, tf_dtypes)

    tfjs_utils.read_tfjs_attr_helper = read_tfjs_attr_helper  # also its recursive calls (a global)
    sys.argv = ["tf2onnx.convert", *argv]
    runpy.run_module("tf2onnx.convert", run_name="__main__", alter_sys=True)


def convert_onnx(model_dir: Path) -> str:
    """tf2onnx's tfjs front end on graph/model.json; returns "ok" or "tf2onnx failed: <reason>"."""
    out = model_dir / "model.onnx"
    out.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, __file__, "tf2onnx", "--tfjs", str(model_dir / "graph" / "model.json"),
                           "--output", str(out), "--opset", "17"], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if proc.returncode == 0 and out.exists():
        return "ok"
    lines = [l.strip() for l in proc.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if "Error" in l or "error" in l] or lines[-1:] or ["no output"]
    return "tf2onnx failed: " + errors[-1][:200]


@contextlib.contextmanager
def erf_gelu(model):
    """While tracing the graph model, Dense layers with the exact ``gelu`` compute
    0.5·x·(1 + erf(x/√2)) instead of TF's ``0.5·x·erfc(-x/√2)``: the same function, but with an op
    (Erf) that tfjs and ONNX have. The layers model keeps ``activation: "gelu"``."""
    import tensorflow as tf
    import tf_keras as keras

    def gelu(x):
        return 0.5 * x * (1.0 + tf.math.erf(x * 0.7071067811865476))

    swapped = [layer for layer in model.layers if getattr(layer, "activation", None) is keras.activations.gelu]
    for layer in swapped:
        layer.activation = gelu
    try:
        yield
    finally:
        for layer in swapped:
            layer.activation = keras.activations.gelu


def make(name: str, model_dir: Path) -> dict:
    sys.path.insert(0, str(SCRIPTS / "graph"))
    import make_graph_fixtures as mgf  # TF, tf_keras and tensorflowjs (with its import stubs)
    import numpy as np
    import tensorflowjs
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model, shape, value_range = build(name)
    seed_weights(model)
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir(parents=True)
    with erf_gelu(model):  # tfjs has no Erfc, the op TF's exact gelu lowers to
        mgf.save_and_convert(dict(fn=model, inputs=[dict(shape=[1, *shape])], dynamic_batch=True),
                             model_dir / "graph")
    tensorflowjs.converters.save_keras_model(model, str(model_dir / "layers"))
    rng = np.random.default_rng(7)
    for batch in BATCHES:
        if value_range is None:
            x = rng.standard_normal((batch, *shape))
        else:
            x = rng.uniform(*value_range, size=(batch, *shape))
        x = x.astype(np.float32)
        np.save(model_dir / f"input_b{batch}.npy", x)
        np.save(model_dir / f"keras_b{batch}.npy", np.asarray(model(x, training=False), dtype=np.float32))
    start = time.perf_counter()
    onnx = convert_onnx(model_dir)
    meta = {
        "version": CACHE_VERSION,
        "name": name,
        "description": DESCRIPTIONS[name],
        "params": int(sum(np.prod(w.shape) for w in model.weights)),
        "input_shape": list(shape),
        "batches": list(BATCHES),
        "onnx": onnx,
        "onnx_convert_s": round(time.perf_counter() - start, 1),
        "generator": f"TF {mgf.tf.__version__}, tf_keras {keras.__version__}, tensorflowjs {tensorflowjs.__version__}",
    }
    (model_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def is_current(model_dir: Path) -> bool:
    try:
        meta = json.loads((model_dir / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    needed = [model_dir / "graph" / "model.json", model_dir / "layers" / "model.json"]
    needed += [model_dir / f"input_b{b}.npy" for b in BATCHES]
    if meta.get("onnx") == "ok":
        needed.append(model_dir / "model.onnx")
    return meta.get("version") == CACHE_VERSION and all(p.exists() for p in needed)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tf2onnx"]:
        run_tf2onnx_shimmed(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=SCRIPTS / ".bench_cache")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    args = ap.parse_args(argv)
    for name in [m for m in args.models.split(",") if m]:
        if name not in DESCRIPTIONS:
            raise SystemExit(f"unknown model {name!r}; known: {', '.join(MODELS)}")
        model_dir = args.cache / name
        if not args.force and is_current(model_dir):
            print(f"{name}: cached", flush=True)
            continue
        start = time.perf_counter()
        meta = make(name, model_dir)
        print(f"{name}: built in {time.perf_counter() - start:.0f} s ({meta['params']:,} params; "
              f"onnx: {meta['onnx']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
