// Shared by the browser tests: the static server, Debian's Chromium, the fixture, artefacts.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const artifacts = `${root}/artifacts`;
mkdirSync(artifacts, { recursive: true });

/** A JSON file that scripts/test.sh wrote with the native CLI. */
export function native(name) {
  try {
    return JSON.parse(readFileSync(`${artifacts}/${name}`, 'utf8'));
  } catch (e) {
    throw new Error(`${artifacts}/${name} is missing: scripts/test.sh writes it with the native CLI (${e.message})`, { cause: e });
  }
}

export const fixture = JSON.parse(readFileSync(`${root}/tests/fixtures/parity.json`, 'utf8'));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Serves the repository root; the built page is at `app(hash)` = /dist-test/ (a sub-path, as on a
 * project page). `requests` lists every path asked for. `csp: false` only for bench/ pages,
 * whose import map and module are inline scripts. */
export async function startServer({ csp = true } = {}) {
  const env = { ...process.env, LOG_REQUESTS: '1', ...(csp ? {} : { CSP: '0' }) };
  const proc = spawn(process.execPath, [`${root}/scripts/serve.mjs`, '0'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const requests = [];
  const url = await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      for (const line of String(d).split('\n')) {
        const m = /serving (\S+)/.exec(line);
        if (m) resolve(m[1]);
        const r = /^GET (\S+)/.exec(line);
        if (r) requests.push(r[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, requests, app: (hash = '') => `${url}dist-test/${hash ? `#${hash}` : ''}`, stop: () => proc.kill() };
}

export async function launch({ webgpu = true } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: webgpu ? [...FLAGS, '--enable-unsafe-webgpu'] : FLAGS,
  });
}

/** A page that records console errors and uncaught exceptions. */
export async function openPage(browser, url, viewport = { width: 900, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()}`); });
  await page.goto(url);
  return page;
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Embeds `texts` through the page's engine; typed arrays come back as plain arrays. */
export function embedInPage(page, texts) {
  return page.evaluate(async (texts) => {
    const r = await window.hies.embed(texts);
    const rows = [], ids = [];
    let at = 0;
    for (let i = 0; i < texts.length; i++) {
      rows.push(Array.from(r.embeddings.subarray(i * r.dim, (i + 1) * r.dim)));
      ids.push(Array.from(r.ids.subarray(at, at + r.lengths[i])));
      at += r.lengths[i];
    }
    return { rows, ids, truncated: Array.from(r.truncated, (t) => t === 1), ms: r.ms };
  }, texts);
}

/** One sentence through the page's engine (`inspect`); the attention maps as a plain array. */
export function inspectInPage(page, text, heads = []) {
  return page.evaluate(async ([text, heads]) => {
    const r = await window.hies.inspect(text, heads);
    return { ...r, isTyped: r.attentions instanceof Float32Array, attentions: Array.from(r.attentions) };
  }, [text, heads]);
}

export function sampleDiff(a, samples) {
  const { heads, len: t, attentions } = a;
  let m = 0;
  for (const [l, h, i, j, p] of samples) m = Math.max(m, Math.abs(attentions[((l * heads + h) * t + i) * t + j] - p));
  return m;
}
