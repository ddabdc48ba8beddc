// Merges the three measurement files into bench/results.json (raw figures plus the headline
// ratios, higher = better for HIES Lab) and bench/RESULTS.md (the table).
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const read = (f) => JSON.parse(readFileSync(`${root}/bench/.cache/${f}`, 'utf8'));
const hies = read('hies.json'), py = read('python.json'), web = read('browser.json');
const sh = (c) => { try { return execSync(c, { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } };

// Fairness: the two HIS tables must agree before their times are compared.
let hisRel = 0;
hies.score.his_raw.forEach((row, l) => row.forEach((x, h) => { hisRel = Math.max(hisRel, Math.abs(x - py.score_torch.his_raw[l][h]) / Math.abs(py.score_torch.his_raw[l][h])); }));
let entAbs = 0;
hies.score.entropy.forEach((row, l) => row.forEach((x, h) => { entAbs = Math.max(entAbs, Math.abs(x - py.score_torch.entropy[l][h])); }));
const p50 = (list) => list.find((p) => p.ratio === 0.5);

const results = {
  date: new Date().toISOString(),
  machine: { cpu: sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"), cores: Number(sh('nproc')), os: sh('uname -sr') },
  versions: { rustc: sh('rustc --version'), torch: py.torch_version, onnxruntime: py.onnxruntime_version, chromium: sh('chromium --version'),
    transformers_js: JSON.parse(readFileSync(`${root}/bench/node_modules/@huggingface/transformers/package.json`, 'utf8')).version },
  ratio_native_forward_vs_torch: hies.forward.sentences_per_s / py.forward_torch.sentences_per_s,
  ratio_native_forward_vs_onnxruntime: hies.forward.sentences_per_s / py.forward_ort.sentences_per_s,
  ratio_native_score_vs_torch: py.score_torch.median_s / hies.score.median_s,
  ratio_wasm_cpu_vs_ort_web: web.forward_hies.sentences_per_s / web.forward_transformers_js.sentences_per_s,
  ratio_wasm_q8_vs_transformers_js_q8: web.forward_hies_q8.sentences_per_s / web.forward_transformers_js_q8.sentences_per_s,
  // The q8 of browsers without relaxed SIMD (www/pkg), from the same interleaved runs.
  ratio_wasm_q8_simd128_vs_transformers_js_q8: web.forward_hies_q8_simd128 ? web.forward_hies_q8_simd128.sentences_per_s / web.forward_transformers_js_q8.sentences_per_s : null,
  share_of_wasm_matmul_ceiling: web.share_of_simd_ceiling,
  first_visit_gzip_mb: web.first_visit.total.gzip / 1e6,
  wasm_cpu_build_mb: { raw: web.first_visit.wasm.raw / 1e6, gzip: web.first_visit.wasm.gzip / 1e6 },
  time_to_live_scores_cached_s: web.time_to_live_scores_cached_ms / 1000,
  pruning_speedup_vs_flop_prediction_50: p50(hies.pruning).share_of_predicted,
  pruning_speedup_vs_flop_prediction_50_wasm: p50(web.pruning).share_of_predicted,
  his_max_relative_difference_vs_torch: hisRel,
  entropy_max_abs_difference_vs_torch: entAbs,
  native: hies, python: py, browser: web,
};
writeFileSync(`${root}/bench/results.json`, `${JSON.stringify(results, null, 1)}\n`);

const f = (x, d = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
const kb = (n) => `${(n / 1e6).toFixed(2)} MB`;
const visit = web.first_visit, dist = web.dist_weight;
const rows = (w) => Object.entries(w).filter(([, v]) => typeof v === 'object' && 'raw' in v).map(([k, v]) => `| ${k} | ${kb(v.raw)} | ${kb(v.gzip)} |`).join('\n');
const md = `# Benchmarks

${results.date.slice(0, 10)} · ${results.machine.cpu}, ${results.machine.cores} cores · ${results.machine.os}
${results.versions.rustc} · PyTorch ${py.torch_version} · onnxruntime ${py.onnxruntime_version} · transformers.js ${results.versions.transformers_js} · ${results.versions.chromium}

Same model (all-MiniLM-L6-v2, fp32), same 800 Rotten Tomatoes dev sentences, same batching
(length-sorted, ≤ 64 sentences, ≤ 4096 padded tokens), medians of ${hies.forward.runs_s.length} runs after a warm-up,
all in one \`npm run bench\` (wasm build: \`${process.env.HIES_PROFILE ?? "dist"}\` profile). Ratios: higher = better for HIES Lab.

## Headline ratios

| ratio | value | target |
|---|---|---|
| native forward vs PyTorch | **${f(results.ratio_native_forward_vs_torch)}×** | – |
| native forward vs onnxruntime | **${f(results.ratio_native_forward_vs_onnxruntime)}×** | – |
| native head scoring vs PyTorch (bertology) | **${f(results.ratio_native_score_vs_torch)}×** | ≥ 1.5× |
| wasm CPU forward vs transformers.js (onnxruntime-web, 1 thread) | **${f(results.ratio_wasm_cpu_vs_ort_web)}×** | ≥ 1.5× |
| wasm q8 forward vs transformers.js q8 (1 thread; ${web.relaxed_simd ? 'relaxed SIMD, the build this browser loads' : 'SIMD128: no relaxed SIMD here'}) | **${f(results.ratio_wasm_q8_vs_transformers_js_q8)}×** | ≥ 1.3× |
${results.ratio_wasm_q8_simd128_vs_transformers_js_q8 === null ? '' : `| the same with the SIMD128 build (browsers without relaxed SIMD) | **${f(results.ratio_wasm_q8_simd128_vs_transformers_js_q8)}×** | – |
`}| first visit, everything fetched, gzip | **${f(results.first_visit_gzip_mb, 1)} MB** | ≤ 30 MB |
| the page's wasm (CPU build), raw / gzip | **${f(results.wasm_cpu_build_mb.raw, 1)} / ${f(results.wasm_cpu_build_mb.gzip, 1)} MB** | ≤ 8 / 2.5 MB |
| first live scores from the Cache API | **${f(results.time_to_live_scores_cached_s, 1)} s** | ≤ 2.5 s |
| wasm CPU forward, share of the page's SIMD mul+add ceiling | **${f(100 * results.share_of_wasm_matmul_ceiling, 0)} %** | ≥ 60 % |
| structural pruning at 50 %, share of the FLOP-predicted speedup (native / wasm) | **${f(100 * results.pruning_speedup_vs_flop_prediction_50, 0)} % / ${f(100 * results.pruning_speedup_vs_flop_prediction_50_wasm, 0)} %** | ≥ 90 % |

## 1. Native forward (${hies.forward.sentences} sentences, ${hies.forward.tokens} tokens, ${hies.threads} threads)

| system | sentences/s | median s |
|---|---|---|
| hies (burn flex, release) | ${f(hies.forward.sentences_per_s, 1)} | ${f(hies.forward.median_s)} |
| PyTorch (transformers BertModel, eager) | ${f(py.forward_torch.sentences_per_s, 1)} | ${f(py.forward_torch.median_s)} |
| onnxruntime (Python, ONNX export, fp32) | ${f(py.forward_ort.sentences_per_s, 1)} | ${f(py.forward_ort.median_s)} |

hies reaches ${f(hies.forward.gflop_per_s, 1)} GFLOP/s on the encoder (${f(hies.forward.encoder_gflop, 1)} GFLOP per pass). PyTorch vs onnxruntime embeddings: max |diff| ${py.max_abs_diff_torch_vs_ort.toExponential(1)}.

## 2. Native head scoring (${hies.score.n} calibration sentences: forward, backward, entropy)

| system | median s |
|---|---|
| hies score | ${f(hies.score.median_s)} |
| PyTorch, bertology compute_heads_importance (per-example head_mask grad) | ${f(py.score_torch.median_s)} |

The two HIS tables agree to ${hisRel.toExponential(1)} relative (entropy to ${entAbs.toExponential(1)}), so both computed the same thing.

## 3. Browser, headless Chromium, one page, one thread each

| system | sentences/s | GFLOP/s |
|---|---|---|
| hies wasm CPU (SIMD128; the relaxed-SIMD build runs the same f32 code) | ${f(web.forward_hies.sentences_per_s)} | ${f(web.forward_hies.gflop_per_s)} |
| transformers.js (onnxruntime-web wasm, fp32, 1 thread) | ${f(web.forward_transformers_js.sentences_per_s)} | ${f(web.forward_transformers_js.sentences_per_s * web.encoder_gflop / hies.forward.sentences)} |
| hies wasm CPU, q8 (int8 weights and activations, \`--compute q8\`; ${web.relaxed_simd ? 'relaxed SIMD' : 'SIMD128'}) | ${f(web.forward_hies_q8.sentences_per_s)} | – |
${web.forward_hies_q8_simd128 ? `| hies wasm CPU, q8, SIMD128 build (same bits: ${web.q8_simd128_equals_relaxed}) | ${f(web.forward_hies_q8_simd128.sentences_per_s)} | – |
` : ''}| transformers.js, dtype q8 (onnxruntime quantize_dynamic of the same export) | ${f(web.forward_transformers_js_q8.sentences_per_s)} | – |
| SIMD128 mul+add ceiling of this page (12 independent f32x4 chains): at the start; beside each timed hies run | – | ${f(web.simd.gflop_per_s)}; ${web.simd_probes_gflop_per_s.map(f).join(', ')} |

Embeddings of the two agree to ${web.max_abs_diff_vs_transformers_js.toExponential(1)}. q8 against each one's own f32 embeddings, the lowest cosine over the sentences: hies ${f(web.q8_min_cosine_hies, 4)}, transformers.js ${f(web.q8_min_cosine_transformers_js, 4)}. The q8 pair was timed pair by pair.

## 4. Structural pruning (HIES order) vs the FLOP prediction

| heads pruned | native measured | native predicted | wasm measured | wasm predicted |
|---|---|---|---|---|
${hies.pruning.map((p, i) => `| ${p.heads_pruned} (${f(p.ratio * 100, 0)} %) | ${f(p.measured_speedup)}× | ${f(p.flop_predicted_speedup)}× | ${f(web.pruning[i]?.measured_speedup)}× | ${f(web.pruning[i]?.flop_predicted_speedup)}× |`).join('\n')}

## 5. The page

What a first visit with the page's defaults fetched (the CPU build, the int8 weights), raw and
gzip -6 as a static host sends it; target ≤ 30 MB in all:

| part | raw | gzip |
|---|---|---|
${rows(visit)}

All of dist/ (the three wasm builds, both weight files):

| part | raw | gzip |
|---|---|---|
${rows(dist)}

First contentful paint ${f(web.first_paint_ms, 0)} ms; first live scores ${f(web.time_to_live_scores_cold_ms / 1000, 1)} s cold, ${f(web.time_to_live_scores_cached_ms / 1000, 1)} s from the Cache API (target ≤ 2.5 s; CPU build).
`;
writeFileSync(`${root}/bench/RESULTS.md`, md);
console.log(md);
