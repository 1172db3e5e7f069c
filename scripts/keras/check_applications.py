"""Validation on models nobody here wrote: keras.applications architectures (random weights,
random BatchNorm statistics, scales and offsets, logits out) converted both ways — layers model
(``save_keras_model``) and graph model (SavedModel → ``convert_tf_saved_model``) — then run by
Keras, by tfjs in Node (scripts/tfjs/check_saved.mjs) and by torch_tfjs.

Two steps, two environments (the TF env makes the artifacts, the project venv compares):

    scripts/.tfenv/bin/python scripts/keras/check_applications.py make [NAME ...] --out /tmp/apps
    .venv/bin/python scripts/keras/check_applications.py compare [NAME ...] --out /tmp/apps

``make [NAME ...] --keras3`` builds the models with Keras 3 instead and converts the ``.keras`` file
to a layers model (tfjs 4.22 cannot load Keras 3 layers models, so only Keras is compared there)
and the SavedModel ``model.export(..., format="tf_saved_model")`` writes to a graph model (TF >=
2.16's grappler folds ``BatchNormalization(axis=3)`` into ``_FusedConv2D`` with a ``[1, 1, 1, C]``
bias; tfjs runs these). Use another ``--out`` for Keras 3 than for Keras 2.

Prints max|torch - keras|, max|torch - tfjs| and max|tfjs - keras| per model and format, and
``ok`` / ``FAIL`` for max|torch - keras| <= 1e-4 * max(1, max|keras|) (the test suite's
tolerance). A conversion the tensorflowjs converter refuses, or a model tfjs cannot run, is
reported as such. Not a test: it needs TensorFlow, Node and minutes of CPU; the artifacts stay
under ``--out`` (a temporary folder by default), never in the repository.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import types
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]

# name → (constructor name in keras.applications, input size, extra kwargs)
APPS = {
    "mobilenet_v2": ("MobileNetV2", 96, {"alpha": 0.35}),
    "mobilenet_v3_small": ("MobileNetV3Small", 64, {}),
    "efficientnet_b0": ("EfficientNetB0", 64, {}),
    "resnet50": ("ResNet50", 64, {}),
    "densenet121": ("DenseNet121", 64, {}),
    "inception_v3": ("InceptionV3", 75, {}),
    "xception": ("Xception", 71, {}),
    "nasnet_mobile": ("NASNetMobile", 224, {}),
    "convnext_tiny": ("ConvNeXtTiny", 64, {}),
}


def _batch_norm_value(path: str, value, rng):
    """Random BatchNormalization statistics and affine weights, as a trained model has: with the
    initial zero means and betas, grappler drops the folded shift and the ``[1, 1, 1, C]`` bias
    that trained Keras 3 exports carry never appears."""
    import numpy as np

    leaf = path.split("/")[-1].split(":")[0]
    if leaf in ("moving_variance", "gamma"):
        return rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
    if leaf in ("moving_mean", "beta"):
        return rng.uniform(-0.2, 0.2, value.shape).astype(np.float32)
    return value


def make(names, out: Path, keras3: bool = False) -> None:
    import tempfile

    import numpy as np
    import tensorflow as tf
    import tf_keras
    import keras  # Keras 3: imported before the stubs, which would confuse its jax probe
    for stub in ("tensorflow_decision_forests", "jax", "jax.experimental", "jax.experimental.jax2tf"):
        if stub not in sys.modules:
            sys.modules[stub] = types.ModuleType(stub)  # see scripts/README.md
    sys.modules["jax"].experimental = sys.modules["jax.experimental"]  # type: ignore[attr-defined]
    sys.modules["jax.experimental"].jax2tf = sys.modules["jax.experimental.jax2tf"]  # type: ignore[attr-defined]
    import tensorflowjs
    from tensorflowjs.converters import converter as tfjs_converter
    from tensorflowjs.converters import tf_saved_model_conversion_v2 as graph_converter

    K = keras if keras3 else tf_keras
    for name in names:
        ctor, size, extra = APPS[name]
        K.utils.set_random_seed(0)
        model = getattr(K.applications, ctor)(input_shape=(size, size, 3), weights=None,
                                              classifier_activation=None, **extra)
        rng = np.random.default_rng(0)
        model.set_weights([_batch_norm_value(getattr(v, "path", v.name), w, rng)
                           for v, w in zip(model.weights, model.get_weights())])
        base = out / name
        base.mkdir(parents=True, exist_ok=True)
        x = rng.uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
        np.save(base / "x.npy", x)
        np.save(base / "keras.npy", np.asarray(model.predict(x, verbose=0)))
        if keras3:
            with tempfile.TemporaryDirectory() as tmp:
                model.save(os.path.join(tmp, "model.keras"))
                tfjs_converter.dispatch_keras_keras_to_tfjs_layers_model_conversion(
                    os.path.join(tmp, "model.keras"), str(base / "layers"))
        else:
            tensorflowjs.converters.save_keras_model(model, str(base / "layers"))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                saved = os.path.join(tmp, "saved")
                if keras3:  # Keras 3's own SavedModel export (serving_default = its "serve")
                    model.export(saved, format="tf_saved_model", verbose=False)
                else:
                    tf.saved_model.save(model, saved)
                graph_converter.convert_tf_saved_model(saved, str(base / "graph"))
        except Exception as exc:  # the converter refuses some graphs
            print(f"{name}: no graph model: {str(exc).splitlines()[0]}")
        print(f"{name}: made ({model.count_params():,} parameters)")


def compare(names, out: Path) -> None:
    import numpy as np
    import torch

    import torch_tfjs

    for name in names:
        base = out / name
        x, keras_out = np.load(base / "x.npy"), np.load(base / "keras.npy")
        for kind in ("layers", "graph"):
            folder = base / kind
            if not (folder / "model.json").exists():
                print(f"{name:18s} {kind:6s} no artifact")
                continue
            run = subprocess.run(["node", "tfjs/check_saved.mjs", str(folder), str(base / "x.npy")],
                                 cwd=SCRIPTS, capture_output=True, text=True)
            tfjs_out = np.load(folder / "tfjs_output_0.npy") if run.returncode == 0 else None
            try:
                model = torch_tfjs.load(folder).eval()
                with torch.no_grad():
                    result = model(torch.from_numpy(x))
                ours = (result[0] if isinstance(result, list) else result).numpy()
            except Exception as exc:
                print(f"{name:18s} {kind:6s} torch_tfjs failed: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            err = np.abs(ours - keras_out).max()
            verdict = "ok  " if err <= 1e-4 * max(1.0, float(np.abs(keras_out).max())) else "FAIL"
            # random weights can leave the logits tiny (EfficientNet, MobileNetV3): then only the
            # relative error says anything
            rel = err / max(float(np.abs(keras_out).max()), 1e-30)
            line = (f"{name:18s} {kind:6s} {verdict} max|out|={np.abs(keras_out).max():.3g}"
                    f"  |torch-keras|={err:.2e} (rel {rel:.1e})")
            if tfjs_out is not None:
                line += (f"  |torch-tfjs|={np.abs(ours - tfjs_out).max():.2e}"
                         f"  |tfjs-keras|={np.abs(tfjs_out - keras_out).max():.2e}")
            else:
                line += "  tfjs cannot run it"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["make", "compare"])
    parser.add_argument("names", nargs="*", help=f"models (default all: {', '.join(APPS)})")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "keras_apps")
    parser.add_argument("--keras3", action="store_true", help="build with Keras 3 (.keras conversion)")
    args = parser.parse_args()
    names = args.names or list(APPS)
    if args.step == "make":
        make(names, args.out, args.keras3)
    else:
        compare(names, args.out)


if __name__ == "__main__":
    main()
