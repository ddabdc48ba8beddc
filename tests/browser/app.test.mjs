// The page as a reader uses it, in headless Chromium on the CPU backend with the real MiniLM:
// precomputed first paint then live scores equal to the native CLI, the ratio slider's streamed
// accuracy equal to `hies prune`, prediction, attention, URL state, embed mode, the Cache API,
// bad uploads and a good custom model. Timings go to artifacts/timings.json; screenshots of each
// view to artifacts/view-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { artifacts, launch, native, openPage, root, startServer } from './harness.mjs';

const precomputed = JSON.parse(readFileSync(`${root}/www/precomputed.json`, 'utf8'));
const timings = {};
let server;
before(async () => { server = await startServer(); });
after(() => {
  server?.stop();
  writeFileSync(`${artifacts}/timings.json`, `${JSON.stringify(timings, null, 1)}\n`);
});

const state = (page, f) => page.evaluate(f);
// The evaluation on screen is the one for the heads now pruned (not a stale, cancelled one).
const current = () => {
  const s = window.hies.state;
  return s.evaluation && s.evaluation.key === `${s.compute}|${s.structural ? 's' : 'm'}|${s.pruned.map((h) => h.join('.')).join(',')}` ? s.evaluation : null;
};
const waitState = (page, f, timeout = 300_000) => page.waitForFunction(f, null, { timeout, polling: 100 });

function assertGridsClose(got, want, name, rel) {
  want.forEach((row, l) => row.forEach((w, h) => {
    const g = got[l][h];
    assert.ok(Math.abs(g - w) <= rel * Math.abs(w) + 1e-6, `${name}[${l}][${h}]: page ${g} vs native ${w}`);
  }));
}

