// Run one real-world tfjs artifact with @tensorflow/tfjs 4.22 (pure-JS CPU backend) and write
// its outputs: the tfjs reference for tests/realworld.
//
//   node realworld/reference.mjs <model_dir> <work_dir> [<nodes.json>]
//
// With <nodes.json> (a JSON list of graph node names, "node" or "node:k"; graph models only) it
// instead writes those intermediate tensors as <work_dir>/node_<i>.npy and nodes_reference.json
// (used by first_diff.py to find the op where a difference first grows).
// <model_dir>/model.json + shards (relative paths as in its weightsManifest). <work_dir>/inputs.json
// lists the inputs ({name, file}) made by build.py (input_<i>.npy). Writes <work_dir>/output_<i>.npy
// and <work_dir>/reference.json: {ok, format, outputs: [{key, node, shape, dtype, file}],
// load_ms, run_ms} or {ok: false, stage, error}. Layers models: predict() on the inputs in
// model.inputs order. Graph models: executeAsync(feed by input name, every output) where the
// outputs are the signature's output keys in model.json order (tfjs's default outputs when the
// signature lists none).

import fs from 'node:fs';
import path from 'node:path';
import { folderHandler, readNpy, tf, writeNpy } from '../tfjs/lib.mjs';

const [modelDir, workDir, nodesFile] = process.argv.slice(2);
if (!modelDir || !workDir) {
  console.error('usage: node realworld/reference.mjs <model_dir> <work_dir>');
  process.exit(2);
}
const refFile = path.join(workDir, nodesFile ? 'nodes_reference.json' : 'reference.json');
const result = { ok: false, tfjs: tf.version.tfjs };
const save = () => fs.writeFileSync(refFile, JSON.stringify(result, null, 1) + '\n');
let stage = 'load';
try {
  await tf.setBackend('cpu');
  const { json, handler } = folderHandler(modelDir);
  result.format = json.format ?? (json.modelTopology?.node ? 'graph-model' : 'layers-model');
  const specs = JSON.parse(fs.readFileSync(path.join(workDir, 'inputs.json'), 'utf8'));
  const feedList = specs.map((s) => readNpy(path.join(workDir, s.file)));
  let t0 = performance.now();
  let outputs;
  let keys;
  let nodes;
  if (result.format === 'graph-model') {
    const model = await tf.loadGraphModel(handler);
    result.load_ms = performance.now() - t0;
    stage = 'run';
    const sig = json.signature ?? json.userDefinedMetadata?.signature ?? {};
    const sigOut = sig.outputs ?? {};
    keys = Object.keys(sigOut);
    nodes = keys.map((k) => sigOut[k].name ?? k);
    if (nodesFile) {
      keys = JSON.parse(fs.readFileSync(nodesFile, 'utf8'));
      nodes = keys;
    } else if (!keys.length) {
      keys = model.outputNodes;
      nodes = keys;
    }
    const feed = {};
    specs.forEach((s, i) => { feed[s.name] = feedList[i]; });
    t0 = performance.now();
    outputs = await model.executeAsync(feed, keys);
  } else {
    const model = await tf.loadLayersModel(handler);
    result.load_ms = performance.now() - t0;
    stage = 'run';
    keys = model.outputNames ?? model.outputs.map((o) => o.name);  // Sequential: no outputNames
    nodes = model.outputs.map((o) => o.name);
    t0 = performance.now();
    outputs = model.predict(feedList.length === 1 ? feedList[0] : feedList);
  }
  if (!Array.isArray(outputs)) outputs = [outputs];
  result.run_ms = performance.now() - t0;
  stage = 'write';
  result.outputs = [];
  for (let i = 0; i < outputs.length; i++) {
    const t = outputs[i];
    const file = nodesFile ? `node_${i}.npy` : `output_${i}.npy`;
    await writeNpy(path.join(workDir, file), t);
    result.outputs.push({ key: keys[i], node: nodes[i], shape: t.shape, dtype: t.dtype, file });
  }
  result.ok = true;
} catch (err) {
  result.stage = stage;
  result.error = String(err?.message ?? err).slice(0, 2000);
}
save();
console.log(JSON.stringify({ ok: result.ok, error: result.error, run_ms: result.run_ms }));
