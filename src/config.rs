//! The model's shape, read from Hugging Face `config.json` for each encoder of the BERT family,
//! and the pooling that the sentence-transformers files (`modules.json`, `1_Pooling/config.json`)
//! declare.

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::error::{Error, Result};

/// The encoders HIES Lab runs: one post-LayerNorm BERT layer stack, with each family's names
/// (`crate::weights` maps them), embeddings and classification head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    /// BERT (`bert`): word + position + token type embeddings; BertForSequenceClassification
    /// classifies tanh(pooler.dense(h[CLS])).
    Bert,
    /// DistilBERT (`distilbert`): no token types; `dim`, `n_layers`, `n_heads`, `hidden_dim`;
    /// pre_classifier + ReLU + classifier on [CLS].
    DistilBert,
    /// RoBERTa (`roberta`) and XLM-RoBERTa (`xlm-roberta`): positions count from padding_idx + 1,
    /// one token type; classifier.dense + tanh + classifier.out_proj on <s>.
    Roberta,
    /// ELECTRA discriminator (`electra`): embeddings of `embedding_size`, projected to the hidden
    /// size by embeddings_project when they differ; classifier.dense + GELU + out_proj.
    Electra,
}

impl std::fmt::Display for ModelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bert => "BERT",
            Self::DistilBert => "DistilBERT",
            Self::Roberta => "RoBERTa",
            Self::Electra => "ELECTRA",
        })
    }
}

/// What a sequence classifier predicts and the loss it is trained with: transformers'
/// `problem_type`, which it infers when config.json leaves it out (one output: regression;
/// several: single-label classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum ProblemType {
    /// One label per input: softmax over the logits, cross-entropy; accuracy.
    SingleLabelClassification,
    /// One score per input (STS-B): the single logit, squared error (MSELoss); Pearson's r.
    Regression,
}

impl ProblemType {
    /// The problem a classifier with `outputs` rows solves, given config.json's `problem_type`.
    /// Errors: a declared type that does not fit the row count (a one-row "classifier" or a
    /// multi-output regression, which HIES Lab does not measure).
    pub fn of(declared: Option<Self>, outputs: usize) -> Result<Self> {
        match (declared, outputs) {
            (None | Some(Self::Regression), 1) => Ok(Self::Regression),
            (Some(Self::SingleLabelClassification), 1) => Err(Error::config(
                "problem_type is \"single_label_classification\" but the classifier has 1 output: a classifier needs at least 2 labels (a one-output head is a regression head: leave problem_type out or set \"regression\")",
            )),
            (Some(Self::Regression), n) => Err(Error::config(format!(
                "problem_type is \"regression\" with {n} outputs: HIES Lab measures one-score regression heads (num_labels = 1, as STS-B) and single-label classifiers"
            ))),
            (_, _) => Ok(Self::SingleLabelClassification),
        }
    }

    /// The metric the task is measured by.
    pub fn metric(self) -> Metric {
        match self {
            Self::SingleLabelClassification => Metric::Accuracy,
            Self::Regression => Metric::Pearson,
        }
    }
}

/// A task's quality metric: what the `accuracy_*` fields of curves, the α sweep and the paper
/// check hold, named beside them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Share of gold labels predicted (0–1).
    #[default]
    Accuracy,
    /// Pearson's r of the predicted against the gold scores (−1–1), GLUE's STS-B metric.
    Pearson,
}

impl Metric {
    /// As the CLI and the page print it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accuracy => "accuracy",
            Self::Pearson => "Pearson r",
        }
    }
}

/// The `model_type`s accepted, for messages.
pub const SUPPORTED: &str = "bert, distilbert, roberta, xlm-roberta and electra";

