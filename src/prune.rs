//! Which heads to prune: a criterion turns scores into a keep-score grid (low = pruned first),
//! one-shot or iteratively (prune a step, re-score the survivors, repeat), globally or per layer.
//! The criteria, their names and descriptions come from one catalogue (`src/catalogue.json`)
//! that the CLI and the page read too.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::analysis::{self, Grid};
use crate::data::Example;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::scores::{ScoreOptions, Scores};

/// A pruning criterion; its serde name is its catalogue `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    Hies,
    His,
    Entropy,
    Confidence,
    WeightNorm,
    Random,
}

/// One catalogue entry: what the page and the CLI say about a criterion.
#[derive(Debug, Clone, Deserialize)]
pub struct CriterionInfo {
    pub id: Criterion,
    /// Short name ("HIES"), the form's label, and the grid legend's caption.
    pub name: String,
    pub label: String,
    pub scale: String,
    /// Its line colour in the curves.
    pub color: String,
    /// Needs a calibration pass (gradients or attention).
    pub needs_calibration: bool,
    /// Has a per-head value worth colouring the grid by (random has none).
    pub metric: bool,
    pub prunes_first: String,
    pub source: String,
}

/// The criteria in display order, from `src/catalogue.json`.
pub fn catalogue() -> &'static [CriterionInfo] {
    static C: OnceLock<Vec<CriterionInfo>> = OnceLock::new();
    C.get_or_init(|| {
        #[derive(Deserialize)]
        struct File {
            criteria: Vec<CriterionInfo>,
        }
        let file: File = serde_json::from_str(include_str!("catalogue.json")).expect("src/catalogue.json is valid (a unit test reads it)");
        file.criteria
    })
}

impl Criterion {
    /// By catalogue id (`hies`, `his`, …); the error lists them all.
    pub fn parse(id: &str) -> Result<Self> {
        catalogue().iter().map(|c| c.id).find(|c| c.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = catalogue().iter().map(|c| c.id.id()).collect();
            Error::input(format!("unknown criterion \"{id}\" ({})", ids.join(", ")))
        })
    }

    /// The catalogue id, which is also the serde name.
    pub fn id(self) -> &'static str {
        match self {
            Self::Hies => "hies",
            Self::His => "his",
            Self::Entropy => "entropy",
            Self::Confidence => "confidence",
            Self::WeightNorm => "weight_norm",
            Self::Random => "random",
        }
    }

    pub fn info(self) -> &'static CriterionInfo {
        catalogue().iter().find(|c| c.id == self).expect("every criterion is in the catalogue (unit test)")
    }

    pub fn needs_calibration(self) -> bool {
        self.info().needs_calibration
    }
}

/// Higher = keep. Entropy: high entropy (diffuse) goes first; the others: low goes first.
/// Heads the checkpoint no longer has score −∞: they are pruned already, so every order starts
/// with them and a count of heads to prune includes them.
pub fn keep_score(criterion: Criterion, scores: &Scores, random_seed: u64) -> Grid {
    let mut keep = criterion_score(criterion, scores, random_seed);
    for &(l, h) in &scores.absent_heads {
        keep[l][h] = f64::NEG_INFINITY;
    }
    keep
}

fn criterion_score(criterion: Criterion, scores: &Scores, random_seed: u64) -> Grid {
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

/// A pruning setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Tsify)]
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
    pub(crate) async fn scores_without_calibration(&self, options: ScoreOptions) -> Result<Scores> {
        let c = self.config();
        let zeros = analysis::grid(c.num_hidden_layers, c.num_attention_heads);
        Ok(Scores {
            layers: c.num_hidden_layers,
            heads: c.num_attention_heads,
            n: 0,
            tokens: 0,
            seed: None,
            alpha: options.alpha,
            entropy: zeros.clone(),
            entropy_nats: zeros.clone(),
            his_raw: zeros.clone(),
            his_token_mean: zeros.clone(),
            his: zeros.clone(),
            hies: zeros.clone(),
            confidence: zeros,
            weight_norm: self.weight_norms().await?,
            absent_heads: self.absent_heads(),
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_every_criterion_once_by_its_serde_name() {
        let all = [Criterion::Hies, Criterion::His, Criterion::Entropy, Criterion::Confidence, Criterion::WeightNorm, Criterion::Random];
        let listed: Vec<Criterion> = catalogue().iter().map(|c| c.id).collect();
        assert_eq!(listed, all);
        for c in all {
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::String(c.id().into()));
            assert_eq!(Criterion::parse(c.id()).unwrap(), c);
        }
        assert!(!Criterion::Random.needs_calibration() && Criterion::Hies.needs_calibration());
        let e = Criterion::parse("magic").unwrap_err().to_string();
        assert!(e.contains("hies, his, entropy, confidence, weight_norm, random"), "{e}");
    }
}
