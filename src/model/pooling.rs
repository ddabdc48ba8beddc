use burn::tensor::Tensor;

use crate::config::{Pooling, PoolingMode};

/// `hidden`: [B, T, D]; `mask`: [B, T] with 1 for real tokens. Returns [B, D].
pub fn pool(hidden: Tensor<3>, mask: Tensor<2>, pooling: Pooling) -> Tensor<2> {
    let [b, t, d] = hidden.dims();
    let pooled = match pooling.mode {
        PoolingMode::Mean => {
            let mask = mask.reshape([b, t, 1]); // [B, T, 1]
            let sum = (hidden * mask.clone()).sum_dim(1); // [B, 1, D]
            let count = mask.sum_dim(1).clamp_min(1e-9); // [B, 1, 1]
            (sum / count).reshape([b, d])
        }
        PoolingMode::Cls => hidden.slice([0..b, 0..1, 0..d]).reshape([b, d]),
    };
    if pooling.normalize {
        // torch.nn.functional.normalize: x / max(‖x‖, 1e-12)
        let norm = (pooled.clone() * pooled.clone()).sum_dim(1).sqrt().clamp_min(1e-12); // [B, 1]
        pooled / norm
    } else {
        pooled
    }
}
