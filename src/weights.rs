//! Safetensors bytes → named f32 arrays, with every check done before the model is built.
//!
//! The model asks for tensors by Hugging Face BERT's names (`encoder.layer.0.attention.self.query.weight`);
//! each family's own names map onto them ([`canonical`]): the `bert.`/`distilbert.`/`roberta.`/
//! `electra.` prefix of a model with a head is stripped, DistilBERT's `q_lin`/…/`ffn.lin2` and
//! the heads' dense layers (`pre_classifier`, `classifier.dense`, `classifier.out_proj`) are
//! renamed (RoBERTa's encoder pooler becomes `encoder_pooler.`, left out), and old
//! `LayerNorm.gamma/beta` names are read as `weight/bias`. Messages name a
//! tensor as the checkpoint's family names it. The model builder `take`s each tensor it expects
//! with its shape; `finish` then rejects any tensor nobody took, so a wrong checkpoint never
//! loads half-way.

use std::collections::{BTreeMap, BTreeSet};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::config::ModelType;
use crate::error::{Error, Result};
use crate::lora::Adapter;

/// Tensors that HF checkpoints carry but the model never reads.
const IGNORED: &[&str] = &["embeddings.position_ids"];

/// (the family's name, BERT's name) for the parts inside a layer and the classification head,
/// most specific first; DistilBERT's layers also sit under `transformer.layer.`.
fn renames(model_type: ModelType) -> &'static [(&'static str, &'static str)] {
    match model_type {
        ModelType::Bert => &[],
        ModelType::DistilBert => &[
            (".attention.q_lin.", ".attention.self.query."),
            (".attention.k_lin.", ".attention.self.key."),
            (".attention.v_lin.", ".attention.self.value."),
            (".attention.out_lin.", ".attention.output.dense."),
            (".sa_layer_norm.", ".attention.output.LayerNorm."),
            (".ffn.lin1.", ".intermediate.dense."),
            (".ffn.lin2.", ".output.dense."),
            (".output_layer_norm.", ".output.LayerNorm."),
        ],
        ModelType::Roberta | ModelType::Electra => &[],
    }
}

/// The head's dense layer and output, as each family names them, and BERT's names for them.
fn head_renames(model_type: ModelType) -> &'static [(&'static str, &'static str)] {
    match model_type {
        ModelType::Bert => &[],
        ModelType::DistilBert => &[("pre_classifier.", "pooler.dense.")],
        ModelType::Roberta | ModelType::Electra => &[("classifier.dense.", "pooler.dense."), ("classifier.out_proj.", "classifier.")],
    }
}

/// Heads each family's checkpoints may carry that its sequence classifier does not read, left
/// out as transformers leaves them out: the pre-training heads, and RoBERTa's encoder pooler
/// (RobertaForSequenceClassification has none; its head reads <s> through classifier.dense).
pub fn unused_heads(model_type: ModelType) -> &'static [&'static str] {
    match model_type {
        ModelType::Bert => &["cls."],
        ModelType::DistilBert => &["vocab_transform.", "vocab_layer_norm.", "vocab_projector."],
        ModelType::Roberta => &["lm_head.", "encoder_pooler."],
        ModelType::Electra => &["discriminator_predictions.", "generator_predictions.", "generator_lm_head."],
    }
}

