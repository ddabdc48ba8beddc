use burn::tensor::{Device, Int, Tensor};

use super::LayerNorm;
use crate::config::BertConfig;
use crate::error::Result;
use crate::weights::Weights;

/// `embeddings.*`: word + absolute position + token type, then LayerNorm (BertEmbeddings).
#[derive(Clone, Debug)]
pub struct Embeddings {
    pub word_embeddings: Tensor<2>,       // [V, D]
    pub position_embeddings: Tensor<2>,   // [P, D]
    pub token_type_embeddings: Tensor<2>, // [TV, D]
    pub layer_norm: LayerNorm,
}

impl Embeddings {
    pub fn load(w: &mut Weights, c: &BertConfig, device: &Device) -> Result<Self> {
        let d = c.hidden_size;
        Ok(Self {
            word_embeddings: w.matrix("embeddings.word_embeddings.weight", c.vocab_size, d, device)?,
            position_embeddings: w.matrix("embeddings.position_embeddings.weight", c.max_position_embeddings, d, device)?,
            token_type_embeddings: w.matrix("embeddings.token_type_embeddings.weight", c.type_vocab_size, d, device)?,
            layer_norm: LayerNorm::load(w, "embeddings.LayerNorm", d, c.layer_norm_eps, device)?,
        })
    }

    /// `ids`: [B*T] token ids, row-major over a [B, T] batch; `token_type_ids`: [B*T] the same
    /// way, or none for all segment 0 (as transformers' default).
    pub fn forward(&self, ids: Tensor<1, Int>, token_type_ids: Option<Tensor<1, Int>>, b: usize, t: usize) -> Tensor<3> {
        let [_, d] = self.word_embeddings.dims();
        let words = self.word_embeddings.clone().select(0, ids).reshape([b, t, d]); // [B, T, D]
        let positions = self.position_embeddings.clone().slice(0..t).reshape([1, t, d]); // [1, T, D]
        let x = words + positions;
        let x = match token_type_ids {
            None => x + self.token_type_embeddings.clone().slice(0..1).reshape([1, 1, d]), // [1, 1, D]
            Some(types) => x + self.token_type_embeddings.clone().select(0, types).reshape([b, t, d]), // [B, T, D]
        };
        self.layer_norm.forward(x)
    }
}
