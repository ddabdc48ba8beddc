// Writes the page's default download, the built-in checkpoint's weights in int8
// (manifest.model.int8_weights, format hies-int8-v1), beside its model.safetensors, with the
// engine's own `quantize` from www/pkg (the CPU wasm build): the same bytes `hies quantize`
// writes natively (tests/js/int8.test.mjs checks). About 2 s; run by scripts/build-web.sh and
// scripts/dev.sh after the wasm build.   node scripts/quantize-default.mjs
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import init, { quantize } from '../www/pkg/hies.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(`${root}/src/manifest.json`, 'utf8'));
const dir = `${root}/${manifest.model.dir}`;
const from = `${dir}/${manifest.checkpoint_files.weights}`;
const to = `${dir}/${manifest.model.int8_weights}`;
await init({ module_or_path: readFileSync(`${root}/www/pkg/hies_bg.wasm`) });
let fp32;
try {
  fp32 = readFileSync(from);
} catch (e) {
  console.error(`quantize-default: cannot read ${from} (${e.code}): run \`${manifest.setup}\``);
  process.exit(1);
}
const int8 = quantize(fp32);
writeFileSync(`${to}.part`, int8);
renameSync(`${to}.part`, to);
console.log(`quantize-default: ${manifest.model.dir}/${manifest.model.int8_weights} (${(int8.length / 1e6).toFixed(1)} MB from ${(fp32.length / 1e6).toFixed(1)} MB)`);
