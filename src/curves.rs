//! Accuracy (Pearson's r for a regression head) and agreement against the share of heads pruned,
//! for every criterion, as mean ± std over calibration seeds. Head sets first (cheap: scores per seed), then one pass over the
//! evaluation set that runs every distinct set batch by batch, so no layer input has to be kept
//! between sets whatever the set's size.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::analysis::{self, Head};
use crate::config::Metric;
use crate::data::{self, Example};
use crate::engine::Engine;
use crate::error::Result;
use crate::evaluate::{EvalSet, Pruned};
use crate::model::Compute;
use crate::prune::{Criterion, PruneOptions, keep_score};
use crate::scores::ScoreOptions;

/// Which curves: criteria × pruning ratios × calibration seeds, one-shot or iterative.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct CurveOptions {
    pub criteria: Vec<Criterion>,
    /// Shares of all heads to prune, 0–1.
    pub ratios: Vec<f64>,
    /// Calibration seeds (and the random baseline's own seeds).
    pub seeds: Vec<u64>,
    /// Calibration examples per seed.
    pub n: usize,
    /// The same share of heads from every layer (default: lowest scores globally).
    pub per_layer: bool,
    /// Iterative pruning with this step (share of all heads), re-scoring in between.
    pub iterative_step: Option<f64>,
    pub scores: ScoreOptions,
}

/// One criterion at one ratio: the task's metric (`Curves::metric`: accuracy, or Pearson's r)
/// and agreement, mean ± population std over the seeds.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
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

/// Every point, with what they were computed on.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct Curves {
    /// What the `accuracy*` fields hold: accuracy, or Pearson's r for a regression head.
    #[serde(default)]
    pub metric: Metric,
    /// How the evaluations multiplied: f32, or int8 (q8).
    #[serde(default)]
    pub compute: Compute,
    /// The unpruned model's accuracy (or r) on the evaluation set.
    pub full_accuracy: f64,
    /// Sentences in the evaluation set.
    pub evaluation_size: usize,
    pub points: Vec<CurvePoint>,
    pub options: CurveOptions,
    /// Distinct head sets evaluated (identical sets are evaluated once).
    pub evaluations: usize,
}

/// What a curve run reports as it goes: `stage` is "scoring" or "evaluating".
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct CurveProgress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

/// One curve point's head set for one seed.
struct Planned {
    criterion: Criterion,
    ratio: f64,
    /// Sorted, so identical sets compare equal.
    heads: Vec<Head>,
}

impl Engine {
    /// The head set of every criterion × ratio × seed. One-shot plans share their seed's scores;
    /// iterative ones re-score per ratio.
    async fn plan_curves(&self, pool: &[Example], options: &CurveOptions, progress: &mut dyn FnMut(CurveProgress)) -> Result<Vec<Planned>> {
        let c = self.config();
        let total = c.num_hidden_layers * c.num_attention_heads;
        let mut plans = Vec::new();
        let jobs = options.criteria.len() * options.seeds.len() * options.ratios.len();
        for &seed in &options.seeds {
            let calibration = data::sample(pool, options.n, seed);
            let base = if options.criteria.iter().any(|c| c.needs_calibration()) {
                self.score(&calibration, &[], options.scores, &mut |_, _| {}).await?
            } else {
                self.scores_without_calibration(options.scores).await?
            };
            for &criterion in &options.criteria {
                for &ratio in &options.ratios {
                    let count = analysis::heads_for_ratio(ratio, total);
                    let mut heads = if options.iterative_step.is_some() && criterion.needs_calibration() && count > 0 {
                        let o = PruneOptions {
                            criterion,
                            ratio,
                            per_layer: options.per_layer,
                            iterative_step: options.iterative_step,
                            scores: options.scores,
                            random_seed: seed,
                        };
                        self.plan_pruning(&calibration, &o, &mut |_, _| {}).await?.0
                    } else {
                        analysis::select_pruned(&keep_score(criterion, &base, seed), count, options.per_layer, &[])
                    };
                    heads.sort();
                    plans.push(Planned { criterion, ratio, heads });
                    progress(CurveProgress { stage: "scoring", done: plans.len(), total: jobs });
                }
            }
        }
        Ok(plans)
    }

