//! The model's shape, read from Hugging Face `config.json`, and the pooling that the
//! sentence-transformers files (`modules.json`, `1_Pooling/config.json`) declare.

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: u32,
    /// `id2label` in index order, when the checkpoint names its classes.
    pub labels: Option<Vec<String>>,
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
            id2label: Option<std::collections::BTreeMap<String, String>>,
            #[serde(default)]
            pruned_heads: std::collections::BTreeMap<String, Vec<usize>>,
            #[serde(default)]
            hies_zeroed_heads: std::collections::BTreeMap<String, Vec<usize>>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| Error::config(format!("not valid JSON ({e})")))?;

        let bert_arch = raw.architectures.iter().flatten().any(|a| a.starts_with("Bert"));
        match raw.model_type.as_deref() {
            Some("bert") => {}
            Some(other) => {
                return Err(Error::config(format!("model_type is \"{other}\"; HIES Lab runs BERT models (model_type \"bert\")")));
            }
            None if bert_arch => {}
            None => return Err(Error::config("no model_type: expected a BERT config (model_type \"bert\")")),
        }
        if let Some(act) = raw.hidden_act.as_deref()
            && act != "gelu"
        {
            return Err(Error::config(format!("hidden_act \"{act}\" is not supported; only exact (erf) \"gelu\" is")));
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
        let mut config = Self {
            vocab_size: need(raw.vocab_size, "vocab_size")?,
            hidden_size: need(raw.hidden_size, "hidden_size")?,
            num_hidden_layers: need(raw.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads: need(raw.num_attention_heads, "num_attention_heads")?,
            intermediate_size: need(raw.intermediate_size, "intermediate_size")?,
            max_position_embeddings: need(raw.max_position_embeddings, "max_position_embeddings")?,
            type_vocab_size: raw.type_vocab_size.unwrap_or(2).max(1),
            layer_norm_eps: raw.layer_norm_eps.unwrap_or(1e-12),
            pad_token_id: raw.pad_token_id.unwrap_or(0),
            labels: raw.id2label.and_then(|m| {
                let mut v: Vec<(usize, String)> = m.into_iter().filter_map(|(k, l)| Some((k.parse().ok()?, l))).collect();
                v.sort();
                v.iter().enumerate().all(|(i, (k, _))| i == *k).then(|| v.into_iter().map(|(_, l)| l).collect())
            }),
            architectures: raw.architectures.clone().unwrap_or_default(),
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
        if config.max_position_embeddings < 2 {
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
