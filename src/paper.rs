//! "Does the paper hold here?": the claims of arXiv 2510.13832 checked on this model and data,
//! each with the paper's figure, ours as mean ± std over calibration seeds, and a verdict.
//!
//! How a verdict is reached (our rules; the paper states no test): for a difference between
//! HIES and HIS, the spread is √(σ²_HIES + σ²_HIS) of the per-seed values (population std).
//! A claim that HIES is better "holds" when the mean difference exceeds the spread, "does not
//! hold" when it is below minus the spread, and is "within the seed spread" otherwise. Stability
//! is agreement with the unpruned model's predictions (the paper does not define it; this is our
//! reading). Each claim's `how` says its own rule.

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::analysis::{self, Grid, Head};
use crate::config::Metric;
use crate::curves::{CurveOptions, CurvePoint, CurveProgress, Curves};
use crate::data::{self, Example};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::evaluate::{AGREEMENT_SHARE, EvalSet};
use crate::flops;
use crate::prune::{Criterion, keep_score};
use crate::scores::ScoreOptions;

/// What the check runs.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct PaperCheckOptions {
    /// HIES's α: the sweep's α* for this model and preset.
    pub alpha: f64,
    pub seeds: Vec<u64>,
    /// Calibration examples (the paper: 32).
    pub n: usize,
    /// Calibration sizes for the stability-in-N claim.
    pub sizes: Vec<usize>,
    /// HIS preset and min-max switch (`alpha` above wins).
    pub scores: ScoreOptions,
}

impl Default for PaperCheckOptions {
    fn default() -> Self {
        Self { alpha: 0.5, seeds: (0..5).collect(), n: 32, sizes: vec![1, 2, 4, 8, 16, 32, 64, 128], scores: ScoreOptions::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    DoesNotHold,
    WithinSeedSpread,
}

/// One claim of the paper, checked.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct Claim {
    pub id: String,
    pub claim: String,
    /// What the paper reports for it.
    pub paper: String,
    /// What we measure, mean ± std over the seeds.
    pub ours: String,
    pub verdict: Verdict,
    /// The rule the verdict came from.
    pub how: String,
}

/// The task's metric (accuracy, or Pearson's r) at 50 % and seed agreement of the HIES ranking
/// for one calibration size.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct SizePoint {
    pub n: usize,
    /// Mean Spearman correlation of the HIES grids over all pairs of seeds.
    pub spearman_mean: f64,
    pub spearman_std: f64,
    pub accuracy_50_mean: f64,
    pub accuracy_50_std: f64,
}

/// HIES / HIS at one ratio: the paper's headline figures are such ratios.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct Ratios {
    pub ratio: f64,
    /// Mean accuracy (or Pearson's r) of HIES / of HIS; none when either is not positive (a
    /// ratio of correlations near or below 0 says nothing).
    pub quality: Option<f64>,
    /// Mean agreement with the unpruned model, HIES / HIS.
    pub stability: f64,
    /// Spread of the metric over seeds, HIS std / HIES std (> 1: HIES varies less); none when
    /// HIES's did not vary at all.
    pub spread: Option<f64>,
}

/// Pruned heads per layer at 50 %, mean over seeds, and how evenly they spread.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct LayerSpread {
    pub criterion: Criterion,
    pub per_layer: Vec<f64>,
    /// Entropy of the per-layer counts / ln L (1 = even), mean ± std over seeds.
    pub evenness_mean: f64,
    pub evenness_std: f64,
    /// Mean layer index of the pruned heads (0 = bottom).
    pub mean_layer: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct PaperCheck {
    pub claims: Vec<Claim>,
    pub ratios: Vec<Ratios>,
    pub sizes: Vec<SizePoint>,
    pub layers: Vec<LayerSpread>,
    /// Share of the encoder's FLOPs left out when HIES prunes 50 % of the heads (seed 0), at
    /// the evaluation set's mean length, batch 1.
    pub flops_saved_50: f64,
    pub curves: Curves,
    pub evaluation_size: usize,
    pub options: PaperCheckOptions,
}

/// Spearman's ρ of two grids (average ranks for ties).
pub fn spearman(a: &Grid, b: &Grid) -> f64 {
    let flat = |g: &Grid| g.iter().flatten().copied().collect::<Vec<f64>>();
    analysis::spearman(&flat(a), &flat(b))
}

