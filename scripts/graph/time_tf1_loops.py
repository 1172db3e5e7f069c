"""Timing of loop-heavy TF1 graphs (v1 control flow): torch_tfjs vs tfjs in Node (not a test).

    scripts/.tfenv/bin/python scripts/graph/time_tf1_loops.py make      # TF env: build, convert, tfjs refs
    .venv/bin/python scripts/graph/time_tf1_loops.py compare            # project venv: time both
    .venv/bin/python scripts/graph/time_tf1_loops.py compare --runs 10 --models ssd_postprocess --threads 1

``make`` builds each model as a TF1 graph (control flow v2 off, frozen, ``convert_tf_frozen_model``;
see ``make_graph_fixtures.convert_tf1_graph``) into ``scripts/.bench_cache/tf1_loops/<name>/``
with seeded inputs and tfjs's outputs. ``compare`` loads each with torch_tfjs, checks the outputs
against tfjs (max|Δ|), and reports load time, the first call and the median / best of ``--runs``
calls, next to tfjs's (``scripts/tfjs/time_graph_model.mjs``: loadGraphModel, executeAsync).

Models:
- ``map_fn_100``: tf.map_fn over 100 boxes (TensorArrayV3 scatter / read / write / gather).
- ``nms_padded_300``: tf.image.non_max_suppression_padded's loops over 300 boxes, 100 kept.
- ``ssd_postprocess``: an SSD-like detector: a small conv backbone on a 96×96 image, 6 anchors
  per cell on 12², 6², 3², 2², 1² maps (1164 boxes), box decoding, then the Object Detection
  API's batch_multiclass_non_max_suppression in miniature (tf.map_fn over the batch; per class
  of 4 a padded NMS keeping 50; top_k 100 over the classes), boxes clipped and scaled. (A second
  tf.map_fn over the 100 detections, reading the first one's output, makes tfjs 4.22's
  executeAsync fail with "Cannot compute the outputs"; ``map_fn_100`` times a map_fn alone.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE.parent
CACHE = SCRIPTS / ".bench_cache" / "tf1_loops"
TIMER = SCRIPTS / "tfjs" / "time_graph_model.mjs"


# --- models (TF env) ----------------------------------------------------------------------------

def _models() -> list:
    import tensorflow as tf
    from casekit import weights
    from tensorflow.python.ops import image_ops_impl
    nms = image_ops_impl.non_max_suppression_padded_v2.python_function

    def map_fn_100(boxes, scores):
        def per_box(elems):
            box, score = elems
            clipped = tf.clip_by_value(box, 0.1, 0.9)
            return clipped * score, (clipped[2] - clipped[0]) * (clipped[3] - clipped[1]) + score
        return tf.map_fn(per_box, (boxes, scores), fn_output_signature=(tf.float32, tf.float32))

    def nms_padded_300(boxes, scores):
        return nms(boxes[None], scores[None], 100, iou_threshold=0.5, score_threshold=0.05)

    sizes, classes, per_cell = [12, 6, 3, 2, 1], 4, 6

    def anchors():
        """[y, x, h, w] per cell (row-major) and per anchor, as the box head's reshape orders them."""
        import numpy as np
        rows = [[(y + 0.5) / s, (x + 0.5) / s, 0.9 / s * (1 + 0.2 * k), 0.9 / s * (1 + 0.2 * k)]
                for s in sizes for y in range(s) for x in range(s) for k in range(per_cell)]
        return tf.constant(np.asarray(rows, np.float32))

    def ssd_postprocess(image):
        x = image
        feats = []
        for i, ch in enumerate([8, 16, 16, 16, 16, 16, 16]):
            kernel = tf.constant(weights(f"tf1_loops/ssd/conv{i}", [3, 3, x.shape[-1], ch], scale=0.3))
            x = tf.nn.relu6(tf.nn.conv2d(x, kernel, 2, "SAME"))
            if x.shape[1] <= 12:
                feats.append(x)
        enc, cls = [], []
        for i, f in enumerate(feats):
            kb = tf.constant(weights(f"tf1_loops/ssd/box{i}", [1, 1, f.shape[-1], per_cell * 4], scale=0.3))
            kc = tf.constant(weights(f"tf1_loops/ssd/cls{i}", [1, 1, f.shape[-1], per_cell * (classes + 1)]))
            enc.append(tf.reshape(tf.nn.conv2d(f, kb, 1, "SAME"), [1, -1, 4]))
            cls.append(tf.reshape(tf.nn.conv2d(f, kc, 1, "SAME"), [1, -1, classes + 1]))
        enc, logits = tf.concat(enc, 1), tf.concat(cls, 1)
        a = anchors()
        ty, tx, th, tw = tf.unstack(enc / [10.0, 10.0, 5.0, 5.0], axis=-1)
        cy, cx = ty * a[:, 2] + a[:, 0], tx * a[:, 3] + a[:, 1]
        h, w = tf.exp(th) * a[:, 2], tf.exp(tw) * a[:, 3]
        boxes = tf.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)
        scores = tf.sigmoid(logits)[:, :, 1:]

        def per_image(elems):
            img_boxes, img_scores = elems
            kept_boxes, kept_scores, kept_classes = [], [], []
            for c in range(classes):
                idx, num = nms(img_boxes[None], img_scores[None, :, c], 50, iou_threshold=0.6,
                               score_threshold=0.3)
                valid = tf.range(50) < num[0]
                kept_boxes.append(tf.gather(img_boxes, idx[0]))
                kept_scores.append(tf.where(valid, tf.gather(img_scores[:, c], idx[0]), tf.zeros([50])))
                kept_classes.append(tf.fill([50], float(c + 1)))
            top, order = tf.nn.top_k(tf.concat(kept_scores, 0), 100)
            return (tf.gather(tf.concat(kept_boxes, 0), order), top,
                    tf.gather(tf.concat(kept_classes, 0), order))
        det_boxes, det_scores, det_classes = tf.map_fn(
            per_image, (boxes, scores), fn_output_signature=(tf.float32, tf.float32, tf.float32))
        # (a second tf.map_fn over the detections, reading the first one's output, makes tfjs 4.22's
        # executeAsync fail: "Cannot compute the outputs [...]"; plain ops instead)
        det_boxes = tf.clip_by_value(det_boxes, 0.0, 1.0) * 96.0
        return det_boxes, det_scores, det_classes

    boxes_in = [dict(shape=[100, 4], range=(0, 1)), dict(shape=[100], range=(0, 1))]
    return [
        dict(name="map_fn_100", fn=map_fn_100, inputs=boxes_in, tf1_graph=True),
        dict(name="nms_padded_300", fn=nms_padded_300, tf1_graph=True,
             inputs=[dict(shape=[300, 4], range=(0, 1)), dict(shape=[300], range=(0, 1))]),
        dict(name="ssd_postprocess", fn=ssd_postprocess, tf1_graph=True,
             inputs=[dict(shape=[1, 96, 96, 3], range=(0, 1))],
             output_names=["detection_boxes", "detection_scores", "detection_classes"]),
    ]


