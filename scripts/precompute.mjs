// Regenerates www/precomputed.json, the numbers the page shows before its engine is live, with
// the native CLI (so they come from the same code):
//   node scripts/precompute.mjs [--only finetuned|probe] [--presets paper,bertology]
// For each built-in model (fine-tuned, probe):
//   sweeps: `hies alpha-sweep --record` per HIS preset (α* goes to classifiers/alpha-star.json)
//   checks: `hies paper-check` per preset, at that α*   (presets: the paper's by default; the
//           page offers a live run for the others)
//   scores: `hies score` (32 calibration sentences, seed 0)   inspections: `hies inspect` per
//   example sentence   prune: `hies prune --ratio 0.3` (HIES)   curves: `hies curve` (6 criteria
//   × 10 ratios × 3 seeds on the 800 dev sentences)
// The long runs (sweeps, checks, curves) are kept in assets/.cache/precompute/ and reused, so an
// interrupted run resumes; delete that folder to recompute everything.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const bin = process.env.HIES_BIN ?? `${process.env.CARGO_TARGET_DIR ?? `${process.env.HOME}/.cache/hies/target`}/debug/hies`;
const cache = `${root}/assets/.cache/precompute`;
mkdirSync(cache, { recursive: true });
const run = (args) => JSON.parse(execFileSync(bin, args, { cwd: root, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'] }));
/** A long run, kept in the cache folder under `name`. */
function cached(name, args) {
  const path = `${cache}/${name}.json`;
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const started = Date.now();
  const out = run(args);
  out.seconds = (Date.now() - started) / 1000;
  writeFileSync(path, `${JSON.stringify(out)}\n`);
  console.log(`${name}: ${out.seconds.toFixed(0)} s`);
  return out;
}
const manifest = JSON.parse(readFileSync(`${root}/src/manifest.json`, 'utf8'));
const EXAMPLES = [
  'A gripping, beautifully acted film that never lets go.',
  'The plot is thin and the jokes fall flat.',
  "It's not a bad movie, but I wouldn't watch it twice.",
];
const PRESETS = process.argv.includes('--presets') ? process.argv[process.argv.indexOf('--presets') + 1].split(',') : ['paper'];
// The full α grid (0.05 steps) for the default model and preset; 0.1 steps elsewhere, to keep the
// whole run near an hour on two cores (a sweep evaluates every distinct head set on the 400
// validation sentences: about 3 s a set).
const ALPHAS_FINE = Array.from({ length: 21 }, (_, i) => +(i / 20).toFixed(2)).join(',');
const ALPHAS_COARSE = Array.from({ length: 11 }, (_, i) => +(i / 10).toFixed(1)).join(',');
const round = (x, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const roundGrid = (g, d = 6) => g.map((r) => r.map((x) => (Math.abs(x) < 1e-3 ? Number(x.toPrecision(4)) : round(x, d))));
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;

/** α* and the claims for a model and preset (α* is recorded before the check runs). */
function paperRuns(id, preset) {
  const alphas = id === 'finetuned' && preset === 'paper' ? ALPHAS_FINE : ALPHAS_COARSE;
  // The paper's 5 seeds for the default model and preset; 3 for the comparisons (the probe,
  // bertology's preset), to keep the run near an hour.
  const seeds = id === 'finetuned' && preset === 'paper' ? '0,1,2,3,4' : '0,1,2';
  const sweep = cached(`sweep-${id}-${preset}`, ['alpha-sweep', '--model', id, '--preset', preset, '--alphas', alphas, '--seeds', seeds, '--record', '--json']);
  const check = cached(`check-${id}-${preset}`, ['paper-check', '--model', id, '--preset', preset, '--alpha', String(sweep.alpha_star), '--seeds', seeds, '--json']);
  return { sweep, check };
}
const curvesOf = (id) => cached(`curves-${id}`, ['curve', '--model', id, '--ratios', '0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9', '--seeds', '0,1,2', '--json']);

// The long runs, most wanted first: the default model and preset, its curves, the probe, then
// the bertology preset.
const ids = ['finetuned', 'probe'].filter((id) => !only || only === id);
for (const id of ids) { paperRuns(id, 'paper'); curvesOf(id); }
for (const preset of PRESETS.filter((p) => p !== 'paper')) for (const id of ids) paperRuns(id, preset);

function precompute(id) {
  const m = ['--model', id];
  const sweep = {};
  const paperCheck = {};
  for (const preset of PRESETS) {
    const r = paperRuns(id, preset);
    sweep[preset] = r.sweep;
    paperCheck[preset] = { ...r.check, curves: undefined };
  }
  const curves = structuredClone(curvesOf(id));
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
for (const id of ids) models[id] = precompute(id);
const out = { note: 'Generated by scripts/precompute.mjs with the native CLI; shown until the live engine is ready.', examples: EXAMPLES, models };
writeFileSync(path, `${JSON.stringify(out)}\n`);
console.log(`wrote www/precomputed.json (${(JSON.stringify(out).length / 1024).toFixed(0)} KB)`);
