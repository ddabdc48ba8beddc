//! Padding sentences of different lengths into one [B, T] batch, with its mask and, for
//! sentence pairs, its token types.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::tokenize::Encoded;

pub struct Batch {
    pub ids: Vec<i32>,  // [B*T], padded with `pad_id`
    pub mask: Vec<f32>, // [B*T], 1 for real tokens
    /// [B*T] `token_type_ids`, padded with 0; none when every token is segment 0 (one sentence).
    pub type_ids: Option<Vec<i32>>,
    pub lens: Vec<usize>,
    pub b: usize,
    pub t: usize,
}

impl Batch {
    pub fn new(seqs: &[&[u32]], pad_id: u32) -> Self {
        let b = seqs.len();
        let t = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut ids = vec![pad_id as i32; b * t];
        let mut mask = vec![0f32; b * t];
        for (r, s) in seqs.iter().enumerate() {
            for (c, &id) in s.iter().enumerate() {
                ids[r * t + c] = id as i32;
                mask[r * t + c] = 1.0;
            }
        }
        Self { ids, mask, type_ids: None, lens: seqs.iter().map(|s| s.len()).collect(), b, t }
    }

    /// Tokenizer output, with each sequence's `token_type_ids` (a sentence pair's segments).
    pub fn from_encoded(seqs: &[&Encoded], pad_id: u32) -> Self {
        let ids: Vec<&[u32]> = seqs.iter().map(|e| e.ids.as_slice()).collect();
        let mut batch = Self::new(&ids, pad_id);
        if seqs.iter().any(|e| e.type_ids.iter().any(|&s| s != 0)) {
            let mut types = vec![0i32; batch.b * batch.t];
            for (r, e) in seqs.iter().enumerate() {
                for (c, &s) in e.type_ids.iter().enumerate() {
                    types[r * batch.t + c] = s as i32;
                }
            }
            batch.type_ids = Some(types);
        }
        batch
    }

    /// `input_ids` [B*T] and `attention_mask` [B, T].
    pub fn tensors(&self, device: &Device) -> (Tensor<1, Int>, Tensor<2>) {
        let ids = Tensor::from_data(TensorData::new(self.ids.clone(), [self.b * self.t]), device);
        let mask = Tensor::from_data(TensorData::new(self.mask.clone(), [self.b, self.t]), device);
        (ids, mask)
    }

    /// `token_type_ids` [B*T], when some token is not segment 0.
    pub fn token_type_ids(&self, device: &Device) -> Option<Tensor<1, Int>> {
        self.type_ids.as_ref().map(|t| Tensor::from_data(TensorData::new(t.clone(), [self.b * self.t]), device))
    }
}

/// Groups sentence indices into batches of similar length (sorted, so little padding), each
/// holding at most `max_tokens` padded tokens and `max_batch` sentences.
pub fn plan(lens: &[usize], max_tokens: usize, max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i], i));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so the newcomer sets the padded length.
        let padded = (current.len() + 1) * lens[i];
        if !current.is_empty() && (padded > max_tokens || current.len() >= max_batch) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_and_masks() {
        let b = Batch::new(&[&[101, 7, 102], &[101, 102]], 0);
        assert_eq!((b.b, b.t), (2, 3));
        assert_eq!(b.ids, vec![101, 7, 102, 101, 102, 0]);
        assert_eq!(b.mask, vec![1., 1., 1., 1., 1., 0.]);
    }

    #[test]
    fn plan_covers_every_index_once_within_budget() {
        let lens = [5, 50, 3, 3, 512, 7, 9, 12];
        let batches = plan(&lens, 64, 4);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for b in &batches {
            let max = b.iter().map(|&i| lens[i]).max().unwrap();
            assert!(b.len() <= 4 && (b.len() == 1 || b.len() * max <= 64), "{b:?}");
        }
    }
}
