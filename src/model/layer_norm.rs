use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::weights::Weights;

/// LayerNorm over the last dimension with the biased variance, as PyTorch computes it.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: Tensor<1>, // [D] (gamma)
    pub bias: Tensor<1>,   // [D] (beta)
    pub eps: f64,
}

impl LayerNorm {
    pub fn load(w: &mut Weights, prefix: &str, d: usize, eps: f64, device: &Device) -> Result<Self> {
        Ok(Self {
            weight: w.vector(&format!("{prefix}.weight"), d, device)?,
            bias: w.vector(&format!("{prefix}.bias"), d, device)?,
            eps,
        })
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [_, _, d] = x.dims();
        let centred = x.clone() - x.mean_dim(2); // [B, T, D]
        let var = (centred.clone() * centred.clone()).mean_dim(2); // [B, T, 1]
        let normed = centred / (var + self.eps).sqrt();
        normed * self.weight.clone().reshape([1, 1, d]) + self.bias.clone().reshape([1, 1, d])
    }
}
