use burn::tensor::{Device, Int, Tensor};

use super::{Compute, Embeddings, Layer, Linear};
use crate::config::{BertConfig, ModelType};
use crate::error::{Error, Result};
use crate::lora::Adapter;
use crate::weights::Weights;

/// An encoder of the BERT family, plus its sequence-classification head when the checkpoint has
/// one: a dense layer on the first token's state and an output layer, each family's own.
#[derive(Clone, Debug)]
pub struct Bert {
    pub config: BertConfig,
    pub embeddings: Embeddings,
    pub layers: Vec<Layer>,
    /// The dense layer on the [CLS] (<s>) state, its activation applied on use
    /// ([`Bert::pooler_activation`]): BERT's `pooler.dense` (tanh), DistilBERT's `pre_classifier`
    /// (ReLU), RoBERTa's `classifier.dense` (tanh), ELECTRA's `classifier.dense` (GELU).
    pub pooler: Option<Linear>,
    /// `classifier` (RoBERTa, ELECTRA: `classifier.out_proj`) [hidden → num_labels].
    pub classifier: Option<Linear>,
    /// Tensors in the file that no part of this model reads: the pre-training heads
    /// (`cls.predictions.*`, `cls.seq_relationship.*` of BertForPreTraining, `lm_head.*`, …) and
    /// RoBERTa's encoder pooler, dropped as transformers drops them for a sequence classifier.
    pub ignored: Vec<String>,
}

pub struct BertOutput {
    /// The last layer's output. [B, T, D]
    pub last_hidden_state: Tensor<3>,
    /// Per layer run, with `output_attentions`: the attention probabilities. [B, H, T, T]
    pub attentions: Vec<Tensor<4>>,
    /// Per layer run, with `output_hidden_states`: that layer's input, i.e. Hugging Face's
    /// `hidden_states[from..L]` (its last entry, the output, is `last_hidden_state`). [B, T, D]
    pub hidden_states: Vec<Tensor<3>>,
}

impl Bert {
    /// Builds the model from safetensors bytes; every tensor is checked against `config`.
    pub fn load(config: &BertConfig, bytes: &[u8], device: &Device) -> Result<Self> {
        Self::load_with(config, bytes, Adapter::default(), device)
    }

    /// The same with a LoRA adapter merged in as the tensors are read (`crate::lora`).
    pub fn load_with(config: &BertConfig, bytes: &[u8], adapter: Adapter, device: &Device) -> Result<Self> {
        let mut w = Weights::parse_for(bytes, config.model_type)?.with_adapter(adapter);
        let embeddings = Embeddings::load(&mut w, config, device)?;
        let layers = (0..config.num_hidden_layers).map(|i| Layer::load(&mut w, i, config, device)).collect::<Result<Vec<_>>>()?;
        let d = config.hidden_size;
        let pooler = if w.contains("pooler.dense.weight") { Some(Linear::load(&mut w, "pooler.dense", d, d, device)?) } else { None };
        let classifier = if w.contains("classifier.weight") {
            let labels = classifier_labels(&w)?;
            if pooler.is_none() {
                return Err(Error::weights(format!(
                    "there is a \"{}\" but no \"{}\": the classifier reads {}, and transformers would fill a missing layer with random weights",
                    w.family_name("classifier.weight"),
                    w.family_name("pooler.dense.weight"),
                    match config.model_type {
                        ModelType::Bert => "tanh(pooler.dense(h[CLS]))",
                        ModelType::DistilBert => "relu(pre_classifier(h[CLS]))",
                        ModelType::Roberta => "tanh(classifier.dense(h[<s>]))",
                        ModelType::Electra => "gelu(classifier.dense(h[CLS]))",
                    }
                )));
            }
            Some(Linear::load(&mut w, "classifier", d, labels, device)?)
        } else {
            None
        };
        let ignored = crate::weights::unused_heads(config.model_type).iter().flat_map(|p| w.skip_prefix(p)).collect();
        w.finish()?;
        Ok(Self { config: config.clone(), embeddings, layers, pooler, classifier, ignored })
    }

    /// `input_ids`: [B*T] row-major; `attention_mask`: [B, T] (1 real, 0 padding);
    /// `token_type_ids`: [B*T] or none (all 0); `head_mask`: [G, L, H] with G = 1 (one for the
    /// batch) or B (one per example, for per-example gradients), or none (all ones), as Hugging
    /// Face's `head_mask`.
    pub fn forward(
        &self,
        input_ids: Tensor<1, Int>,
        attention_mask: Tensor<2>,
        token_type_ids: Option<Tensor<1, Int>>,
        head_mask: Option<Tensor<3>>,
        output_attentions: bool,
    ) -> BertOutput {
        let [b, t] = attention_mask.dims();
        let hidden = self.embeddings.forward(input_ids, token_type_ids, b, t); // [B, T, D]
        self.encode(hidden, attention_mask, 0, head_mask, output_attentions, false)
    }

