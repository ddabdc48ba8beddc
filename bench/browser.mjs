// Runs bench/browser/ in headless Debian Chromium (no WebGPU: the CPU paths) and measures the
// page itself: weight of dist/ (raw and gzip) and time to the first live score, cold and cached.
// Writes bench/.cache/browser.json.   node bench/browser.mjs [runs]
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { launch, root, startServer } from '../tests/browser/harness.mjs';

const runs = Number(process.argv[2] ?? 3);

const server = await startServer({ csp: false });
const { url } = server;
const browser = await launch({ webgpu: false }); // the CPU paths
const out = {};
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`  page: ${m.text()}`));
  await page.goto(`${url}bench/browser/index.html?runs=${runs}`);
  await page.waitForFunction(() => window.bench, null, { timeout: 3_600_000, polling: 1000 });
  Object.assign(out, await page.evaluate(() => window.bench));
  if (out.error) throw new Error(out.error);

  // The app: time to the first live score, cold (empty cache) and cached (same context).
  const ctx = await browser.newContext();
  const app = await ctx.newPage();
  const live = async () => {
    await app.waitForFunction(() => window.hies?.state.scoresLive, null, { timeout: 600_000 });
    return app.evaluate(() => ({ live_ms: performance.now(), ready_ms: window.hies.state.engine ? performance.now() : null }));
  };
  await app.goto(`${url}dist/#backend=cpu&k=0`);
  await app.waitForSelector('#grid [data-head="0.0"]');
  out.first_paint_ms = await app.evaluate(() => performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? null);
  out.time_to_live_scores_cold_ms = (await live()).live_ms;
  await app.reload();
  out.time_to_live_scores_cached_ms = (await live()).live_ms;
  await ctx.close();
} finally {
  await browser.close();
  server.stop();
}

// Page weight: what a visitor downloads (dist/ = the page, the wasm, the model, head and data).
const walk = (dir) => readdirSync(dir).flatMap((f) => (statSync(`${dir}/${f}`).isDirectory() ? walk(`${dir}/${f}`) : [`${dir}/${f}`]));
const weight = {};
for (const f of walk(`${root}/dist`)) {
  const kind = f.endsWith('.wasm') ? 'wasm' : f.endsWith('.js') ? 'js' : /\/(models|classifiers)\//.test(f) ? 'model' : /\/data\//.test(f) ? 'data' : 'other';
  const bytes = readFileSync(f);
  weight[kind] ??= { raw: 0, gzip: 0 };
  weight[kind].raw += bytes.length;
  weight[kind].gzip += gzipSync(bytes, { level: 9 }).length;
}
const pre = readFileSync(`${root}/www/precomputed.json`);
weight.precomputed_json = { raw: pre.length, gzip: gzipSync(pre, { level: 9 }).length, note: 'inside the js bundle' };
out.page_weight = weight;
writeFileSync(`${root}/bench/.cache/browser.json`, `${JSON.stringify(out, null, 1)}\n`);
console.log('wrote bench/.cache/browser.json');