/// The verdict on "HIES > HIS" for per-seed values of each.
fn better(hies: (f64, f64), his: (f64, f64)) -> (Verdict, f64, f64) {
    let diff = hies.0 - his.0;
    let spread = (hies.1.powi(2) + his.1.powi(2)).sqrt();
    let v = if diff > spread {
        Verdict::Holds
    } else if diff < -spread {
        Verdict::DoesNotHold
    } else {
        Verdict::WithinSeedSpread
    };
    (v, diff, spread)
}

fn pm(p: (f64, f64)) -> String {
    format!("{:.4} ± {:.4}", p.0, p.1)
}

/// "HIES m ± s vs HIS m ± s (Δ, spread)", with [`better`]'s difference and spread in points.
/// "HIES a ± s vs HIS b ± s (Δ, spread)": in percentage points for a share (accuracy,
/// agreement), in units of r for a correlation.
fn versus(hies: (f64, f64), his: (f64, f64), diff: f64, spread: f64, metric: Metric) -> String {
    match metric {
        Metric::Accuracy => format!("HIES {} vs HIS {} (Δ {:+.1} points, spread {:.1})", pm(hies), pm(his), diff * 100.0, spread * 100.0),
        Metric::Pearson => format!("HIES {} vs HIS {} (Δ r {:+.4}, spread {:.4})", pm(hies), pm(his), diff, spread),
    }
}

/// Evenness (normalised entropy) of per-layer counts and their mean layer.
fn spread_of(heads: &[Head], layers: usize) -> (Vec<usize>, f64, f64) {
    let mut counts = vec![0usize; layers];
    heads.iter().for_each(|h| counts[h.0] += 1);
    let n = heads.len().max(1) as f64;
    let entropy: f64 = counts.iter().filter(|&&c| c > 0).map(|&c| -(c as f64 / n) * (c as f64 / n).ln()).sum();
    let mean_layer = heads.iter().map(|h| h.0 as f64).sum::<f64>() / n;
    (counts, entropy / (layers as f64).ln(), mean_layer)
}

