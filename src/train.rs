//! A linear classifier on frozen sentence embeddings, trained with burn autodiff and Adam.
//! Deterministic: zero initialisation and a seeded shuffle.

use burn::tensor::{Device, Tensor, TensorData, activation::log_softmax};
use serde::{Deserialize, Serialize};

use crate::engine::read;
use crate::error::{Error, Result};
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// L2 penalty on the weight (not the bias).
    pub weight_decay: f64,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { epochs: 60, batch: 64, learning_rate: 0.01, weight_decay: 1e-4, seed: 0 }
    }
}

/// A trained linear classifier: `weight` [hidden, labels] (our [in, out]), `bias` [labels].
pub struct TrainedClassifier {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl TrainedClassifier {
    /// The predicted label of each row of `x` ([N, dim]).
    pub fn predict(&self, x: &[f32], dim: usize) -> Vec<usize> {
        let labels = self.bias.len();
        x.chunks(dim)
            .map(|row| {
                (0..labels)
                    .map(|o| (o, self.bias[o] + row.iter().enumerate().map(|(i, v)| v * self.weight[i * labels + o]).sum::<f32>()))
                    .fold((0, f32::NEG_INFINITY), |b, (o, z)| if z > b.1 { (o, z) } else { b })
                    .0
            })
            .collect()
    }
}

struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Self { m: vec![0.0; n], v: vec![0.0; n], t: 0 }
    }

    fn step(&mut self, p: &mut [f32], g: &[f32], lr: f64) {
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        self.t += 1;
        for i in 0..p.len() {
            let gi = g[i] as f64;
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * gi;
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * gi * gi;
            let mh = self.m[i] / (1.0 - b1.powi(self.t));
            let vh = self.v[i] / (1.0 - b2.powi(self.t));
            p[i] -= (lr * mh / (vh.sqrt() + eps)) as f32;
        }
    }
}

/// Trains on `x`: [N, dim] features and `y`: labels in 0..labels (softmax cross-entropy, Adam,
/// an L2 penalty on the weight).
pub async fn train_classifier(x: &[f32], y: &[usize], dim: usize, labels: usize, o: TrainOptions, device: &Device) -> Result<TrainedClassifier> {
    let n = y.len();
    if n == 0 || x.len() != n * dim || y.iter().any(|&l| l >= labels) {
        return Err(Error::input("training data: features and labels do not line up"));
    }
    let mut model = TrainedClassifier { weight: vec![0.0; dim * labels], bias: vec![0.0; labels] };
    let (mut adam_w, mut adam_b) = (Adam::new(dim * labels), Adam::new(labels));
    let mut rng = Rng::new(o.seed);
    let mut order: Vec<usize> = (0..n).collect();
    for _ in 0..o.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(o.batch) {
            let b = chunk.len();
            let xb: Vec<f32> = chunk.iter().flat_map(|&i| x[i * dim..(i + 1) * dim].iter().copied()).collect();
            let mut onehot = vec![0f32; b * labels];
            for (r, &i) in chunk.iter().enumerate() {
                onehot[r * labels + y[i]] = 1.0;
            }
            let xb = Tensor::<2>::from_data(TensorData::new(xb, [b, dim]), device);
            let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, labels]), device);
            let w = Tensor::<2>::from_data(TensorData::new(model.weight.clone(), [dim, labels]), device).autodiff().require_grad();
            let bias = Tensor::<1>::from_data(TensorData::new(model.bias.clone(), [labels]), device).autodiff().require_grad();
            let logits = xb.matmul(w.clone()) + bias.clone().reshape([1, labels]); // [B, C]
            let ce = -(log_softmax(logits, 1) * onehot).sum() / b as f64;
            let loss = ce + (w.clone() * w.clone()).sum() * (0.5 * o.weight_decay);
            let grads = loss.backward();
            let gw = read(w.grad(&grads).expect("weight grad")).await?;
            let gb = read(bias.grad(&grads).expect("bias grad")).await?;
            adam_w.step(&mut model.weight, &gw, o.learning_rate);
            adam_b.step(&mut model.bias, &gb, o.learning_rate);
        }
    }
    Ok(model)
}