test('the reader’s path: precomputed paint, live scores, slider, prediction, attention', { timeout: 900_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, server.app('backend=cpu&k=0'), { width: 1300, height: 1000 });
    // First paint: the grid with the precomputed scores, before the engine is live.
    await page.waitForSelector('#grid [data-head="0.0"]');
    const paint = await state(page, () => ({ ms: performance.now(), badge: document.querySelector('#scores-badge').textContent, live: window.hies.state.scoresLive, label: document.querySelector('#grid [data-head="2.3"]').getAttribute('aria-label') }));
    timings.first_grid_paint_ms = Math.round(paint.ms);
    assert.equal(paint.badge, 'precomputed · fp32');
    assert.equal(paint.live, false);
    const pre = precomputed.models.finetuned.scores.hies[2][3];
    assert.match(paint.label, new RegExp(`layer 2 head 3: ${pre.toFixed(3)}`));

    // Live scores replace them and equal `hies score` on the same 32 calibration sentences.
    await waitState(page, () => window.hies.state.scoresLive);
    timings.live_scores_ms = Math.round(await state(page, () => performance.now()));
    assert.equal(await page.textContent('#scores-badge'), 'live');
    const want = native('native-score-default.json');
    const live = await state(page, () => window.hies.state.scores);
    assert.equal(live.n, 32);
    for (const key of ['entropy', 'entropy_nats', 'his_raw', 'his_token_mean', 'his', 'hies', 'confidence', 'weight_norm']) assertGridsClose(live[key], want[key], key, 1e-3);

    // 30 % of the heads by HIES: the same heads, dev accuracy and agreement as `hies prune`.
    const prune = native('native-prune-default.json');
    const t0 = await state(page, () => performance.now());
    await page.locator('#ratio').fill('22');
    await page.evaluate(`window.current = ${current}`);
    await waitState(page, () => window.hies.state.pruned.length === 22 && window.current()?.done > 0);
    const first = await state(page, () => ({ ms: performance.now(), e: window.hies.state.evaluation }));
    timings.slider_to_first_estimate_ms = Math.round(first.ms - t0);
    timings.first_estimate_sentences = first.e.done;
    assert.match(await page.textContent('#r-accuracy'), /95 % interval .* of 800 sentences so far/);
    assert.deepEqual(await state(page, () => window.hies.state.pruned), prune.pruned);
    await waitState(page, () => window.hies.state.pruned.length === 22 && window.current()?.final, 600_000);
    const done = await state(page, () => ({ ms: performance.now(), e: window.hies.state.evaluation }));
    timings.slider_to_full_dev_ms = Math.round(done.ms - t0);
    // Sliced in the page (its default), masked in the CLI: the same predictions.
    for (const k of ['accuracy', 'agreement', 'full_accuracy', 'sentences', 'heads_pruned', 'parameters_full']) assert.equal(done.e.final[k], prune.masked[k], k);
    assert.equal(done.e.final.structural, true);
    assert.equal(done.e.done, 800);
    assert.match(await page.textContent('#r-accuracy'), new RegExp(`^${(prune.masked.accuracy * 100).toFixed(1)} %`));
    // Structural pruning is the default: the parameter count drops and the latency is measured.
    assert.ok(done.e.final.parameters < done.e.final.parameters_full);
    await waitState(page, () => window.hies.state.latency?.structural_ms > 0);
    const lat = await state(page, () => window.hies.state.latency);
    timings.latency_ms = { full: lat.full_ms, masked: lat.masked_ms, structural: lat.structural_ms, speedup: lat.full_ms / lat.structural_ms };
    assert.match(await page.textContent('#r-latency'), /sliced .* ms, [\d.]+× (faster|slower)/);

    // Typing a sentence updates both predictions and the attention view (one inspect request,
    // plus the sliced model's prediction beside it; the page waits 250 ms for typing to pause).
    const typed = await state(page, () => performance.now());
    await page.fill('#sentence', 'This film is a dull, lifeless mess.');
    await waitState(page, () => window.hies.state.prediction?.text === 'This film is a dull, lifeless mess.' && window.hies.state.inspection?.text === 'This film is a dull, lifeless mess.', 60_000);
    timings.typing_to_prediction_ms = Math.round((await state(page, () => performance.now())) - typed);
    assert.match(await page.textContent('#pred-full .label'), /^negative/);
    assert.match(await page.textContent('#pred-pruned h3'), /22 heads off/);

    // Clicking a head shows its attention on that sentence; every row sums to 1.
    await page.click('#grid [data-head="3.5"]');
    await waitState(page, () => window.hies.state.inspection?.live && window.hies.state.inspection.text === 'This film is a dull, lifeless mess.', 60_000);
    assert.match(await page.textContent('#head-facts'), /Layer 3, head 5/);
    const rows = await state(page, () => {
      const a = window.hies.state.inspection;
      const sums = [];
      for (let i = 0; i < a.len; i++) {
        let s = 0;
        for (let j = 0; j < a.len; j++) s += a.attentions[((3 * a.heads + 5) * a.len + i) * a.len + j];
        sums.push(s);
      }
      return { sums, cells: document.querySelectorAll('#att-matrix rect.att-cell').length, len: a.len };
    });
    assert.equal(rows.cells, rows.len * rows.len);
    for (const s of rows.sums) assert.ok(Math.abs(s - 1) < 1e-5, `row sum ${s}`);

    // The random baseline ranks heads in the page exactly as the CLI does (SplitMix64, seed 3).
    const random = native('native-prune-random.json');
    await page.selectOption('#criterion', 'random');
    await page.fill('#seed', '3');
    await page.locator('#seed').dispatchEvent('change');
    await page.locator('#ratio').fill(String(random.heads_pruned));
    await waitState(page, () => window.hies.state.criterion === 'random' && window.hies.state.seed === 3);
    assert.deepEqual(await state(page, () => window.hies.state.plan.heads.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1])), random.pruned);

    // Iterative pruning re-scores the survivors in the worker and arrives at the asked-for count.
    await page.selectOption('#criterion', 'hies');
    await page.check('input[name=mode][value=iterative]');
    await waitState(page, () => window.hies.state.iterative && window.hies.state.plan && !window.hies.state.plan.pending && window.hies.state.plan.key.startsWith('hies|'), 300_000);
    const iterative = await state(page, () => ({ n: window.hies.state.plan.heads.length, count: window.hies.state.count }));
    assert.equal(iterative.n, iterative.count);

    await page.keyboard.press('Escape');
    for (const [id, name] of [['heads-view', 'grid'], ['attention-view', 'attention'], ['prediction-view', 'prediction'], ['prune-view', 'prune'], ['curves-view', 'curves'], ['model-view', 'upload'], ['share-view', 'share']]) {
      await page.locator(`#${id}`).screenshot({ path: `${artifacts}/view-${name}.png` });
    }
    await page.screenshot({ path: `${artifacts}/page.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${artifacts}/page-phone.png`, fullPage: true });
    const overflow = await state(page, () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `no sideways scrolling at phone width (${overflow} px)`);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('the model picker loads the frozen probe: its own precomputed paint, then live scores equal `hies score --model probe`', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, server.app('backend=cpu&k=0&p=bertology'));
    await page.evaluate(() => window.hies.ready);
    await page.selectOption('#model-pick', 'probe');
    await waitState(page, () => window.hies.state.model?.id === 'probe' && window.hies.state.engine?.classifier === 'file');
    const first = await state(page, () => ({ scores: window.hies.state.scores, live: window.hies.state.scoresLive, alpha: window.hies.state.alpha }));
    if (!first.live) assert.equal(first.scores.hies[0][0], precomputed.models.probe.scores.hies[0][0]);
    await waitState(page, () => window.hies.state.scoresLive && window.hies.state.model?.id === 'probe', 300_000);
    const want = native('native-score-probe.json');
    const live = await state(page, () => window.hies.state.scores);
    // The page ranks with the reader's preset from the raw grids; the engine's grids are the same.
    for (const key of ['entropy', 'his_raw', 'his_token_mean', 'confidence', 'weight_norm']) assertGridsClose(live[key], want[key], key, 1e-3);
    assert.equal(first.alpha, want.alpha, 'α* of the probe with the bertology preset, as the CLI takes it');
    assert.match(await state(page, () => location.hash), /model=probe/);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('the URL hash holds the state and round-trips through a reload', { timeout: 300_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const hash = 's=Hello%20there&head=2.7&metric=entropy&c=his&a=0.3&k=10&seed=2&it=0&st=0&m=1.1,4.4&auto=0&backend=cpu';
    const page = await openPage(browser, server.app(hash));
    const controls = () => state(page, () => ({
      metric: document.querySelector('#metric').value, criterion: document.querySelector('#criterion').value,
      alpha: document.querySelector('#alpha').value, ratio: document.querySelector('#ratio').value, seed: document.querySelector('#seed').value,
      masking: document.querySelector('input[name=removal][value=mask]').checked, sentence: document.querySelector('#sentence').value,
      selected: window.hies.state.selected, manual: window.hies.state.manual, pruned: window.hies.state.pruned.length,
    }));
    assert.deepEqual(await controls(), { metric: 'entropy', criterion: 'his', alpha: '0.3', ratio: '10', seed: '2', masking: true,
      sentence: 'Hello there', selected: [2, 7], manual: ['1.1', '4.4'], pruned: await state(page, () => window.hies.state.pruned.length) });
    // 10 by the criterion, with two heads flipped by hand.
    assert.ok([8, 10, 12].includes((await controls()).pruned));
    await page.selectOption('#criterion', 'entropy');
    await page.locator('#ratio').fill('30');
    const after = await state(page, () => location.hash);
    assert.match(after, /c=entropy/);
    assert.match(after, /k=30/);
    await page.reload();
    await page.waitForSelector('#grid [data-head="0.0"]');
    const again = await controls();
    assert.equal(again.criterion, 'entropy');
    assert.equal(again.ratio, '30');
    assert.equal(again.sentence, 'Hello there');
    // A live curve run shows progress and can be cancelled; the precomputed curves stay.
    await page.evaluate(() => window.hies.ready);
    await page.click('#curve-run');
    await waitState(page, () => window.hies.state.curveProgress?.stage === 'scoring', 120_000);
    assert.equal(await page.isVisible('#curve-progress'), true);
    await page.click('#curve-cancel');
    await waitState(page, () => window.hies.state.curveProgress === null, 120_000);
    assert.equal(await page.textContent('#curves-badge'), 'precomputed · fp32');
    assert.equal(await page.isEnabled('#curve-run'), true);
    // The paper view: the precomputed sweep (α* marked) and a verdict per claim; a live sweep
    // shows progress and can be cancelled.
    const paper = await state(page, () => ({
      claims: document.querySelectorAll('#claims tr[data-claim]').length, star: !!document.querySelector('#sweep .alpha-star'),
      badge: document.querySelector('#paper-badge').textContent, verdicts: [...document.querySelectorAll('#claims .verdict b')].map((b) => b.textContent),
    }));
    assert.equal(paper.claims, precomputed.models.finetuned.paper_check.paper.claims.length);
    assert.ok(paper.star, 'α* is marked on the sweep');
    assert.equal(paper.badge, 'precomputed · fp32');
    assert.ok(paper.verdicts.every((v) => ['holds', 'does not hold', 'within the seed spread'].includes(v)), paper.verdicts.join());
    await page.click('#sweep-run');
    await waitState(page, () => window.hies.state.paperProgress?.stage === 'scoring', 120_000);
    assert.equal(await page.isVisible('#paper-progress'), true);
    await page.click('#paper-cancel');
    await waitState(page, () => window.hies.state.paperProgress === null, 120_000);
    assert.equal(await page.textContent('#paper-badge'), 'precomputed · fp32');
    await page.locator('#paper-view').screenshot({ path: `${artifacts}/view-paper.png` });
    // The share box carries the same state.
    assert.match(await page.inputValue('#share-link'), /#s=Hello\+there.*c=entropy/);
    assert.match(await page.inputValue('#embed-code'), /^<iframe src=".*embed=1/);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('embed mode hides what it says, and two embeds on one page share one engine without interfering', { timeout: 300_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const seen = server.requests.length;
    const page = await openPage(browser, `${server.url}tests/browser/pages/two-embeds.html`, { width: 1700, height: 800 });
    const a = page.frameLocator('#a'), b = page.frameLocator('#b');
    const frames = () => page.frames().filter((f) => f !== page.mainFrame());
    await page.waitForFunction(() => document.querySelectorAll('iframe').length === 2);
    await Promise.all(frames().map((f) => f.waitForFunction(() => window.hies?.state.engine, null, { timeout: 300_000 })));
    await a.locator('#heads-view').waitFor({ state: 'visible' });
    assert.equal(await a.locator('#curves-view').isVisible(), false);
    assert.equal(await a.locator('#model-view').isVisible(), false);
    assert.equal(await a.locator('header').isVisible(), false);
    assert.equal(await b.locator('#heads-view').isVisible(), false);
    assert.equal(await b.locator('#curves-view').isVisible(), true);
    assert.equal(await b.locator('#prune-view details.explain').isVisible(), false);
    const [fa, fb] = frames();
    const sa = await fa.evaluate(() => ({ count: window.hies.state.count, c: window.hies.state.criterion, embed: document.body.classList.contains('embed'), n: window.hies.state.pruned.length }));
    const sb = await fb.evaluate(() => ({ count: window.hies.state.count, c: window.hies.state.criterion, embed: document.body.classList.contains('embed'), n: window.hies.state.pruned.length }));
    assert.deepEqual([sa.count, sa.c, sa.embed, sa.n], [5, 'his', true, 5]);
    assert.deepEqual([sb.count, sb.c, sb.embed, sb.n], [40, 'entropy', true, 40]);
    // Both answer, and changing one leaves the other alone.
    const [pa, pb] = await Promise.all([fa.evaluate(() => window.hies.predict(['a fine film'])), fb.evaluate(() => window.hies.predict(['a fine film']))]);
    assert.deepEqual(pa[0].probs.map((x) => x.toFixed(5)), pb[0].probs.map((x) => x.toFixed(5)));
    await a.locator('#ratio').fill('12');
    assert.equal(await fb.evaluate(() => window.hies.state.count), 40);
    assert.equal(await fa.evaluate(() => window.hies.state.count), 12);
    // One engine (a SharedWorker): the weights were fetched once for the two.
    assert.deepEqual(await Promise.all([fa, fb].map((f) => f.evaluate(() => window.hies.shared))), [true, true]);
    const weights = server.requests.slice(seen).filter((r) => r.endsWith('/model.int8.safetensors'));
    assert.equal(weights.length, 1, `one download of the weights for two embeds: ${weights.join(' ')}`);
    // B multiplies in int8 from now on: it moves to a session of its own; A's stays f32.
    assert.equal((await fb.evaluate(() => window.hies.setCompute('q8'))).compute, 'q8');
    const [qa, qb] = await Promise.all([fa.evaluate(() => window.hies.predict(['a fine film'])), fb.evaluate(() => window.hies.predict(['a fine film']))]);
    assert.deepEqual(qa[0].probs, pa[0].probs, 'A still multiplies in f32');
    assert.notDeepEqual(qb[0].probs, pa[0].probs, 'B multiplies in int8');
    await page.screenshot({ path: `${artifacts}/view-two-embeds.png` });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('a second visit reads the model from the Cache API, not the network', { timeout: 300_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const weights = () => server.requests.filter((r) => r.endsWith('/model.int8.safetensors')).length;
    const before = weights();
    const page = await openPage(browser, server.app('backend=cpu&auto=0'));
    await page.evaluate(() => window.hies.ready);
    timings.cold_load_ms = Math.round(await state(page, () => performance.now()));
    assert.equal(weights(), before + 1, 'first visit downloads the weights');
    // A cache left by an older version of the page is deleted.
    await state(page, () => caches.open('hies-lab-000000000000').then((c) => c.put('x', new Response('old'))));
    await page.reload();
    await page.evaluate(() => window.hies.ready);
    timings.cached_load_ms = Math.round(await state(page, () => performance.now()));
    assert.equal(weights(), before + 1, 'second visit: no request for the weights');
    await page.waitForFunction(() => caches.keys().then((k) => !k.includes('hies-lab-000000000000')));
    const names = await state(page, () => caches.keys());
    assert.equal(names.filter((n) => n.startsWith('hies-lab-')).length, 1, JSON.stringify(names));
    // The fp32 original on request: the Weights switch fetches it, reloads and says so in the hash.
    const fp32 = () => server.requests.filter((r) => r.endsWith('/model.safetensors')).length;
    const fp32Before = fp32();
    await page.selectOption('#weights-pick', 'fp32');
    await waitState(page, () => window.hies.state.model?.weights === 'fp32' && window.hies.state.status.text === 'Ready.');
    assert.equal(fp32(), fp32Before + 1);
    assert.match(await state(page, () => location.hash), /&w=fp32/);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

/** The header of a safetensors file with one F32 tensor of `shape`, and none of its data. */
function headerOnly(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  let json = JSON.stringify({ 'embeddings.word_embeddings.weight': { dtype: 'F32', shape, data_offsets: [0, 4 * n] } });
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json)]);
}

/** A BertForSequenceClassification checkpoint built from MiniLM and our classifier: the encoder's
 * tensors plus classifier.weight / classifier.bias in one safetensors file. */
function classifierCheckpoint() {
  const read = (path) => {
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    return { header: JSON.parse(buf.subarray(8, 8 + n).toString()), data: buf.subarray(8 + n) };
  };
  const enc = read(`${root}/assets/models/all-MiniLM-L6-v2/model.safetensors`);
  const classifier = read(`${root}/classifiers/minilm-rotten-tomatoes.safetensors`);
  const header = { ...enc.header };
  const parts = [enc.data];
  let offset = enc.data.length;
  for (const [k, v] of Object.entries(classifier.header)) {
    if (k === '__metadata__') continue;
    const bytes = classifier.data.subarray(v.data_offsets[0], v.data_offsets[1]);
    header[k] = { ...v, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}

test('your own model: bad files are explained and the old model keeps working; a good one recomputes everything', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, server.app('backend=cpu&k=3'));
    await waitState(page, () => window.hies.state.scoresLive);
    const dir = `${root}/assets/models/all-MiniLM-L6-v2`;
    const config = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
    const weights = readFileSync(`${dir}/model.safetensors`);
    const tokenizer = readFileSync(`${dir}/tokenizer.json`);
    // Playwright takes buffers up to 50 MB only: write each file to a folder of its own.
    const file = (name, buffer) => {
      const path = `${mkdtempSync(`${tmpdir()}/hies-upload-`)}/${name}`;
      writeFileSync(path, buffer);
      return path;
    };
    const upload = async (files) => {
      await page.setInputFiles('#files', files);
      await page.waitForFunction(() => /not loaded|Loaded |Missing|pickle|parameters:|safetensors\./.test(document.querySelector('#upload-status').textContent), null, { timeout: 300_000 });
      return page.textContent('#upload-status');
    };
    const reset = () => state(page, () => { document.querySelector('#upload-status').textContent = ''; });

    let msg = await upload([file('config.json', JSON.stringify(config)), file('model.safetensors', weights.subarray(0, weights.length / 3)), file('tokenizer.json', tokenizer)]);
    assert.match(msg, /not loaded: model\.safetensors: .*truncated or corrupt/);
    await reset();
    msg = await upload([file('config.json', JSON.stringify({ ...config, hidden_size: 768 })), file('model.safetensors', weights), file('tokenizer.json', tokenizer)]);
    assert.match(msg, /not loaded: model\.safetensors: .*\[30522, 384\].*\[30522, 768\]/);
    await reset();
    msg = await upload([file('config.json', JSON.stringify(config)), file('model.safetensors', weights), file('tokenizer.json', tokenizer)]);
    assert.match(msg, /not loaded: .*no classifier/);
    await reset();
    msg = await upload([file('config.json', JSON.stringify(config))]);
    assert.match(msg, /Missing: model\.safetensors, tokenizer\.json/);
    await reset();
    msg = await upload([file('config.json', JSON.stringify(config)), file('pytorch_model.bin', 'PK'), file('tokenizer.json', tokenizer)]);
    assert.match(msg, /pytorch_model\.bin is a PyTorch pickle.*torch\.load\('pytorch_model\.bin', map_location='cpu', weights_only=True\).*save_file/);
    await reset();
    // A checkpoint too large for the tab is refused from its header alone, with the figures.
    msg = await upload([file('config.json', JSON.stringify(config)), file('model.safetensors', headerOnly([250002, 1280])), file('tokenizer.json', tokenizer)]);
    assert.match(msg, /has 320 M parameters: 1\.28 GB as float32, more than this tab can hold \(1\.2 GB/);
    // The default model still answers.
    const probs = await state(page, () => window.hies.predict(['still working']).then((p) => p[0].probs));
    assert.equal(probs.length, 2);
    assert.equal(await state(page, () => window.hies.state.model.custom), false);
    assert.match(await page.textContent('#status'), /previous model is still loaded/);

    // A real classification checkpoint with its own data file: scores, grid and accuracy are recomputed for it.
    await reset();
    const custom = { ...config, architectures: ['BertForSequenceClassification'], id2label: { 0: 'NEG', 1: 'POS' }, label2id: { NEG: 0, POS: 1 } };
    msg = await upload([file('config.json', JSON.stringify(custom)), file('model.safetensors', classifierCheckpoint()), file('tokenizer.json', tokenizer),
      file('mine.tsv', readFileSync(`${root}/tests/fixtures/calibration.tsv`))]);
    assert.match(msg, /Loaded BertForSequenceClassification: 6 layers × 12 heads, hidden 384, inputs up to 512 tokens; task: single sentences; labels NEG \/ POS; 16 examples/);
    await waitState(page, () => window.hies.state.scoresLive && window.hies.state.model.custom);
    await page.evaluate(`window.current = ${current}`);
    await waitState(page, () => window.current()?.final);
    const s = await state(page, () => ({ n: window.hies.state.scores.n, total: window.hies.state.evaluation.total, curves: window.hies.state.curves, badge: document.querySelector('#curves-badge').textContent, label: document.querySelector('#pred-full .label').textContent }));
    assert.equal(s.n, 16);
    assert.equal(s.total, 16);
    assert.equal(s.curves, null, 'the default model’s precomputed curves are not shown for another model');
    assert.equal(s.badge, 'none yet');
    await waitState(page, () => /^(NEG|POS)/.test(document.querySelector('#pred-full .label').textContent), 60_000);
    await page.locator('#model-view').screenshot({ path: `${artifacts}/view-upload-custom.png` });
    // int8: the switch re-runs the evaluation and the latency on the q8 path, and the hash keeps it.
    await page.click('input[name=compute][value=q8]');
    await waitState(page, () => window.hies.state.engine.compute === 'q8');
    await waitState(page, () => window.current()?.final && window.hies.state.evaluation.key.startsWith('q8|'));
    assert.match(await state(page, () => location.hash), /q=q8/);
    await waitState(page, () => /int8, batch of 1/.test(document.querySelector('#r-latency').textContent), 120_000);
    await page.locator('#prune-view').screenshot({ path: `${artifacts}/view-prune-q8.png` });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

/** Picks `tests/fixtures/tiny/NAME` as a folder (plus a README) in the page; returns the upload message. */
async function uploadFolder(page, name, { data = true } = {}) {
  const folder = `${mkdtempSync(`${tmpdir()}/hies-folder-`)}/${name}`;
  cpSync(`${root}/tests/fixtures/tiny/${name}`, folder, { recursive: true });
  writeFileSync(`${folder}/README.md`, '# a model card\n');
  if (!data) rmSync(`${folder}/data.tsv`);
  await state(page, () => { document.querySelector('#upload-status').textContent = ''; });
  await page.setInputFiles('#folder', folder);
  await page.waitForFunction(() => /not loaded|Loaded |Missing/.test(document.querySelector('#upload-status').textContent), null, { timeout: 300_000 });
  return page.textContent('#upload-status');
}

/** Every example of a tiny checkpoint through the page: ids, token types and logits (full and
 *  sliced) against transformers' float64 ones; returns the largest difference. */
async function logitsAgainstTransformers(page, name) {
  const fx = JSON.parse(readFileSync(`${root}/tests/fixtures/tiny/${name}/expected.json`, 'utf8'));
  const texts = fx.examples.map((e) => e.text), pairs = fx.examples.map((e) => e.text_pair);
  const full = await page.evaluate(([t, p]) => window.hies.predict(t, undefined, p), [texts, pairs]);
  const sliced = await page.evaluate(([t, p, heads]) => window.hies.predict(t, { heads, structural: true }, p), [texts, pairs, fx.mask_off]);
  let worst = 0;
  full.forEach((g, i) => {
    assert.deepEqual([g.ids, g.token_type_ids], [fx.examples[i].input_ids, fx.examples[i].token_type_ids], `${name}: ids of example ${i}`);
    g.logits.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - fx.examples[i].logits[j])); });
    sliced[i].logits.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - fx.examples[i].sliced_logits[j])); });
  });
  assert.ok(worst <= 1e-4, `${name} logits (full and sliced): max |diff| ${worst}`);
  console.log(`wasm CPU, ${name}: max |diff| of logits (full and sliced) vs transformers ${worst.toExponential(2)}`);
  return fx;
}

