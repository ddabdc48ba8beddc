//! tokenizer.json via the `tokenizers` crate, with padding off (we pad per batch) and
//! truncation at the model's position limit, reported to the caller.

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

pub struct TextTokenizer {
    inner: Tokenizer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// The sentence was longer than the model's `max_position_embeddings` and was cut.
    pub truncated: bool,
}

impl TextTokenizer {
    /// `max_len`: the model's max_position_embeddings; `vocab_size`: ids must stay below it.
    pub fn from_bytes(bytes: &[u8], max_len: usize, vocab_size: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| Error::tokenizer(format!("cannot be read ({e})")))?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::tokenizer(format!("cannot truncate to {max_len} tokens ({e})")))?;
        let n = inner.get_vocab_size(true);
        if n > vocab_size {
            return Err(Error::tokenizer(format!("has {n} tokens but config.json's vocab_size is {vocab_size}: they belong to different models")));
        }
        Ok(Self { inner })
    }

    pub fn encode(&self, text: &str) -> Result<Encoded> {
        let enc = self.inner.encode(text, true).map_err(|e| Error::input(format!("cannot tokenize the sentence ({e})")))?;
        Ok(Encoded { ids: enc.get_ids().to_vec(), tokens: enc.get_tokens().to_vec(), truncated: !enc.get_overflowing().is_empty() })
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}
