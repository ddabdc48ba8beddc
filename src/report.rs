//! The typed results that the CLI prints as JSON and the page receives from the worker: one set
//! of structs for both, with the field names of the CLI's JSON, the CSV files and Hugging Face
//! (snake_case) on every side. And the CSV schema, written here for the CLI and the page alike.

use serde::{Deserialize, Serialize, Serializer};
use tsify::Tsify;

use crate::analysis::Grid;
use crate::config::{Metric, ProblemType};
use crate::curves::Curves;
use crate::device::Backend;
use crate::engine::AttentionMaps;
use crate::model::Compute;
use crate::prune::PruneOptions;
use crate::scores::Scores;

/// A newtype over a `Vec` that crosses the wasm boundary as one typed-array copy (in wasm it
/// serializes through `serde_wasm_bindgen::preserve`, which only serde-wasm-bindgen understands)
/// and is a plain list in JSON (the crate serializes values to JSON natively only).
macro_rules! typed_array {
    ($(#[$doc:meta])* $name:ident, $elem:ty, $js:ident, $js_ts:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Tsify)]
        #[serde(transparent)]
        #[tsify(type = $js_ts)]
        pub struct $name(pub Vec<$elem>);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                #[cfg(target_family = "wasm")]
                return serde_wasm_bindgen::preserve::serialize(&js_sys::$js::from(self.0.as_slice()), serializer);
                #[cfg(not(target_family = "wasm"))]
                serializer.collect_seq(&self.0)
            }
        }
    };
}

typed_array!(
    /// A flat f32 tensor (its shape is given beside it): a `Float32Array` in JS, so a 512-token
    /// sentence's 19 M attention weights cross the boundary as one copy.
    F32s, f32, Float32Array, "Float32Array"
);

typed_array!(
    /// A flat u32 list (token ids): a `Uint32Array` in JS, one copy, where serde-wasm-bindgen would
    /// set a JS array element by element (for the 800 dev sentences' ids that took longer than the
    /// forward pass itself: 56 % of an `embed` call in the V8 profile).
    U32s, u32, Uint32Array, "Uint32Array"
);

/// What is loaded, with Hugging Face's config names.
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct ModelInfo {
    pub backend: Backend,
    /// Why "auto" ended on the CPU, if it did.
    pub fallback: Option<String>,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub hidden_size: usize,
    pub max_position_embeddings: usize,
    /// Tokens per input before truncation: max_position_embeddings, or sentence-transformers'
    /// max_seq_length for a checkpoint used as sentence-transformers uses it.
    pub max_len: usize,
    /// "mean" or "cls", and whether the pooled vector is L2-normalised.
    pub pooling: String,
    pub normalize: bool,
    /// "checkpoint" (BertForSequenceClassification's own), "file" (a separate classifier) or none.
    pub classifier: Option<String>,
    pub labels: Vec<String>,
    pub parameters: usize,
    /// Heads the checkpoint no longer has (config.json's `pruned_heads` and `hies_zeroed_heads`),
    /// as [layer, head]: their cells in every [L × H] grid are 0, the min-max leaves them out and
    /// every pruning order starts with them (`Scores::absent_heads`; a notice says so).
    pub absent_heads: Vec<(usize, usize)>,
    /// How inference multiplies: f32, or int8 weights and activations (`Session::set_compute`).
    pub compute: Compute,
    /// Whether this build's q8 kernel uses relaxed SIMD's int8 dot product (the page's
    /// `pkg-relaxed` build) rather than SIMD128's i16 one: the same bits for any finite input
    /// (tests/browser/analysis.test.mjs checks q8 predictions bit for bit).
    pub relaxed_simd: bool,
    /// What the classifier predicts (none without a classifier).
    pub problem_type: Option<ProblemType>,
    /// Its metric: accuracy, or Pearson's r for a regression head.
    pub metric: Option<Metric>,
    /// config.json's first `architectures` entry ("BertModel" when it names none).
    pub architecture: String,
    /// What loading left out or assumed (e.g. pre-training heads not used), in plain words.
    pub notices: Vec<String>,
    /// The evaluation set holds sentence pairs (`label<TAB>text_a<TAB>text_b`).
    pub sentence_pairs: bool,
    /// Sentences in the calibration pool, the evaluation set and the validation split now set.
    pub calibration_size: usize,
    pub evaluation_size: usize,
    pub validation_size: usize,
}

/// A classifier's output for one sentence: logits, their softmax and argmax; a regression head's
/// one score as `logits` alone.
#[derive(Debug, Clone, PartialEq, Serialize, Tsify)]
pub struct Prediction {
    pub logits: Vec<f32>,
    /// softmax(logits) (classifiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub probs: Option<Vec<f32>>,
    /// argmax, an index into the labels (classifiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub label: Option<usize>,
}

