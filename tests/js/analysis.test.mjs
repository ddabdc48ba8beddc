// The page's instant ranking (www/analysis.js) against the engine's, through the golden file
// that tests/integration/ranking.rs writes from src/analysis.rs and src/prune.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { correlationInterval, hies, interval, keepScore, metricFormat, minMax, normalizeHis, selectPruned } from '../../www/analysis.js';

const golden = JSON.parse(readFileSync(new URL('../fixtures/ranking.json', import.meta.url), 'utf8'));

test('every criterion ranks the heads exactly as the engine does', () => {
  assert.ok(golden.cases.length >= 40, 'the golden file covers every criterion, both presets and per-layer min-max');
  for (const c of golden.cases) {
    const name = `${c.criterion} α=${c.alpha} seed=${c.seed} ${c.preset}${c.per_layer_min_max ? ' per layer' : ''}`;
    const keep = keepScore(c.criterion, c.scores, { alpha: c.alpha, preset: c.preset, per_layer_min_max: c.per_layer_min_max }, c.seed);
    // An absent head's keep score is −∞, which JSON writes as null.
    keep.forEach((row, l) => row.forEach((x, h) => assert.ok(c.keep[l][h] === null ? x === -Infinity : Math.abs(x - c.keep[l][h]) <= 1e-12, `${name}: keep[${l}][${h}] ${x} vs ${c.keep[l][h]}`)));
    const all = selectPruned(keep, keep.flat().length);
    assert.deepEqual(all, c.order, `${name}: the whole pruning order, ties by (layer, head)`);
    assert.deepEqual(selectPruned(keep, 22), c.pruned_22, `${name}: 22 heads`);
    assert.deepEqual(selectPruned(keep, 3), c.pruned_3, `${name}: 3 heads (all absent heads, if more)`);
  }
});

test('HIES at α = 1 and α = 0 is one criterion alone; min-max of a constant grid is 0', () => {
  const his = [[0.1, 0.9, 0.4], [0.3, 0.2, 0.7]];
  const ent = [[2, 0.5, 1], [0.1, 3, 1.5]];
  assert.deepEqual(hies(his, ent, 1), minMax(his));
  assert.deepEqual(hies(his, ent, 0), minMax(ent).map((r) => r.map((x) => 1 - x)));
  assert.deepEqual(minMax([[3, 3], [3, 3]]), [[0, 0], [0, 0]]);
  const perLayer = hies(his, ent, 1, true).flat(), want = [0, 1, 0.375, 0.2, 0, 1];
  perLayer.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-12, `per-layer min-max ${x} vs ${want[i]}`));
});

test('the presets normalise HIS as src/analysis.rs does', () => {
  const s = { his_raw: [[1.5, 2], [3, 4]], his_token_mean: [[0.3, 0.1], [0.6, 0.8]] };
  assert.deepEqual(normalizeHis(s, 'bertology'), [[0, 1], [0, 1]]);
  const p = normalizeHis(s, 'paper');
  assert.ok(Math.abs(p[0][0] - 2 / 7) < 1e-12 && p[0][1] === 0 && p[1][1] === 1);
  assert.throws(() => normalizeHis(s, 'magic'), /unknown preset/);
});

test('the running estimate’s interval narrows to the exact value', () => {
  const [lo, hi] = interval(30, 40, 800);
  assert.ok(lo < 0.75 && hi > 0.75 && hi - lo < 0.3, `${lo}–${hi}`);
  const [lo2, hi2] = interval(600, 790, 800);
  assert.ok(hi2 - lo2 < 0.01, 'nearly all seen: nearly exact');
  assert.deepEqual(interval(600, 800, 800), [0.75, 0.75]);
  assert.deepEqual(interval(0, 0, 800), [0, 1]);
});

test("Pearson's running interval: Fisher's z with the finite-population correction", () => {
  // n = 103 of an infinite set: atanh(0.5) ± 1.96 / 10.
  const [lo, hi] = correlationInterval(0.5, 103, Infinity);
  assert.ok(Math.abs(lo - Math.tanh(Math.atanh(0.5) - 0.196)) < 1e-12 && Math.abs(hi - Math.tanh(Math.atanh(0.5) + 0.196)) < 1e-12);
  // The whole set: exact. Too few pairs, or no r yet: uninformative.
  assert.deepEqual(correlationInterval(0.3, 50, 50), [0.3, 0.3]);
  assert.deepEqual(correlationInterval(0.3, 3, 50), [-1, 1]);
  assert.deepEqual(correlationInterval(NaN, 20, 50), [-1, 1]);
  // Half of a finite set: the variance shrinks by (N − n) / (N − 1) = 50 / 99.
  const [a, b] = correlationInterval(0.5, 50, 100);
  const half = 1.96 * Math.sqrt(50 / 99 / 47);
  assert.ok(Math.abs(a - Math.tanh(Math.atanh(0.5) - half)) < 1e-12 && Math.abs(b - Math.tanh(Math.atanh(0.5) + half)) < 1e-12);
  assert.equal(metricFormat('pearson').value(0.12345), '0.123');
  assert.equal(metricFormat('accuracy').value(0.5), '50.0 %');
});
