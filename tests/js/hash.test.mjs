// The URL hash holds the shareable state: it is read leniently (bad values are ignored or
// clamped) and what is written reads back to the same state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readHash, writeHash } from '../../www/hash.js';
import { state, update } from '../../www/state.js';

test('a full hash reads into the state it names', () => {
  const p = readHash('#s=Hello%20there&head=2.7&metric=entropy&c=his&a=0.3&k=10&seed=2&it=1&st=0&q=q8&m=1.1,4.4&backend=cpu&embed=1&hide=header,share&auto=0');
  assert.deepEqual(p, {
    sentence: 'Hello there', selected: [2, 7], metric: 'entropy', criterion: 'his', alpha: 0.3, count: 10, seed: 2,
    iterative: true, structural: false, compute: 'q8', manual: ['1.1', '4.4'], backend: 'cpu', embed: true, hide: ['header', 'share'], auto: false,
  });
});

test('unknown or malformed values are ignored, numbers are clamped', () => {
  const p = readHash('#c=magic&metric=random&head=x.y&a=7&p=magic&k=-3&seed=1e9&backend=tpu&q=q4&m=1.1,bad,2');
  assert.deepEqual(p, { alpha: 1, count: 0, seed: 999, manual: ['1.1'] });
  assert.deepEqual(readHash(''), {});
  assert.equal(readHash('#s=' + 'x'.repeat(30000)).sentence.length, 20000);
});

test('what is written reads back to the same state', () => {
  update({ sentence: 'A film & a half: 100 % #1', selected: [5, 11], metric: 'his', criterion: 'random', alpha: 0.65, preset: 'bertology', perLayerMinMax: true, count: 40, seed: 7,
    iterative: false, structural: true, compute: 'q8', manual: ['0.0', '3.9'], backend: 'gpu', embed: true, hide: ['curves'], auto: false });
  const back = readHash(`#${writeHash()}`);
  for (const [k, v] of Object.entries(back)) assert.deepEqual(v, state[k], k);
  assert.equal(Object.keys(back).length, 17);
});
