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
    pub hidden: Tensor<3>,            // [B, T, D]
    pub attentions: Vec<Tensor<4>>,   // per layer run [B, H, T, T], when asked for
    pub layer_inputs: Vec<Tensor<3>>, // per layer run [B, T, D], when asked for
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

    /// `ids`: [B*T] row-major, `mask`: [B, T] (1 real, 0 padding); `gate`: [G, L, H] with G = 1
    /// (one gate for the batch) or B (one per example, for per-example gradients), or none.
    pub fn forward(&self, ids: Tensor<1, Int>, mask: Tensor<2>, gate: Option<Tensor<3>>, keep_probs: bool) -> BertOutput {
        let [b, t] = mask.dims();
        let hidden = self.embeddings.forward(ids, b, t);
        self.encode(hidden, mask, 0, gate, keep_probs, false)
    }

    /// Runs layers `from..` on `hidden` (the input of layer `from`). With `keep_inputs`, the
    /// output also holds every layer's input, so a later run that changes only layers ≥ k can
    /// start from layer k.
    pub fn encode(
        &self,
        mut hidden: Tensor<3>,
        mask: Tensor<2>,
        from: usize,
        gate: Option<Tensor<3>>,
        keep_probs: bool,
        keep_inputs: bool,
    ) -> BertOutput {
        let [b, t] = mask.dims();
        // Padding keys get a large negative score: exp underflows to exactly 0, as with HF's finfo.min.
        let additive = (mask.ones_like() - mask).reshape([b, 1, 1, t]) * -1.0e9; // [B, 1, 1, T]
        let mut attentions = Vec::new();
        let mut layer_inputs = Vec::new();
        for (l, layer) in self.layers.iter().enumerate().skip(from) {
            if keep_inputs {
                layer_inputs.push(hidden.clone());
            }
            let gate_l = gate.clone().map(|g| {
                let [n, _, h] = g.dims();
                g.slice([0..n, l..l + 1, 0..h]).reshape([n, h]) // [G, H]
            });
            let out = layer.forward(hidden, additive.clone(), gate_l, keep_probs);
            hidden = out.hidden;
            attentions.extend(out.probs);
        }
        BertOutput { hidden, attentions, layer_inputs }
    }

    /// `tanh(pooler.dense(h[CLS]))`, BertForSequenceClassification's sentence vector. [B, D]
    pub fn pooler_output(&self, hidden: Tensor<3>) -> Option<Tensor<2>> {
        let pooler = self.pooler.as_ref()?;
        let [b, _, d] = hidden.dims();
        let cls = hidden.slice([0..b, 0..1, 0..d]).reshape([b, d]); // [B, D]
        Some(pooler.forward2(cls).tanh())
    }
}

impl Bert {
    /// Structural pruning: a smaller model without the heads in `remove` ([layer, head]).
    /// Masking the same heads gives the same outputs; this one does less work.
    pub fn without_heads(&self, remove: &[(usize, usize)]) -> Self {
        let mut out = self.clone();
        for (l, layer) in out.layers.iter_mut().enumerate() {
            let here: Vec<usize> = remove.iter().filter(|r| r.0 == l).map(|r| r.1).collect();
            if !here.is_empty() {
                layer.attention = layer.attention.without_heads(&here);
            }
        }
        out
    }

    /// Parameters held (embeddings, encoder, pooler and classifier if present).
    pub fn num_params(&self) -> usize {
        let n1 = |t: &Tensor<1>| t.dims()[0];
        let n2 = |t: &Tensor<2>| t.dims()[0] * t.dims()[1];
        let lin = |l: &Linear| n2(&l.weight) + n1(&l.bias);
        let ln = |l: &super::LayerNorm| n1(&l.weight) + n1(&l.bias);
        let e = &self.embeddings;
        let mut n = n2(&e.word_embeddings) + n2(&e.position_embeddings) + n2(&e.token_type_embeddings) + ln(&e.layer_norm);
        for layer in &self.layers {
            let a = &layer.attention;
            n += lin(&a.query) + lin(&a.key) + lin(&a.value) + lin(&a.output_dense) + ln(&a.output_layer_norm);
            n += lin(&layer.intermediate_dense) + lin(&layer.output_dense) + ln(&layer.output_layer_norm);
        }
        n + self.pooler.as_ref().map_or(0, lin) + self.classifier.as_ref().map_or(0, lin)
    }
}

/// The classifier's label count, read off its weight so that any num_labels loads.
fn classifier_labels(w: &Weights) -> Result<usize> {
    // Weights::take checks the shape; here we only need the leading dimension to ask for it.
    w.shape_of("classifier.weight")
        .and_then(|s| (s.len() == 2).then_some(s[0]))
        .ok_or_else(|| Error::weights("tensor \"classifier.weight\" must be a matrix [num_labels, hidden]"))
}
