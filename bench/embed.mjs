// Embedding throughput of the page's engine in headless Chromium: the wasm CPU backend over the
// 800 dev sentences and WebGPU (SwiftShader here) over a few, with the native CLI for comparison.
//   node bench/embed.mjs            (after `npm test` or `scripts/build-wasm.sh`)
// Prints medians of 3 runs; figures, not pass/fail.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { launch, openPage, root, startServer } from '../tests/browser/harness.mjs';

const dev = readFileSync(`${root}/assets/data/rotten-tomatoes/dev.tsv`, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function inBrowser(server, backend, texts, runs) {
  const browser = await launch({ webgpu: backend === 'gpu' });
  try {
    const page = await openPage(browser, server.app(`backend=${backend}&auto=0`));
    await page.evaluate(() => window.hies.ready);
    await page.evaluate((t) => window.hies.embed(t), texts.slice(0, 4)); // warm-up (kernel compilation on WebGPU)
    const times = [];
    for (let i = 0; i < runs; i++) times.push(await page.evaluate((t) => window.hies.embed(t).then((r) => r.ms), texts));
    return texts.length / (median(times) / 1000);
  } finally {
    await browser.close();
  }
}

const server = await startServer();
try {
  const target = process.env.CARGO_TARGET_DIR ?? `${process.env.HOME}/.cache/hies/target`;
  const cli = process.env.HIES_BIN ?? `${target}/release/hies`;
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    execFileSync(cli, ['embed'], { input: dev.join('\n'), cwd: root, stdio: ['pipe', 'ignore', 'inherit'] });
    times.push(performance.now() - t0);
  }
  console.log(`native hies embed (${cli}), 800 dev sentences: ${(800 / (median(times) / 1000)).toFixed(1)} sentences/s (incl. model load)`);
  console.log(`wasm CPU, 800 dev sentences: ${(await inBrowser(server, 'cpu', dev, 3)).toFixed(1)} sentences/s`);
  console.log(`WebGPU (SwiftShader), 8 dev sentences: ${(await inBrowser(server, 'gpu', dev.slice(0, 8), 1)).toFixed(2)} sentences/s`);
} finally {
  server.stop();
}
