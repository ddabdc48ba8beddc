use burn::tensor::{Device, Tensor, module};

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
        Ok(Self { weight: w.vector(&format!("{prefix}.weight"), d, device)?, bias: w.vector(&format!("{prefix}.bias"), d, device)?, eps })
    }

    /// burn's fused kernel where the backend has one (the CPU: one pass per row instead of
    /// seven over the whole tensor), the same mean/variance composition elsewhere.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        module::layer_norm(x, self.weight.clone(), Some(self.bias.clone()), self.eps)
    }
}