impl Prediction {
    /// From one sentence's logits: a classifier's (≥ 2 values) or a regression head's score (1).
    pub fn from_logits(logits: &[f32]) -> Self {
        if logits.len() == 1 {
            return Self { logits: logits.to_vec(), probs: None, label: None };
        }
        let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = logits.iter().map(|x| (x - m).exp()).collect();
        let s: f32 = e.iter().sum();
        let probs: Vec<f32> = e.into_iter().map(|x| x / s).collect();
        let label = crate::evaluate::argmax_rows(logits, logits.len())[0];
        Self { logits: logits.to_vec(), probs: Some(probs), label: Some(label) }
    }
}

/// One input classified, with what the tokenizer made of it (`hies classify`, one JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Tsify)]
pub struct Classified {
    pub ids: Vec<u32>,
    /// 0 for a single sentence and the first of a pair, 1 for the second.
    pub token_type_ids: Vec<u32>,
    /// The input was longer than the model takes and was cut.
    pub truncated: bool,
    /// A regression head's one value is its score.
    pub logits: Vec<f32>,
    /// softmax(logits), argmax (an index into the labels) and its name (`id2label`): classifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub probs: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub label: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub label_name: Option<String>,
}

/// One sentence, everything the page shows about it, from one forward and one backward pass.
/// (`hashmap_as_object`: with the flattened maps serde writes a map, which must reach JS as a
/// plain object, not a `Map`.)
#[derive(Debug, Clone, Serialize, Tsify)]
#[tsify(hashmap_as_object)]
pub struct Inspection {
    pub text: String,
    /// The second sentence, for a pair task.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub text_pair: Option<String>,
    /// Tokens, ids and every head's attention.
    #[serde(flatten)]
    pub maps: AttentionMaps,
    /// Per head: mean row entropy over the sentence divided by ln T (0 focused … 1 uniform).
    pub entropy: Grid,
    /// The same in nats.
    pub entropy_nats: Grid,
    /// Per head: mean largest attention weight (Voita et al. 2019).
    pub confidence: Grid,
    /// Per head: |∂L/∂ξ| at ξ = 1 for this sentence, the model's own prediction as the label;
    /// for a regression head |∂ŷ/∂ξ|, the score's own sensitivity (its loss against its own
    /// prediction would be flat).
    pub importance: Grid,
    pub full: Prediction,
    /// With the heads asked for removed (masked in the same batch; slicing gives the same
    /// numbers, tested); equal to `full` when none are.
    pub pruned: Prediction,
    pub heads_pruned: usize,
}

/// Which heads go, and how: masking (same work) or slicing them out of the weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Tsify)]
pub struct Removal {
    pub heads: Vec<(usize, usize)>,
    pub structural: bool,
}

/// An evaluation on the evaluation set with heads removed: accuracy for a classifier, Pearson's r
/// and Spearman's ρ for a regression head (`metric` says which; the others are absent).
#[derive(Debug, Clone, PartialEq, Serialize, Tsify)]
pub struct Evaluation {
    pub heads_pruned: usize,
    pub structural: bool,
    pub sentences: usize,
    pub metric: Metric,
    /// Share of gold labels predicted by the pruned and the unpruned model (classifiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub full_accuracy: Option<f64>,
    /// Pearson's r of the scores against the gold scores, pruned and unpruned (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub pearson: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub full_pearson: Option<f64>,
    /// Spearman's ρ, the same way (regression; ties share their mean rank).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub spearman: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub full_spearman: Option<f64>,
    /// Share of sentences where the pruned model predicts what the unpruned one does: the same
    /// label, or a regression score within `agreement_tolerance` of it.
    pub agreement: f64,
    /// 0 for a classifier; for a regression head 5 % of the gold scores' range
    /// (`crate::evaluate::AGREEMENT_SHARE`).
    pub agreement_tolerance: f32,
    /// Parameters of the model evaluated (smaller only when sliced) and of the unpruned one.
    pub parameters: usize,
    pub parameters_full: usize,
}

impl Evaluation {
    /// The task's metric (`metric`): accuracy, or Pearson's r.
    pub fn quality(&self) -> f64 {
        self.accuracy.or(self.pearson).unwrap_or(f64::NAN)
    }

    /// The same for the unpruned model.
    pub fn full_quality(&self) -> f64 {
        self.full_accuracy.or(self.full_pearson).unwrap_or(f64::NAN)
    }
}

