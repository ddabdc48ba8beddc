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
    /// Segment of each token (transformers' `token_type_ids`): 0 for a single sentence and the
    /// first of a pair, 1 for the second of a pair, as the tokenizer's pair template sets them.
    pub type_ids: Vec<u32>,
    /// 1 for the tokens of a pair's second sentence, 0 for the rest (special tokens included),
    /// whatever the model's token types: what the page marks.
    pub segments: Vec<u8>,
    pub tokens: Vec<String>,
    /// The input was longer than the engine takes (`Engine::max_len`) and was cut.
    pub truncated: bool,
}

impl TextTokenizer {
    /// `max_len`: tokens per input, special tokens included; `vocab_size`: ids must stay below it.
    pub fn from_bytes(bytes: &[u8], max_len: usize, vocab_size: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| Error::tokenizer(format!("cannot be read ({e})")))?;
        inner.with_padding(None);
        let n = inner.get_vocab_size(true);
        if n > vocab_size {
            return Err(Error::tokenizer(format!("has {n} tokens but config.json's vocab_size is {vocab_size}: they belong to different models")));
        }
        let mut out = Self { inner };
        out.set_max_len(max_len)?;
        Ok(out)
    }

    /// Truncate inputs (special tokens included) to `max_len` tokens, longest sentence first.
    pub fn set_max_len(&mut self, max_len: usize) -> Result<()> {
        self.inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::tokenizer(format!("cannot truncate to {max_len} tokens ({e})")))?;
        Ok(())
    }

    /// One sentence, or a pair (`text_pair`) joined by the tokenizer's pair template (BERT:
    /// `[CLS] a [SEP] b [SEP]`, segments 0 then 1), as transformers' `tokenizer(text, text_pair)`.
    /// A pair too long is cut longest-first, as transformers' default truncation.
    pub fn encode(&self, text: &str, text_pair: Option<&str>) -> Result<Encoded> {
        let enc = match text_pair {
            None => self.inner.encode(text, true),
            Some(b) => self.inner.encode((text, b), true),
        }
        .map_err(|e| Error::input(format!("cannot tokenize the {} ({e})", if text_pair.is_some() { "sentence pair" } else { "sentence" })))?;
        Ok(Encoded {
            ids: enc.get_ids().to_vec(),
            type_ids: enc.get_type_ids().to_vec(),
            segments: enc.get_sequence_ids().into_iter().map(|s| u8::from(s == Some(1))).collect(),
            tokens: enc.get_tokens().to_vec(),
            truncated: !enc.get_overflowing().is_empty(),
        })
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}
