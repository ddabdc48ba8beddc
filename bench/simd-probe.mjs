// Writes bench/.cache/simd-probe.wasm: 12 independent f32x4 multiply-then-add chains, the most
// arithmetic a wasm SIMD128 matmul can do per second on one thread (no FMA in SIMD128).
import { mkdirSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

const N = 12;
const locals = Array.from({ length: N }, (_, i) => `(local $c${i} v128)`).join(' ');
const body = Array.from({ length: N }, (_, i) => `(local.set $c${i} (f32x4.add (f32x4.mul (local.get $c${i}) (local.get $a)) (local.get $b)))`).join('\n      ');
const sum = Array.from({ length: N }, (_, i) => `(local.get $c${i})`).reduce((acc, x) => `(f32x4.add ${acc} ${x})`);
const wat = `(module
  (func (export "flops_per_iter") (result i32) (i32.const ${N * 8}))
  (func (export "run") (param $iters i32) (result f32)
    (local $i i32) (local $a v128) (local $b v128) ${locals}
    (local.set $a (f32x4.splat (f32.const 0.999)))
    (local.set $b (f32x4.splat (f32.const 0.001)))
    (loop $l
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $iters))))
    (f32x4.extract_lane 0 ${sum})))`;
const wabt = await wabtInit();
const mod = wabt.parseWat('probe.wat', wat, { simd: true });
mkdirSync(new URL('.cache/', import.meta.url), { recursive: true });
writeFileSync(new URL('.cache/simd-probe.wasm', import.meta.url), mod.toBinary({}).buffer);
console.log('wrote bench/.cache/simd-probe.wasm');
