//! The science as plain functions over [L × H] grids: attention entropy, confidence, HIS
//! normalisation, HIES, and the pruning order. No tensors here: the engine reads attention
//! probabilities and gate gradients back and hands them to these.

use serde::{Deserialize, Serialize};
use tsify::Tsify;

/// One value per head: `grid[layer][head]`.
pub type Grid = Vec<Vec<f64>>;

/// An attention head: (layer, head), both from 0.
pub type Head = (usize, usize);

pub fn grid(layers: usize, heads: usize) -> Grid {
    vec![vec![0.0; heads]; layers]
}

/// Shannon entropy (nats) of one attention row; zero probabilities contribute nothing.
pub fn row_entropy(p: &[f32]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -(x as f64) * (x as f64).ln()).sum()
}

/// Per-head statistics of one example: `probs` is [H, T, T] of a padded batch row, `n` its real
/// tokens (the first n positions). Returns (mean entropy in nats, the same divided by ln n,
/// Voita confidence = mean max weight) per head, over real query rows and real keys only.
pub fn example_head_stats(probs: &[f32], heads: usize, t: usize, n: usize) -> Vec<(f64, f64, f64)> {
    assert_eq!(probs.len(), heads * t * t, "probs must be [H, T, T]");
    assert!(n >= 1 && n <= t, "real tokens {n} out of 1..={t}");
    (0..heads)
        .map(|h| {
            let (mut ent, mut conf) = (0.0, 0.0);
            for i in 0..n {
                let row = &probs[(h * t + i) * t..(h * t + i) * t + n];
                ent += row_entropy(row);
                conf += row.iter().fold(0f32, |m, &x| m.max(x)) as f64;
            }
            let (ent, conf) = (ent / n as f64, conf / n as f64);
            let normed = if n > 1 { ent / (n as f64).ln() } else { 0.0 };
            (ent, normed, conf)
        })
        .collect()
}

/// Min-max to [0, 1] over the heads the model has: `absent` ([layer, head], sliced out of the
/// checkpoint) neither set the range nor get a value other than 0. A constant grid maps to
/// zeros (no NaN).
pub fn min_max(g: &Grid, absent: &[Head]) -> Grid {
    let present = |l: usize, h: usize| !absent.contains(&(l, h));
    let cells = g.iter().enumerate().flat_map(|(l, row)| row.iter().enumerate().filter(move |(h, _)| present(l, *h)).map(|(_, &x)| x));
    let (lo, hi) = cells.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let span = hi - lo;
    g.iter()
        .enumerate()
        .map(|(l, row)| row.iter().enumerate().map(|(h, &x)| if span > 0.0 && present(l, h) { (x - lo) / span } else { 0.0 }).collect())
        .collect()
}

/// Min-max within each layer over the heads it has.
pub fn min_max_per_layer(g: &Grid, absent: &[Head]) -> Grid {
    g.iter()
        .enumerate()
        .flat_map(|(l, row)| {
            let here: Vec<Head> = absent.iter().filter(|a| a.0 == l).map(|&(_, h)| (0, h)).collect();
            min_max(&vec![row.clone()], &here)
        })
        .collect()
}

/// How HIS is normalised after the per-example |∂L/∂ξ|; each step is a switch. Two named
/// presets set them all: [`HisNorm::paper`] (the default) and [`HisNorm::bertology`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Tsify)]
pub struct HisNorm {
    /// Divide each example's |∂L/∂ξ| by its real-token count before the mean over examples: the
    /// token-averaged |⟨∇_{A_h} L, A_h⟩| of the paper's Eq. 2 (since ∂L/∂ξ_h = ⟨∇_{A_h} L, A_h⟩
    /// when ξ_h scales A_h). Off: the plain mean over examples (Michel et al.).
    pub token_mean: bool,
    /// ℓ2-normalise each layer (bertology's `normalize_scores_by_layer`, exponent 2).
    pub layer_l2: bool,
    /// Min-max over all heads (bertology's `dont_normalize_global_importance` = false).
    pub global_min_max: bool,
}

/// The two named ways to normalise HIS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// arXiv 2510.13832: per-example token average (Eq. 2), no per-layer ℓ2, global min-max.
    Paper,
    /// Michel et al. 2019 as bertology.py runs it: mean over examples, per-layer ℓ2, global min-max.
    Bertology,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Paper, Preset::Bertology];

    pub fn his_norm(self) -> HisNorm {
        match self {
            Preset::Paper => HisNorm { token_mean: true, layer_l2: false, global_min_max: true },
            Preset::Bertology => HisNorm { token_mean: false, layer_l2: true, global_min_max: true },
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Bertology => "bertology",
        }
    }
}

