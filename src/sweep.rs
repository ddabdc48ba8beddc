//! Choosing HIES's α the paper's way (arXiv 2510.13832, §4): for every α on a grid, prune at
//! each ratio with the calibration sample's HIES(α), measure accuracy on a held-out validation
//! split, and rank the α by a weighted area under that accuracy-vs-ratio curve, over several
//! calibration seeds. α* is the best mean.
//!
//! The weights are ours (the paper does not print them): proportional to the ratio, so the
//! high-sparsity regime where the paper claims its gains counts most. wAUC = Σ w_r·acc(r) / Σ w_r,
//! in accuracy units (for a regression head, in units of Pearson's r: the same sweep on r).

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::analysis::{self, Head};
use crate::config::Metric;
use crate::curves::CurveProgress;
use crate::data::{self, Example};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::evaluate::EvalSet;
use crate::model::Compute;
use crate::prune::{Criterion, keep_score};
use crate::scores::ScoreOptions;

/// The grid of a sweep.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct SweepOptions {
    pub alphas: Vec<f64>,
    /// Shares of all heads pruned, 0–1 (the paper's 10 %–90 %).
    pub ratios: Vec<f64>,
    /// Calibration seeds.
    pub seeds: Vec<u64>,
    /// Calibration examples per seed.
    pub n: usize,
    /// HIS preset and min-max switch (α is the swept variable; this one's is ignored).
    pub scores: ScoreOptions,
}

impl Default for SweepOptions {
    fn default() -> Self {
        Self {
            alphas: (0..=20).map(|i| i as f64 / 20.0).collect(),
            ratios: (1..=9).map(|i| i as f64 / 10.0).collect(),
            seeds: (0..5).collect(),
            n: 32,
            scores: ScoreOptions::default(),
        }
    }
}

/// One α: its wAUC per seed and their mean ± population std, and the mean accuracy per ratio.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct SweepPoint {
    pub alpha: f64,
    pub wauc_mean: f64,
    pub wauc_std: f64,
    pub wauc: Vec<f64>,
    /// Mean over seeds, one per ratio.
    pub accuracy_mean: Vec<f64>,
}

/// The sweep's result: `alpha_star` and the α → wAUC curve.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct Sweep {
    /// The α with the highest mean wAUC (the smallest such α on a tie).
    pub alpha_star: f64,
    pub alphas: Vec<f64>,
    pub curve: Vec<SweepPoint>,
    pub ratios: Vec<f64>,
    /// The weight of each ratio in the wAUC (sum 1).
    pub weights: Vec<f64>,
    pub weighting: String,
    /// What `accuracy_mean`, `wauc*` and `full_accuracy` are in: accuracy, or Pearson's r.
    #[serde(default)]
    pub metric: Metric,
    /// How the evaluations multiplied: f32, or int8 (q8).
    #[serde(default)]
    pub compute: Compute,
    /// The unpruned model's accuracy (or r) on the validation split.
    pub full_accuracy: f64,
    pub validation_size: usize,
    /// Distinct head sets evaluated (identical sets are evaluated once).
    pub evaluations: usize,
    pub options: SweepOptions,
}

/// Weights proportional to the ratio, normalised to sum 1.
pub fn ratio_weights(ratios: &[f64]) -> Vec<f64> {
    let sum: f64 = ratios.iter().sum();
    ratios.iter().map(|r| if sum > 0.0 { r / sum } else { 1.0 / ratios.len() as f64 }).collect()
}

/// Σ w·acc for one accuracy per ratio.
pub fn wauc(weights: &[f64], accuracy: &[f64]) -> f64 {
    weights.iter().zip(accuracy).map(|(w, a)| w * a).sum()
}