impl ModelType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bert" => Self::Bert,
            "distilbert" => Self::DistilBert,
            "roberta" | "xlm-roberta" => Self::Roberta,
            "electra" => Self::Electra,
            _ => return None,
        })
    }

    /// The prefix transformers puts before the encoder's tensors in a model with a head.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert.",
            Self::DistilBert => "distilbert.",
            Self::Roberta => "roberta.",
            Self::Electra => "electra.",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub model_type: ModelType,
    pub vocab_size: usize,
    pub hidden_size: usize,
    /// The embeddings' width: `hidden_size` except ELECTRA's `embedding_size`.
    pub embedding_size: usize,
    /// The first position id of a sequence: 0, or RoBERTa's padding_idx + 1.
    pub position_offset: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    /// 0 for a model without token type embeddings (DistilBERT).
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: u32,
    /// `id2label` in index order, when the checkpoint names its classes.
    pub labels: Option<Vec<String>>,
    /// `problem_type` when config.json declares it ([`ProblemType::of`] decides with the
    /// classifier's row count).
    pub problem_type: Option<ProblemType>,
    /// A sentence-transformers CrossEncoder's output activation, when the config names one
    /// (`sbert_ce_default_activation_function` or `sentence_transformers.activation_fn`).
    pub cross_encoder_activation: Option<String>,
    /// `architectures` (e.g. `["BertForSequenceClassification"]`); may be empty.
    pub architectures: Vec<String>,
    /// `pruned_heads` as transformers writes it after `prune_heads`: layer → original indices of
    /// the heads sliced out of that layer's weights.
    pub pruned_heads: std::collections::BTreeMap<usize, Vec<usize>>,
    /// `hies_zeroed_heads` (ours; `hies export` writes it): layer → the one head kept in a layer
    /// that lost every head, with its attention.output.dense columns zeroed, because transformers
    /// cannot run a layer without heads. It adds exactly 0; the loader checks that and drops it.
    pub zeroed_heads: std::collections::BTreeMap<usize, Vec<usize>>,
}

