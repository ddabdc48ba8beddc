// The analysis engine through the wasm API in headless Chromium (CPU backend) against the native
// CLI's numbers for the same inputs, which scripts/test.sh writes to artifacts/native-*.json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, native, openPage, startServer } from './harness.mjs';

let server;
let browser;
let page;
before(async () => {
  server = await startServer();
  browser = await launch({ webgpu: false });
  page = await openPage(browser, server.app('backend=cpu&auto=0'));
  await page.evaluate(() => window.hies.ready);
});
after(async () => {
  await browser?.close();
  server?.stop();
});

function assertGridsClose(got, want, name, rel = 1e-4) {
  assert.equal(got.length, want.length, name);
  want.forEach((row, l) => row.forEach((w, h) => {
    const g = got[l][h];
    assert.ok(Math.abs(g - w) <= rel * Math.abs(w) + 1e-7, `${name}[${l}][${h}]: wasm ${g} vs native ${w}`);
  }));
}

test('scores in the browser equal the native CLI (≤1e-4 relative), with progress', { timeout: 600_000 }, async () => {
  const want = native('native-score.json');
  const { scores, progress } = await page.evaluate(async () => {
    const progress = [];
    const scores = await window.hies.score('../tests/fixtures/calibration.tsv', { n: 16, seed: 0 }, (p) => progress.push([p.done, p.total]));
    return { scores, progress };
  });
  assert.deepEqual([scores.layers, scores.heads, scores.n, scores.seed], [6, 12, 16, 0]);
  for (const key of ['entropy', 'entropy_nats', 'his_raw', 'his', 'hies', 'confidence', 'weight_norm']) {
    assertGridsClose(scores[key], want[key], key);
  }
  assert.ok(progress.length >= 1 && progress.at(-1)[0] === 16 && progress.at(-1)[1] === 16, `progress ${JSON.stringify(progress)}`);
});

test('pruning plan, masked and structural evaluation equal the native CLI', { timeout: 600_000 }, async () => {
  const want = native('native-prune.json');
  const got = await page.evaluate(async () => {
    const request = { n: 16, seed: 0, options: { criterion: 'hies', ratio: 0.5, per_layer: false, iterative_step: null,
      scores: { alpha: 0.5, his_norm: { by_tokens: false, layer_l2: true, global_min_max: true }, per_layer_min_max: false }, random_seed: 0 } };
    const plan = await window.hies.plan('../tests/fixtures/calibration.tsv', request);
    await window.hies.setDev('../tests/fixtures/calibration.tsv');
    const masked = await window.hies.evaluate(plan.pruned, false);
    const structural = await window.hies.evaluate(plan.pruned, true);
    return { pruned: plan.pruned, masked: { ...masked, predictions: Array.from(masked.predictions) },
      structural: { ...structural, predictions: Array.from(structural.predictions) } };
  });
  assert.deepEqual(got.pruned, want.pruned);
  assert.equal(got.masked.accuracy, want.accuracy);
  assert.equal(got.masked.agreement, want.agreement);
  assert.equal(got.masked.fullAccuracy, want.accuracy_full);
  assert.deepEqual(got.structural.predictions, got.masked.predictions);
  assert.equal(got.structural.params, want.parameters_structural);
  assert.equal(got.masked.params, want.parameters_full);
  assert.ok(got.structural.params < got.masked.params);
  assert.deepEqual(page.errors, []);
});

test('a long job can be cancelled; the engine and its dev set keep working', { timeout: 600_000 }, async () => {
  const got = await page.evaluate(async () => {
    await window.hies.setDev('../tests/fixtures/calibration.tsv');
    const seen = [];
    const job = window.hies.evaluate([[0, 0], [1, 1]], false, (p) => seen.push(p.done));
    job.cancel();
    const cancelled = await job.then(() => 'finished', (e) => (e.cancelled ? 'cancelled' : e.message));
    const again = await window.hies.evaluate([[0, 0], [1, 1]], false);
    return { cancelled, seen, total: again.predictions.length };
  });
  assert.equal(got.cancelled, 'cancelled');
  // The cancel is read at the next batch boundary: a batch or two run, not all 16 sentences.
  assert.ok((got.seen.at(-1) ?? 0) < 16, `stopped early: ${JSON.stringify(got.seen)}`);
  assert.equal(got.total, 16);
});