    /// Accuracy and agreement vs pruning ratio for each criterion, mean ± std over the seeds:
    /// calibration samples of `options.n` drawn from `pool`, evaluation on `set`.
    pub async fn curves(&self, pool: &[Example], set: &EvalSet, options: &CurveOptions, progress: &mut dyn FnMut(CurveProgress)) -> Result<Curves> {
        let total = self.config().num_hidden_layers * self.config().num_attention_heads;
        let plans = self.plan_curves(pool, options, progress).await?;

        // Then every distinct set in one pass over the evaluation set.
        let sets: Vec<&[Head]> = plans.iter().map(|p| p.heads.as_slice()).collect();
        let done = self.evaluate_sets(set, &sets, &mut |done, n| progress(CurveProgress { stage: "evaluating", done, total: n })).await?;
        let (scored, full_accuracy, evaluations) = (done.scores, done.full_accuracy, done.distinct);

        let mut points = Vec::new();
        for &criterion in &options.criteria {
            for &ratio in &options.ratios {
                let runs: Vec<(f64, f64)> =
                    plans.iter().zip(&scored).filter(|(p, _)| p.criterion == criterion && p.ratio == ratio).map(|(_, s)| *s).collect();
                let acc: Vec<f64> = runs.iter().map(|r| r.0).collect();
                let agr: Vec<f64> = runs.iter().map(|r| r.1).collect();
                let (accuracy_mean, accuracy_std) = analysis::mean_std(&acc);
                let (agreement_mean, agreement_std) = analysis::mean_std(&agr);
                points.push(CurvePoint {
                    criterion,
                    ratio,
                    heads_pruned: analysis::heads_for_ratio(ratio, total),
                    accuracy_mean,
                    accuracy_std,
                    agreement_mean,
                    agreement_std,
                    accuracy: acc,
                    agreement: agr,
                });
            }
        }
        Ok(Curves {
            metric: set.problem_type.metric(),
            compute: self.compute(),
            full_accuracy,
            evaluation_size: set.len(),
            points,
            options: options.clone(),
            evaluations,
        })
    }

    /// (the task's metric, agreement with the unpruned model) of every head set in `sets` (each sorted),
    /// with identical sets evaluated once, all in one pass over `set`. `progress(done, total)`
    /// counts sentences.
    pub async fn evaluate_sets(&self, set: &EvalSet, sets: &[&[Head]], progress: &mut dyn FnMut(usize, usize)) -> Result<SetScores> {
        let mut distinct: Vec<&[Head]> = sets.to_vec();
        distinct.sort();
        distinct.dedup();
        let variants: Vec<Pruned> = distinct.iter().map(|h| Pruned::Mask(h)).collect();
        let n = set.len();
        let pass = self.pass_sorted(set, &variants, &mut |done| progress(done, n)).await?;
        let scored: BTreeMap<&[Head], (f64, f64)> =
            distinct.iter().zip(&pass.pruned).map(|(h, pred)| (*h, (set.quality(pred), set.agreement(pred, &pass.full)))).collect();
        Ok(SetScores { scores: sets.iter().map(|h| scored[h]).collect(), full_accuracy: set.quality(&pass.full), distinct: distinct.len() })
    }
}

/// What [`Engine::evaluate_sets`] returns.
pub struct SetScores {
    /// (accuracy or r, agreement) per set asked for, in order.
    pub scores: Vec<(f64, f64)>,
    /// The unpruned model's accuracy or r.
    pub full_accuracy: f64,
    /// Distinct sets evaluated.
    pub distinct: usize,
}
