// What relaxed SIMD each CPU wasm build holds, read from the modules' instructions (binaryen's
// wasm-dis): www/pkg/, for browsers without relaxed SIMD, none at all (one such instruction and
// those browsers could not compile it); www/pkg-relaxed/ the q8 kernel's int8 dot product and
// relaxed min/max, which the relaxed-simd feature lets LLVM choose for float clamps and maxima
// in the whole module (their results differ from SIMD128's only for NaN and ±0 ties), nothing
// whose results differ on ordinary numbers (relaxed madd, swizzle, truncation, laneselect, q15).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const relaxedOps = (pkg) => {
  const wat = execFileSync(`${root}/node_modules/.bin/wasm-dis`, [`${root}/www/${pkg}/hies_bg.wasm`], { maxBuffer: 1 << 30 }).toString();
  return new Set(wat.match(/\b[a-z0-9]+x[0-9]+\.relaxed_[a-z0-9_]+/g) ?? []);
};

test('pkg/ holds no relaxed SIMD; pkg-relaxed/ only its dot product and min/max', () => {
  assert.deepEqual([...relaxedOps('pkg')], []);
  const ops = relaxedOps('pkg-relaxed');
  assert.ok(ops.has('i32x4.relaxed_dot_i8x16_i7x16_add_s'), [...ops].join(', '));
  const allowed = new Set(['i32x4.relaxed_dot_i8x16_i7x16_add_s', 'f32x4.relaxed_min', 'f32x4.relaxed_max', 'f64x2.relaxed_min', 'f64x2.relaxed_max']);
  assert.deepEqual([...ops].filter((op) => !allowed.has(op)), []);
});
