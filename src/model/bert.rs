use burn::tensor::{Device, Int, Tensor};

use super::{Embeddings, Layer, Linear};
use crate::config::BertConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;

/// A BERT encoder, plus the `pooler` and `classifier` of BertForSequenceClassification when the
/// checkpoint has them.
#[derive(Clone, Debug)]
pub struct Bert {
    pub config: BertConfig,
    pub embeddings: Embeddings,
    pub layers: Vec<Layer>,
    /// `pooler.dense` (tanh applied on use), over the [CLS] state.
    pub pooler: Option<Linear>,
    /// `classifier` [hidden → num_labels].
    pub classifier: Option<Linear>,
}

pub struct BertOutput {
    pub hidden: Tensor<3>,          // [B, T, D]
    pub attentions: Vec<Tensor<4>>, // per layer [B, H, T, T], when asked for
}

impl Bert {
    /// Builds the model from safetensors bytes; every tensor is checked against `config`.
    pub fn load(config: &BertConfig, bytes: &[u8], device: &Device) -> Result<Self> {
        let mut w = Weights::parse(bytes)?;
        let embeddings = Embeddings::load(&mut w, config, device)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(&mut w, i, config, device))
            .collect::<Result<Vec<_>>>()?;
        let d = config.hidden_size;
        let pooler = if w.contains("pooler.dense.weight") {
            Some(Linear::load(&mut w, "pooler.dense", d, d, device)?)
        } else {
            None
        };
        let classifier = if w.contains("classifier.weight") {
            let labels = classifier_labels(&w)?;
            Some(Linear::load(&mut w, "classifier", d, labels, device)?)
        } else {
            None
        };
        w.finish()?;
        Ok(Self { config: config.clone(), embeddings, layers, pooler, classifier })
    }

    /// `ids`: [B*T] row-major, `mask`: [B, T] (1 real, 0 padding); `gate`: [L, H] or none.
    pub fn forward(&self, ids: Tensor<1, Int>, mask: Tensor<2>, gate: Option<Tensor<2>>, keep_probs: bool) -> BertOutput {
        let [b, t] = mask.dims();
        // Padding keys get a large negative score: exp underflows to exactly 0, as with HF's finfo.min.
        let additive = (mask.ones_like() - mask).reshape([b, 1, 1, t]) * -1.0e9; // [B, 1, 1, T]
        let mut hidden = self.embeddings.forward(ids, b, t);
        let mut attentions = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let heads = layer.attention.num_heads;
            let gate_l = gate.clone().map(|g| g.slice(l..l + 1).reshape([heads])); // [H]
            let out = layer.forward(hidden, additive.clone(), gate_l, keep_probs);
            hidden = out.hidden;
            attentions.extend(out.probs);
        }
        BertOutput { hidden, attentions }
    }
}

/// The classifier's label count, read off its weight so that any num_labels loads.
fn classifier_labels(w: &Weights) -> Result<usize> {
    // Weights::take checks the shape; here we only need the leading dimension to ask for it.
    w.shape_of("classifier.weight")
        .and_then(|s| (s.len() == 2).then_some(s[0]))
        .ok_or_else(|| Error::weights("tensor \"classifier.weight\" must be a matrix [num_labels, hidden]"))
}
