//! LoRA adapters in PEFT's format (`adapter_config.json` + `adapter_model.safetensors`), merged
//! into the weights at load as PEFT's `merge_and_unload` does: W ← W + s·B·A with
//! s = lora_alpha / r (lora_alpha / √r with `use_rslora`). `modules_to_save` (the pooler and
//! the classifier of a BertForSequenceClassification) replace the checkpoint's own.
//!
//! Tensor names are PEFT's for BertForSequenceClassification:
//! `base_model.model.bert.encoder.layer.{i}.attention.self.query.lora_A.weight` [r, in],
//! `….lora_B.weight` [out, r], `base_model.model.classifier.weight` [labels, hidden],
//! `base_model.model.bert.pooler.dense.weight` [hidden, hidden]. Anything else is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The prefix PEFT puts before the wrapped model's own names.
pub const PEFT_PREFIX: &str = "base_model.model.";

/// The fields of PEFT's `LoraConfig` that change the merged weights (others are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub peft_type: String,
    #[serde(default)]
    pub task_type: Option<String>,
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    pub r: usize,
    pub lora_alpha: f64,
    #[serde(default)]
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
    #[serde(default)]
    pub modules_to_save: Option<Vec<String>>,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default = "bias_none")]
    pub bias: String,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub inference_mode: bool,
    /// Per-module ranks and alphas (PEFT ≥ 0.7); refused when not empty.
    #[serde(default, skip_serializing)]
    pub rank_pattern: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub alpha_pattern: std::collections::BTreeMap<String, serde_json::Value>,
}

fn bias_none() -> String {
    "none".into()
}

impl LoraConfig {
    /// The scale s of B·A.
    pub fn scale(&self) -> f64 {
        if self.use_rslora { self.lora_alpha / (self.r as f64).sqrt() } else { self.lora_alpha / self.r as f64 }
    }

    fn check(&self) -> Result<()> {
        let refuse = |why: String| Err(Error::weights(format!("adapter_config.json: {why}")));
        if self.peft_type != "LORA" {
            return refuse(format!("peft_type is \"{}\"; only LORA adapters are supported", self.peft_type));
        }
        if self.r == 0 {
            return refuse("r must be at least 1".into());
        }
        if self.fan_in_fan_out {
            return refuse("fan_in_fan_out = true is for GPT-2-style Conv1D layers, which BERT does not have".into());
        }
        if !self.rank_pattern.is_empty() || !self.alpha_pattern.is_empty() {
            return refuse("rank_pattern / alpha_pattern (a rank or alpha per module) are not supported: one r and lora_alpha for all".into());
        }
        if self.bias != "none" {
            return refuse(format!("bias = \"{}\": only adapters without bias terms (\"none\") are supported", self.bias));
        }
        Ok(())
    }
}

/// A tensor of an adapter, in PyTorch layout.
#[derive(Debug, Clone)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Layers LoRA may target, as paths inside `encoder.layer.{i}`.
const LORA_LAYERS: &[&str] =
    &["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"];
/// Modules that may be saved whole.
const SAVED_MODULES: &[&str] = &["pooler.dense", "classifier"];

