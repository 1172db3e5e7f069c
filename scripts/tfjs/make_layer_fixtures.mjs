// Regenerate LayersModel fixtures: every family module in ./layers/ (cases → tests/fixtures/layers/)
// and every module in ./models/ (whole models → tests/fixtures/models/).
//
//   node tfjs/make_layer_fixtures.mjs                    # everything
//   node tfjs/make_layer_fixtures.mjs --family conv      # one family file
//   node tfjs/make_layer_fixtures.mjs --case conv2d_same # one case (any family)
//
// A family file exports `cases`: [{name, covers, description, build: (tf) => model,
// inputs: [{shape, dtype?, range?}], notes?, follows?, training?, tolerance?, expectError?,
// shardBytes?, prepare?: async (model, tf) => void}].

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, saveCase, tf } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
await tf.setBackend('cpu');

const sources = [['layers', path.join(HERE, 'layers')], ['models', path.join(HERE, 'models')]];
let failed = 0;
let written = 0;
for (const [kind, dir] of sources) {
  if (!fs.existsSync(dir)) continue;
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort()) {
    const family = path.basename(file, '.mjs');
    if (args.family && args.family !== family) continue;
    const { cases } = await import(pathToFileURL(path.join(dir, file)).href);
    for (const c of cases) {
      if (args.case && args.case !== c.name) continue;
      try {
        const { notes } = await saveCase(kind, family, c);
        written++;
        console.log(`ok    ${kind}/${family}/${c.name}${notes.length ? `  [${notes.join(' | ')}]` : ''}`);
      } catch (err) {
        fs.rmSync(path.join(HERE, '..', '..', 'tests', 'fixtures', kind, family, c.name), { recursive: true, force: true });
        const message = String(err.message ?? err).split('\n')[0];
        if (c.expectError) {
          console.log(`refused (expected) ${kind}/${family}/${c.name}: ${message}`);
        } else {
          failed++;
          console.log(`FAIL  ${kind}/${family}/${c.name}: ${message}`);
        }
      }
    }
  }
}
console.log(`${written} case(s) written, ${failed} failed`);
process.exit(failed ? 1 : 0);