impl Engine {
    /// Runs every check of the paper on `set` (the evaluation split) with calibration samples
    /// from `pool`. `progress` reports "curves", "sizes" and "evaluating".
    pub async fn paper_check(
        &self,
        pool: &[Example],
        set: &EvalSet,
        o: &PaperCheckOptions,
        progress: &mut dyn FnMut(CurveProgress),
    ) -> Result<PaperCheck> {
        if o.seeds.len() < 2 || o.n == 0 || o.sizes.contains(&0) || !o.sizes.iter().any(|&s| s > o.n) || set.is_empty() {
            return Err(Error::input(
                "paper check: needs 2+ seeds (for a spread), n ≥ 1, calibration sizes ≥ 1 with one larger than n, and an evaluation set",
            ));
        }
        // The sizes studied always include n itself, in order.
        let mut with_n = o.sizes.clone();
        with_n.push(o.n);
        with_n.sort();
        with_n.dedup();
        let o = &PaperCheckOptions { sizes: with_n, ..o.clone() };
        let scores = ScoreOptions { alpha: o.alpha, ..o.scores };
        let c = self.config().clone();
        let (l, h) = (c.num_hidden_layers, c.num_attention_heads);
        let total = l * h;
        let half = analysis::heads_for_ratio(0.5, total);
        let ratios = vec![0.1, 0.3, 0.5, 0.7];
        let curve_options = CurveOptions {
            criteria: vec![Criterion::Hies, Criterion::His],
            ratios: ratios.clone(),
            seeds: o.seeds.clone(),
            n: o.n,
            per_layer: false,
            iterative_step: None,
            scores,
        };
        let curves = self
            .curves(pool, set, &curve_options, &mut |p| {
                progress(CurveProgress { stage: if p.stage == "scoring" { "curves" } else { "evaluating" }, ..p })
            })
            .await?;
        let point = |crit: Criterion, r: f64| -> &CurvePoint {
            curves.points.iter().find(|p| p.criterion == crit && p.ratio == r).expect("every point was run")
        };

        // Calibration sizes: HIES grids per seed, their pairwise Spearman, accuracy at 50 %.
        let mut grids: Vec<Vec<Grid>> = Vec::new();
        let mut his_sets = Vec::new();
        let mut hies_sets = Vec::new(); // [size][seed]
        let jobs = o.sizes.len() * o.seeds.len();
        for (i, &n) in o.sizes.iter().enumerate() {
            let mut g = Vec::new();
            let mut sets = Vec::new();
            for (k, &seed) in o.seeds.iter().enumerate() {
                let s = self.score(&data::sample(pool, n, seed), &[], scores, &mut |_, _| {}).await?;
                let mut heads = analysis::prune_order(&keep_score(Criterion::Hies, &s, 0), &[])[..half].to_vec();
                heads.sort();
                sets.push(heads);
                if n == o.n {
                    let mut his = analysis::prune_order(&keep_score(Criterion::His, &s, 0), &[])[..half].to_vec();
                    his.sort();
                    his_sets.push(his);
                }
                g.push(s.hies);
                progress(CurveProgress { stage: "sizes", done: i * o.seeds.len() + k + 1, total: jobs });
            }
            grids.push(g);
            hies_sets.push(sets);
        }
        let flat: Vec<&[Head]> = hies_sets.iter().flatten().map(|h| h.as_slice()).collect();
        let done = self.evaluate_sets(set, &flat, &mut |d, n| progress(CurveProgress { stage: "evaluating", done: d, total: n })).await?;
        let absent = &self.absent_heads();
        // Over the heads the model has: absent heads' constant 0s would inflate the correlation.
        let present = |x: &Grid| -> Grid {
            let kept = x.iter().enumerate().flat_map(|(l, r)| r.iter().enumerate().filter(move |(h, _)| !absent.contains(&(l, *h))).map(|(_, v)| *v));
            vec![kept.collect()]
        };
        let sizes: Vec<SizePoint> = o
            .sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let g = &grids[i];
                let rho: Vec<f64> = (0..g.len())
                    .flat_map(|a| ((a + 1)..g.len()).map(move |b| (a, b)))
                    .map(|(a, b)| spearman(&present(&g[a]), &present(&g[b])))
                    .collect();
                let acc: Vec<f64> = (0..o.seeds.len()).map(|k| done.scores[i * o.seeds.len() + k].0).collect();
                let (spearman_mean, spearman_std) = analysis::mean_std(&rho);
                let (accuracy_50_mean, accuracy_50_std) = analysis::mean_std(&acc);
                SizePoint { n, spearman_mean, spearman_std, accuracy_50_mean, accuracy_50_std }
            })
            .collect();

        // Where each criterion prunes at 50 % with n samples (the paper's 32).
        let at_n = o.sizes.iter().position(|&n| n == o.n).expect("n was added to the sizes");
        let hies_at_n: Vec<Vec<Head>> = hies_sets[at_n].clone();
        let layer_spread = |criterion: Criterion, sets: &[Vec<Head>]| {
            let stats: Vec<(Vec<usize>, f64, f64)> = sets.iter().map(|s| spread_of(s, l)).collect();
            let per_layer = (0..l).map(|k| stats.iter().map(|s| s.0[k] as f64).sum::<f64>() / stats.len().max(1) as f64).collect();
            let (evenness_mean, evenness_std) = analysis::mean_std(&stats.iter().map(|s| s.1).collect::<Vec<_>>());
            let mean_layer = stats.iter().map(|s| s.2).sum::<f64>() / stats.len().max(1) as f64;
            LayerSpread { criterion, per_layer, evenness_mean, evenness_std, mean_layer }
        };
        let layers = vec![layer_spread(Criterion::Hies, &hies_at_n), layer_spread(Criterion::His, &his_sets)];

        let mean_len = set.examples().iter().map(|e| self.encode(e).map(|x| x.ids.len())).sum::<Result<usize>>()? as f64 / set.len() as f64;
        let t = mean_len.round().max(1.0) as usize;
        let full = flops::encoder_flops(&c, &vec![h; l], 1, t);
        let first = hies_at_n[0].clone(); // the first seed's HIES set
        let flops_saved_50 = 1.0 - flops::encoder_flops(&c, &flops::kept_per_layer(&c, &first), 1, t) / full;

        let ratio_rows: Vec<Ratios> = ratios
            .iter()
            .map(|&r| {
                let (a, b) = (point(Criterion::Hies, r), point(Criterion::His, r));
                Ratios {
                    ratio: r,
                    quality: (a.accuracy_mean > 0.0 && b.accuracy_mean > 0.0).then(|| a.accuracy_mean / b.accuracy_mean),
                    stability: a.agreement_mean / b.agreement_mean,
                    spread: (a.accuracy_std > 0.0).then(|| b.accuracy_std / a.accuracy_std),
                }
            })
            .collect();

        let mut claims = Vec::new();
        let seeds = o.seeds.len();
        let task = set.problem_type.metric();
        let metric = task.name(); // "accuracy", or "Pearson r" for a regression head
        for r in [0.3, 0.5] {
            let (a, b) = (point(Criterion::Hies, r), point(Criterion::His, r));
            let (v, d, s) = better((a.accuracy_mean, a.accuracy_std), (b.accuracy_mean, b.accuracy_std));
            claims.push(Claim {
                id: format!("quality_{}", (r * 100.0).round()),
                claim: format!("HIES keeps more {metric} than HIS at {:.0} % of heads pruned", r * 100.0),
                paper: "HIES above HIS at moderate and high sparsity (up to +15.2 % quality)".into(),
                ours: versus((a.accuracy_mean, a.accuracy_std), (b.accuracy_mean, b.accuracy_std), d, s, task),
                verdict: v,
                how: format!("{metric} on the {} evaluation sentences over {seeds} calibration seeds; holds if Δ > spread", set.len()),
            });
            let (v, d, s) = better((a.agreement_mean, a.agreement_std), (b.agreement_mean, b.agreement_std));
            claims.push(Claim {
                id: format!("stability_{}", (r * 100.0).round()),
                claim: format!("HIES is more stable than HIS at {:.0} %", r * 100.0),
                paper: "HIES more stable than HIS (up to 2.04× stability)".into(),
                ours: format!(
                    "agreement with the unpruned model {}; {metric} std HIES {:.4}, HIS {:.4}",
                    versus((a.agreement_mean, a.agreement_std), (b.agreement_mean, b.agreement_std), d, s, Metric::Accuracy),
                    a.accuracy_std,
                    b.accuracy_std
                ),
                verdict: v,
                how: format!(
                    "stability = agreement with the unpruned model's predictions (the paper gives no definition{}); holds if Δ > spread",
                    if set.agreement_tolerance() > 0.0 {
                        format!("; a score agrees within ±{:.3}, {} % of the gold range", set.agreement_tolerance(), AGREEMENT_SHARE * 100.0)
                    } else {
                        String::new()
                    }
                ),
            });
        }
        let (a, b) = (point(Criterion::Hies, 0.1), point(Criterion::His, 0.1));
        let (_, d, s) = better((a.accuracy_mean, a.accuracy_std), (b.accuracy_mean, b.accuracy_std));
        claims.push(Claim {
            id: "on_par_10".into(),
            claim: "HIS is on par with HIES at ≤ 10 %".into(),
            paper: "at low sparsity the two are on par".into(),
            ours: versus((a.accuracy_mean, a.accuracy_std), (b.accuracy_mean, b.accuracy_std), d, s, task),
            verdict: if d.abs() <= s { Verdict::Holds } else { Verdict::DoesNotHold },
            how: "holds if |Δ| ≤ spread at 10 %".into(),
        });
        {
            // n against the largest size (above n: checked on entry).
            let (p, q) = (&sizes[at_n], &sizes[sizes.len() - 1]);
            let close = (p.accuracy_50_mean - q.accuracy_50_mean).abs() <= (p.accuracy_50_std.powi(2) + q.accuracy_50_std.powi(2)).sqrt();
            claims.push(Claim {
                id: "stable_from_n".into(),
                claim: format!("results are stable from N = {}", o.n),
                paper: "a modest calibration set suffices (the paper uses 32)".into(),
                ours: format!(
                    "Spearman of HIES grids between seeds {} at N = {} ({} at N = {}); {metric} at 50 % {} vs {}",
                    pm((p.spearman_mean, p.spearman_std)),
                    p.n,
                    pm((q.spearman_mean, q.spearman_std)),
                    q.n,
                    pm((p.accuracy_50_mean, p.accuracy_50_std)),
                    pm((q.accuracy_50_mean, q.accuracy_50_std))
                ),
                verdict: if p.spearman_mean >= 0.9 && close {
                    Verdict::Holds
                } else if close {
                    Verdict::WithinSeedSpread
                } else {
                    Verdict::DoesNotHold
                },
                how: format!("holds if the seeds' rankings agree (mean Spearman ≥ 0.9, our threshold) and {metric} at 50 % matches N = {} within the spread; within the spread if only the {metric} matches", q.n),
            });
        }
        {
            let (hs, is) = (&layers[0], &layers[1]);
            let (v, d, s) = better((hs.evenness_mean, hs.evenness_std), (is.evenness_mean, is.evenness_std));
            let bottom_up = is.mean_layer < (l as f64 - 1.0) / 2.0;
            claims.push(Claim {
                id: "layer_spread".into(),
                claim: "HIES spreads pruning over the layers while HIS prunes bottom-up".into(),
                paper: "HIES distributes pruning across layers; HIS concentrates it in the lower layers".into(),
                ours: format!(
                    "evenness over layers (entropy / ln L) HIES {} vs HIS {}; mean pruned layer HIES {:.2}, HIS {:.2}; per layer HIES {:?}, HIS {:?}",
                    pm((hs.evenness_mean, hs.evenness_std)),
                    pm((is.evenness_mean, is.evenness_std)),
                    hs.mean_layer,
                    is.mean_layer,
                    hs.per_layer.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>(),
                    is.per_layer.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>()
                ),
                verdict: if v == Verdict::Holds && bottom_up {
                    Verdict::Holds
                } else if v == Verdict::DoesNotHold || !bottom_up {
                    Verdict::DoesNotHold
                } else {
                    Verdict::WithinSeedSpread
                },
                how: format!(
                    "at 50 %, N = {}: holds if HIES's evenness exceeds HIS's by more than the spread ({:.3}, Δ {:+.3}) and HIS's mean pruned layer is in the lower half; does not hold if either fails outright (HIS not bottom-up, or HIES less even beyond the spread)",
                    o.n, s, d
                ),
            });
        }
        claims.push(Claim {
            id: "flops_50".into(),
            claim: "pruning 50 % of the heads removes about 20 % of the FLOPs".into(),
            paper: "50 % of heads ≈ 20 % of the FLOPs".into(),
            ours: format!(
                "{:.1} % of the encoder's FLOPs at the mean length of {:.1} tokens (the feed-forward blocks stay)",
                flops_saved_50 * 100.0,
                mean_len
            ),
            verdict: if (flops_saved_50 - 0.2).abs() <= 0.05 { Verdict::Holds } else { Verdict::DoesNotHold },
            how: "multiply-adds counted from the shapes (src/flops.rs); holds within ±5 points of 20 %".into(),
        });
        Ok(PaperCheck { claims, ratios: ratio_rows, sizes, layers, flops_saved_50, evaluation_size: set.len(), curves, options: o.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_grids() {
        let a = vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
        let rev: Grid = a.iter().map(|r| r.iter().map(|x| -x).collect()).collect();
        assert!((spearman(&a, &a) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &rev) + 1.0).abs() < 1e-12);
        // Ties get their average rank: [1, 1, 2] vs [1, 2, 3] → ρ = √3/2.
        assert!((spearman(&vec![vec![1.0, 1.0, 2.0]], &vec![vec![1.0, 2.0, 3.0]]) - 3f64.sqrt() / 2.0).abs() < 1e-12);
    }

    #[test]
    fn verdicts_follow_the_spread() {
        assert_eq!(better((0.80, 0.01), (0.75, 0.01)).0, Verdict::Holds);
        assert_eq!(better((0.70, 0.01), (0.75, 0.01)).0, Verdict::DoesNotHold);
        assert_eq!(better((0.755, 0.02), (0.75, 0.02)).0, Verdict::WithinSeedSpread);
        let (counts, even, mean) = spread_of(&[(0, 1), (1, 2), (2, 0)], 3);
        assert_eq!(counts, vec![1, 1, 1]);
        assert!((even - 1.0).abs() < 1e-12 && (mean - 1.0).abs() < 1e-12);
        let (_, even, mean) = spread_of(&[(0, 1), (0, 2)], 3);
        assert_eq!((even, mean), (0.0, 0.0));
    }
}
