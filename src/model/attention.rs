use burn::tensor::{Device, Int, Tensor, TensorData, activation::softmax};

use super::{LayerNorm, Linear};
use crate::config::BertConfig;
use crate::error::{Error, Result};
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
    /// Heads the layer was built with (config.json's `num_attention_heads`).
    pub num_heads: usize,
    pub head_dim: usize,
}

pub struct AttentionOutput {
    pub hidden: Tensor<3>, // [B, T, D]
    /// With `output_attentions`: [B, H, T, T] over all the layer's original heads, zeros for
    /// heads sliced out (so every [L × H] statistic keeps its shape; a zero row has entropy 0).
    pub attentions: Option<Tensor<4>>,
}

impl SelfAttention {
    /// Layer `layer`'s attention; heads that config.json's `pruned_heads` lists are already
    /// sliced out of the checkpoint, as transformers saves a pruned model; `hies_zeroed_heads`
    /// are checked to add nothing and dropped.
    pub fn load(w: &mut Weights, prefix: &str, layer: usize, c: &BertConfig, device: &Device) -> Result<Self> {
        let d = c.hidden_size;
        let pruned = c.pruned_heads.get(&layer).cloned().unwrap_or_default();
        let heads: Vec<usize> = (0..c.num_attention_heads).filter(|h| !pruned.contains(h)).collect();
        let inner = heads.len() * c.head_dim();
        let zeroed = c.zeroed_heads.get(&layer).cloned().unwrap_or_default();
        if !zeroed.is_empty() {
            // `hies export`'s stand-in for a layer without heads must add exactly 0 here and in
            // transformers: all its weights are zero (query/key/value rows and biases, and its
            // columns of attention.output.dense, as stored: [out, in]).
            let dh = c.head_dim();
            let not_zero = |name: &str| {
                Error::weights(format!("config.json's hies_zeroed_heads lists a head of layer {layer}, but its part of {prefix}.{name} is not zero"))
            };
            let out = w.take(&format!("{prefix}.output.dense.weight"), &[d, inner])?;
            let projections = ["self.query", "self.key", "self.value"].map(|name| {
                Ok((name, w.take(&format!("{prefix}.{name}.weight"), &[inner, d])?, w.take(&format!("{prefix}.{name}.bias"), &[inner])?))
            });
            let projections = projections.into_iter().collect::<Result<Vec<_>>>()?;
            for &h in &zeroed {
                let p = heads.iter().position(|&k| k == h).expect("zeroed heads are not in pruned_heads (config.rs)");
                if (0..d).any(|o| out[o * inner + p * dh..o * inner + (p + 1) * dh].iter().any(|&x| x != 0.0)) {
                    return Err(not_zero("output.dense.weight"));
                }
                for (name, weight, bias) in &projections {
                    if weight[p * dh * d..(p + 1) * dh * d].iter().chain(&bias[p * dh..(p + 1) * dh]).any(|&x| x != 0.0) {
                        return Err(not_zero(name));
                    }
                }
            }
        }
        let loaded = Self {
            query: Linear::load(w, &format!("{prefix}.self.query"), d, inner, device)?,
            key: Linear::load(w, &format!("{prefix}.self.key"), d, inner, device)?,
            value: Linear::load(w, &format!("{prefix}.self.value"), d, inner, device)?,
            output_dense: Linear::load(w, &format!("{prefix}.output.dense"), inner, d, device)?,
            output_layer_norm: LayerNorm::load(w, &format!("{prefix}.output.LayerNorm"), d, c.layer_norm_eps, device)?,
            heads,
            num_heads: c.num_attention_heads,
            head_dim: c.head_dim(),
        };
        Ok(if zeroed.is_empty() { loaded } else { loaded.without_heads(&zeroed) })
    }

