//! Padding sentences of different lengths into one [B, T] batch, with its mask.

use burn::tensor::{Device, Int, Tensor, TensorData};

pub struct Batch {
    pub ids: Vec<i32>,  // [B*T], padded with `pad_id`
    pub mask: Vec<f32>, // [B*T], 1 for real tokens
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
        Self { ids, mask, lens: seqs.iter().map(|s| s.len()).collect(), b, t }
    }

    pub fn tensors(&self, device: &Device) -> (Tensor<1, Int>, Tensor<2>) {
        let ids = Tensor::from_data(TensorData::new(self.ids.clone(), [self.b * self.t]), device);
        let mask = Tensor::from_data(TensorData::new(self.mask.clone(), [self.b, self.t]), device);
        (ids, mask)
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