    /// Runs layers `from..` on `hidden` (the input of layer `from`, [B, T, D]). With
    /// `output_hidden_states`, the output also holds every layer's input, so a later run that
    /// changes only layers ≥ k can start from layer k.
    pub fn encode(
        &self,
        mut hidden: Tensor<3>,
        attention_mask: Tensor<2>,
        from: usize,
        head_mask: Option<Tensor<3>>,
        output_attentions: bool,
        output_hidden_states: bool,
    ) -> BertOutput {
        let additive = additive_mask(attention_mask);
        let mut attentions = Vec::new();
        let mut hidden_states = Vec::new();
        for (l, layer) in self.layers.iter().enumerate().skip(from) {
            if output_hidden_states {
                hidden_states.push(hidden.clone());
            }
            let mask_l = head_mask.clone().map(|g| {
                let [n, _, h] = g.dims();
                g.slice([0..n, l..l + 1, 0..h]).reshape([n, h]) // [G, H]
            });
            let out = layer.forward(hidden, additive.clone(), mask_l, output_attentions);
            hidden = out.hidden;
            attentions.extend(out.attentions);
        }
        BertOutput { last_hidden_state: hidden, attentions, hidden_states }
    }

    /// The attention mask [B, T] (1 real, 0 padding) as the additive bias every layer takes
    /// ([B, 1, 1, T]), for callers that run layers one at a time.
    pub fn attention_bias(&self, attention_mask: Tensor<2>) -> Tensor<4> {
        additive_mask(attention_mask)
    }

    /// The inputs of layers 1..=`to` (the outputs of layers 0..`to`) for `hidden`, the input of
    /// layer 0, with no head removed. [B, T, D] each.
    pub fn layer_inputs(&self, mut hidden: Tensor<3>, attention_mask: Tensor<2>, to: usize) -> Vec<Tensor<3>> {
        let additive = additive_mask(attention_mask);
        self.layers[..to]
            .iter()
            .map(|layer| {
                hidden = layer.forward(hidden.clone(), additive.clone(), None, false).hidden;
                hidden.clone()
            })
            .collect()
    }

    /// The classification head's input: act(dense(h[CLS])), with the family's dense layer and
    /// activation (BERT's pooler output; DistilBERT's ReLU(pre_classifier); RoBERTa's and
    /// ELECTRA's classifier.dense with tanh and GELU). [B, D]
    pub fn pooler_output(&self, hidden: Tensor<3>) -> Option<Tensor<2>> {
        let pooler = self.pooler.as_ref()?;
        let [b, _, d] = hidden.dims();
        let cls = hidden.slice([0..b, 0..1, 0..d]).reshape([b, d]); // [B, D]
        let x = pooler.forward2(cls);
        Some(match self.config.model_type {
            ModelType::Bert | ModelType::Roberta => x.tanh(),
            ModelType::DistilBert => burn::tensor::activation::relu(x),
            ModelType::Electra => super::gelu::gelu(x),
        })
    }
}

impl Bert {
    /// The same model with every linear layer of the encoder computing the `compute` way (the
    /// weights shared): the query, key, value and output projections, the feed-forward layers,
    /// ELECTRA's embedding projection and the pooler, as onnxruntime's dynamic quantisation
    /// quantises every MatMul. The classifier's output layer (labels × hidden, read through
    /// `Classifier`) stays f32.
    pub fn with_compute(&self, compute: Compute) -> Self {
        let mut out = self.clone();
        let set = |l: &mut Linear| *l = l.with_compute(compute);
        for layer in &mut out.layers {
            let a = &mut layer.attention;
            for l in [&mut a.query, &mut a.key, &mut a.value, &mut a.output_dense, &mut layer.intermediate_dense, &mut layer.output_dense] {
                set(l);
            }
        }
        out.embeddings.project.iter_mut().chain(out.pooler.iter_mut()).for_each(set);
        out
    }

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
        let mut n = n2(&e.word_embeddings) + n2(&e.position_embeddings) + e.token_type_embeddings.as_ref().map_or(0, n2) + ln(&e.layer_norm);
        n += e.project.as_ref().map_or(0, lin);
        for layer in &self.layers {
            let a = &layer.attention;
            n += lin(&a.query) + lin(&a.key) + lin(&a.value) + lin(&a.output_dense) + ln(&a.output_layer_norm);
            n += lin(&layer.intermediate_dense) + lin(&layer.output_dense) + ln(&layer.output_layer_norm);
        }
        n + self.pooler.as_ref().map_or(0, lin) + self.classifier.as_ref().map_or(0, lin)
    }
}

/// The attention mask [B, T] (1 real, 0 padding) as additive scores [B, 1, 1, T]: padding keys
/// get a large negative score, so exp underflows to exactly 0, as with Hugging Face's finfo.min.
fn additive_mask(attention_mask: Tensor<2>) -> Tensor<4> {
    let [b, t] = attention_mask.dims();
    (attention_mask.ones_like() - attention_mask).reshape([b, 1, 1, t]) * -1.0e9 // [B, 1, 1, T]
}

/// The classifier's output count, read off its weight so that any num_labels loads (1: a
/// regression head).
fn classifier_labels(w: &Weights) -> Result<usize> {
    // Weights::take checks the shape; here we only need the leading dimension to ask for it.
    let labels = w
        .shape_of("classifier.weight")
        .and_then(|s| (s.len() == 2).then_some(s[0]))
        .ok_or_else(|| Error::weights("tensor \"classifier.weight\" must be a matrix [num_labels, hidden]"))?;
    if labels == 0 {
        return Err(Error::weights("tensor \"classifier.weight\" has no rows"));
    }
    Ok(labels)
}