/// Counts so far while an evaluation streams (over a random sample of the set at any point).
#[derive(Debug, Clone, Copy, Default, Serialize, Tsify)]
pub struct EvalProgress {
    pub done: usize,
    pub total: usize,
    /// Gold labels predicted, by the pruned and the unpruned model (classifiers; 0 otherwise).
    pub correct: usize,
    pub full_correct: usize,
    /// Sentences where the two agree (`Evaluation::agreement`).
    pub agree: usize,
    /// For a regression head, Pearson's r so far of the pruned and of the unpruned model.
    /// Pearson's r of the scores against the gold scores, pruned and unpruned (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub pearson: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub full_pearson: Option<f64>,
}

/// Median milliseconds per sentence at batch 1 (after a warm-up round).
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct Latency {
    pub full_ms: f64,
    /// Masking does the same work as the full model: its time says so.
    pub masked_ms: f64,
    /// The sliced model, when asked for.
    pub structural_ms: Option<f64>,
    /// Timed runs per variant and the sentences they cycle through.
    pub runs: usize,
    pub sentences: usize,
}

/// The heads a pruning setting removes and the scores of its last round.
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct Plan {
    pub pruned: Vec<(usize, usize)>,
    pub scores: Scores,
}

/// `hies prune`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub options: PruneOptions,
    /// Calibration sample size and seed.
    pub n: usize,
    pub seed: u64,
    pub pruned: Vec<(usize, usize)>,
    pub heads_pruned: usize,
    pub masked: Evaluation,
    pub structural: Option<Evaluation>,
    /// The sliced model predicts what the masked one does, sentence by sentence: the same
    /// label, or a regression score within [`crate::evaluate::SAME_SCORE`] (float rounding).
    pub structural_equals_masked: Option<bool>,
    pub latency: Latency,
}

/// Embeddings of several sentences, for the page: flat typed arrays, a constant number of JS
/// values whatever N (each JS value crosses the boundary through wasm-bindgen's externref table:
/// 200 sentences' ids as 200 arrays still took a tenth of an `embed` call).
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct EmbeddingBatch {
    pub dim: usize,
    /// [N, dim]
    pub embeddings: F32s,
    /// Every sentence's token ids, one after the other; sentence i has `lengths[i]`.
    pub ids: U32s,
    /// [N]
    pub lengths: U32s,
    /// [N], 1 where the sentence was cut to the model's input length.
    pub truncated: U32s,
}

/// One row per head. The HIES column is for the scores' own α. Errors: grids that are not all
/// `layers` × `heads`.
pub fn scores_csv(s: &Scores) -> crate::error::Result<String> {
    s.check_shape()?;
    let mut w = String::from("layer,head,hies,his,his_raw,his_token_mean,entropy,entropy_nats,confidence,weight_norm\n");
    for l in 0..s.layers {
        for h in 0..s.heads {
            let row = [
                s.hies[l][h],
                s.his[l][h],
                s.his_raw[l][h],
                s.his_token_mean[l][h],
                s.entropy[l][h],
                s.entropy_nats[l][h],
                s.confidence[l][h],
                s.weight_norm[l][h],
            ];
            w += &format!("{l},{h},{}\n", row.map(|x| x.to_string()).join(","));
        }
    }
    Ok(w)
}

/// One row per criterion and ratio; the metric columns are named by the task's metric
/// (accuracy_mean, or pearson_mean for a regression head).
pub fn curves_csv(c: &Curves) -> String {
    let m = match c.metric {
        Metric::Accuracy => "accuracy",
        Metric::Pearson => "pearson",
    };
    let mut w = format!("criterion,ratio,heads_pruned,{m}_mean,{m}_std,agreement_mean,agreement_std\n");
    for p in &c.points {
        w += &format!(
            "{},{},{},{},{},{},{}\n",
            p.criterion.id(),
            p.ratio,
            p.heads_pruned,
            p.accuracy_mean,
            p.accuracy_std,
            p.agreement_mean,
            p.agreement_std
        );
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_a_softmax_and_its_argmax() {
        let p = Prediction::from_logits(&[1.0, 3.0, 2.0]);
        assert_eq!(p.label, Some(1));
        let probs = p.probs.unwrap();
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let e = [1f64.exp(), 3f64.exp(), 2f64.exp()];
        let s: f64 = e.iter().sum();
        for (got, want) in probs.iter().zip(e.map(|x| x / s)) {
            assert!((*got as f64 - want).abs() < 1e-6);
        }
        // A regression head's score is its prediction, with no softmax.
        let r = Prediction::from_logits(&[2.5]);
        assert_eq!((r.logits, r.probs, r.label), (vec![2.5], None, None));
    }

    #[test]
    fn f32s_is_a_plain_list_in_json() {
        assert_eq!(serde_json::to_string(&F32s(vec![0.5, -1.0])).unwrap(), "[0.5,-1.0]");
    }
}