/// The BERT name the model asks for, of a tensor named `name` in a `model_type` checkpoint.
pub fn canonical(name: &str, model_type: ModelType) -> String {
    let name = name.strip_prefix(model_type.prefix()).unwrap_or(name);
    let mut name = match name.strip_suffix("LayerNorm.gamma") {
        Some(stem) => format!("{stem}LayerNorm.weight"),
        None => match name.strip_suffix("LayerNorm.beta") {
            Some(stem) => format!("{stem}LayerNorm.bias"),
            None => name.to_string(),
        },
    };
    if model_type == ModelType::DistilBert
        && let Some(rest) = name.strip_prefix("transformer.layer.")
    {
        name = format!("encoder.layer.{rest}");
    }
    // RobertaModel's own pooler: kept apart from the head's dense layer, which takes its name.
    if model_type == ModelType::Roberta
        && let Some(rest) = name.strip_prefix("pooler.")
    {
        return format!("encoder_pooler.{rest}");
    }
    if let Some((from, to)) = renames(model_type).iter().find(|(from, _)| name.contains(from)) {
        name = name.replacen(from, to, 1);
    }
    if let Some((from, to)) = head_renames(model_type).iter().find(|(from, _)| name.starts_with(from)) {
        name = name.replacen(from, to, 1);
    }
    name
}

/// The inverse of [`canonical`] (without a prefix), for messages: the name the family uses.
pub fn family_name(canonical: &str, model_type: ModelType) -> String {
    let mut name = canonical.to_string();
    if let Some((from, to)) = head_renames(model_type).iter().find(|(_, to)| name.starts_with(to)) {
        return name.replacen(to, from, 1);
    }
    if let Some((from, to)) = renames(model_type).iter().find(|(_, to)| name.contains(to)) {
        name = name.replacen(to, from, 1);
    }
    if model_type == ModelType::DistilBert
        && let Some(rest) = name.strip_prefix("encoder.layer.")
    {
        name = format!("transformer.layer.{rest}");
    }
    name
}

pub struct Weights<'a> {
    model_type: ModelType,
    file: SafeTensors<'a>,
    /// canonical name → name in the file
    names: BTreeMap<String, String>,
    taken: BTreeSet<String>,
    /// A LoRA adapter merged as tensors are taken (`crate::lora`).
    adapter: Adapter,
}