impl BertConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Tokens an input may have: the position table less RoBERTa's offset.
    pub fn max_input_len(&self) -> usize {
        self.max_position_embeddings - self.position_offset
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct Raw {
            model_type: Option<String>,
            architectures: Option<Vec<String>>,
            vocab_size: Option<usize>,
            hidden_size: Option<usize>,
            num_hidden_layers: Option<usize>,
            num_attention_heads: Option<usize>,
            intermediate_size: Option<usize>,
            max_position_embeddings: Option<usize>,
            type_vocab_size: Option<usize>,
            layer_norm_eps: Option<f64>,
            pad_token_id: Option<u32>,
            hidden_act: Option<String>,
            position_embedding_type: Option<String>,
            is_decoder: Option<bool>,
            // DistilBERT's names for the same things.
            dim: Option<usize>,
            n_layers: Option<usize>,
            n_heads: Option<usize>,
            hidden_dim: Option<usize>,
            activation: Option<String>,
            // ELECTRA
            embedding_size: Option<usize>,
            problem_type: Option<String>,
            // sentence-transformers' CrossEncoder: the activation on its one output (v2–v3, v4+).
            sbert_ce_default_activation_function: Option<String>,
            sentence_transformers: Option<serde_json::Value>,
            id2label: Option<std::collections::BTreeMap<String, String>>,
            #[serde(default)]
            pruned_heads: std::collections::BTreeMap<String, Vec<usize>>,
            #[serde(default)]
            hies_zeroed_heads: std::collections::BTreeMap<String, Vec<usize>>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| Error::config(format!("not valid JSON ({e})")))?;

        let bert_arch = raw.architectures.iter().flatten().any(|a| a.starts_with("Bert"));
        let model_type = match raw.model_type.as_deref() {
            Some(t) => ModelType::parse(t).ok_or_else(|| Error::config(format!("model_type is \"{t}\"; HIES Lab runs {SUPPORTED} models")))?,
            None if bert_arch => ModelType::Bert,
            None => return Err(Error::config(format!("no model_type: expected one of {SUPPORTED}"))),
        };
        // The heads HIES Lab reads (a sequence classifier) or drops (pre-training heads);
        // a token-level or span head would be read as something it is not.
        for arch in raw.architectures.iter().flatten() {
            let ok = ["Model", "ForSequenceClassification", "ForPreTraining", "ForMaskedLM"].iter().any(|s| arch.ends_with(s));
            if !ok {
                return Err(Error::config(format!(
                    "architectures says {arch}: HIES Lab measures sentence and sentence-pair classifiers (…Model, …ForSequenceClassification, and …ForPreTraining or …ForMaskedLM, whose pre-training heads it leaves out)"
                )));
            }
        }
        // transformers picks the loss from problem_type: multi-label logits are independent
        // sigmoids, which softmax cross-entropy and argmax would misread.
        let problem_type = match raw.problem_type.as_deref() {
            None => None,
            Some("single_label_classification") => Some(ProblemType::SingleLabelClassification),
            Some("regression") => Some(ProblemType::Regression),
            Some(other) => {
                return Err(Error::config(format!(
                    "problem_type is \"{other}\": HIES Lab measures single-label classifiers (softmax over the labels, cross-entropy for HIS) and one-score regression heads (squared error)"
                )));
            }
        };
        let distil = model_type == ModelType::DistilBert;
        let act = if distil { raw.activation.as_deref() } else { raw.hidden_act.as_deref() };
        if let Some(act) = act
            && act != "gelu"
        {
            let key = if distil { "activation" } else { "hidden_act" };
            return Err(Error::config(format!("{key} \"{act}\" is not supported; only exact (erf) \"gelu\" is")));
        }
        if let Some(p) = raw.position_embedding_type.as_deref()
            && p != "absolute"
        {
            return Err(Error::config(format!("position_embedding_type \"{p}\" is not supported; only \"absolute\" is")));
        }
        if raw.is_decoder == Some(true) {
            return Err(Error::config("is_decoder is true; only BERT encoders are supported"));
        }

        fn need(v: Option<usize>, name: &str) -> Result<usize> {
            match v {
                Some(0) => Err(Error::config(format!("{name} is 0"))),
                Some(n) => Ok(n),
                None => Err(Error::config(format!("{name} is missing"))),
            }
        }
        let (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size) = if distil {
            (need(raw.dim, "dim")?, need(raw.n_layers, "n_layers")?, need(raw.n_heads, "n_heads")?, need(raw.hidden_dim, "hidden_dim")?)
        } else {
            (
                need(raw.hidden_size, "hidden_size")?,
                need(raw.num_hidden_layers, "num_hidden_layers")?,
                need(raw.num_attention_heads, "num_attention_heads")?,
                need(raw.intermediate_size, "intermediate_size")?,
            )
        };
        let pad_token_id = raw.pad_token_id.unwrap_or(if model_type == ModelType::Roberta { 1 } else { 0 });
        let mut config = Self {
            model_type,
            vocab_size: need(raw.vocab_size, "vocab_size")?,
            hidden_size,
            embedding_size: match model_type {
                ModelType::Electra => raw.embedding_size.unwrap_or(hidden_size),
                _ => hidden_size,
            },
            position_offset: if model_type == ModelType::Roberta { pad_token_id as usize + 1 } else { 0 },
            num_hidden_layers,
            num_attention_heads,
            intermediate_size,
            max_position_embeddings: need(raw.max_position_embeddings, "max_position_embeddings")?,
            type_vocab_size: if distil { 0 } else { raw.type_vocab_size.unwrap_or(2).max(1) },
            // DistilBERT's LayerNorms are built with eps 1e-12 whatever the config says.
            layer_norm_eps: if distil { 1e-12 } else { raw.layer_norm_eps.unwrap_or(1e-12) },
            pad_token_id,
            labels: raw.id2label.and_then(|m| {
                let mut v: Vec<(usize, String)> = m.into_iter().filter_map(|(k, l)| Some((k.parse().ok()?, l))).collect();
                v.sort();
                v.iter().enumerate().all(|(i, (k, _))| i == *k).then(|| v.into_iter().map(|(_, l)| l).collect())
            }),
            architectures: raw.architectures.clone().unwrap_or_default(),
            problem_type,
            cross_encoder_activation: raw
                .sentence_transformers
                .as_ref()
                .and_then(|s| s.get("activation_fn")?.as_str().map(str::to_string))
                .or(raw.sbert_ce_default_activation_function),
            pruned_heads: Default::default(),
            zeroed_heads: Default::default(),
        };
        for (key, raw_map) in [("pruned_heads", raw.pruned_heads), ("hies_zeroed_heads", raw.hies_zeroed_heads)] {
            for (layer, heads) in raw_map {
                let l: usize = layer.parse().map_err(|_| Error::config(format!("{key}: \"{layer}\" is not a layer index")))?;
                if l >= config.num_hidden_layers || heads.iter().any(|&h| h >= config.num_attention_heads) {
                    return Err(Error::config(format!(
                        "{key}: layer {l} heads {heads:?} do not exist in {} layers × {} heads",
                        config.num_hidden_layers, config.num_attention_heads
                    )));
                }
                let mut heads = heads;
                heads.sort();
                heads.dedup();
                if key == "pruned_heads" {
                    config.pruned_heads.insert(l, heads);
                } else if heads.iter().any(|h| config.pruned_heads.get(&l).is_some_and(|p| p.contains(h))) {
                    return Err(Error::config(format!("hies_zeroed_heads: layer {l} heads {heads:?} are also in pruned_heads")));
                } else {
                    config.zeroed_heads.insert(l, heads);
                }
            }
        }
        if !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(Error::config(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size, config.num_attention_heads
            )));
        }
        if config.max_position_embeddings < config.position_offset + 2 {
            return Err(Error::config("max_position_embeddings must leave room for [CLS] and [SEP]"));
        }
        Ok(config)
    }
}