/// A parsed adapter, ready to merge: what to add to, and what replaces, the checkpoint's tensors
/// (canonical names, PyTorch layout).
#[derive(Debug, Clone, Default)]
pub struct Adapter {
    /// `encoder.layer.{i}.….weight` → s·B·A, [out, in] row-major; `(rows, cols)` of B·A.
    pub deltas: BTreeMap<String, ((usize, usize), Vec<f32>)>,
    /// `classifier.weight`, `pooler.dense.bias`, … → (shape, values).
    pub replacements: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Adapter {
    /// Every tensor of an adapter file, by name order (for comparisons).
    pub fn tensors(weights: &[u8]) -> Result<Vec<NamedTensor>> {
        let file = safetensors::SafeTensors::deserialize(weights).map_err(|e| Error::weights(format!("not a valid safetensors file: {e}")))?;
        let mut out: Vec<NamedTensor> = file
            .tensors()
            .into_iter()
            .map(|(name, v)| NamedTensor { shape: v.shape().to_vec(), values: crate::weights::to_f32(v.dtype(), v.data()).unwrap_or_default(), name })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Reads PEFT's two files. Errors name the file or the tensor and the problem.
    pub fn parse(config: &[u8], weights: &[u8]) -> Result<Self> {
        let config: LoraConfig =
            serde_json::from_slice(config).map_err(|e| Error::weights(format!("adapter_config.json is not a PEFT LoraConfig: {e}")))?;
        config.check()?;
        let file = safetensors::SafeTensors::deserialize(weights)
            .map_err(|e| Error::weights(format!("adapter_model.safetensors is not a valid safetensors file: {e}")))?;
        let mut pairs: BTreeMap<String, [Option<NamedTensor>; 2]> = BTreeMap::new();
        let mut out = Self::default();
        for (name, view) in file.tensors() {
            let values = crate::weights::to_f32(view.dtype(), view.data())
                .ok_or_else(|| Error::weights(format!("adapter tensor \"{name}\" has dtype {:?}; expected a float type", view.dtype())))?;
            let short = name
                .strip_prefix(PEFT_PREFIX)
                .ok_or_else(|| Error::weights(format!("adapter tensor \"{name}\" does not start with \"{PEFT_PREFIX}\"")))?;
            let short = short.strip_prefix("bert.").unwrap_or(short).to_string();
            let t = NamedTensor { name: name.clone(), shape: view.shape().to_vec(), values };
            if let Some(module) = short.strip_suffix(".lora_A.weight") {
                pairs.entry(module.to_string()).or_default()[0] = Some(t);
            } else if let Some(module) = short.strip_suffix(".lora_B.weight") {
                pairs.entry(module.to_string()).or_default()[1] = Some(t);
            } else if SAVED_MODULES.iter().any(|m| short == format!("{m}.weight") || short == format!("{m}.bias")) {
                out.replacements.insert(short, (t.shape, t.values));
            } else {
                return Err(Error::weights(format!(
                    "adapter tensor \"{name}\" is neither a LoRA matrix of a supported layer nor the pooler's or classifier's weight or bias"
                )));
            }
        }
        let s = config.scale();
        let r = config.r;
        for (module, [a, b]) in pairs {
            let (Some(a), Some(b)) = (a, b) else {
                return Err(Error::weights(format!("adapter: \"{module}\" has only one of lora_A and lora_B")));
            };
            let supported = module
                .strip_prefix("encoder.layer.")
                .and_then(|x| x.split_once('.'))
                .is_some_and(|(i, path)| i.parse::<usize>().is_ok() && LORA_LAYERS.contains(&path));
            if !supported {
                return Err(Error::weights(format!("adapter: LoRA on \"{module}\" is not supported (only the encoder layers' linear projections)")));
            }
            let (d_in, d_out) = (a.shape.get(1).copied().unwrap_or(0), b.shape.first().copied().unwrap_or(0));
            if a.shape != [r, d_in] || b.shape != [d_out, r] {
                return Err(Error::weights(format!(
                    "adapter: \"{module}\" has lora_A {:?} and lora_B {:?}; r = {r} needs [{r}, in] and [out, {r}]",
                    a.shape, b.shape
                )));
            }
            // ΔW[o][i] = s·Σ_k B[o][k]·A[k][i], summed in f64.
            let mut delta = vec![0f32; d_out * d_in];
            for o in 0..d_out {
                for i in 0..d_in {
                    let dot: f64 = (0..r).map(|k| b.values[o * r + k] as f64 * a.values[k * d_in + i] as f64).sum();
                    delta[o * d_in + i] = (s * dot) as f32;
                }
            }
            out.deltas.insert(format!("{module}.weight"), ((d_out, d_in), delta));
        }
        Ok(out)
    }
}

/// [rows, cols] → [cols, rows].
pub fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// The adapter's files: `adapter_config.json` and `adapter_model.safetensors` bytes.
pub fn to_files(config: &LoraConfig, tensors: &[NamedTensor]) -> Result<(String, Vec<u8>)> {
    let config = serde_json::to_string_pretty(config).expect("a LoraConfig serialises");
    Ok((config + "\n", safetensors_bytes(tensors)?))
}

/// f32 tensors as a safetensors file (metadata `format: pt`, as PyTorch writers put).
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.values.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), b)
                .map_err(|e| Error::weights(format!("adapter tensor \"{}\": {e}", t.name)))?;
            Ok((t.name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| Error::weights(format!("writing safetensors: {e}")))
}