test('a whole model folder with a sentence-pair task: files by name, two text boxes, transformers’ logits; DistilBERT and a regression head too', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, server.app('backend=cpu&k=2'));
    await waitState(page, () => window.hies.state.scoresLive);
    // Without its data file, the built-in sentiment data would be read as NLI labels: the model
    // loads without data (attention and predictions), and says why.
    let msg = await uploadFolder(page, 'bert-pair', { data: false });
    assert.match(msg, /Loaded BertForSequenceClassification: .*no data: data: this model's labels are entailment \/ neutral \/ contradiction, but the built-in data .* are labelled negative \/ positive/);
    await waitState(page, () => window.hies.state.model.custom && window.hies.state.engine.evaluation_size === 0);
    assert.equal(await state(page, () => window.hies.state.scoresLive), false, 'no scores without data');
    // The folder as transformers saved it (vocab.txt, tokenizer_config.json, …) plus a README.
    msg = await uploadFolder(page, 'bert-pair');
    assert.match(msg, /Loaded BertForSequenceClassification: 2 layers × 4 heads, hidden 64, inputs up to 64 tokens; task: sentence pairs; labels entailment \/ neutral \/ contradiction; 16 examples/);
    assert.match(msg, /Not used: README\.md, expected\.json, special_tokens_map\.json, tokenizer_config\.json, vocab\.txt\./);
    await waitState(page, () => window.hies.state.scoresLive && window.hies.state.model.custom);

    // The second box shows the first example's pair; the attention view marks its tokens.
    const fx = await logitsAgainstTransformers(page, 'bert-pair');
    const first = fx.examples[0];
    assert.equal(await page.inputValue('#sentence'), first.text);
    assert.equal(await page.inputValue('#sentence-pair'), first.text_pair);
    assert.equal(await page.isVisible('#sentence-pair'), true);
    await waitState(page, () => window.hies.state.inspection?.live && window.hies.state.inspection.text_pair !== null);
    const a = await state(page, () => window.hies.state.inspection);
    assert.deepEqual([a.ids, a.token_type_ids], [first.input_ids, first.token_type_ids]);
    assert.ok(await page.locator('#att-matrix text.segment-b').count() > 0, 'the second sentence’s tokens are marked');
    await page.locator('#attention-view').screenshot({ path: `${artifacts}/view-attention-pair.png` });

    // DistilBERT: other names, no token types, ReLU head.
    msg = await uploadFolder(page, 'distilbert');
    assert.match(msg, /Loaded DistilBertForSequenceClassification: 2 layers × 4 heads, hidden 64, inputs up to 64 tokens; task: sentence pairs/);
    await waitState(page, () => window.hies.state.scoresLive && window.hies.state.engine.architecture.startsWith('DistilBert'));
    await logitsAgainstTransformers(page, 'distilbert');

    // A regression head (STS-B style): a score, no labels; Pearson and Spearman against numpy's.
    msg = await uploadFolder(page, 'bert-sts');
    assert.match(msg, /Loaded BertForSequenceClassification: .*task: sentence pairs, regression \(one score each, measured by Pearson r and Spearman ρ\); 16 examples/);
    await waitState(page, () => window.hies.state.scoresLive && window.hies.state.engine.problem_type === 'regression');
    const sts = await logitsAgainstTransformers(page, 'bert-sts');
    await page.evaluate(`window.current = ${current}`);
    await waitState(page, () => window.current()?.final);
    const e = await state(page, () => window.hies.state.evaluation.final);
    assert.equal(e.metric, 'pearson');
    assert.equal(e.accuracy, undefined, 'no accuracy for a regression head');
    assert.ok(Math.abs(e.full_pearson - sts.pearson) < 1e-5 && Math.abs(e.full_spearman - sts.spearman) < 1e-5, `${e.full_pearson} vs ${sts.pearson}`);
    assert.equal(await page.textContent('#r-metric'), 'Dev Pearson r');
    assert.match(await page.textContent('#r-accuracy'), /^-?\d\.\d{3}, Spearman -?\d\.\d{3} \(full model -?\d\.\d{3}, 16 dev examples\)/);
    assert.match(await page.textContent('#r-agreement'), /within ±0\.22 of the full model's: 5 % of the gold range/);
    await waitState(page, () => /^score -?\d/.test(document.querySelector('#pred-full .label').textContent), 60_000);
    await page.locator('#prune-view').screenshot({ path: `${artifacts}/view-prune-regression.png` });
    // Curves and the paper check, live, in Pearson r.
    await page.click('#curve-run');
    await waitState(page, () => window.hies.state.curvesLive && !window.hies.state.curveProgress, 300_000);
    assert.equal(await state(page, () => window.hies.state.curves.metric), 'pearson');
    assert.match(await page.textContent('#curves svg'), /dev Pearson r/);
    assert.equal(await page.textContent('#curves-title'), '5 · Pearson r vs heads pruned');
    assert.match(await page.textContent('#curve-note'), /full model Pearson r -?\d\.\d{3}\./);
    await page.click('#check-run');
    await waitState(page, () => window.hies.state.paperLive && window.hies.state.paperCheck && !window.hies.state.paperProgress, 300_000);
    assert.match(await page.textContent('#claims'), /HIES keeps more Pearson r than HIS at 50 %/);
    assert.match(await page.textContent('#claims'), /a score agrees within ±0\.220, 5 % of the gold range/);
    await page.locator('#curves-view').screenshot({ path: `${artifacts}/view-curves-regression.png` });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
