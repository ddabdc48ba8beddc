//! BERT in burn, one small file per concept, names mirroring the Hugging Face checkpoint.

mod attention;
mod bert;
mod embeddings;
mod gelu;
mod layer;
mod layer_norm;
mod linear;
mod pooling;
mod qgemm;
mod qgemm_relaxed;
mod sgemm;
mod sgemm_op;

pub use attention::SelfAttention;
pub use bert::{Bert, BertOutput};
pub use embeddings::Embeddings;
pub use gelu::gelu;
pub use layer::Layer;
pub use layer_norm::LayerNorm;
pub use linear::{Compute, Linear};
pub use pooling::pool;
pub use qgemm::{QWeight, RELAXED as RELAXED_SIMD, quantize_row, relaxed_kernel_agrees};

/// Deterministic test inputs: `len` values spread over about ±b/34, in a scrambled order.
#[cfg(test)]
fn test_values(len: usize, a: usize, b: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * a % b) as f32 - b as f32 / 2.0) / 17.0).collect()
}
