//! Head scores over a calibration set: attention entropy, Voita confidence and HIS from one
//! forward pass and one backward pass per batch, plus the weight norm and HIES.

use burn::tensor::{Tensor, TensorData, activation::log_softmax};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::analysis::{self, Grid, HisNorm};
use crate::batch::{self, Batch};
use crate::config::ProblemType;
use crate::data::Example;
use crate::engine::{Engine, read};
use crate::error::{Error, Result};

/// Calibration batches are small: one gradient per example is kept ([B, L, H] gates).
const SCORE_BATCH_TOKENS: usize = 2048;
const SCORE_BATCH_SENTENCES: usize = 16;

/// How HIS and HIES are normalised and combined; the defaults are the paper's HIS (the `paper`
/// preset) and α = 0.5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Tsify)]
pub struct ScoreOptions {
    /// HIES weight on importance (1 = HIS only, 0 = entropy only).
    pub alpha: f64,
    pub his_norm: HisNorm,
    /// Min-max HIS and entropy within each layer instead of globally, inside HIES.
    pub per_layer_min_max: bool,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self { alpha: 0.5, his_norm: HisNorm::default(), per_layer_min_max: false }
    }
}

/// Every score as a [layer][head] grid.
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct Scores {
    pub layers: usize,
    pub heads: usize,
    /// Calibration examples and their real tokens.
    pub n: usize,
    pub tokens: usize,
    /// Seed of the calibration sample, when it was drawn by seed.
    pub seed: Option<u64>,
    pub alpha: f64,
    /// Attention entropy normalised by ln n, mean over examples (0 = focused, 1 = uniform).
    pub entropy: Grid,
    /// The same in nats, before the ln n normalisation.
    pub entropy_nats: Grid,
    /// Mean over examples of |∂L/∂ξ| at ξ = 1 (L: cross-entropy, or squared error for a
    /// regression head, as transformers trains each).
    pub his_raw: Grid,
    /// Mean over examples of |∂L/∂ξ| / (the example's real tokens): Eq. 2 of arXiv 2510.13832.
    pub his_token_mean: Grid,
    /// `his_raw` or `his_token_mean` after the normalisation switches.
    pub his: Grid,
    pub hies: Grid,
    /// Mean max attention weight over real query rows (Voita et al. 2019).
    pub confidence: Grid,
    /// ℓ2 norm of the head's query/key/value weights and its attention.output.dense inputs.
    pub weight_norm: Grid,
    /// Heads the checkpoint no longer has (sliced out before it was saved), as [layer, head]:
    /// their cells are 0, the min-max leaves them out, and every pruning order puts them first
    /// (they are pruned already).
    #[serde(default)]
    #[tsify(optional)]
    pub absent_heads: Vec<(usize, usize)>,
    pub options: ScoreOptions,
}

impl Scores {
    /// Every grid is `layers` × `heads` (scores that came from outside, e.g. from JS).
    pub fn check_shape(&self) -> Result<()> {
        let grids =
            [&self.entropy, &self.entropy_nats, &self.his_raw, &self.his_token_mean, &self.his, &self.hies, &self.confidence, &self.weight_norm];
        let fits = |g: &Grid| g.len() == self.layers && g.iter().all(|r| r.len() == self.heads);
        if grids.into_iter().all(fits) {
            Ok(())
        } else {
            Err(Error::input(format!("scores: every grid must be {} layers × {} heads", self.layers, self.heads)))
        }
    }

    /// Recomputes `his` and `hies` for other switches; no model run needed.
    pub fn with_options(&self, options: ScoreOptions) -> Self {
        let absent = &self.absent_heads;
        let his = analysis::normalize_his(&self.his_raw, &self.his_token_mean, options.his_norm, absent);
        let hies = analysis::hies(&his, &self.entropy, options.alpha, options.per_layer_min_max, absent);
        Self { his, hies, alpha: options.alpha, options, ..self.clone() }
    }
}

/// Σ_b of each example's loss, as transformers' `*ForSequenceClassification` computes it for
/// one example: cross-entropy against the gold label, or for a regression head MSELoss (the
/// squared error of the one logit). Summed, not averaged, so ∂/∂ξ_b is example b's own gradient.
/// `logits` [B, C], `gold` [B] label indices or scores.
pub fn loss_sum(logits: Tensor<2>, gold: &[f32], problem_type: ProblemType, device: &burn::tensor::Device) -> Tensor<1> {
    let [b, labels] = logits.dims();
    match problem_type {
        ProblemType::SingleLabelClassification => {
            let mut onehot = vec![0f32; b * labels];
            for (r, &y) in gold.iter().enumerate() {
                onehot[r * labels + y as usize] = 1.0;
            }
            let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, labels]), device);
            -(log_softmax(logits, 1) * onehot).sum()
        }
        ProblemType::Regression => {
            let y = Tensor::<2>::from_data(TensorData::new(gold.to_vec(), [b, 1]), device);
            (logits - y).powf_scalar(2.0).sum()
        }
    }
}