impl HisNorm {
    pub fn paper() -> Self {
        Preset::Paper.his_norm()
    }

    pub fn bertology() -> Self {
        Preset::Bertology.his_norm()
    }

    /// The preset these switches equal, if any.
    pub fn preset(self) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.his_norm() == self)
    }
}

impl Default for HisNorm {
    fn default() -> Self {
        Self::paper()
    }
}

/// `his_raw`: the mean over examples of |∂L/∂ξ|; `his_token_mean`: the mean over examples of
/// |∂L/∂ξ| / (that example's real tokens). Returns HIS after the switches; heads in `absent`
/// (their gradient is 0: they are not in the model) stay out of the min-max.
pub fn normalize_his(his_raw: &Grid, his_token_mean: &Grid, norm: HisNorm, absent: &[Head]) -> Grid {
    let mut his = if norm.token_mean { his_token_mean.clone() } else { his_raw.clone() };
    if norm.layer_l2 {
        for row in &mut his {
            let n = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            row.iter_mut().for_each(|x| *x /= n + 1e-20);
        }
    }
    if norm.global_min_max {
        his = min_max(&his, absent);
    }
    his
}

/// HIES(α) = α·mm(HIS) + (1−α)·(1 − mm(AE)). High = keep; the lowest are pruned first. The
/// min-max runs over the heads the model has; an `absent` head's cell is 0.
pub fn hies(his: &Grid, entropy: &Grid, alpha: f64, per_layer: bool, absent: &[Head]) -> Grid {
    let mm = if per_layer { min_max_per_layer } else { min_max };
    let (h, e) = (mm(his, absent), mm(entropy, absent));
    h.iter()
        .zip(&e)
        .enumerate()
        .map(|(l, (hr, er))| {
            hr.iter()
                .zip(er)
                .enumerate()
                .map(|(k, (a, b))| if absent.contains(&(l, k)) { 0.0 } else { alpha * a + (1.0 - alpha) * (1.0 - b) })
                .collect()
        })
        .collect()
}

/// Heads in pruning order: lowest score first, ties by (layer, head) so the order is the same
/// everywhere. `skip` holds heads already pruned (iterative pruning).
pub fn prune_order(keep_score: &Grid, skip: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut heads: Vec<(usize, usize)> =
        keep_score.iter().enumerate().flat_map(|(l, row)| (0..row.len()).map(move |h| (l, h))).filter(|lh| !skip.contains(lh)).collect();
    heads.sort_by(|&(la, ha), &(lb, hb)| keep_score[la][ha].total_cmp(&keep_score[lb][hb]).then((la, ha).cmp(&(lb, hb))));
    heads
}

/// How many heads a ratio of `total` removes (rounded to nearest).
pub fn heads_for_ratio(ratio: f64, total: usize) -> usize {
    ((ratio.clamp(0.0, 1.0) * total as f64).round() as usize).min(total)
}

/// The heads to prune next so that `already` plus them make `count`: globally the lowest
/// scores; per layer, the lowest of each layer up to its share of `count` (spread as evenly as
/// the count allows, earlier layers first). Heads scored −∞ (sliced out of the checkpoint:
/// pruned already) are always in the set and count towards `count`; per layer, the rest of the
/// count is shared among the layers that still have heads.
pub fn select_pruned(keep_score: &Grid, count: usize, per_layer: bool, already: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let skip = already;
    let gone = |row: &[f64]| row.iter().filter(|x| **x == f64::NEG_INFINITY).count();
    let absent: usize = keep_score.iter().map(|r| gone(r)).sum();
    if !per_layer {
        return prune_order(keep_score, skip).into_iter().take(count.max(absent).saturating_sub(skip.len())).collect();
    }
    // The rest of the count, one head at a time round the layers (earlier layers first), each
    // up to the heads it still has: count / L each, the first count % L one more, when none is full.
    let capacity: Vec<usize> = keep_score.iter().map(|r| r.len() - gone(r)).collect();
    let mut share = vec![0usize; keep_score.len()];
    let mut rest = count.saturating_sub(absent);
    while rest > 0 && share.iter().zip(&capacity).any(|(s, c)| s < c) {
        for (s, c) in share.iter_mut().zip(&capacity) {
            if rest > 0 && *s < *c {
                *s += 1;
                rest -= 1;
            }
        }
    }
    let mut out = Vec::new();
    for (l, row) in keep_score.iter().enumerate() {
        let quota = gone(row) + share[l];
        let one = vec![row.clone()];
        let skip_l: Vec<(usize, usize)> = skip.iter().filter(|s| s.0 == l).map(|&(_, h)| (0, h)).collect();
        let already = skip_l.len();
        out.extend(prune_order(&one, &skip_l).into_iter().take(quota.saturating_sub(already)).map(|(_, h)| (l, h)));
    }
    out
}

