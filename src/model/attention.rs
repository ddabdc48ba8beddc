use burn::tensor::{Device, Int, Tensor, TensorData, activation::softmax};

use super::{LayerNorm, Linear};
use crate::config::BertConfig;
use crate::error::Result;
use crate::weights::Weights;

/// `attention.self.{query,key,value}` + `attention.output.{dense,LayerNorm}`.
///
/// Each head's context is multiplied by its gate ξ (`head_mask`) before the output projection,
/// which is what Hugging Face's `head_mask` does (it scales the probabilities: the same after `@ V`).
/// After structural pruning the layer holds fewer heads: `heads` names the original ones kept.
#[derive(Clone, Debug)]
pub struct SelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output_dense: Linear,
    pub output_layer_norm: LayerNorm,
    /// Original indices of the heads this layer still has.
    pub heads: Vec<usize>,
    pub head_dim: usize,
}

pub struct AttentionOutput {
    pub hidden: Tensor<3>,             // [B, T, D]
    pub attentions: Option<Tensor<4>>, // [B, H_kept, T, T], with `output_attentions`
}

impl SelfAttention {
    pub fn load(w: &mut Weights, prefix: &str, c: &BertConfig, device: &Device) -> Result<Self> {
        let d = c.hidden_size;
        Ok(Self {
            query: Linear::load(w, &format!("{prefix}.self.query"), d, d, device)?,
            key: Linear::load(w, &format!("{prefix}.self.key"), d, d, device)?,
            value: Linear::load(w, &format!("{prefix}.self.value"), d, d, device)?,
            output_dense: Linear::load(w, &format!("{prefix}.output.dense"), d, d, device)?,
            output_layer_norm: LayerNorm::load(w, &format!("{prefix}.output.LayerNorm"), d, c.layer_norm_eps, device)?,
            heads: (0..c.num_attention_heads).collect(),
            head_dim: c.head_dim(),
        })
    }

    /// `x`: [B, T, D]; `mask`: additive [B, 1, 1, T] (0 for real keys, a large negative for
    /// padding); `head_mask`: [G, H_all] with G = 1 (shared) or B (one per example), or none (ones).
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<4>, head_mask: Option<Tensor<2>>, output_attentions: bool) -> AttentionOutput {
        let [b, t, _] = x.dims();
        let (h, dh) = (self.heads.len(), self.head_dim);
        if h == 0 {
            // Every head removed: the context is zero, so only the output bias and the residual remain.
            let [d] = self.output_dense.bias.dims();
            let hidden = self.output_layer_norm.forward(x + self.output_dense.bias.clone().reshape([1, 1, d]));
            return AttentionOutput { hidden, attentions: None };
        }
        let heads = |y: Tensor<3>| y.reshape([b, t, h, dh]).swap_dims(1, 2); // [B, H, T, dh]
        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x.clone()));

        let scores = q.matmul(k.swap_dims(2, 3)) / (dh as f64).sqrt() + mask; // [B, H, T, T]
        let probs = softmax(scores, 3); // [B, H, T, T]
        let mut context = probs.clone().matmul(v); // [B, H, T, dh]
        if let Some(gate) = head_mask {
            let [g, all] = gate.dims();
            let gate = if h == all { gate } else { gate.select(1, self.kept_index(&x.device())) }; // [G, H]
            context = context * gate.reshape([g, h, 1, 1]); // [B, H, T, dh]
        }
        let context = context.swap_dims(1, 2).reshape([b, t, h * dh]); // [B, T, H*dh]
        let hidden = self.output_layer_norm.forward(self.output_dense.forward(context) + x);
        AttentionOutput { hidden, attentions: output_attentions.then_some(probs) }
    }

    fn kept_index(&self, device: &Device) -> Tensor<1, Int> {
        let idx: Vec<i32> = self.heads.iter().map(|&h| h as i32).collect();
        Tensor::from_data(TensorData::new(idx, [self.heads.len()]), device)
    }

    /// The same layer without the heads in `remove` (original indices): the query/key/value
    /// output features and the attention.output.dense input features of those heads are cut.
    pub fn without_heads(&self, remove: &[usize]) -> Self {
        let keep: Vec<usize> = self.heads.iter().copied().filter(|h| !remove.contains(h)).collect();
        let positions: Vec<usize> = keep.iter().map(|h| self.heads.iter().position(|x| x == h).unwrap()).collect();
        let dh = self.head_dim;
        let device = self.query.weight.device();
        let features: Vec<i32> = positions.iter().flat_map(|&p| (p * dh..(p + 1) * dh).map(|i| i as i32)).collect();
        let n = features.len();
        let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(features, [n]), &device);
        let cut_out = |l: &Linear| {
            Linear::new(
                l.weight.clone().select(1, idx.clone()), // [D, kept*dh]
                l.bias.clone().select(0, idx.clone()),   // [kept*dh]
            )
        };
        Self {
            query: cut_out(&self.query),
            key: cut_out(&self.key),
            value: cut_out(&self.value),
            output_dense: Linear::new(
                self.output_dense.weight.clone().select(0, idx.clone()), // [kept*dh, D]
                self.output_dense.bias.clone(),
            ),
            output_layer_norm: self.output_layer_norm.clone(),
            heads: keep,
            head_dim: dh,
        }
    }
}
