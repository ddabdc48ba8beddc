use burn::tensor::{Device, Int, Tensor};

use super::{LayerNorm, Linear};
use crate::config::BertConfig;
use crate::error::Result;
use crate::weights::Weights;

/// `embeddings.*`: word + absolute position (+ token type), then LayerNorm, as BertEmbeddings;
/// DistilBERT has no token types, RoBERTa's positions start at padding_idx + 1, ELECTRA's
/// embeddings are narrower and `embeddings_project` widens them to the hidden size.
#[derive(Clone, Debug)]
pub struct Embeddings {
    pub word_embeddings: Tensor<2>,               // [V, E]
    pub position_embeddings: Tensor<2>,           // [P, E]
    pub token_type_embeddings: Option<Tensor<2>>, // [TV, E]
    pub layer_norm: LayerNorm,
    /// ELECTRA's `embeddings_project` [E → D], when E ≠ D.
    pub project: Option<Linear>,
    /// The first position id (RoBERTa: padding_idx + 1, for inputs without inner padding).
    pub position_offset: usize,
}

impl Embeddings {
    pub fn load(w: &mut Weights, c: &BertConfig, device: &Device) -> Result<Self> {
        let e = c.embedding_size;
        let types = c.type_vocab_size > 0;
        Ok(Self {
            word_embeddings: w.matrix("embeddings.word_embeddings.weight", c.vocab_size, e, device)?,
            position_embeddings: w.matrix("embeddings.position_embeddings.weight", c.max_position_embeddings, e, device)?,
            token_type_embeddings: if types {
                Some(w.matrix("embeddings.token_type_embeddings.weight", c.type_vocab_size, e, device)?)
            } else {
                None
            },
            layer_norm: LayerNorm::load(w, "embeddings.LayerNorm", e, c.layer_norm_eps, device)?,
            project: if e != c.hidden_size { Some(Linear::load(w, "embeddings_project", e, c.hidden_size, device)?) } else { None },
            position_offset: c.position_offset,
        })
    }

    /// `ids`: [B*T] token ids, row-major over a [B, T] batch; `token_type_ids`: [B*T] the same
    /// way, or none for all segment 0 (as transformers' default). Returns [B, T, D].
    pub fn forward(&self, ids: Tensor<1, Int>, token_type_ids: Option<Tensor<1, Int>>, b: usize, t: usize) -> Tensor<3> {
        let [_, e] = self.word_embeddings.dims();
        let words = self.word_embeddings.clone().select(0, ids).reshape([b, t, e]); // [B, T, E]
        // Right padding only, so RoBERTa's cumulative position ids are offset + 0..T for the
        // real tokens (padding positions differ from transformers', but padding is masked).
        let off = self.position_offset;
        let positions = self.position_embeddings.clone().slice(off..off + t).reshape([1, t, e]); // [1, T, E]
        let x = words + positions;
        let x = match (&self.token_type_embeddings, token_type_ids) {
            (None, _) => x,
            (Some(table), None) => x + table.clone().slice(0..1).reshape([1, 1, e]), // [1, 1, E]
            (Some(table), Some(types)) => x + table.clone().select(0, types).reshape([b, t, e]), // [B, T, E]
        };
        let x = self.layer_norm.forward(x);
        match &self.project {
            Some(p) => p.forward(x), // [B, T, D]
            None => x,
        }
    }
}
