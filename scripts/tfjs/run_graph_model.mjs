// Run a converted GraphModel with the real tfjs runtime (pure-JS CPU backend) and write its outputs.
//
//   node tfjs/run_graph_model.mjs <case_dir>
//
// <case_dir> holds model.json + weight shard(s) + input_<i>.npy. Input names come from
// <case_dir>/case.json ("inputs": [{file, name}]) when present, else the signature's input keys in
// model.json order. Every signature output is computed with `model.executeAsync(feed, outputNames)`
// (handles control flow and dynamic-shape ops) and written as output_<i>.npy in the signature's
// model.json order (the order torch_tfjs's GraphModel returns them); without a signature, the node
// names case.json lists as outputs. Prints one JSON line per output.
// String tensors travel as JSON: an input file ending in .json holds a nested list of str (a string
// tensor of that shape); a string output is written as output_<i>.json (nested list of str).

import fs from 'node:fs';
import path from 'node:path';
import { folderHandler, readNpy, tf, writeNpy } from './lib.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node tfjs/run_graph_model.mjs <case_dir>');
  process.exit(2);
}
await tf.setBackend('cpu');

const { json, handler } = folderHandler(dir);
const model = await tf.loadGraphModel(handler);

const signature = json.signature ?? {};
let inputSpecs;
let caseOutputs = [];
const caseFile = path.join(dir, 'case.json');
if (fs.existsSync(caseFile)) {
  const meta = JSON.parse(fs.readFileSync(caseFile, 'utf8'));
  inputSpecs = meta.inputs;
  caseOutputs = (meta.outputs ?? []).map((o) => o.name);
} else {
  inputSpecs = Object.keys(signature.inputs ?? {}).map((name, i) => ({ file: `input_${i}.npy`, name }));
}
const feed = {};
function readJsonStrings(file) {
  const nested = JSON.parse(fs.readFileSync(file, 'utf8'));
  const shape = [];
  for (let v = nested; Array.isArray(v); v = v[0]) shape.push(v.length);
  return tf.tensor(shape.length ? nested.flat(shape.length) : [nested], shape, 'string');
}
for (const spec of inputSpecs) {
  const file = path.join(dir, spec.file);
  feed[spec.name] = spec.file.endsWith('.json') ? readJsonStrings(file) : readNpy(file);
}

// A model.json without a signature (old converters) names its outputs by node in case.json.
const outputNames = Object.keys(signature.outputs ?? {}).length ? Object.keys(signature.outputs) : caseOutputs;
if (!outputNames.length) throw new Error('model.json has no signature outputs and case.json names none');
let outputs = await model.executeAsync(feed, outputNames);
if (!Array.isArray(outputs)) outputs = [outputs];
for (let i = 0; i < outputs.length; i++) {
  let t = outputs[i];
  if (t.dtype === 'string') {
    const nested = await t.array();
    fs.writeFileSync(path.join(dir, `output_${i}.json`), JSON.stringify(nested) + '\n');
    console.log(JSON.stringify({ output: i, name: outputNames[i], shape: t.shape, dtype: t.dtype }));
    continue;
  }
  if (!['float32', 'int32', 'bool'].includes(t.dtype)) throw new Error(`output ${outputNames[i]}: dtype ${t.dtype} cannot be written as .npy`);
  await writeNpy(path.join(dir, `output_${i}.npy`), t);
  console.log(JSON.stringify({ output: i, name: outputNames[i], shape: t.shape, dtype: t.dtype }));
}
tf.dispose([...Object.values(feed), ...outputs]);
