// The one-shot ranking in the page, so the α slider and the ratio slider answer at once even
// while the worker is busy. It mirrors src/analysis.rs and src/prune.rs (keep_score, hies,
// select_pruned, SplitMix64); the browser tests check it against the native CLI.

export function minMax(g) {
  const flat = g.flat();
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const span = hi - lo;
  return g.map((row) => row.map((x) => (span > 0 ? (x - lo) / span : 0)));
}

/** HIES(α) = α·mm(HIS) + (1−α)·(1 − mm(AE)). */
export function hies(his, entropy, alpha) {
  const h = minMax(his), e = minMax(entropy);
  return h.map((row, l) => row.map((x, k) => alpha * x + (1 - alpha) * (1 - e[l][k])));
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

/** Higher = keep, per criterion (entropy: diffuse heads go first). */
export function keepScore(criterion, scores, alpha, seed) {
  switch (criterion) {
    case 'hies': return hies(scores.his, scores.entropy, alpha);
    case 'his': return scores.his;
    case 'entropy': return scores.entropy.map((r) => r.map((x) => -x));
    case 'confidence': return scores.confidence;
    case 'weight_norm': return scores.weight_norm;
    case 'random': {
      const rng = splitmix(seed);
      return scores.his.map((r) => r.map(() => rng.next().value));
    }
    default: throw new Error(`unknown criterion ${criterion}`);
  }
}

/** The `count` heads with the lowest keep score, ties by (layer, head). */
export function selectPruned(keep, count) {
  const heads = keep.flatMap((row, l) => row.map((_, h) => [l, h]));
  heads.sort((a, b) => keep[a[0]][a[1]] - keep[b[0]][b[1]] || a[0] - b[0] || a[1] - b[1]);
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
