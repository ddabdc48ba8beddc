use burn::tensor::{Device, Tensor, activation::softmax};

use super::{LayerNorm, Linear};
use crate::config::BertConfig;
use crate::error::Result;
use crate::weights::Weights;

/// `attention.self.{query,key,value}` + `attention.output.{dense,LayerNorm}`.
///
/// Each head's context is multiplied by its gate ξ before the output projection, which is what
/// Hugging Face's `head_mask` does (it scales the probabilities, the same thing after `@ V`).
#[derive(Clone, Debug)]
pub struct SelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output_dense: Linear,
    pub output_layer_norm: LayerNorm,
    pub num_heads: usize,
    pub head_dim: usize,
}

pub struct AttentionOutput {
    pub hidden: Tensor<3>,        // [B, T, D]
    pub probs: Option<Tensor<4>>, // [B, H, T, T]
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
            num_heads: c.num_attention_heads,
            head_dim: c.head_dim(),
        })
    }

    /// `x`: [B, T, D]; `mask`: additive [B, 1, 1, T] (0 for real keys, a large negative for
    /// padding); `gate`: [H] or none (all ones).
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<4>, gate: Option<Tensor<1>>, keep_probs: bool) -> AttentionOutput {
        let [b, t, _] = x.dims();
        let (h, dh) = (self.num_heads, self.head_dim);
        let heads = |y: Tensor<3>| y.reshape([b, t, h, dh]).swap_dims(1, 2); // [B, H, T, dh]
        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x.clone()));

        let scores = q.matmul(k.swap_dims(2, 3)) / (dh as f64).sqrt() + mask; // [B, H, T, T]
        let probs = softmax(scores, 3); // [B, H, T, T]
        let mut context = probs.clone().matmul(v); // [B, H, T, dh]
        if let Some(gate) = gate {
            context = context * gate.reshape([1, h, 1, 1]);
        }
        let context = context.swap_dims(1, 2).reshape([b, t, h * dh]); // [B, T, H*dh]
        let hidden = self.output_layer_norm.forward(self.output_dense.forward(context) + x);
        AttentionOutput { hidden, probs: keep_probs.then_some(probs) }
    }
}