def make(names) -> None:
    sys.path.insert(0, str(HERE))
    import make_graph_fixtures as mg
    CACHE.mkdir(parents=True, exist_ok=True)
    for case in _models():
        if names and case["name"] not in names:
            continue
        print(mg.generate("tf1_loops", case, CACHE, "tf1_loops"), flush=True)


# --- timing (project venv) ----------------------------------------------------------------------

def compare(names, runs: int, threads: int) -> None:
    import numpy as np
    import torch
    if threads:
        torch.set_num_threads(threads)
    sys.path.insert(0, str(SCRIPTS.parent))
    import torch_tfjs
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
          f"{os.getloadavg()[0]:.1f}")
    rows = []
    for case_dir in sorted(p for p in CACHE.iterdir() if (p / "case.json").exists()):
        if names and case_dir.name not in names:
            continue
        meta = json.loads((case_dir / "case.json").read_text())
        t0 = time.perf_counter()
        model = torch_tfjs.load_graph_model(case_dir)
        load_ms = (time.perf_counter() - t0) * 1e3
        feed = {i["name"]: torch.from_numpy(np.load(case_dir / i["file"])) for i in meta["inputs"]}
        times = []
        with torch.no_grad():
            for _ in range(runs + 1):
                t0 = time.perf_counter()
                out = model(feed)
                times.append((time.perf_counter() - t0) * 1e3)
        outs = out if isinstance(out, list) else [out]
        err = max(float(np.abs(o.numpy().astype(np.float64) - np.load(case_dir / r["file"])).max())
                  for o, r in zip(outs, meta["outputs"]))
        proc = subprocess.run(["node", str(TIMER), str(case_dir), str(runs)], cwd=SCRIPTS,
                              capture_output=True, text=True)
        tfjs = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
        rest = sorted(times[1:])
        rows.append((case_dir.name, load_ms, times[0], statistics.median(rest), rest[0], err,
                     tfjs.get("load_ms"), tfjs.get("first_ms"), tfjs.get("median_ms"), tfjs.get("best_ms")))
        print(f"{case_dir.name}: torch load {load_ms:.0f} ms, first {times[0]:.1f} ms, median "
              f"{rows[-1][3]:.1f} ms | tfjs {tfjs or proc.stderr.strip()[-200:]} | max|d| {err:.2e}",
              flush=True)
    print("\n| model | torch_tfjs load | first call | median (best) | tfjs load | tfjs first | "
          "tfjs median (best) | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = lambda v: "n/a" if v is None else f"{v:.1f} ms"  # noqa: E731
    for r in rows:
        print(f"| {r[0]} | {fmt(r[1])} | {fmt(r[2])} | {fmt(r[3])} ({fmt(r[4])}) | {fmt(r[6])} | "
              f"{fmt(r[7])} | {fmt(r[8])} ({fmt(r[9])}) | {r[5]:.1e} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["make", "compare"])
    ap.add_argument("--models", default="", help="comma-separated names (default: all)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own; on a "
                    "busy machine 1 avoids OpenMP threads waiting for each other)")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    if args.step == "make":
        make(names)
    else:
        compare(names, args.runs, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