impl<'a> Weights<'a> {
    /// A BERT-named file (a classifier file, an adapter's base).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Self::parse_for(bytes, ModelType::Bert)
    }

    /// A checkpoint of `model_type`, its names mapped to BERT's.
    pub fn parse_for(bytes: &'a [u8], model_type: ModelType) -> Result<Self> {
        if bytes.len() < 8 {
            return Err(Error::weights(format!("file is {} bytes long; a safetensors file starts with an 8-byte header length", bytes.len())));
        }
        let file =
            SafeTensors::deserialize(bytes).map_err(|e| Error::weights(format!("not a valid safetensors file (truncated or corrupt?): {e}")))?;
        let mut names = BTreeMap::new();
        for name in file.names() {
            if let Some(previous) = names.insert(canonical(name, model_type), name.to_string()) {
                return Err(Error::weights(format!("tensors \"{previous}\" and \"{name}\" name the same weight")));
            }
        }
        Ok(Self { model_type, file, names, taken: BTreeSet::new(), adapter: Adapter::default() })
    }

    /// Merges `adapter` into the tensors as they are taken: its deltas are added to the
    /// checkpoint's weights, its saved modules replace (or add) whole tensors.
    pub fn with_adapter(mut self, adapter: Adapter) -> Self {
        self.adapter = adapter;
        self
    }

    /// Marks every tensor under `prefix` as read and returns their names in the file: heads a
    /// checkpoint carries for another task (BertForPreTraining's `cls.*`), which transformers
    /// also drops when it loads the encoder.
    pub fn skip_prefix(&mut self, prefix: &str) -> Vec<String> {
        let hit: Vec<(String, String)> = self.names.iter().filter(|(c, _)| c.starts_with(prefix)).map(|(c, s)| (c.clone(), s.clone())).collect();
        hit.into_iter()
            .map(|(c, s)| {
                self.taken.insert(c);
                s
            })
            .collect()
    }

    /// `canonical`'s name as this checkpoint's family writes it, for messages.
    pub fn family_name(&self, canonical: &str) -> String {
        family_name(canonical, self.model_type)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name) || self.adapter.replacements.contains_key(name)
    }

    pub fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        if let Some((shape, _)) = self.adapter.replacements.get(name) {
            return Some(shape.clone());
        }
        let stored = self.names.get(name)?;
        self.file.tensor(stored).ok().map(|v| v.shape().to_vec())
    }

    /// The tensor `name` as f32, checked against `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        if let Some((have, values)) = self.adapter.replacements.get(name) {
            if have != shape {
                return Err(Error::weights(format!("adapter tensor \"{name}\" has shape {have:?}, but the model needs {shape:?}")));
            }
            self.taken.insert(name.to_string());
            // An int8 base's scale goes with the tensor the adapter replaced.
            if let Some(stored) = self.names.get(name) {
                self.taken.insert(canonical(&format!("{stored}{}", crate::quantize::SCALE_SUFFIX), self.model_type));
            }
            return Ok(values.clone());
        }
        let mut values = self.take_stored(name, shape)?;
        if let Some(((rows, cols), delta)) = self.adapter.deltas.get(name) {
            if [*rows, *cols] != shape {
                return Err(Error::weights(format!("adapter: the LoRA update of \"{name}\" is [{rows}, {cols}], but the weight is {shape:?}")));
            }
            values.iter_mut().zip(delta).for_each(|(w, d)| *w += d);
        }
        Ok(values)
    }

    fn take_stored(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let stored = self
            .names
            .get(name)
            .cloned()
            .ok_or_else(|| Error::weights(format!("missing tensor \"{}\" (expected shape {shape:?})", family_name(name, self.model_type))))?;
        let stored = stored.as_str();
        let view = self.file.tensor(stored).map_err(|e| Error::weights(format!("tensor \"{stored}\" cannot be read: {e}")))?;
        if view.shape() != shape {
            return Err(Error::weights(format!("tensor \"{stored}\" has shape {:?}, but config.json implies {shape:?}", view.shape())));
        }
        let values = match view.dtype() {
            Dtype::I8 => self.dequantize(stored, view.data(), shape)?,
            dtype => to_f32(dtype, view.data()).ok_or_else(|| {
                Error::weights(format!("tensor \"{stored}\" has dtype {dtype:?}; expected a float type (F32, F16, BF16, F64) or I8 with a scale"))
            })?,
        };
        self.taken.insert(name.to_string());
        Ok(values)
    }

    /// An int8 tensor [rows, …] and its `…_scale` [rows, 1] (`crate::quantize`): q · scale per row.
    fn dequantize(&mut self, stored: &str, q: &[u8], shape: &[usize]) -> Result<Vec<f32>> {
        let scale_name = format!("{stored}{}", crate::quantize::SCALE_SUFFIX);
        let rows = shape[0];
        let view = self.file.tensor(&scale_name).map_err(|_| {
            Error::weights(format!("tensor \"{stored}\" is int8 but has no \"{scale_name}\" beside it (the {} format)", crate::quantize::FORMAT))
        })?;
        let scale = to_f32(view.dtype(), view.data())
            .filter(|s| view.shape().first() == Some(&rows) && s.len() == rows && s.iter().all(|x| x.is_finite() && *x >= 0.0))
            .ok_or_else(|| {
                Error::weights(format!(
                    "tensor \"{scale_name}\" must hold {rows} finite, non-negative floats as [{rows}, 1]; it is {:?} {:?}",
                    view.dtype(),
                    view.shape()
                ))
            })?;
        self.taken.insert(canonical(&scale_name, self.model_type));
        let cols = q.len() / rows.max(1);
        Ok(q.iter().enumerate().map(|(i, &b)| b as i8 as f32 * scale[i / cols]).collect())
    }

    /// A vector [n].
    pub fn vector(&mut self, name: &str, n: usize, device: &Device) -> Result<Tensor<1>> {
        let v = self.take(name, &[n])?;
        Ok(Tensor::from_data(TensorData::new(v, [n]), device))
    }

    /// A matrix stored as [rows, cols], kept as it is (embedding tables).
    pub fn matrix(&mut self, name: &str, rows: usize, cols: usize, device: &Device) -> Result<Tensor<2>> {
        let v = self.take(name, &[rows, cols])?;
        Ok(Tensor::from_data(TensorData::new(v, [rows, cols]), device))
    }

    /// A Linear weight stored by PyTorch as [out, in], returned transposed to [in, out] so that
    /// the forward pass is a plain `x @ w`.
    pub fn linear_weight(&mut self, name: &str, d_in: usize, d_out: usize, device: &Device) -> Result<Tensor<2>> {
        let v = self.take(name, &[d_out, d_in])?;
        let mut t = vec![0f32; v.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = v[o * d_in + i];
            }
        }
        Ok(Tensor::from_data(TensorData::new(t, [d_in, d_out]), device))
    }

    /// Fails on the first tensor that nothing took: a checkpoint for another architecture, or
    /// one with more layers than config.json declares.
    pub fn finish(self) -> Result<()> {
        let unused = self.adapter.deltas.keys().chain(self.adapter.replacements.keys()).find(|n| !self.taken.contains(*n));
        if let Some(name) = unused {
            return Err(Error::weights(format!("adapter: \"{name}\" matches no tensor of this model")));
        }
        let unexpected: Vec<&String> =
            self.names.iter().filter(|(c, _)| !self.taken.contains(*c) && !IGNORED.contains(&c.as_str())).map(|(_, stored)| stored).collect();
        match unexpected.as_slice() {
            [] => Ok(()),
            [one] => {
                Err(Error::weights(format!("unexpected tensor \"{one}\": it does not belong to a {} encoder with this config.json", self.model_type)))
            }
            [first, rest @ ..] => Err(Error::weights(format!(
                "unexpected tensor \"{first}\" (and {} more): they do not belong to a {} encoder with this config.json",
                rest.len(),
                self.model_type
            ))),
        }
    }
}

