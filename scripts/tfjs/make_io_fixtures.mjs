// Artifact-reader fixtures written by tfjs's own weight encoder (tf.io.encodeWeights):
// every tfjs dtype, a string tensor, and a weight straddling two shard files.
//   node tfjs/make_io_fixtures.mjs   → tests/fixtures/io/<case>/
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, tf, writeNpy } from './lib.mjs';

await tf.setBackend('cpu');

async function writeCase(name, description, named, shardSizes) {
  const dir = path.join(FIXTURES, 'io', name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = Buffer.from(data);
  const paths = [];
  let offset = 0;
  const sizes = shardSizes ?? [bytes.length];
  sizes.forEach((size, i) => {
    const file = sizes.length === 1 ? 'weights.bin' : `group1-shard${i + 1}of${sizes.length}.bin`;
    const end = i === sizes.length - 1 ? bytes.length : offset + size;
    fs.writeFileSync(path.join(dir, file), bytes.subarray(offset, end));
    paths.push(file);
    offset = end;
  });
  const modelJson = {
    format: 'graph-model', generatedBy: `tfjs-core ${tf.version.tfjs} encodeWeights`, convertedBy: null,
    modelTopology: { node: [] }, weightsManifest: [{ paths, weights: specs }],
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  // what tfjs decodes the bytes back to: the reader must agree bit for bit
  const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), specs);
  const expected = {};
  for (const [name, tensor] of Object.entries(decoded)) {
    const key = name.replace(/[^A-Za-z0-9_]/g, "_");
    if (tensor.dtype === 'string') {
      expected[name] = { strings: (await tensor.bytes()).map((b) => Array.from(b)), shape: tensor.shape };
    } else if (tensor.dtype === 'complex64') {
      const re = tf.real(tensor);
      const im = tf.imag(tensor);
      await writeNpy(path.join(dir, `expected_${key}_real.npy`), re);
      await writeNpy(path.join(dir, `expected_${key}_imag.npy`), im);
      expected[name] = { complex: [`expected_${key}_real.npy`, `expected_${key}_imag.npy`] };
    } else {
      await writeNpy(path.join(dir, `expected_${key}.npy`), tensor);
      expected[name] = { file: `expected_${key}.npy` };
    }
  }
  fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify({
    name, kind: 'io', family: 'io', description, generator: `tfjs-core ${tf.version.tfjs} encodeWeights`,
    reference: `tfjs ${tf.version.tfjs} decodeWeights`, weights: expected }, null, 2) + '\n');
  console.log(`ok    io/${name}`);
}

const f32 = tf.tensor([[0.1, -2.5, 3.25], [1e-8, 65504, -0]], [2, 3], 'float32');
const i32 = tf.tensor([-2147483648, -1, 0, 7, 2147483647], [5], 'int32');
const b = tf.tensor([1, 0, 1, 1], [2, 2], 'bool');
const c64 = tf.complex(tf.tensor([1.5, -2, 0]), tf.tensor([0.25, 3, -1]));
const s = tf.tensor([['héllo', ''], ['tfjs', 'a longer string']], [2, 2], 'string');
const scalar = tf.scalar(42.5);

await writeCase('all_dtypes', 'float32, int32, bool, complex64, string and a scalar, encoded by tfjs',
  [{ name: 'dense/kernel', tensor: f32 }, { name: 'ids', tensor: i32 }, { name: 'flags', tensor: b },
   { name: 'spectrum', tensor: c64 }, { name: 'vocab', tensor: s }, { name: 'scale', tensor: scalar }]);
const big = tf.range(0, 50, 1, 'float32');
await writeCase('straddling_shards', 'one group in three shards; floats straddle shard boundaries',
  [{ name: 'a', tensor: big }, { name: 'b', tensor: i32 }], [30, 77, 1000]);
