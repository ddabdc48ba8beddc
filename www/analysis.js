// The one-shot ranking in the page, so the α slider and the ratio slider answer at once even
// while the worker is busy. It mirrors src/analysis.rs and src/prune.rs (keep_score, hies,
// select_pruned, SplitMix64); the browser tests check it against the native CLI.

/** Min-max over the heads the model has (`absent`: [layer, head] sliced out, left at 0). */
export function minMax(g, absent = []) {
  const gone = new Set(absent.map(([l, h]) => `${l}.${h}`));
  const present = (l, h) => !gone.has(`${l}.${h}`);
  const flat = g.flatMap((row, l) => row.filter((_, h) => present(l, h)));
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const span = hi - lo;
  return g.map((row, l) => row.map((x, h) => (span > 0 && present(l, h) ? (x - lo) / span : 0)));
}

const minMaxPerLayer = (g, absent = []) => g.map((row, l) => minMax([row], absent.filter(([al]) => al === l).map(([, h]) => [0, h]))[0]);

/** The HIS presets, as src/analysis.rs `Preset::his_norm`. */
export const PRESETS = {
  paper: { token_mean: true, layer_l2: false, global_min_max: true },
  bertology: { token_mean: false, layer_l2: true, global_min_max: true },
};

/** HIS from the raw grids for a preset (src/analysis.rs `normalize_his`). */
export function normalizeHis(scores, preset) {
  const norm = PRESETS[preset];
  if (!norm) throw new Error(`unknown preset ${preset}`);
  let his = (norm.token_mean ? scores.his_token_mean : scores.his_raw).map((r) => [...r]);
  // Σx² then √, in the order src/analysis.rs adds (Math.hypot rounds differently and would flip ties).
  if (norm.layer_l2) his = his.map((row) => { const n = Math.sqrt(row.reduce((a, x) => a + x * x, 0)); return row.map((x) => x / (n + 1e-20)); });
  return norm.global_min_max ? minMax(his, scores.absent_heads ?? []) : his;
}

/** HIES(α) = α·mm(HIS) + (1−α)·(1 − mm(AE)), min-max over all heads or within each layer, over
 *  the heads the model has (an absent head's cell is 0). */
export function hies(his, entropy, alpha, perLayer = false, absent = []) {
  const mm = perLayer ? minMaxPerLayer : minMax;
  const h = mm(his, absent), e = mm(entropy, absent);
  const gone = new Set(absent.map(([l, k]) => `${l}.${k}`));
  return h.map((row, l) => row.map((x, k) => (gone.has(`${l}.${k}`) ? 0 : alpha * x + (1 - alpha) * (1 - e[l][k]))));
}

/** The preset a ScoreOptions' `his_norm` equals, or 'custom'. */
export function presetOf(norm) {
  const same = (a) => Object.keys(a).every((k) => a[k] === norm?.[k]);
  return Object.keys(PRESETS).find((p) => same(PRESETS[p])) ?? 'custom';
}

/** The scores' grids under the page's scoring options `{alpha, preset, per_layer_min_max}`. */
export function rescore(scores, o) {
  const his = normalizeHis(scores, o.preset);
  const options = { alpha: o.alpha, his_norm: PRESETS[o.preset], per_layer_min_max: o.per_layer_min_max };
  return { ...scores, his, hies: hies(his, scores.entropy, o.alpha, o.per_layer_min_max, scores.absent_heads ?? []), alpha: o.alpha, options };
}

// SplitMix64, as src/rng.rs, on BigInt.
function* splitmix(seed) {
  const M = (1n << 64n) - 1n;
  let s = BigInt(seed) & M;
  for (;;) {
    s = (s + 0x9e3779b97f4a7c15n) & M;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    z ^= z >> 31n;
    yield Number(z >> 11n) / 2 ** 53;
  }
}

/** Higher = keep, per criterion (entropy: diffuse heads go first); `o` as for `rescore`. Heads the
 *  checkpoint no longer has score −∞: pruned already, first in every order (src/prune.rs). */
export function keepScore(criterion, scores, o, seed) {
  const keep = criterionScore(criterion, scores, o, seed).map((row) => [...row]);
  for (const [l, h] of scores.absent_heads ?? []) keep[l][h] = -Infinity;
  return keep;
}

function criterionScore(criterion, scores, o, seed) {
  switch (criterion) {
    case 'hies': return rescore(scores, o).hies;
    case 'his': return normalizeHis(scores, o.preset);
    case 'entropy': return scores.entropy.map((r) => r.map((x) => -x));
    case 'confidence': return scores.confidence;
    case 'weight_norm': return scores.weight_norm;
    case 'random': {
      const rng = splitmix(seed);
      return scores.entropy.map((r) => r.map(() => rng.next().value));
    }
    default: throw new Error(`unknown criterion ${criterion}`);
  }
}

/** The `count` heads with the lowest keep score, ties by (layer, head); heads scored −∞ (sliced
 *  out of the checkpoint) always, as src/analysis.rs `select_pruned`. */
export function selectPruned(keep, count) {
  const heads = keep.flatMap((row, l) => row.map((_, h) => [l, h]));
  count = Math.max(count, heads.filter(([l, h]) => keep[l][h] === -Infinity).length);
  // −∞ − −∞ is NaN: equal scores (absent heads among themselves) fall through to (layer, head).
  heads.sort((a, b) => (keep[a[0]][a[1]] === keep[b[0]][b[1]] ? 0 : keep[a[0]][a[1]] - keep[b[0]][b[1]]) || a[0] - b[0] || a[1] - b[1]);
  return heads.slice(0, count);
}

/** A 95 % interval for a proportion seen on n of N items drawn without replacement (Wilson's
 * interval with the finite-population correction: exact when n = N). */
export function interval(k, n, N) {
  if (n === 0) return [0, 1];
  const p = k / n;
  if (n >= N) return [p, p];
  const z = 1.96;
  const nEff = (n * (N - 1)) / (N - n);
  const z2 = (z * z) / nEff;
  const centre = (p + z2 / 2) / (1 + z2);
  const half = (z * Math.sqrt((p * (1 - p)) / nEff + (z * z) / (4 * nEff * nEff))) / (1 + z2);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** A 95 % interval for Pearson's r seen on n of N pairs drawn without replacement: Fisher's z,
 * atanh r ± 1.96·√(1 / (n − 3) · (N − n) / (N − 1)) (its variance times the finite-population
 * correction); exact when n = N, uninformative with 3 pairs or fewer. */
export function correlationInterval(r, n, N) {
  if (n >= N) return [r, r];
  if (!Number.isFinite(r) || n <= 3) return [-1, 1];
  const fpc = Number.isFinite(N) ? (N - n) / (N - 1) : 1;
  const z = Math.atanh(Math.max(-0.999999, Math.min(0.999999, r))), half = 1.96 * Math.sqrt(fpc / (n - 3));
  return [Math.tanh(z - half), Math.tanh(z + half)];
}

/** How the page names and prints a task's metric (`ModelInfo.metric`): accuracy as a percentage,
 * Pearson's r as a number. */
export function metricFormat(metric) {
  return metric === 'pearson'
    ? { name: 'Pearson r', value: (x) => (Number.isFinite(x) ? x.toFixed(3) : '–'), axis: '.2f', interval: correlationInterval }
    : { name: 'accuracy', value: (x) => `${(x * 100).toFixed(1)} %`, axis: '.0%', interval: null };
}