/// What transformers writes for a checkpoint too large for one file: `model.safetensors.index.json`.
pub const SHARD_INDEX: &str = "model.safetensors.index.json";

/// A `model.safetensors.index.json`: which shard holds each tensor (its `weight_map`).
pub struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

impl ShardIndex {
    pub fn parse(index: &[u8]) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Raw {
            weight_map: BTreeMap<String, String>,
        }
        let raw: Raw = serde_json::from_slice(index)
            .map_err(|e| Error::weights(format!("{SHARD_INDEX}: not an index with a \"weight_map\" of tensor → file ({e})")))?;
        if let Some(file) = raw.weight_map.values().find(|f| f.contains('/') || f.contains('\\') || !f.ends_with(".safetensors")) {
            return Err(Error::weights(format!("{SHARD_INDEX}: \"{file}\" is not a .safetensors file beside the index")));
        }
        Ok(Self { weight_map: raw.weight_map })
    }

    /// The shard files it names, sorted, each once.
    pub fn files(&self) -> Vec<String> {
        let files: BTreeSet<&String> = self.weight_map.values().collect();
        files.into_iter().cloned().collect()
    }

    /// One safetensors file from the shards (file name, bytes): every tensor of every shard,
    /// each where the index says it is (a tensor in the wrong shard, in two shards, missing or
    /// unlisted is an error that names it and the shard).
    pub fn merge(&self, shards: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
        let mut views = Vec::new();
        let mut seen = BTreeSet::new();
        for (file, bytes) in shards {
            let st = SafeTensors::deserialize(bytes)
                .map_err(|e| Error::weights(format!("{file}: not a valid safetensors file (truncated or corrupt?): {e}")))?;
            for (name, view) in st.tensors() {
                if self.weight_map.get(&name) != Some(file) {
                    return Err(Error::weights(format!("{file} holds \"{name}\", which {SHARD_INDEX} places elsewhere or not at all")));
                }
                seen.insert(name.clone());
                views.push((name, view));
            }
        }
        if let Some((missing, file)) = self.weight_map.iter().find(|(k, _)| !seen.contains(*k)) {
            return Err(Error::weights(format!("{SHARD_INDEX} lists \"{missing}\" in {file}, but that shard does not hold it")));
        }
        safetensors::serialize(views, None).map_err(|e| Error::weights(format!("cannot join the shards ({e})")))
    }
}