impl Engine {
    /// The α sweep on `validation` with calibration samples of `o.n` drawn from `pool` per seed.
    /// `progress` reports "scoring" per seed, then "evaluating" per validation sentence.
    pub async fn alpha_sweep(
        &self,
        pool: &[Example],
        validation: &EvalSet,
        o: &SweepOptions,
        progress: &mut dyn FnMut(CurveProgress),
    ) -> Result<Sweep> {
        if o.alphas.is_empty() || o.ratios.is_empty() || o.seeds.is_empty() || o.n == 0 || validation.is_empty() {
            return Err(Error::input("alpha sweep: needs α values, ratios, seeds, n ≥ 1 and a validation set"));
        }
        if o.alphas.iter().chain(&o.ratios).any(|x| !(0.0..=1.0).contains(x)) {
            return Err(Error::input("alpha sweep: α values and ratios must lie in 0–1"));
        }
        let c = self.config();
        let total = c.num_hidden_layers * c.num_attention_heads;
        // sets[seed][alpha][ratio]: the sorted head set.
        let mut sets: Vec<Vec<Vec<Vec<Head>>>> = Vec::new();
        for (k, &seed) in o.seeds.iter().enumerate() {
            let calibration = data::sample(pool, o.n, seed);
            let scores = self.score(&calibration, &[], o.scores, &mut |_, _| {}).await?;
            let per_alpha = o
                .alphas
                .iter()
                .map(|&alpha| {
                    let s = scores.with_options(ScoreOptions { alpha, ..o.scores });
                    let order = analysis::prune_order(&keep_score(Criterion::Hies, &s, 0), &[]);
                    o.ratios
                        .iter()
                        .map(|&r| {
                            let mut h: Vec<Head> = order[..analysis::heads_for_ratio(r, total)].to_vec();
                            h.sort();
                            h
                        })
                        .collect()
                })
                .collect();
            sets.push(per_alpha);
            progress(CurveProgress { stage: "scoring", done: k + 1, total: o.seeds.len() });
        }
        let flat: Vec<&[Head]> = sets.iter().flatten().flatten().map(|h| h.as_slice()).collect();
        let done = self.evaluate_sets(validation, &flat, &mut |d, n| progress(CurveProgress { stage: "evaluating", done: d, total: n })).await?;

        let weights = ratio_weights(&o.ratios);
        let (na, nr) = (o.alphas.len(), o.ratios.len());
        let acc = |s: usize, a: usize, r: usize| done.scores[(s * na + a) * nr + r].0;
        let curve: Vec<SweepPoint> = o
            .alphas
            .iter()
            .enumerate()
            .map(|(a, &alpha)| {
                let per_seed: Vec<f64> = (0..o.seeds.len()).map(|s| wauc(&weights, &(0..nr).map(|r| acc(s, a, r)).collect::<Vec<_>>())).collect();
                let (wauc_mean, wauc_std) = analysis::mean_std(&per_seed);
                let accuracy_mean = (0..nr).map(|r| (0..o.seeds.len()).map(|s| acc(s, a, r)).sum::<f64>() / o.seeds.len() as f64).collect();
                SweepPoint { alpha, wauc_mean, wauc_std, wauc: per_seed, accuracy_mean }
            })
            .collect();
        let best = curve.iter().fold(&curve[0], |b, p| if p.wauc_mean > b.wauc_mean { p } else { b });
        Ok(Sweep {
            alpha_star: best.alpha,
            alphas: o.alphas.clone(),
            ratios: o.ratios.clone(),
            weights,
            weighting: "proportional to the pruning ratio (normalised to sum 1)".into(),
            metric: validation.problem_type.metric(),
            compute: self.compute(),
            full_accuracy: done.full_accuracy,
            validation_size: validation.len(),
            evaluations: done.distinct,
            curve,
            options: o.clone(),
        })
    }
}

/// α* per built-in model and preset: `classifiers/alpha-star.json`, written by
/// `hies alpha-sweep --record`, read by the CLI (the default `--alpha`) and the page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlphaTable {
    pub note: String,
    /// model id → preset id → record.
    pub models: std::collections::BTreeMap<String, std::collections::BTreeMap<String, AlphaRecord>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlphaRecord {
    pub alpha_star: f64,
    pub wauc_mean: f64,
    pub wauc_std: f64,
    pub validation_size: usize,
    pub seeds: Vec<u64>,
    pub n: usize,
    /// The sweep's curve: (α, mean wAUC, std over seeds).
    pub curve: Vec<(f64, f64, f64)>,
    pub command: String,
}

impl AlphaTable {
    #[cfg(not(target_family = "wasm"))]
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::input(format!("cannot read {} ({e})", path.display())))?;
        serde_json::from_str(&text).map_err(|e| Error::input(format!("{}: {e}", path.display())))
    }

    pub fn get(&self, model: &str, preset: crate::analysis::Preset) -> Option<&AlphaRecord> {
        self.models.get(model)?.get(preset.id())
    }

    pub fn set(&mut self, model: &str, preset: crate::analysis::Preset, sweep: &Sweep, command: String) {
        let best = sweep.curve.iter().find(|p| p.alpha == sweep.alpha_star).expect("α* is on the curve");
        let record = AlphaRecord {
            alpha_star: sweep.alpha_star,
            wauc_mean: best.wauc_mean,
            wauc_std: best.wauc_std,
            validation_size: sweep.validation_size,
            seeds: sweep.options.seeds.clone(),
            n: sweep.options.n,
            curve: sweep.curve.iter().map(|p| (p.alpha, p.wauc_mean, p.wauc_std)).collect(),
            command,
        };
        self.models.entry(model.to_string()).or_default().insert(preset.id().to_string(), record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_ratio_and_wauc_is_their_mean() {
        let w = ratio_weights(&[0.1, 0.3, 0.6]);
        assert!((w[0] - 0.1).abs() < 1e-12 && (w[2] - 0.6).abs() < 1e-12);
        assert!((wauc(&w, &[1.0, 1.0, 1.0]) - 1.0).abs() < 1e-12);
        // The high ratio counts six times the low one.
        assert!((wauc(&w, &[0.5, 0.8, 0.7]) - (0.05 + 0.24 + 0.42)).abs() < 1e-12);
    }
}