/// Mean and (population) standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
    (m, v.sqrt())
}

/// Pearson's correlation coefficient (NaN with fewer than 2 values or a constant list).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let (ma, mb) = (a[..n].iter().sum::<f64>() / n as f64, b[..n].iter().sum::<f64>() / n as f64);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let (va, vb) = (a[..n].iter().map(|x| (x - ma).powi(2)).sum::<f64>(), b[..n].iter().map(|y| (y - mb).powi(2)).sum::<f64>());
    if va == 0.0 || vb == 0.0 { f64::NAN } else { cov / (va * vb).sqrt() }
}

/// Spearman's rank correlation: Pearson's r of the ranks, ties sharing their mean rank (as
/// scipy.stats.spearmanr).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Ranks from 0, ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            r[k] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_and_spearman_against_hand_values() {
        // r of (1, 2, 3) and (1, 3, 2): cov 1, variances 2 and 2 → 0.5.
        assert!((pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 0.5).abs() < 1e-12);
        // Ties share their mean rank: (1, 1, 2) ranks as (0.5, 0.5, 2), against (0, 1, 2): √3 / 2.
        assert!((spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]) - 3f64.sqrt() / 2.0).abs() < 1e-12);
        // Monotone but not linear: ρ = 1, r < 1.
        let (x, y) = ([1.0, 2.0, 3.0, 4.0], [1.0, 4.0, 9.0, 100.0]);
        assert!((spearman(&x, &y) - 1.0).abs() < 1e-12 && pearson(&x, &y) < 0.9);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan() && pearson(&[1.0], &[1.0]).is_nan());
    }

    #[test]
    fn heads_scored_minus_infinity_are_always_pruned_and_fill_their_layers_share() {
        let inf = f64::NEG_INFINITY;
        let keep = vec![vec![inf, inf, inf, 0.5], vec![0.1, 0.9, 0.3, 0.2]];
        // Globally: all three absent heads even when fewer are asked for, then the lowest.
        assert_eq!(select_pruned(&keep, 2, false, &[]), vec![(0, 0), (0, 1), (0, 2)]);
        assert_eq!(select_pruned(&keep, 4, false, &[]), vec![(0, 0), (0, 1), (0, 2), (1, 0)]);
        // Per layer: the 3 absent heads, then the 1 left of 4 shared between the layers with heads.
        assert_eq!(select_pruned(&keep, 4, true, &[]), vec![(0, 0), (0, 1), (0, 2), (0, 3)]);
        assert_eq!(select_pruned(&keep, 6, true, &[]), vec![(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 3)]);
        // A layer without heads left gets no share: the count goes to the others.
        let keep = vec![vec![inf, inf], vec![0.2, 0.1], vec![0.4, 0.3]];
        assert_eq!(select_pruned(&keep, 4, true, &[]), vec![(0, 0), (0, 1), (1, 1), (2, 1)]);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn entropy_of_uniform_and_one_hot_rows() {
        assert!(close(row_entropy(&[0.25; 4]), 4f64.ln()));
        assert_eq!(row_entropy(&[0.0, 1.0, 0.0]), 0.0);
        // Uniform attention over n real keys normalises to exactly 1.
        let n = 5;
        let t = 7; // 2 padding positions
        let mut probs = vec![0f32; t * t];
        for i in 0..t {
            for j in 0..n {
                probs[i * t + j] = 1.0 / n as f32;
            }
        }
        let s = example_head_stats(&probs, 1, t, n)[0];
        assert!((s.0 - (n as f64).ln()).abs() < 1e-6 && (s.1 - 1.0).abs() < 1e-6);
        assert!((s.2 - 0.2).abs() < 1e-6);
    }

    #[test]
    fn padding_rows_and_keys_never_count() {
        let (t, n) = (4, 2);
        let mut probs = vec![0f32; t * t];
        probs[0] = 1.0; // row 0: one-hot on key 0
        probs[t] = 0.5; // row 1: uniform over the 2 real keys
        probs[t + 1] = 0.5;
        // Padding query rows hold garbage; padding keys of real rows are 0 as after masking.
        for i in n..t {
            for j in 0..t {
                probs[i * t + j] = 0.25;
            }
        }
        let s = example_head_stats(&probs, 1, t, n)[0];
        assert!(close(s.0, 2f64.ln() / 2.0));
        assert!(close(s.1, 0.5));
        assert!(close(s.2, 0.75));
    }

    #[test]
    fn single_token_example_has_zero_normalised_entropy() {
        let s = example_head_stats(&[1.0], 1, 1, 1)[0];
        assert_eq!((s.0, s.1, s.2), (0.0, 0.0, 1.0));
    }

    #[test]
    fn min_max_of_constant_grid_is_zero_not_nan() {
        let g = vec![vec![3.0; 4]; 2];
        assert!(min_max(&g, &[]).iter().flatten().all(|&x| x == 0.0));
        let g = vec![vec![1.0, 3.0], vec![2.0, 5.0]];
        assert_eq!(min_max(&g, &[]), vec![vec![0.0, 0.5], vec![0.25, 1.0]]);
        assert_eq!(min_max_per_layer(&g, &[]), vec![vec![0.0, 1.0], vec![0.0, 1.0]]);
    }

    #[test]
    fn hies_at_alpha_one_and_zero_is_the_single_criterion() {
        let his = vec![vec![0.1, 0.9, 0.4], vec![0.3, 0.2, 0.7]];
        let ae = vec![vec![2.0, 0.5, 1.0], vec![0.1, 3.0, 1.5]];
        assert_eq!(hies(&his, &ae, 1.0, false, &[]), min_max(&his, &[]));
        let inv: Grid = min_max(&ae, &[]).iter().map(|r| r.iter().map(|x| 1.0 - x).collect()).collect();
        assert_eq!(hies(&his, &ae, 0.0, false, &[]), inv);
        // Half-way: the mean of the two.
        let half = hies(&his, &ae, 0.5, false, &[]);
        assert!(close(half[0][1], 0.5 * 1.0 + 0.5 * (1.0 - 0.4 / 2.9)));
    }

    #[test]
    fn ranking_ties_are_broken_by_position() {
        let s = vec![vec![0.5, 0.1, 0.5], vec![0.1, 0.5, 0.0]];
        assert_eq!(prune_order(&s, &[]), vec![(1, 2), (0, 1), (1, 0), (0, 0), (0, 2), (1, 1)]);
        assert_eq!(prune_order(&s, &[(1, 2)])[0], (0, 1));
        assert_eq!(select_pruned(&s, 3, false, &[]), vec![(1, 2), (0, 1), (1, 0)]);
        // Per layer: 3 heads over 2 layers → 2 from layer 0, 1 from layer 1.
        assert_eq!(select_pruned(&s, 3, true, &[]), vec![(0, 1), (0, 0), (1, 2)]);
    }

    #[test]
    fn his_normalisation_switches_and_presets() {
        let raw = vec![vec![1.5, 2.0], vec![3.0, 4.0]];
        let per_token = vec![vec![0.3, 0.1], vec![0.6, 0.8]];
        let off = HisNorm { token_mean: false, layer_l2: false, global_min_max: false };
        assert_eq!(normalize_his(&raw, &per_token, off, &[]), raw);
        assert_eq!(normalize_his(&raw, &per_token, HisNorm { token_mean: true, ..off }, &[]), per_token);
        let his = normalize_his(&raw, &per_token, HisNorm { layer_l2: true, ..off }, &[]);
        assert!(close(his[0][0], 0.6) && close(his[1][1], 0.8));
        // bertology: ℓ2 per layer makes both layers [0.6, 0.8], then min-max.
        assert_eq!(normalize_his(&raw, &per_token, HisNorm::bertology(), &[]), vec![vec![0.0, 1.0], vec![0.0, 1.0]]);
        // paper: the token means, min-maxed over the whole grid.
        let his = normalize_his(&raw, &per_token, HisNorm::paper(), &[]);
        assert!(close(his[0][0], 2.0 / 7.0) && close(his[0][1], 0.0) && close(his[1][1], 1.0));
        assert_eq!(HisNorm::default().preset(), Some(Preset::Paper));
        assert_eq!(off.preset(), None);
        assert_eq!(serde_json::to_value(Preset::Bertology).unwrap(), serde_json::json!("bertology"));
    }

    #[test]
    fn heads_for_ratio_rounds() {
        assert_eq!(heads_for_ratio(0.3, 72), 22);
        assert_eq!(heads_for_ratio(0.0, 72), 0);
        assert_eq!(heads_for_ratio(1.5, 72), 72);
    }
}