impl Engine {
    /// Scores every head on `examples` (gold labels needed for HIS). Heads in `off` stay masked
    /// throughout, as iterative pruning re-scores the survivors. `progress(done, total)` is
    /// called after each batch.
    pub async fn score(
        &self,
        examples: &[Example],
        off: &[(usize, usize)],
        options: ScoreOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Scores> {
        let classifier = self.classifier()?;
        if examples.is_empty() {
            return Err(Error::input("no calibration examples to score on"));
        }
        let c = self.config();
        let (l, h) = (c.num_hidden_layers, c.num_attention_heads);
        let encoded = examples.iter().map(|e| self.encode(e)).collect::<Result<Vec<_>>>()?;
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();

        let (mut ent, mut ent_nats, mut conf) = (analysis::grid(l, h), analysis::grid(l, h), analysis::grid(l, h));
        let (mut grad_sum, mut grad_per_token) = (analysis::grid(l, h), analysis::grid(l, h));
        let mut done = 0;
        for group in batch::plan(&lens, SCORE_BATCH_TOKENS, SCORE_BATCH_SENTENCES) {
            let seqs: Vec<_> = group.iter().map(|&i| &encoded[i]).collect();
            let batch = Batch::from_encoded(&seqs, c.pad_token_id);
            let (b, t) = (batch.b, batch.t);

            // One head-mask row per example, so ∂(Σ_b L_b)/∂ξ_b is example b's own gradient.
            let head_mask: Tensor<3> = self.head_mask(off).repeat_dim(0, b).autodiff().require_grad(); // [B, L, H]
            let (out, mask) = self.forward(&batch, Some(head_mask.clone()), true);
            let logits = classifier.logits(&self.model, out.last_hidden_state, mask, self.pooling); // [B, C]
            let gold: Vec<f32> = group.iter().map(|&i| examples[i].label).collect();
            let loss = loss_sum(logits, &gold, classifier.problem_type, &self.device);

            let probs = read(Tensor::cat(out.attentions, 1).detach()).await?; // [B, L*H, T, T]
            let grads = loss.backward();
            let g = head_mask.grad(&grads).expect("the head mask requires grad");
            let g = read(g).await?; // [B, L, H]

            for (r, &i) in group.iter().enumerate() {
                let stats = analysis::example_head_stats(&probs[r * l * h * t * t..(r + 1) * l * h * t * t], l * h, t, lens[i]);
                for (k, (nats, normed, confidence)) in stats.into_iter().enumerate() {
                    ent_nats[k / h][k % h] += nats;
                    ent[k / h][k % h] += normed;
                    conf[k / h][k % h] += confidence;
                    let g = (g[r * l * h + k] as f64).abs();
                    grad_sum[k / h][k % h] += g;
                    grad_per_token[k / h][k % h] += g / lens[i] as f64;
                }
            }
            done += group.len();
            progress(done, examples.len());
            self.checkpoint().await?;
        }

        let n = examples.len().max(1) as f64;
        let mean = |g: Grid| -> Grid { g.into_iter().map(|r| r.into_iter().map(|x| x / n).collect()).collect() };
        let tokens: usize = lens.iter().sum();
        let (his_raw, his_token_mean) = (mean(grad_sum), mean(grad_per_token));
        let absent = self.absent_heads();
        let his = analysis::normalize_his(&his_raw, &his_token_mean, options.his_norm, &absent);
        let entropy = mean(ent);
        let hies = analysis::hies(&his, &entropy, options.alpha, options.per_layer_min_max, &absent);
        Ok(Scores {
            layers: l,
            heads: h,
            n: examples.len(),
            tokens,
            seed: None,
            alpha: options.alpha,
            entropy,
            entropy_nats: mean(ent_nats),
            his_raw,
            his_token_mean,
            his,
            hies,
            confidence: mean(conf),
            weight_norm: self.weight_norms().await?,
            absent_heads: absent,
            options,
        })
    }

    /// Heads the checkpoint no longer has (config.json's `pruned_heads`, `hies_zeroed_heads`).
    pub fn absent_heads(&self) -> Vec<(usize, usize)> {
        let h = self.config().num_attention_heads;
        self.model
            .layers
            .iter()
            .enumerate()
            .flat_map(|(l, layer)| (0..h).filter(|k| !layer.attention.heads.contains(k)).map(move |k| (l, k)))
            .collect()
    }

    /// ℓ2 norm per head over its query/key/value output features and the attention.output.dense
    /// input features that read its context (weights only, no biases).
    pub async fn weight_norms(&self) -> Result<Grid> {
        if let Some(g) = self.weight_norm.get() {
            return Ok(g.clone());
        }
        let c = self.config();
        let (d, dh) = (c.hidden_size, c.head_dim());
        let mut out = analysis::grid(c.num_hidden_layers, c.num_attention_heads);
        for (l, layer) in self.model.layers.iter().enumerate() {
            let a = &layer.attention;
            let sq = |v: &[f32]| v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
            let (q, k, v) = (read(a.query.weight.clone()).await?, read(a.key.weight.clone()).await?, read(a.value.weight.clone()).await?);
            let o = read(a.output_dense.weight.clone()).await?; // [H_kept*dh, D]
            let kept = a.heads.len() * dh;
            for (p, &head) in a.heads.iter().enumerate() {
                let cols = p * dh..(p + 1) * dh;
                let mut s = 0.0;
                for row in 0..d {
                    // query/key/value are [D, H_kept*dh]: this head's columns.
                    for m in [&q, &k, &v] {
                        s += sq(&m[row * kept + cols.start..row * kept + cols.end]);
                    }
                }
                s += sq(&o[cols.start * d..cols.end * d]);
                out[l][head] = s.sqrt();
            }
        }
        Ok(self.weight_norm.get_or_init(|| out).clone())
    }
}
