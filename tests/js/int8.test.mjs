// The page's default download, model.int8.safetensors, written at build time in Node by the CPU
// wasm build's `quantize` (scripts/quantize-default.mjs), is byte for byte what the native
// `hies quantize` writes from the same fp32 file (scripts/test.sh puts that one in artifacts/).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(`${root}/src/manifest.json`, 'utf8'));
const path = `${manifest.model.dir}/${manifest.model.int8_weights}`;
const sha = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');

test('the int8 weights the page downloads equal `hies quantize` of the fp32 file', () => {
  for (const f of [`dist-test/${path}`, 'artifacts/native-int8.safetensors']) {
    assert.ok(existsSync(`${root}/${f}`), `${f} is missing: scripts/test.sh writes it (the page build, then \`hies quantize\`)`);
  }
  const shipped = readFileSync(`${root}/dist-test/${path}`);
  assert.equal(sha(`${root}/dist-test/${path}`), sha(`${root}/artifacts/native-int8.safetensors`));
  assert.equal(sha(`${root}/dist-test/${path}`), sha(`${root}/${path}`), 'dist-test/ holds the file the build wrote');
  const n = Number(shipped.readBigUInt64LE(0));
  const header = JSON.parse(shipped.subarray(8, 8 + n).toString());
  assert.equal(header.__metadata__.quantization, 'hies-int8-v1');
  assert.equal(header['encoder.layer.0.attention.self.query.weight'].dtype, 'I8');
  assert.deepEqual(header['encoder.layer.0.attention.self.query.weight_scale'].shape, [384, 1]);
  const fp32 = readFileSync(`${root}/${manifest.model.dir}/${manifest.checkpoint_files.weights}`).length;
  assert.ok(shipped.length < 0.27 * fp32, `${shipped.length} bytes is about a quarter of ${fp32}`);
});
