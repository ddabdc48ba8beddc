use burn::tensor::{Device, Tensor};

use super::attention::AttentionOutput;
use super::{LayerNorm, Linear, SelfAttention, gelu};
use crate::config::BertConfig;
use crate::error::Result;
use crate::weights::Weights;

/// `encoder.layer.{i}`: post-LN attention block, then the feed-forward block with exact GELU.
#[derive(Clone, Debug)]
pub struct Layer {
    pub attention: SelfAttention,
    pub intermediate_dense: Linear,
    pub output_dense: Linear,
    pub output_layer_norm: LayerNorm,
}

impl Layer {
    pub fn load(w: &mut Weights, i: usize, c: &BertConfig, device: &Device) -> Result<Self> {
        let p = format!("encoder.layer.{i}");
        let (d, ff) = (c.hidden_size, c.intermediate_size);
        Ok(Self {
            attention: SelfAttention::load(w, &format!("{p}.attention"), i, c, device)?,
            intermediate_dense: Linear::load(w, &format!("{p}.intermediate.dense"), d, ff, device)?,
            output_dense: Linear::load(w, &format!("{p}.output.dense"), ff, d, device)?,
            output_layer_norm: LayerNorm::load(w, &format!("{p}.output.LayerNorm"), d, c.layer_norm_eps, device)?,
        })
    }

    /// `x`: [B, T, D]; see [`SelfAttention::forward`] for the masks.
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<4>, head_mask: Option<Tensor<2>>, output_attentions: bool) -> AttentionOutput {
        let AttentionOutput { hidden, attentions } = self.attention.forward(x, mask, head_mask, output_attentions);
        let ff = self.output_dense.forward(gelu(self.intermediate_dense.forward(hidden.clone()))); // [B, T, D]
        AttentionOutput { hidden: self.output_layer_norm.forward(ff + hidden), attentions }
    }

    /// The same layer without the heads in `remove` (original indices): structural pruning.
    pub fn without_heads(&self, remove: &[usize]) -> Self {
        Self { attention: self.attention.without_heads(remove), ..self.clone() }
    }

    /// The output at the first position only, [B, 1, D] ([`SelfAttention::forward_first`]).
    pub fn forward_first(&self, x: Tensor<3>, mask: Tensor<4>, head_mask: Option<Tensor<2>>) -> Tensor<3> {
        let hidden = self.attention.forward_first(x, mask, head_mask); // [B, 1, D]
        let ff = self.output_dense.forward(gelu(self.intermediate_dense.forward(hidden.clone()))); // [B, 1, D]
        self.output_layer_norm.forward(ff + hidden)
    }
}