    /// `x`: [B, T, D]; `mask`: additive [B, 1, 1, T] (0 for real keys, a large negative for
    /// padding); `head_mask`: [G, H_all] with G = 1 (shared) or B (one per example), or none (ones).
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<4>, head_mask: Option<Tensor<2>>, output_attentions: bool) -> AttentionOutput {
        self.attend(x.clone(), x, mask, head_mask, output_attentions)
    }

    /// The output at the first position only ([B, 1, D]): all keys and values, one query. What
    /// a classifier that reads [CLS] needs of the last layer (a sixth of the layer's work).
    pub fn forward_first(&self, x: Tensor<3>, mask: Tensor<4>, head_mask: Option<Tensor<2>>) -> Tensor<3> {
        let [b, _, d] = x.dims();
        self.attend(x.clone().slice([0..b, 0..1, 0..d]), x, mask, head_mask, false).hidden
    }

    /// Attention of the rows of `queries` ([B, Tq, D]: `x` itself or its first rows) over all of
    /// `x` ([B, T, D]).
    fn attend(&self, queries: Tensor<3>, x: Tensor<3>, mask: Tensor<4>, head_mask: Option<Tensor<2>>, output_attentions: bool) -> AttentionOutput {
        let [b, t, _] = x.dims();
        let tq = queries.dims()[1];
        debug_assert!(!output_attentions || tq == t, "attentions are [B, H, T, T]: every query row");
        let (h, dh) = (self.heads.len(), self.head_dim);
        if h == 0 {
            // Every head removed: the context is zero, so only the output bias and the residual remain.
            let [d] = self.output_dense.bias.dims();
            let attentions = output_attentions.then(|| Tensor::zeros([b, self.num_heads, tq, t], &x.device()));
            let hidden = self.output_layer_norm.forward(queries + self.output_dense.bias.clone().reshape([1, 1, d]));
            return AttentionOutput { hidden, attentions };
        }
        let heads = |y: Tensor<3>, n: usize| y.reshape([b, n, h, dh]).swap_dims(1, 2); // [B, H, n, dh]
        let q = heads(self.query.forward(queries.clone()), tq);
        let k = heads(self.key.forward(x.clone()), t);
        let v = heads(self.value.forward(x), t);

        let scores = q.matmul(k.swap_dims(2, 3)) / (dh as f64).sqrt() + mask; // [B, H, Tq, T]
        let probs = softmax(scores, 3); // [B, H, Tq, T]
        let mut context = probs.clone().matmul(v); // [B, H, Tq, dh]
        if let Some(gate) = head_mask {
            let [g, all] = gate.dims();
            let gate = if h == all { gate } else { gate.select(1, self.kept_index(&queries.device())) }; // [G, H]
            context = context * gate.reshape([g, h, 1, 1]); // [B, H, Tq, dh]
        }
        let context = context.swap_dims(1, 2).reshape([b, tq, h * dh]); // [B, Tq, H*dh]
        let hidden = self.output_layer_norm.forward(self.output_dense.forward(context) + queries);
        AttentionOutput { hidden, attentions: output_attentions.then(|| self.all_heads(probs)) }
    }

    /// [B, H_kept, T, T] → [B, H, T, T] with zeros for the heads this layer lacks.
    fn all_heads(&self, probs: Tensor<4>) -> Tensor<4> {
        if self.heads.len() == self.num_heads {
            return probs;
        }
        let [b, _, t, _] = probs.dims();
        let parts: Vec<Tensor<4>> = (0..self.num_heads)
            .map(|h| match self.heads.iter().position(|&k| k == h) {
                Some(p) => probs.clone().slice([0..b, p..p + 1, 0..t, 0..t]), // [B, 1, T, T]
                None => Tensor::zeros([b, 1, t, t], &probs.device()),
            })
            .collect();
        Tensor::cat(parts, 1) // [B, H, T, T]
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
        let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(features.clone(), [n]), &device);
        let cut_out = |l: &Linear| {
            Linear::new(
                l.weight.clone().select(1, idx.clone()), // [D, kept*dh]
                l.bias.clone().select(0, idx.clone()),   // [kept*dh]
            )
            .with_compute(l.compute)
        };
        Self {
            query: cut_out(&self.query),
            key: cut_out(&self.key),
            value: cut_out(&self.value),
            output_dense: self.output_dense.keep_inputs(&features.iter().map(|&f| f as usize).collect::<Vec<_>>()), // [kept*dh, D]
            output_layer_norm: self.output_layer_norm.clone(),
            heads: keep,
            num_heads: self.num_heads,
            head_dim: dh,
        }
    }
}
