//! Which heads to prune: a criterion turns scores into a keep-score grid (low = pruned first),
//! one-shot or iteratively (prune a step, re-score the survivors, repeat), globally or per layer.
//! And the accuracy / agreement curves over pruning ratios for every criterion.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::analysis::{self, Grid};
use crate::data::{self, Example};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::evaluate::{self, EvalSet, Pruned};
use crate::rng::Rng;
use crate::scores::{ScoreOptions, Scores};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    Hies,
    His,
    Entropy,
    Confidence,
    WeightNorm,
    Random,
}

impl Criterion {
    pub const ALL: [Criterion; 6] = [Self::Hies, Self::His, Self::Entropy, Self::Confidence, Self::WeightNorm, Self::Random];

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| Error::input(format!("unknown criterion \"{name}\" (hies, his, entropy, confidence, weight_norm, random)")))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Hies => "hies",
            Self::His => "his",
            Self::Entropy => "entropy",
            Self::Confidence => "confidence",
            Self::WeightNorm => "weight_norm",
            Self::Random => "random",
        }
    }

    /// Needs a calibration pass (gradients or attention).
    pub fn needs_calibration(self) -> bool {
        !matches!(self, Self::WeightNorm | Self::Random)
    }
}

/// Higher = keep. Entropy: high entropy (diffuse) goes first; the others: low goes first.
pub fn keep_score(criterion: Criterion, scores: &Scores, random_seed: u64) -> Grid {
    match criterion {
        Criterion::Hies => scores.hies.clone(),
        Criterion::His => scores.his.clone(),
        Criterion::Entropy => scores.entropy.iter().map(|r| r.iter().map(|x| -x).collect()).collect(),
        Criterion::Confidence => scores.confidence.clone(),
        Criterion::WeightNorm => scores.weight_norm.clone(),
        Criterion::Random => {
            let mut rng = Rng::new(random_seed);
            scores.his.iter().map(|r| r.iter().map(|_| rng.next_f64()).collect()).collect()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PruneOptions {
    pub criterion: Criterion,
    /// Share of all heads to remove.
    pub ratio: f64,
    pub per_layer: bool,
    /// Iterative pruning: the share of all heads removed per step, re-scoring in between.
    pub iterative_step: Option<f64>,
    pub scores: ScoreOptions,
    /// Seed of the random baseline.
    pub random_seed: u64,
}

impl Engine {
    /// The heads to prune for `options` on the calibration set, and the scores of the last round.
    pub async fn plan_pruning(
        &self,
        calibration: &[Example],
        options: &PruneOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Vec<(usize, usize)>, Scores)> {
        let c = self.config();
        let total = c.num_hidden_layers * c.num_attention_heads;
        let target = analysis::heads_for_ratio(options.ratio, total);
        let step = match options.iterative_step {
            Some(s) if options.criterion.needs_calibration() => analysis::heads_for_ratio(s, total).max(1),
            _ => target.max(1),
        };
        let mut off: Vec<(usize, usize)> = Vec::new();
        loop {
            let scores = if options.criterion.needs_calibration() {
                self.score(calibration, &off, options.scores, progress).await?
            } else {
                self.scores_without_calibration(options.scores).await?
            };
            let next = (off.len() + step).min(target);
            let keep = keep_score(options.criterion, &scores, options.random_seed);
            let new = analysis::select_pruned(&keep, next, options.per_layer, &off);
            let stuck = new.is_empty();
            off.extend(new);
            if off.len() >= target || stuck {
                return Ok((off, scores));
            }
        }
    }

    /// Scores for criteria that need no data (weight norm, random): only `weight_norm` is filled.
    async fn scores_without_calibration(&self, options: ScoreOptions) -> Result<Scores> {
        let c = self.config();
        let zeros = analysis::grid(c.num_hidden_layers, c.num_attention_heads);
        Ok(Scores {
            layers: c.num_hidden_layers,
            heads: c.num_attention_heads,
            n: 0,
            tokens: 0,
            alpha: options.alpha,
            entropy: zeros.clone(),
            entropy_nats: zeros.clone(),
            his_raw: zeros.clone(),
            his: zeros.clone(),
            hies: zeros.clone(),
            confidence: zeros,
            weight_norm: self.weight_norms().await?,
            options,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurveOptions {
    pub criteria: Vec<Criterion>,
    pub ratios: Vec<f64>,
    /// Calibration seeds (and the random baseline's own seeds).
    pub seeds: Vec<u64>,
    /// Calibration examples per seed.
    pub n: usize,
    pub per_layer: bool,
    pub iterative_step: Option<f64>,
    pub scores: ScoreOptions,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurvePoint {
    pub criterion: Criterion,
    pub ratio: f64,
    pub heads_pruned: usize,
    pub accuracy_mean: f64,
    pub accuracy_std: f64,
    pub agreement_mean: f64,
    pub agreement_std: f64,
    /// One value per seed.
    pub accuracy: Vec<f64>,
    pub agreement: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Curves {
    pub full_accuracy: f64,
    pub points: Vec<CurvePoint>,
    pub options: CurveOptions,
    /// Distinct head sets evaluated (identical sets are evaluated once).
    pub evaluations: usize,
}

/// What a curve run reports as it goes.
pub struct CurveProgress<'a> {
    pub stage: &'a str,
    pub done: usize,
    pub total: usize,
}

impl Engine {
    /// Accuracy and agreement vs pruning ratio for each criterion, mean ± std over the seeds.
    pub async fn curves(
        &self,
        train: &[Example],
        dev: &mut EvalSet,
        options: &CurveOptions,
        progress: &mut dyn FnMut(CurveProgress),
    ) -> Result<Curves> {
        let full = self.predict_full(dev, &mut |_, _| {}).await?;
        let full_accuracy = evaluate::accuracy(&full, &dev.labels);
        let c = self.config();
        let total = c.num_hidden_layers * c.num_attention_heads;

        // Head sets first (cheap), then one evaluation per distinct set.
        let mut plans: Vec<(Criterion, f64, u64, Vec<(usize, usize)>)> = Vec::new();
        let jobs = options.criteria.len() * options.seeds.len() * options.ratios.len();
        for (s, &seed) in options.seeds.iter().enumerate() {
            let calibration = data::sample(train, options.n, seed);
            // One-shot plans share the seed's scores; iterative ones re-score per ratio.
            let base = self.score(&calibration, &[], options.scores, &mut |_, _| {}).await?;
            for (ci, &criterion) in options.criteria.iter().enumerate() {
                for (ri, &ratio) in options.ratios.iter().enumerate() {
                    let count = analysis::heads_for_ratio(ratio, total);
                    let heads = if options.iterative_step.is_some() && criterion.needs_calibration() && count > 0 {
                        let o = PruneOptions { criterion, ratio, per_layer: options.per_layer, iterative_step: options.iterative_step, scores: options.scores, random_seed: seed };
                        self.plan_pruning(&calibration, &o, &mut |_, _| {}).await?.0
                    } else {
                        let keep = keep_score(criterion, &base, seed);
                        analysis::select_pruned(&keep, count, options.per_layer, &[])
                    };
                    plans.push((criterion, ratio, seed, heads));
                    let done = (s * options.criteria.len() + ci) * options.ratios.len() + ri + 1;
                    progress(CurveProgress { stage: "scoring", done, total: jobs });
                }
            }
        }

        let mut cache: HashMap<Vec<(usize, usize)>, (f64, f64)> = HashMap::new();
        let distinct = {
            let mut sets: Vec<Vec<(usize, usize)>> = plans.iter().map(|p| sorted(&p.3)).collect();
            sets.sort();
            sets.dedup();
            sets.len()
        };
        for (_, _, _, heads) in &plans {
            let key = sorted(heads);
            if cache.contains_key(&key) {
                continue;
            }
            let pred = self.predict(dev, Pruned::Mask(&key), &mut |_, _| {}).await?;
            cache.insert(key, (evaluate::accuracy(&pred, &dev.labels), evaluate::agreement(&pred, &full)));
            progress(CurveProgress { stage: "evaluating", done: cache.len(), total: distinct });
        }

        let mut points = Vec::new();
        for &criterion in &options.criteria {
            for &ratio in &options.ratios {
                let runs: Vec<(f64, f64)> = plans
                    .iter()
                    .filter(|p| p.0 == criterion && p.1 == ratio)
                    .map(|p| cache[&sorted(&p.3)])
                    .collect();
                let acc: Vec<f64> = runs.iter().map(|r| r.0).collect();
                let agr: Vec<f64> = runs.iter().map(|r| r.1).collect();
                let (am, asd) = analysis::mean_std(&acc);
                let (gm, gsd) = analysis::mean_std(&agr);
                points.push(CurvePoint {
                    criterion,
                    ratio,
                    heads_pruned: analysis::heads_for_ratio(ratio, total),
                    accuracy_mean: am,
                    accuracy_std: asd,
                    agreement_mean: gm,
                    agreement_std: gsd,
                    accuracy: acc,
                    agreement: agr,
                });
            }
        }
        Ok(Curves { full_accuracy, points, options: options.clone(), evaluations: cache.len() })
    }
}

fn sorted(heads: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut v = heads.to_vec();
    v.sort();
    v
}
