// Runs bench/browser/ in headless Debian Chromium (no WebGPU: the CPU paths) and measures the
// page itself: what a first visit fetches (raw and gzip, by kind) and the time to the first live
// scores, cold and from the Cache API.
// Writes bench/.cache/browser.json.   node bench/browser.mjs [runs]
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { launch, root, startServer } from '../tests/browser/harness.mjs';

const runs = Number(process.argv[2] ?? 3);

const server = await startServer({ csp: false });
const { url } = server;
const browser = await launch({ webgpu: false }); // the CPU paths
const out = {};
/** @type {string[]} the paths the first visit fetched */
let firstVisit;
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
  const seen = server.requests.length;
  await app.goto(`${url}dist/#k=0`); // the page's defaults: the CPU build, the int8 weights
  await app.waitForSelector('#grid [data-head="0.0"]');
  out.first_paint_ms = await app.evaluate(() => performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? null);
  out.time_to_live_scores_cold_ms = (await live()).live_ms;
  firstVisit = [...new Set(server.requests.slice(seen))];
  await app.reload();
  out.time_to_live_scores_cached_ms = (await live()).live_ms;
  await ctx.close();
} finally {
  await browser.close();
  server.stop();
}

// Weight, raw and as a static host sends it (gzip at zlib's default level 6), by kind: what the
// first visit fetched (from the server's log), and all of dist/ (the three wasm builds, both weights).
const kindOf = (f) => (f.endsWith('.wasm') ? 'wasm' : f.endsWith('.js') ? 'js' : /\/(models|classifiers)\//.test(f) ? 'model' : /\/data\//.test(f) ? 'data' : 'other');
const weigh = (files) => {
  const w = { total: { raw: 0, gzip: 0 } };
  for (const f of files) {
    const bytes = readFileSync(f);
    const gz = gzipSync(bytes).length;
    for (const k of [kindOf(f), 'total']) {
      w[k] ??= { raw: 0, gzip: 0 };
      w[k].raw += bytes.length;
      w[k].gzip += gz;
    }
  }
  return w;
};
const walk = (dir) => readdirSync(dir).flatMap((f) => (statSync(`${dir}/${f}`).isDirectory() ? walk(`${dir}/${f}`) : [`${dir}/${f}`]));
const fetched = firstVisit.map((p) => `${root}/${decodeURIComponent(p.split('?')[0]).replace(/^\//, '')}`).filter((f) => existsSync(f) && statSync(f).isFile());
out.first_visit = { ...weigh(fetched), files: fetched.map((f) => f.slice(root.length + 1)) };
out.dist_weight = weigh(walk(`${root}/dist`));
const pre = readFileSync(`${root}/www/precomputed.json`);
out.dist_weight.precomputed_json = { raw: pre.length, gzip: gzipSync(pre).length, note: 'inside the js bundle' };
writeFileSync(`${root}/bench/.cache/browser.json`, `${JSON.stringify(out, null, 1)}\n`);
console.log('wrote bench/.cache/browser.json');
