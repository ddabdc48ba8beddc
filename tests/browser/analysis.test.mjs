// The analysis engine through the wasm API in headless Chromium (CPU backend) against the native
// CLI's numbers for the same inputs, which scripts/test.sh writes to artifacts/native-*.*.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { artifacts, launch, maxAbsDiff, native, openPage, startServer } from './harness.mjs';

let server;
let browser;
let page;
before(async () => {
  server = await startServer();
  browser = await launch({ webgpu: false });
  page = await openPage(browser, server.app('backend=cpu&auto=0'));
  await page.evaluate(() => window.hies.ready);
  // The committed 16 sentences as calibration pool and evaluation set, as the CLI was given.
  const cal = '../tests/fixtures/calibration.tsv';
  const sizes = await page.evaluate((cal) => window.hies.data({ calibration: cal, evaluation: cal, validation: cal }), cal);
  assert.deepEqual(sizes, { calibration_size: 16, evaluation_size: 16, validation_size: 16 });
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

const SCORE_OPTIONS = { alpha: 0.5, his_norm: { token_mean: true, layer_l2: false, global_min_max: true }, per_layer_min_max: false };

test('scores in the browser equal the native CLI (≤1e-4 relative), with progress; CSV in the CLI’s schema', { timeout: 600_000 }, async () => {
  const want = native('native-score.json');
  const { scores, progress } = await page.evaluate(async () => {
    const progress = [];
    const scores = await window.hies.score({ n: 16, seed: 0 }, (p) => progress.push([p.done, p.total]));
    return { scores, progress };
  });
  assert.deepEqual([scores.layers, scores.heads, scores.n, scores.seed], [6, 12, 16, 0]);
  for (const key of ['entropy', 'entropy_nats', 'his_raw', 'his_token_mean', 'his', 'hies', 'confidence', 'weight_norm']) {
    assertGridsClose(scores[key], want[key], key);
  }
  assert.ok(progress.length >= 1 && progress.at(-1)[0] === 16 && progress.at(-1)[1] === 16, `progress ${JSON.stringify(progress)}`);
  // The page's CSV export is written by the same Rust code as `hies score --csv`.
  const text = await page.evaluate((s) => window.hies.csv({ scores: s }), want);
  assert.equal(text, readFileSync(`${artifacts}/native-score.csv`, 'utf8'));
});

test('pruning plan, masked and structural evaluation equal the native CLI', { timeout: 600_000 }, async () => {
  const want = native('native-prune.json');
  const got = await page.evaluate(async (scores) => {
    const request = { n: 16, seed: 0, options: { criterion: 'hies', ratio: 0.5, per_layer: false, iterative_step: undefined, scores, random_seed: 0 } };
    const plan = await window.hies.plan(request);
    const masked = await window.hies.evaluate({ heads: plan.pruned, structural: false });
    const structural = await window.hies.evaluate({ heads: plan.pruned, structural: true });
    return { pruned: plan.pruned, masked, structural };
  }, SCORE_OPTIONS);
  assert.deepEqual(got.pruned, want.pruned);
  // The same typed report on both sides.
  assert.deepEqual(got.masked, want.masked);
  assert.deepEqual(got.structural, want.structural);
  assert.ok(got.structural.parameters < got.masked.parameters);
  assert.deepEqual(page.errors, []);
});

test('q8: the page’s int8 path predicts what `hies --compute q8` does', { timeout: 600_000 }, async () => {
  const want = native('native-prune-q8.json');
  const lines = readFileSync(`${artifacts}/native-classify-q8.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const texts = readFileSync(new URL('../fixtures/calibration.tsv', import.meta.url), 'utf8').trim().split('\n').map((l) => l.split('\t')[1]);
  const got = await page.evaluate(async ([scores, texts]) => {
    const info = await window.hies.setCompute('q8');
    const plan = await window.hies.plan({ n: 16, seed: 0, options: { criterion: 'hies', ratio: 0.5, per_layer: false, iterative_step: undefined, scores, random_seed: 0 } });
    const masked = await window.hies.evaluate({ heads: plan.pruned, structural: false });
    const structural = await window.hies.evaluate({ heads: plan.pruned, structural: true });
    const predicted = await window.hies.predict(texts);
    await window.hies.setCompute('exact');
    return { compute: info.compute, pruned: plan.pruned, masked, structural, predicted };
  }, [SCORE_OPTIONS, texts]);
  assert.equal(got.compute, 'q8');
  assert.deepEqual(got.pruned, want.pruned, 'scores keep f32: the same heads');
  assert.deepEqual(got.masked, want.masked);
  assert.deepEqual(got.structural, want.structural);
  // Activations are quantised as they arrive: the f32 operations between the linear layers
  // (LayerNorm, softmax, GELU, the attention products) differ between wasm and native in the
  // last bits (1e-7), and a value that sits on a rounding boundary of its int8 step then lands
  // on the other side. Sentences without such a flip agree to f32 rounding, which shows that the
  // kernels compute the same integers; the others move by about what q8 itself moves them.
  const diffs = got.predicted.map((p, i) => {
    assert.deepEqual(p.ids, lines[i].ids);
    assert.equal(p.label, lines[i].label, `sentence ${i}: the same prediction`);
    return maxAbsDiff(p.logits, lines[i].logits);
  });
  const exact = diffs.filter((d) => d <= 1e-6).length;
  console.log(`wasm q8 vs native q8 logits, 16 sentences: ${exact} equal to 1e-6, max |diff| ${Math.max(...diffs).toExponential(2)}`);
  assert.ok(exact >= 2, `no sentence agrees to 1e-6: ${diffs}`);
  assert.ok(Math.max(...diffs) <= 5e-2, `${diffs}`);
  assert.deepEqual(page.errors, []);
});

test('q8: the relaxed-SIMD build (the default here) and the SIMD128 build predict the same bits', { timeout: 600_000 }, async () => {
  const texts = readFileSync(new URL('../fixtures/calibration.tsv', import.meta.url), 'utf8').trim().split('\n').map((l) => l.split('\t')[1]);
  const run = (p) => p.evaluate(async (texts) => {
    const info = await window.hies.setCompute('q8');
    const predicted = await window.hies.predict(texts);
    await window.hies.setCompute('exact');
    return { relaxed: info.relaxed_simd, logits: predicted.map((p) => Array.from(p.logits)) };
  }, texts);
  const plain = await openPage(browser, server.app('backend=cpu&auto=0').replace('/#', '/?simd=simd128#'));
  try {
    await plain.evaluate(() => window.hies.ready);
    const [a, b] = [await run(page), await run(plain)];
    assert.equal(a.relaxed, true, 'Chromium validates relaxed SIMD: the page loads pkg-relaxed/');
    assert.equal(b.relaxed, false, '?simd=simd128 keeps to pkg/');
    // The same integers in both kernels (src/model/qgemm_relaxed.rs) and the same f32 code around them.
    assert.deepEqual(a.logits, b.logits);
    assert.deepEqual(plain.errors, []);
  } finally {
    await plain.close();
  }
});

test('one sentence: inspect equals `hies inspect`', { timeout: 600_000 }, async () => {
  const want = native('native-inspect.json');
  const got = await page.evaluate(async ([text, heads]) => {
    const a = await window.hies.inspect(text, heads);
    return { ...a, attentions: Array.from(a.attentions) };
  }, [want.text, [[0, 1], [3, 4], [5, 11]]]);
  assert.deepEqual(got.ids, want.ids);
  assert.deepEqual(got.tokens, want.tokens);
  assert.ok(maxAbsDiff(got.attentions, want.attentions) <= 1e-5);
  assert.ok(maxAbsDiff(got.full.logits, want.full.logits) <= 1e-5, `${got.full.logits} vs ${want.full.logits}`);
  assert.ok(maxAbsDiff(got.pruned.logits, want.pruned.logits) <= 1e-5);
  assertGridsClose(got.importance, want.importance, 'importance', 1e-3);
  assertGridsClose(got.entropy, want.entropy, 'entropy', 1e-5);
  assert.equal(got.heads_pruned, 3);
});

test('curves equal `hies curve` for the same seeds and sentences', { timeout: 600_000 }, async () => {
  const want = native('native-curve.json');
  const got = await page.evaluate((scores) => window.hies.curves({ criteria: ['hies', 'random'], ratios: [0, 0.5], seeds: [0, 1], n: 8,
    per_layer: false, iterative_step: undefined, scores }), SCORE_OPTIONS);
  assert.equal(got.evaluation_size, 16);
  assert.equal(got.evaluations, want.evaluations);
  assert.deepEqual(got.points, want.points);
  assert.equal(got.full_accuracy, want.full_accuracy);
});

test('the α sweep and the paper check equal `hies alpha-sweep` and `hies paper-check`', { timeout: 600_000 }, async () => {
  const sweep = native('native-sweep.json');
  const check = native('native-paper-check.json');
  const got = await page.evaluate(async ([s, c]) => ({
    sweep: await window.hies.alphaSweep(s.options),
    check: await window.hies.paperCheck(c.options),
  }), [sweep, check]);
  // An absent optional value is `null` in the CLI's JSON and `undefined` from wasm: compare without them.
  const plain = (v) => JSON.parse(JSON.stringify(v, (k, x) => (x === null ? undefined : x)));
  assert.deepEqual(plain(got.sweep), plain(sweep));
  assert.deepEqual(plain(got.check), plain(check));
  assert.ok(['holds', 'does_not_hold', 'within_seed_spread'].includes(got.check.claims[0].verdict));
});

test('the Hugging Face checkpoint the page downloads equals `hies export` byte for byte', { timeout: 600_000 }, async () => {
  const got = await page.evaluate(async () => {
    const c = await window.hies.exportCheckpoint([[0, 1], [3, 4], [5, 11]]);
    const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { config: c.config, weights: hex(await crypto.subtle.digest('SHA-256', c.weights)), tokenizer: c.tokenizer.length, heads: c.heads_pruned };
  });
  const sha = (f) => createHash('sha256').update(readFileSync(`${artifacts}/native-export/${f}`)).digest('hex');
  assert.equal(got.config, readFileSync(`${artifacts}/native-export/config.json`, 'utf8'));
  assert.equal(got.weights, sha('model.safetensors'));
  assert.equal(got.tokenizer, readFileSync(`${artifacts}/native-export/tokenizer.json`).length);
  assert.equal(got.heads, 3);
});

test('a long job can be cancelled; the engine and its evaluation set keep working', { timeout: 600_000 }, async () => {
  // The 800 dev sentences, so that stopping early shows: a cancel reaches the shared worker
  // after its message crosses threads, a batch or two after it was sent.
  await page.evaluate(() => window.hies.data({ evaluation: './assets/data/rotten-tomatoes/dev.tsv' }));
  const got = await page.evaluate(async () => {
    const seen = [];
    const removal = { heads: [[0, 0], [1, 1]], structural: false };
    const job = window.hies.evaluate(removal, (p) => seen.push(p.done));
    job.cancel();
    const cancelled = await job.then(() => 'finished', (e) => e.kind);
    const again = await window.hies.evaluate(removal);
    return { cancelled, seen, sentences: again.sentences };
  });
  assert.equal(got.cancelled, 'cancelled');
  // The cancel is read at a batch boundary: a few batches run, not all 800 sentences.
  assert.ok((got.seen.at(-1) ?? 0) < 100, `stopped early: ${JSON.stringify(got.seen)}`);
  assert.equal(got.sentences, 800);
});
