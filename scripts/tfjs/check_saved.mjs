// Load a folder saved by torch_tfjs (save_layers_model / save_graph_model / `torch-tfjs convert`)
// with the real tfjs runtime (pure-JS CPU backend) and write its predictions.
//
//   node tfjs/check_saved.mjs <folder> <input_0.npy> [<input_1.npy> ...]
//
// The format comes from model.json: a layers-model goes through tf.loadLayersModel + predict
// (inputs in the model's input order), a graph-model through tf.loadGraphModel + executeAsync
// (inputs in the signature's model.json order; outputs likewise, else the graph's output nodes).
// Both load through a custom IOHandler reading model.json and every shard of the manifest, so
// quantized and sharded saves are read exactly as tfjs reads them. Outputs are written as
// <folder>/tfjs_output_<i>.npy; one JSON line per output is printed (and one for the optimizer
// state tfjs restored, when model.json has a trainingConfig).

import fs from 'node:fs';
import path from 'node:path';
import { folderHandler, readNpy, tf, writeNpy } from './lib.mjs';

const [dir, ...inputFiles] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node tfjs/check_saved.mjs <folder> <input_0.npy> [<input_1.npy> ...]');
  process.exit(2);
}
await tf.setBackend('cpu');

const { json, handler } = folderHandler(dir);

const inputs = inputFiles.map((f) => readNpy(f));
let outputs;
let names;
if (json.format === 'graph-model') {
  const model = await tf.loadGraphModel(handler);
  const signature = json.signature ?? {};
  const inputNames = Object.keys(signature.inputs ?? {}).length
    ? Object.keys(signature.inputs) : model.inputNodes;
  names = Object.keys(signature.outputs ?? {}).length ? Object.keys(signature.outputs) : model.outputNodes;
  if (inputNames.length !== inputs.length) {
    throw new Error(`the graph takes ${inputNames.length} input(s) (${inputNames}), got ${inputs.length}`);
  }
  const feed = {};
  inputNames.forEach((name, i) => { feed[name] = inputs[i]; });
  outputs = await model.executeAsync(feed, names);
} else {
  const model = await tf.loadLayersModel(handler);
  names = model.outputNames;
  outputs = model.predict(inputs.length === 1 ? inputs[0] : inputs);
  if (model.optimizer != null) {
    // trainingConfig + optimizer weights: report what tfjs restored (setWeights is positional)
    const restored = await model.optimizer.getWeights();
    console.log(JSON.stringify({ optimizer: model.optimizer.getClassName(), weights: restored.length,
      iterations: model.optimizer.iterations }));
  }
}
if (!Array.isArray(outputs)) outputs = [outputs];
for (let i = 0; i < outputs.length; i++) {
  const t = outputs[i];
  if (!['float32', 'int32', 'bool'].includes(t.dtype)) throw new Error(`output ${i}: dtype ${t.dtype} cannot be written as .npy`);
  await writeNpy(path.join(dir, `tfjs_output_${i}.npy`), t);
  console.log(JSON.stringify({ output: i, name: names?.[i], shape: t.shape, dtype: t.dtype }));
}
tf.dispose([...inputs, ...outputs]);
