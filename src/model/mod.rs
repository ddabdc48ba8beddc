//! BERT in burn, one small file per concept, names mirroring the Hugging Face checkpoint.

mod attention;
mod bert;
mod embeddings;
mod layer;
mod layer_norm;
mod linear;
mod pooling;

pub use attention::SelfAttention;
pub use bert::{Bert, BertOutput};
pub use embeddings::Embeddings;
pub use layer::Layer;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use pooling::pool;
