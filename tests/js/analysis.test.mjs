// The page's instant ranking (www/analysis.js) against the engine's, through the golden file
// that tests/integration/ranking.rs writes from src/analysis.rs and src/prune.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hies, interval, keepScore, minMax, selectPruned } from '../../www/analysis.js';

const golden = JSON.parse(readFileSync(new URL('../fixtures/ranking.json', import.meta.url), 'utf8'));

test('every criterion ranks the heads exactly as the engine does', () => {
  assert.ok(golden.cases.length >= 12, 'the golden file covers every criterion');
  for (const c of golden.cases) {
    const name = `${c.criterion} α=${c.alpha} seed=${c.seed}`;
    const keep = keepScore(c.criterion, c.scores, c.alpha, c.seed);
    keep.forEach((row, l) => row.forEach((x, h) => assert.ok(Math.abs(x - c.keep[l][h]) <= 1e-12, `${name}: keep[${l}][${h}] ${x} vs ${c.keep[l][h]}`)));
    const all = selectPruned(keep, keep.flat().length);
    assert.deepEqual(all, c.order, `${name}: the whole pruning order, ties by (layer, head)`);
    assert.deepEqual(selectPruned(keep, 22), c.pruned_22, `${name}: 22 heads`);
  }
});

test('HIES at α = 1 and α = 0 is one criterion alone; min-max of a constant grid is 0', () => {
  const his = [[0.1, 0.9, 0.4], [0.3, 0.2, 0.7]];
  const ent = [[2, 0.5, 1], [0.1, 3, 1.5]];
  assert.deepEqual(hies(his, ent, 1), minMax(his));
  assert.deepEqual(hies(his, ent, 0), minMax(ent).map((r) => r.map((x) => 1 - x)));
  assert.deepEqual(minMax([[3, 3], [3, 3]]), [[0, 0], [0, 0]]);
});

test('the running estimate’s interval narrows to the exact value', () => {
  const [lo, hi] = interval(30, 40, 800);
  assert.ok(lo < 0.75 && hi > 0.75 && hi - lo < 0.3, `${lo}–${hi}`);
  const [lo2, hi2] = interval(600, 790, 800);
  assert.ok(hi2 - lo2 < 0.01, 'nearly all seen: nearly exact');
  assert.deepEqual(interval(600, 800, 800), [0.75, 0.75]);
  assert.deepEqual(interval(0, 0, 800), [0, 1]);
});
