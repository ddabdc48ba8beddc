// Where the wasm CPU forward spends its time: samples our engine in headless Chromium with the
// V8 CPU profiler (the wasm keeps its name section) and sums self time per function, then per
// kind (matmul, exp, erf, copies, …).   node bench/profile.mjs [embed|score|load] [sentences] [exact|q8] [relaxed|simd128]
// Needs www/pkg-relaxed (or www/pkg) (scripts/build-wasm.sh release), the assets and model.int8.safetensors (node
// scripts/quantize-default.mjs). Writes bench/.cache/profile-<what>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { launch, root, startServer } from '../tests/browser/harness.mjs';

const what = process.argv[2] ?? 'embed';
const n = Number(process.argv[3] ?? 400);
const compute = process.argv[4] ?? 'exact';
const simd = process.argv[5] ?? 'relaxed'; // or simd128: the build without relaxed SIMD

// Function name → kind, first match wins.
const KINDS = [
  ['int8 quantisation', /quantize_activations|quantize_block|quantize_rows|activation_step|quantize_row|quantize::/i],
  ['matmul (gemm)', /gemm|microkernel|matmul/i],
  ['erf (GELU)', /erf/i],
  ['exp (softmax)', /exp/i],
  ['copy / layout', /memcpy|memmove|copy|permute|strided|contiguous|reshape|swap/i],
  ['allocation', /alloc|dlmalloc|free|memset/i],
  ['tokenizer', /tokeniz|normaliz|wordpiece|unicode/i],
  ['elementwise / reduce', /unary|binary|zip|scalar|reduce|sum|mean|max|vectoriz|macerator/i],
];

const server = await startServer({ csp: false });
const { url } = server;
const browser = await launch({ webgpu: false }); // the CPU paths
try {
  const page = await browser.newPage();
  await page.goto(`${url}bench/browser/profile.html?compute=${compute}&simd=${simd}`);
  await page.waitForFunction(() => window.ready, null, { timeout: 300_000 });
  const run = () => page.evaluate(([w, k]) => (w === 'score' ? window.score() : w === 'load' ? window.load() : window.embed(k)), [what, n]);
  await run(); // warm-up
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const ms = await run();
  const { profile } = await cdp.send('Profiler.stop');

  // Self time per node from the sample counts, summed per function name.
  const hits = new Map();
  for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  const byName = new Map();
  for (const node of profile.nodes) {
    const name = node.callFrame.functionName || '(anonymous)';
    byName.set(name, (byName.get(name) ?? 0) + (hits.get(node.id) ?? 0));
  }
  // Inclusive time per function (a function counted once per sample even when recursive).
  const parent = new Map();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const inclusive = new Map();
  for (const [id, c] of hits) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at).callFrame.functionName || '(anonymous)';
      if (!seen.has(name)) { seen.add(name); inclusive.set(name, (inclusive.get(name) ?? 0) + c); }
    }
  }
  const top = [...byName].sort((a, b) => b[1] - a[1]).filter(([, c]) => c > 0);
  const kinds = {};
  for (const [name, c] of top) {
    const kind = KINDS.find(([, re]) => re.test(name))?.[0] ?? (/^\(/.test(name) ? name : 'other');
    kinds[kind] = (kinds[kind] ?? 0) + c / total;
  }
  const incl = [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 60).map(([name, c]) => ({ name, share: c / total }));
  const out = { what, sentences: what === 'score' ? 32 : n, ms, samples: total, kinds, top: top.slice(0, 40).map(([name, c]) => ({ name, share: c / total })), inclusive: incl };
  mkdirSync(`${root}/bench/.cache`, { recursive: true });
  writeFileSync(`${root}/bench/.cache/profile-${what}-${compute}.json`, `${JSON.stringify(out, null, 1)}\n`);
  console.log(`${what}: ${ms.toFixed(0)} ms, ${total} samples`);
  for (const [k, v] of Object.entries(kinds).sort((a, b) => b[1] - a[1])) console.log(`  ${(100 * v).toFixed(1).padStart(5)} %  ${k}`);
  console.log('top functions:');
  for (const { name, share } of out.top.slice(0, 25)) console.log(`  ${(100 * share).toFixed(1).padStart(5)} %  ${name.slice(0, 110)}`);
  console.log('inclusive:');
  for (const { name, share } of incl.slice(0, 45)) console.log(`  ${(100 * share).toFixed(1).padStart(5)} %  ${name.slice(0, 110)}`);
} finally {
  await browser.close();
  server.stop();
}
