use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::weights::Weights;

/// `y = x @ weight + bias`, with `weight` kept as [in, out] (transposed once at load).
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: Tensor<2>, // [in, out]
    pub bias: Tensor<1>,   // [out]
}

impl Linear {
    /// Loads `{prefix}.weight` [out, in] and `{prefix}.bias` [out].
    pub fn load(w: &mut Weights, prefix: &str, d_in: usize, d_out: usize, device: &Device) -> Result<Self> {
        Ok(Self {
            weight: w.linear_weight(&format!("{prefix}.weight"), d_in, d_out, device)?,
            bias: w.vector(&format!("{prefix}.bias"), d_out, device)?,
        })
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d_in] = x.dims();
        let [_, d_out] = self.weight.dims();
        let y = x.reshape([b * t, d_in]).matmul(self.weight.clone()); // [B*T, out]
        y.reshape([b, t, d_out]) + self.bias.clone().reshape([1, 1, d_out])
    }

    pub fn forward2(&self, x: Tensor<2>) -> Tensor<2> {
        let [_, d_out] = self.weight.dims();
        x.matmul(self.weight.clone()) + self.bias.clone().reshape([1, d_out])
    }
}
