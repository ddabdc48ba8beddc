// Regenerates www/precomputed.json, the numbers the page shows before its engine is live, with
// the native CLI (release build, so they come from the same code):
//   node scripts/precompute.mjs [--only finetuned|probe] [--presets paper,bertology]
// For each built-in model (fine-tuned, probe) and each HIS preset (both by default), with the
// paper's 5 calibration seeds of 32 sentences:
//   sweeps: `hies alpha-sweep --record` over α = 0, 0.05, …, 1 on the 400 validation sentences
//           (α* goes to classifiers/alpha-star.json)
//   checks: `hies paper-check` at that α* on the 800 dev sentences
// and per model: curves: `hies curve` (6 criteria × 10 ratios × 5 seeds on the 800 dev sentences,
//   the paper's preset at its α*)   scores: `hies score` (seed 0)   inspections: `hies inspect` per
//   example sentence   prune: `hies prune --ratio 0.3` (HIES).
// The long runs (sweeps, checks, curves) go two at a time and are kept in
// assets/.cache/precompute/ under a name that hashes their arguments and the files they read
// (model, adapter, probe, data, manifest), so an interrupted run resumes and changed inputs
// recompute. A change to the engine's numbers is not seen: delete that folder after one.
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
const root = new URL('..', import.meta.url).pathname;
const target = process.env.CARGO_TARGET_DIR ?? `${process.env.XDG_CACHE_HOME ?? `${process.env.HOME}/.cache`}/hies/target`;
if (!process.env.HIES_BIN) {
  const env = { ...process.env, CARGO_TARGET_DIR: target, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
  execFileSync('cargo', ['build', '--quiet', '--release', '--bin', 'hies'], { cwd: root, stdio: 'inherit', env });
}
const bin = process.env.HIES_BIN ?? `${target}/release/hies`;
const cache = `${root}/assets/.cache/precompute`;
mkdirSync(cache, { recursive: true });
const run = (args) => JSON.parse(execFileSync(bin, args, { cwd: root, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'] }));
const manifest = JSON.parse(readFileSync(`${root}/src/manifest.json`, 'utf8'));
const inputs = createHash('sha256');
const model = manifest.model.dir;
for (const f of ['src/manifest.json', `${model}/config.json`, `${model}/model.safetensors`, `${model}/tokenizer.json`,
  ...[manifest.finetuned.files.config, manifest.finetuned.files.weights].map((f) => `${manifest.finetuned.dir}/${f}`),
  manifest.classifier.weights, manifest.classifier.meta, ...['calibration', 'validation', 'evaluation'].map((k) => manifest.data[k])]) {
  inputs.update(readFileSync(`${root}/${f}`));
}
const inputsHash = inputs.digest('hex');
const started = Date.now();
// The long runs go several at a time, each on one thread: the cores are used fully (one process
// on two cores syncs its threads every matmul; measured: 1.2× more work done per minute).
const SLOTS = Math.max(1, Math.min(availableParallelism(), 6));
let active = 0;
const waiting = [];
const children = new Set();
function inSlot(job) {
  return new Promise((resolve, reject) => {
    const go = () => {
      active += 1;
      job().then(resolve, reject).finally(() => {
        active -= 1;
        waiting.shift()?.();
      });
    };
    if (active < SLOTS) go();
    else waiting.push(go);
  });
}
function runLong(args) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, RAYON_NUM_THREADS: '1' };
    const child = execFile(bin, args, { cwd: root, env, maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      children.delete(child);
      if (err) return reject(new Error(`hies ${args.join(' ')} failed:\n${stderr}`));
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        reject(new Error(`hies ${args.join(' ')} printed no JSON (${e.message})`));
      }
    });
    children.add(child);
  });
}
/** A long run, kept in the cache folder under `name` and a hash of its arguments and inputs. */
async function cached(name, args) {
  const key = createHash('sha256').update(inputsHash).update(JSON.stringify(args)).digest('hex').slice(0, 12);
  const path = `${cache}/${name}-${key}.json`;
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  return inSlot(async () => {
    const t0 = Date.now();
    const out = await runLong(args);
    out.seconds = (Date.now() - t0) / 1000;
    writeFileSync(`${path}.tmp`, `${JSON.stringify(out)}\n`);
    renameSync(`${path}.tmp`, path); // a crash never leaves half a file to resume from
    console.log(`${name}: ${out.seconds.toFixed(0)} s (at ${((Date.now() - started) / 60000).toFixed(1)} min)`);
    return out;
  });
}
const EXAMPLES = [
  'A gripping, beautifully acted film that never lets go.',
  'The plot is thin and the jokes fall flat.',
  "It's not a bad movie, but I wouldn't watch it twice.",
];
const PRESETS = process.argv.includes('--presets') ? process.argv[process.argv.indexOf('--presets') + 1].split(',') : ['paper', 'bertology'];
const ALPHAS = Array.from({ length: 21 }, (_, i) => +(i / 20).toFixed(2)).join(',');
const SEEDS = '0,1,2,3,4';
const round = (x, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const roundGrid = (g, d = 6) => g.map((r) => r.map((x) => (Math.abs(x) < 1e-3 ? Number(x.toPrecision(4)) : round(x, d))));
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const runs = new Map();
/** α* and the claims for a model and preset (α* is recorded before the check runs). */
function paperRuns(id, preset) {
  const key = `${id}/${preset}`;
  if (!runs.has(key)) {
    const sweep = cached(`sweep-${id}-${preset}`, ['alpha-sweep', '--model', id, '--preset', preset, '--alphas', ALPHAS, '--seeds', SEEDS, '--record', '--json']);
    const check = sweep.then((s) => cached(`check-${id}-${preset}`, ['paper-check', '--model', id, '--preset', preset, '--alpha', String(s.alpha_star), '--seeds', SEEDS, '--json']));
    runs.set(key, Promise.all([sweep, check]).then(([sweep, check]) => ({ sweep, check })));
    runs.set(`${key}/sweep`, sweep);
  }
  return runs.get(key);
}
// Curves at the paper preset's α*, once its sweep has found it.
function curvesOf(id) {
  const key = `${id}/curves`;
  if (!runs.has(key)) {
    paperRuns(id, 'paper');
    const ratios = '0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9';
    runs.set(key, runs.get(`${id}/paper/sweep`).then((s) => cached(`curves-${id}`, ['curve', '--model', id, '--alpha', String(s.alpha_star), '--ratios', ratios, '--seeds', SEEDS, '--json'])));
  }
  return runs.get(key);
}
// The sweeps first (the longest, and the rest wait on them), the default model first.
const ids = ['finetuned', 'probe'].filter((id) => !only || only === id);
const long = [];
for (const preset of ['paper', ...PRESETS.filter((p) => p !== 'paper')]) for (const id of ids) long.push(paperRuns(id, preset));
for (const id of ids) long.push(curvesOf(id));
try {
  await Promise.all(long);
} catch (e) {
  // Stop the other runs too (what finished is kept); the next run resumes.
  for (const child of children) child.kill();
  console.error(e.message);
  process.exit(1);
}
async function precompute(id) {
  const m = ['--model', id];
  const sweep = {};
  const paperCheck = {};
  for (const preset of PRESETS) {
    const r = await paperRuns(id, preset);
    sweep[preset] = r.sweep;
    paperCheck[preset] = { ...r.check, curves: undefined };
  }
  const curves = structuredClone(await curvesOf(id));
  for (const p of curves.points) {
    for (const k of ['accuracy_mean', 'accuracy_std', 'agreement_mean', 'agreement_std']) p[k] = round(p[k]);
    p.accuracy = p.accuracy.map((x) => round(x));
    p.agreement = p.agreement.map((x) => round(x));
  }
  const scores = run(['score', ...m, '--n', '32', '--seed', '0', '--json']);
  for (const k of ['entropy', 'entropy_nats', 'his', 'hies', 'confidence', 'weight_norm', 'his_raw', 'his_token_mean']) scores[k] = roundGrid(scores[k]);
  const inspections = EXAMPLES.map((text) => {
    const a = run(['inspect', ...m, '--text', text]);
    return { text, tokens: a.tokens, ids: a.ids, len: a.len, layers: a.layers, heads: a.heads, truncated: a.truncated,
      attentions: a.attentions.map((p) => round(p, 3)), entropy: roundGrid(a.entropy, 4), importance: roundGrid(a.importance),
      full: { label: a.full.label, probs: a.full.probs.map((p) => round(p)) } };
  });
  const prune = run(['prune', ...m, '--n', '32', '--seed', '0', '--criterion', 'hies', '--ratio', '0.3', '--json']);
  const name = id === 'finetuned' ? manifest.finetuned.name : `${manifest.model.name} + linear probe`;
  return {
    model: { name, num_hidden_layers: scores.layers, num_attention_heads: scores.heads, labels: manifest.data.labels },
    scores,
    inspections,
    prune: { criterion: 'hies', heads: prune.heads_pruned, pruned: prune.pruned, accuracy: round(prune.masked.accuracy),
      agreement: round(prune.masked.agreement), full_accuracy: round(prune.masked.full_accuracy) },
    curves,
    sweep,
    paper_check: paperCheck,
  };
}

const path = `${root}/www/precomputed.json`;
const previous = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
const models = { ...(previous.models ?? {}) };
for (const id of ids) models[id] = await precompute(id);
const out = { note: 'Generated by scripts/precompute.mjs with the native CLI; shown until the live engine is ready.', examples: EXAMPLES, models };
writeFileSync(path, `${JSON.stringify(out)}\n`);
console.log(`wrote www/precomputed.json (${(JSON.stringify(out).length / 1024).toFixed(0)} KB) in ${((Date.now() - started) / 60000).toFixed(1)} min`);
