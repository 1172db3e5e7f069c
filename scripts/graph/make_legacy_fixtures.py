"""Graph-model fixtures in the JSON encoding of tfjs-converter's 2019 ``pb2json`` tool.

    scripts/.tfenv/bin/python scripts/graph/make_legacy_fixtures.py

Converters of 2018–2019 wrote ``tensorflowjs_model.pb`` + ``weights_manifest.json``; tfjs-converter's
``tools/pb2json_converter.ts`` (tfjs-converter PR #264, Jan 2019) turned those into ``model.json`` by
``JSON.stringify`` of the protobufjs-decoded ``GraphDef`` with a replacer mapping ``Long`` to its
decimal string and ``Uint8Array`` to a list of byte values. Models published in that form still
load in tfjs 4.22 (``parseStringParam`` takes byte lists, ``parseDtypeParam`` numeric enums).

For reproducibility the fixture is made by rewriting a current converter output into exactly that
encoding (``legacy_encode`` below), then tfjs runs the *rewritten* file for the reference:

- top level: only ``modelTopology`` and ``weightsManifest`` (pb2json wrote nothing else: no
  ``format``, ``signature``, ``generatedBy``, ``convertedBy``); inputs are the Placeholders and
  outputs are named by node, as tfjs then requires;
- ``s`` (and ``list.s`` items): base64 → list of byte values (``Uint8Array`` → ``Array``);
- ``type`` (and ``list.type`` items, ``tensor.dtype``): ``"DT_FLOAT"`` → the enum number
  (protobufjs decodes enums as numbers);
- ``list``: every repeated field of ``ListValue`` present, ``[]`` when empty (the static
  protobufjs constructor sets them all);
- ``i``: stays a decimal string (``Long`` → ``toString``); ``f``, ``b``, ``shape`` unchanged;
- ``_Fused*`` nodes: no ``TArgs`` / ``num_host_args`` (attrs later TF versions added);
- weights: one group per weight, shards of at most 64 bytes named ``group<g>-shard<i>of<n>``
  without ``.bin`` (the 0.x Python writer's names).

Output: tests/fixtures/graph/legacy/<name>/ (case.json ``notes`` say what was rewritten).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_graph_fixtures as mgf  # noqa: E402  (TF, the stubs and tensorflowjs, once)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from casekit import fnv1a, weights  # noqa: E402

OUT = mgf.FIXTURES / "graph" / "legacy"
SHARD_BYTES = 64
DT_ENUM = {"DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5, "DT_INT8": 6,
           "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9, "DT_BOOL": 10, "DT_BFLOAT16": 14,
           "DT_UINT16": 17, "DT_COMPLEX128": 18, "DT_HALF": 19, "DT_RESOURCE": 20, "DT_VARIANT": 21,
           "DT_UINT32": 22, "DT_UINT64": 23}
LIST_FIELDS = ("s", "i", "f", "b", "type", "shape", "tensor", "func")
DROPPED_FUSED_ATTRS = ("TArgs", "num_host_args")


def W(key, shape):
    return tf.constant(weights("legacy/" + key, shape))


def _cnn(x):
    """VALID stride-2 conv, VALID max pool, SAME depthwise, a Squeeze with squeeze_dims, a MatMul
    with transpose_b and an ArgMax with an output_type: each attr misread changes a shape or a
    number."""
    h = tf.nn.relu(tf.nn.conv2d(x, W("conv", [3, 3, 3, 4]), [1, 2, 2, 1], "VALID") + W("conv_b", [4]))
    h = tf.nn.max_pool2d(h, 2, 1, "VALID")                                       # [1, 3, 3, 4]
    d = tf.nn.relu6(tf.nn.depthwise_conv2d(h, W("dw", [3, 3, 4, 1]), [1, 1, 1, 1], "SAME"))
    s = tf.squeeze(tf.reduce_max(d, axis=1, keepdims=True), axis=[1])            # [1, 3, 4]
    feats = tf.concat([tf.reshape(d, [1, 36]), tf.reshape(s, [1, 12])], axis=1)  # [1, 48]
    logits = tf.matmul(feats, W("fc", [5, 48]), transpose_b=True) + W("fc_b", [5])
    return tf.tanh(logits), tf.argmax(logits, axis=1, output_type=tf.int32)


CASES = [
    dict(name="pb2json_cnn", covers=["_FusedConv2D", "MaxPool", "FusedDepthwiseConv2dNative", "Squeeze", "_FusedMatMul",
                                     "ArgMax"],
         description="a small CNN in the 2019 pb2json encoding (byte-list strings, numeric dtypes, "
                     "all-fields lists, no TArgs, 1 group per weight, shards without .bin)",
         fn=_cnn, inputs=[dict(shape=[1, 9, 9, 3])]),
]


def _bytes(b64: str) -> list:
    return list(base64.b64decode(b64))


def _attr(value: dict) -> dict:
    (key, raw), = value.items()
    if key == "s":
        return {"s": _bytes(raw)}
    if key == "type":
        return {"type": DT_ENUM[raw]}
    if key == "tensor":
        return {"tensor": {**raw, "dtype": DT_ENUM[raw["dtype"]]} if "dtype" in raw else raw}
    if key == "list":
        out = {k: [] for k in LIST_FIELDS}
        for k, items in raw.items():
            out[k] = [_bytes(v) for v in items] if k == "s" else \
                [DT_ENUM[v] for v in items] if k == "type" else list(items)
        return {"list": out}
    return {key: raw}


def legacy_encode(model_json: dict) -> dict:
    """The GraphDef of ``model_json`` as pb2json wrote it (see the module docstring)."""
    topology = dict(model_json["modelTopology"])
    nodes = []
    for node in topology["node"]:
        attrs = {k: _attr(v) for k, v in (node.get("attr") or {}).items()
                 if not (node["op"].startswith("_Fused") and k in DROPPED_FUSED_ATTRS)}
        nodes.append({"name": node["name"], "op": node["op"], "input": list(node.get("input", [])),
                      **({"device": node["device"]} if node.get("device") else {}), "attr": attrs})
    topology["node"] = nodes
    return {"modelTopology": topology, "weightsManifest": model_json["weightsManifest"]}


def regroup_weights(model_json: dict, folder: Path) -> None:
    """One group per weight, ``SHARD_BYTES`` shards named without ``.bin``; rewrites the files."""
    data = b"".join((folder / p).read_bytes() for g in model_json["weightsManifest"] for p in g["paths"])
    for g in model_json["weightsManifest"]:
        for p in g["paths"]:
            (folder / p).unlink()
    specs = [w for g in model_json["weightsManifest"] for w in g["weights"]]
    sizes = {"float32": 4, "int32": 4, "bool": 1}
    groups, offset = [], 0
    for gi, spec in enumerate(specs, start=1):
        if "quantization" in spec or spec["dtype"] not in sizes:
            raise RuntimeError(f"cannot regroup weight {spec['name']} ({spec['dtype']})")
        size = int(np.prod(spec["shape"], dtype=np.int64)) * sizes[spec["dtype"]]
        chunk, offset = data[offset:offset + size], offset + size
        parts = [chunk[i:i + SHARD_BYTES] for i in range(0, len(chunk), SHARD_BYTES)] or [b""]
        paths = []
        for si, part in enumerate(parts, start=1):
            name = f"group{gi}-shard{si}of{len(parts)}"
            (folder / name).write_bytes(part)
            paths.append(name)
        groups.append({"paths": paths, "weights": [spec]})
    if offset != len(data):
        raise RuntimeError(f"manifest covers {offset} of {len(data)} bytes")
    model_json["weightsManifest"] = groups


def _default_outputs(topology: dict) -> list:
    """Childless nodes in graph order: the outputs tfjs and torch_tfjs take without a signature."""
    consumed = {i.lstrip("^").split(":")[0] for n in topology["node"] for i in n.get("input", [])}
    return [n["name"] for n in topology["node"]
            if n["name"] not in consumed and n["op"] not in ("NoOp", "Placeholder", "Const")]


def generate(case: dict) -> str:
    out_dir = OUT / case["name"]
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    mgf.save_and_convert(case, out_dir)
    modern = json.loads((out_dir / "model.json").read_text())
    sig_outputs = [info["name"].split(":")[0] for info in modern["signature"]["outputs"].values()]
    sig_inputs = [info["name"].split(":")[0] for info in modern["signature"]["inputs"].values()]
    legacy = legacy_encode(modern)
    regroup_weights(legacy, out_dir)
    outputs = _default_outputs(legacy["modelTopology"])
    if sorted(outputs) != sorted(sig_outputs):
        raise RuntimeError(f"childless nodes {outputs} are not the signature outputs {sig_outputs}")
    (out_dir / "model.json").write_text(json.dumps(legacy, separators=(",", ":")))
    rng = np.random.default_rng(fnv1a(f"legacy/{case['name']}"))
    meta = {
        "name": case["name"], "kind": "graph-model", "family": "legacy", "covers": case["covers"],
        "ops": mgf.model_ops(legacy), "description": case["description"],
        "generator": f"tensorflowjs {mgf.tensorflowjs.__version__} converter, TF {tf.__version__}, "
                     "rewritten into the 2019 pb2json encoding by scripts/graph/make_legacy_fixtures.py",
        "reference": "tfjs 4.22.0 executeAsync on the rewritten model.json",
        "inputs": [], "outputs": [{"file": f"output_{i}.npy", "name": n} for i, n in enumerate(outputs)],
        "notes": "byte-list strings, numeric DataType enums, ListValue with all repeated fields, "
                 "_Fused* without TArgs, no format/signature, one weight group per weight, shards "
                 "without .bin",
    }
    for i, (name, spec) in enumerate(zip(sig_inputs, case["inputs"])):
        np.save(out_dir / f"input_{i}.npy", mgf.make_input(rng, spec), allow_pickle=False)
        meta["inputs"].append({"file": f"input_{i}.npy", "name": name})
    (out_dir / "case.json").write_text(json.dumps(meta, indent=2) + "\n")
    proc = subprocess.run(["node", str(mgf.RUNNER), str(out_dir)], cwd=mgf.SCRIPTS, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("tfjs: " + proc.stderr.strip()[-500:])
    shapes = [tuple(np.load(out_dir / o["file"]).shape) for o in meta["outputs"]]
    return f"ok    legacy/{case['name']} ops={meta['ops']} out={shapes}"


def main() -> int:
    for case in CASES:
        print(generate(case), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
