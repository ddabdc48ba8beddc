// The page in headless Chromium: the wasm engine on the CPU and on WebGPU (SwiftShader here)
// against the float64 reference fixture, the no-WebGPU fallback, and bad files through the API.
// The reference is the sentence-transformers encoder itself, so these pages load the frozen
// encoder (model=probe); the fine-tuned model's weights carry its merged adapter.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  artifacts, embedInPage, fixture, inspectInPage, launch, maxAbsDiff, openPage, sampleDiff, startServer,
} from './harness.mjs';

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

test('CPU backend: ids, embeddings (≤1e-4) and attention (≤1e-5) match the reference', { timeout: 600_000 }, async () => {
  const browser = await launch();
  try {
    const seen = server.requests.length;
    const page = await openPage(browser, server.app('backend=cpu&auto=0&model=probe&w=fp32'));
    await page.evaluate(() => window.hies.ready);
    const info = await page.evaluate(() => window.hies.info());
    assert.equal(info.backend, 'cpu');
    // The CPU build only: the GPU build is not fetched unless WebGPU is asked for.
    const fetched = server.requests.slice(seen);
    assert.equal(fetched.filter((p) => p.endsWith('.wasm')).length, 1, `one wasm module: ${fetched.join(' ')}`);
    assert.ok(fetched.some((p) => p.endsWith('/model.safetensors')) && !fetched.some((p) => p.endsWith('model.int8.safetensors')), 'w=fp32 fetches the fp32 weights only');
    assert.deepEqual([info.num_hidden_layers, info.num_attention_heads, info.hidden_size], [6, 12, 384]);

    const s = fixture.sentences;
    const out = await embedInPage(page, s.map((x) => x.text));
    let worst = 0;
    s.forEach((x, i) => {
      assert.deepEqual(out.ids[i], x.ids, `ids of ${JSON.stringify(x.text)}`);
      assert.equal(out.truncated[i], x.truncated, `truncation of ${JSON.stringify(x.text)}`);
      const d = maxAbsDiff(out.rows[i], x.embedding);
      assert.ok(d <= 1e-4, `embedding of ${JSON.stringify(x.text.slice(0, 40))}: max |diff| ${d}`);
      worst = Math.max(worst, d);
    });
    console.log(`wasm CPU: max |diff| of ${s.length} embeddings ${worst.toExponential(2)}`);
    for (const x of s.slice(0, 8)) {
      const att = await inspectInPage(page, x.text);
      assert.ok(att.isTyped, 'attention maps cross the boundary as a Float32Array');
      assert.ok(sampleDiff(att, x.attention_samples) <= 1e-5, `attention of ${JSON.stringify(x.text)}`);
      if (x.attention) assert.ok(maxAbsDiff(att.attentions, x.attention) <= 1e-5, 'full attention maps');
    }
    const pair = await embedInPage(page, ['The weather is lovely today.', "It's so sunny outside!"]);
    assert.equal(cosine(...pair.rows).toFixed(4), '0.6660');
    await page.screenshot({ path: `${artifacts}/browser-cpu.png`, fullPage: true });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('WebGPU backend (SwiftShader): short sentences match the reference (≤1e-3)', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: true });
  try {
    const seen = server.requests.length;
    const page = await openPage(browser, server.app('backend=gpu&auto=0&model=probe&w=fp32'));
    await page.evaluate(() => window.hies.ready);
    const info = await page.evaluate(() => window.hies.info());
    assert.equal(info.backend, 'gpu', `WebGPU should be used: ${JSON.stringify(info)}`);
    const wasm = server.requests.slice(seen).filter((p) => p.endsWith('.wasm'));
    assert.equal(wasm.length, 2, `the CPU build, then the GPU build: ${wasm.join(' ')}`);
    const s = fixture.sentences.slice(0, 2);
    const out = await embedInPage(page, s.map((x) => x.text));
    s.forEach((x, i) => {
      assert.deepEqual(out.ids[i], x.ids);
      const d = maxAbsDiff(out.rows[i], x.embedding);
      assert.ok(d <= 1e-3, `WebGPU embedding of ${JSON.stringify(x.text)}: max |diff| ${d}`);
      console.log(`WebGPU: max |diff| of embedding ${i} ${d.toExponential(2)}`);
    });
    const att = await inspectInPage(page, s[0].text);
    const da = maxAbsDiff(att.attentions, s[0].attention);
    assert.ok(da <= 1e-3, `WebGPU attention maps: max |diff| ${da}`);
    console.log(`WebGPU: max |diff| of attention maps ${da.toExponential(2)}`);
    await page.screenshot({ path: `${artifacts}/browser-webgpu.png`, fullPage: true });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('without WebGPU, auto falls back to the CPU and says why', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, server.app('backend=auto&model=probe&w=fp32'));
    await page.evaluate(() => window.hies.ready);
    const info = await page.evaluate(() => window.hies.info());
    assert.equal(info.backend, 'cpu');
    assert.ok(info.fallback, 'the reason for the fallback is reported');
    // The whole page works on the CPU: live scores and a prediction for the sentence.
    await page.waitForFunction(() => window.hies.state.scoresLive && window.hies.state.prediction?.full, null, { timeout: 300_000 });
    const pair = await embedInPage(page, ['The weather is lovely today.', "It's so sunny outside!"]);
    assert.equal(cosine(...pair.rows).toFixed(4), '0.6660');
    assert.match(await page.textContent('#backend'), /WebGPU unavailable/);
    // WebGPU asked for where there is none (a link shared from a machine with a GPU): the CPU,
    // with a notice, and the switch back on CPU.
    const seen = server.requests.length;
    assert.equal((await page.evaluate(() => window.hies.load('gpu'))).backend, 'cpu');
    assert.equal(await page.evaluate(() => window.hies.state.backend), 'cpu');
    assert.match(await page.textContent('#notice'), /WebGPU is not available here \(no usable GPU adapter/);
    assert.ok(!server.requests.slice(seen).some((p) => p.endsWith('.wasm')), 'no GPU build fetched without an adapter');
    await page.screenshot({ path: `${artifacts}/browser-no-webgpu.png`, fullPage: true });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test('bad model files come back as JS errors that name the problem', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, server.app('backend=cpu&auto=0'));
    await page.evaluate(() => window.hies.ready);
    const messages = await page.evaluate(async () => {
      const { default: init, HiesSession } = await import('../www/pkg/hies.js');
      await init();
      const base = './assets/models/all-MiniLM-L6-v2';
      const get = async (f) => new Uint8Array(await (await fetch(`${base}/${f}`)).arrayBuffer());
      const [config, weights, tokenizer] = await Promise.all([get('config.json'), get('model.safetensors'), get('tokenizer.json')]);
      const edit = (f) => { const c = JSON.parse(new TextDecoder().decode(config)); f(c); return new TextEncoder().encode(JSON.stringify(c)); };
      const attempt = async (files, backend = 'cpu') => {
        try { await HiesSession.create(files, backend); return { message: 'loaded' }; } catch (e) { return { message: e.message, kind: e.kind, isError: e instanceof Error }; }
      };
      const bare = await HiesSession.create({ config, weights, tokenizer }, 'cpu');
      const noLabels = (() => { try { bare.data({ evaluation: '1\tfine\n' }); return { message: 'accepted' }; } catch (e) { return { message: e.message, kind: e.kind }; } })();
      bare.free();
      const classifier = { weights: await (await fetch('./classifiers/minilm-rotten-tomatoes.safetensors')).arrayBuffer().then((b) => new Uint8Array(b)),
        meta: await (await fetch('./classifiers/minilm-rotten-tomatoes.json')).json() };
      const [modules, pooling] = await Promise.all([get('modules.json'), get('1_Pooling/config.json')]);
      const ok = await HiesSession.create({ config, weights, tokenizer, modules, pooling, classifier }, 'cpu');
      const badData = (() => { try { ok.data({ evaluation: '1\tfine\nneutral\tmeh\n', evaluation_name: 'mine.tsv' }); return { message: 'accepted' }; } catch (e) { return { message: e.message, kind: e.kind }; } })();
      const badHead = await ok.predict({ texts: ['x'], removal: { heads: [[9, 0]], structural: true } }).then(() => ({ message: 'ran' }), (e) => ({ message: e.message, kind: e.kind }));
      const stillWorks = (await ok.predict({ texts: ['a fine film'] }))[0].probs.length;
      ok.free();
      return {
        truncated: await attempt({ config, weights: weights.subarray(0, weights.length >> 1), tokenizer }),
        wrongHidden: await attempt({ config: edit((c) => { c.hidden_size = 768; }), weights, tokenizer }),
        notBert: await attempt({ config: edit((c) => { c.model_type = 'gpt2'; }), weights, tokenizer }),
        badTokenizer: await attempt({ config, weights, tokenizer: new TextEncoder().encode('{}') }),
        badBackend: await attempt({ config, weights, tokenizer }, 'tpu'),
        missingFile: await attempt({ config, tokenizer }),
        noLabels,
        badData,
        badHead,
        stillWorks,
      };
    });
    assert.match(messages.truncated.message, /model\.safetensors: .*truncated or corrupt/);
    assert.deepEqual([messages.truncated.kind, messages.truncated.isError], ['weights', true]);
    assert.match(messages.wrongHidden.message, /embeddings\.word_embeddings\.weight.*\[30522, 384\].*\[30522, 768\]/);
    assert.equal(messages.wrongHidden.kind, 'weights');
    assert.match(messages.notBert.message, /config\.json: model_type is "gpt2"/);
    assert.equal(messages.notBert.kind, 'config');
    assert.match(messages.badTokenizer.message, /tokenizer\.json: cannot be read/);
    assert.equal(messages.badTokenizer.kind, 'tokenizer');
    assert.match(messages.badBackend.message, /unknown variant `tpu`/);
    assert.equal(messages.badBackend.kind, 'input');
    assert.match(messages.missingFile.message, /missing field `weights`/);
    // A model without a classifier has no labels to read data with; a bad data line names the
    // file, the line and the labels; a head out of range is refused; the session keeps working.
    assert.match(messages.noLabels.message, /no classifier/);
    assert.equal(messages.noLabels.kind, 'classifier');
    assert.match(messages.badData.message, /^data: mine\.tsv: line 2: label "neutral" is neither 0\.\.1 nor one of \["negative", "positive"\]/);
    assert.equal(messages.badData.kind, 'data');
    assert.match(messages.badHead.message, /^input: head 9\.0 does not exist: the model has 6 layers × 12 heads/);
    assert.equal(messages.badHead.kind, 'input');
    assert.equal(messages.stillWorks, 2);
    // The page's own engine still works after the failed loads.
    const out = await embedInPage(page, ['still working']);
    assert.equal(out.rows[0].length, 384);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});