/// sentence-transformers' `max_seq_length` from `sentence_bert_config.json`, if it declares one:
/// the length its `encode` truncates to (all-MiniLM-L6-v2: 256, below its 512 positions).
pub fn max_seq_length(sentence_bert_config: Option<&[u8]>) -> Result<Option<usize>> {
    let Some(bytes) = sentence_bert_config else { return Ok(None) };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::config(format!("sentence_bert_config.json is not JSON ({e})")))?;
    match v.get("max_seq_length") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(n) => match n.as_u64() {
            Some(n) if n >= 2 => Ok(Some(n as usize)),
            _ => Err(Error::config(format!("sentence_bert_config.json: max_seq_length {n} is not a length of at least 2"))),
        },
    }
}

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolingMode {
    /// Mean over real (non-padding) tokens, as sentence-transformers' `pooling_mode_mean_tokens`.
    Mean,
    /// The [CLS] state, as `pooling_mode_cls_token`.
    Cls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pooling {
    pub mode: PoolingMode,
    /// L2-normalise the pooled vector (a `Normalize` module in modules.json).
    pub normalize: bool,
}

impl Default for Pooling {
    /// A bare Hugging Face checkpoint has no sentence-transformers files: mean, not normalised.
    fn default() -> Self {
        Self { mode: PoolingMode::Mean, normalize: false }
    }
}

impl Pooling {
    /// Reads sentence-transformers' `modules.json` and `1_Pooling/config.json`; either may be absent.
    pub fn from_sentence_transformers(modules: Option<&[u8]>, pooling: Option<&[u8]>) -> Result<Self> {
        let mut out = Self::default();
        if let Some(bytes) = modules {
            #[derive(Deserialize)]
            struct Module {
                #[serde(rename = "type")]
                kind: String,
            }
            let modules: Vec<Module> =
                serde_json::from_slice(bytes).map_err(|e| Error::config(format!("modules.json is not a module list ({e})")))?;
            out.normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize"));
        }
        if let Some(bytes) = pooling {
            let v: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|e| Error::config(format!("1_Pooling/config.json is not JSON ({e})")))?;
            let flag = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
            out.mode = match (flag("pooling_mode_mean_tokens"), flag("pooling_mode_cls_token")) {
                (true, false) => PoolingMode::Mean,
                (false, true) => PoolingMode::Cls,
                _ => {
                    return Err(Error::config("1_Pooling/config.json: only mean or CLS pooling (exactly one) is supported"));
                }
            };
            if flag("pooling_mode_max_tokens") || flag("pooling_mode_mean_sqrt_len_tokens") {
                return Err(Error::config("1_Pooling/config.json: max and sqrt-len pooling are not supported"));
            }
        }
        Ok(out)
    }
}