/// Weights files of other formats, by name (shards too), and what to do about them, ranked
/// PyTorch, TensorFlow, Flax (the first of a folder's is the one to report): `None` when the name
/// is not one of them. The page's upload view (`www/views/upload.js`) ranks and words them the
/// same, from `src/manifest.json`.
pub fn other_format(file_name: &str) -> Option<(u8, String)> {
    let formats = &crate::manifest::manifest().other_weight_formats;
    let name = file_name.rsplit('/').next().unwrap_or(file_name);
    let lower = name.to_ascii_lowercase();
    let is = |stem: &str, ext: &str| {
        lower.starts_with(stem) && lower.ends_with(ext) && (lower.len() == stem.len() + ext.len() || lower[stem.len()..].starts_with('-'))
    };
    if is("pytorch_model", ".bin") {
        Some((0, format!("{name} {}", formats.pytorch)))
    } else if is("tf_model", ".h5") {
        Some((1, format!("{name} {}", formats.tensorflow_flax)))
    } else if is("flax_model", ".msgpack") {
        Some((2, format!("{name} {}", formats.tensorflow_flax)))
    } else {
        None
    }
}

/// A float tensor's little-endian bytes as f32 (F32, F64, BF16, F16); none for other dtypes.
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    let v = match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        Dtype::BF16 => data.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
        _ => return None,
    };
    Some(v)
}

/// IEEE half → single, including subnormals, infinities and NaN.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: renormalise
            let shift = f.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((f << shift) & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    #[test]
    fn canonical_names() {
        let bert = ModelType::Bert;
        assert_eq!(canonical("bert.encoder.layer.0.output.LayerNorm.gamma", bert), "encoder.layer.0.output.LayerNorm.weight");
        assert_eq!(canonical("embeddings.LayerNorm.beta", bert), "embeddings.LayerNorm.bias");
        assert_eq!(canonical("classifier.weight", bert), "classifier.weight");
        // Each family's names, both ways.
        for (t, stored, bert_name) in [
            (ModelType::DistilBert, "distilbert.transformer.layer.1.attention.q_lin.weight", "encoder.layer.1.attention.self.query.weight"),
            (ModelType::DistilBert, "distilbert.transformer.layer.0.attention.out_lin.bias", "encoder.layer.0.attention.output.dense.bias"),
            (ModelType::DistilBert, "distilbert.transformer.layer.0.sa_layer_norm.weight", "encoder.layer.0.attention.output.LayerNorm.weight"),
            (ModelType::DistilBert, "distilbert.transformer.layer.0.ffn.lin2.weight", "encoder.layer.0.output.dense.weight"),
            (ModelType::DistilBert, "distilbert.transformer.layer.0.output_layer_norm.bias", "encoder.layer.0.output.LayerNorm.bias"),
            (ModelType::DistilBert, "pre_classifier.weight", "pooler.dense.weight"),
            (ModelType::Roberta, "roberta.encoder.layer.0.attention.output.dense.weight", "encoder.layer.0.attention.output.dense.weight"),
            (ModelType::Roberta, "classifier.out_proj.bias", "classifier.bias"),
            (ModelType::Electra, "classifier.dense.weight", "pooler.dense.weight"),
            (ModelType::Electra, "electra.embeddings_project.weight", "embeddings_project.weight"),
        ] {
            assert_eq!(canonical(stored, t), bert_name, "{stored}");
            let back = family_name(bert_name, t);
            assert_eq!(back, stored.strip_prefix(t.prefix()).unwrap_or(stored), "{bert_name}");
        }
    }
}
