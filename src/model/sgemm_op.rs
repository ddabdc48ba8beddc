//! `y = x·w + bias` through [`super::sgemm`] as a burn op, with its gradient: the browser's CPU
//! linear layers, in inference and under autodiff (scoring).
//!
//! Under autodiff burn-flex multiplies with gemm's simd128 kernel, at about half the page's
//! mul+add ceiling: the V8 profile of scoring 32 sentences put 83 % of it there (forward and
//! backward). Scoring needs gradients for the head mask only, never for the weights, so the
//! backward of a linear layer is one product, `dx = dy·wᵀ`, which `sgemm` also does from `wᵀ`
//! packed once. Gradients for the weights (fine-tuning) stay with burn's matmul: `Linear`
//! routes here only when neither the weight nor the bias is tracked.

use std::sync::{Arc, OnceLock};

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};

use super::sgemm;

/// A linear layer's weight and bias copied out of burn for `sgemm`.
pub struct Packed {
    /// Inputs and outputs: the weight is [k, n].
    pub k: usize,
    pub n: usize,
    /// The weight `pack`ed for `x·w`.
    w: Vec<f32>,
    bias: Vec<f32>,
    /// `wᵀ` [n, k] packed for the backward (`dy·wᵀ`) and a zero bias [k], made from `w` on the
    /// first backward: a second f32 copy of the layer (42 MB for MiniLM's linear layers), which
    /// the page pays since it scores at start; inference alone never makes it.
    wt: OnceLock<(Vec<f32>, Vec<f32>)>,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Packed [{}, {}]", self.k, self.n)
    }
}

impl Packed {
    /// `w` [k, n] row-major, `bias` [n]. `n` must be a multiple of 8 (`sgemm::supports`).
    pub fn new(w: Vec<f32>, bias: Vec<f32>, k: usize, n: usize) -> Self {
        Self { k, n, w: sgemm::pack(&w, k, n), bias, wt: OnceLock::new() }
    }

    fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * self.n];
        sgemm::sgemm(x, &self.w, &self.bias, &mut out, m, self.k, self.n);
        out
    }

    /// `dy` [m, n] → `dx = dy·wᵀ` [m, k].
    fn backward(&self, dy: &[f32], m: usize) -> Vec<f32> {
        let (k, n) = (self.k, self.n);
        let (wt, zeros) = self.wt.get_or_init(|| {
            // w[p, j] sits at panel j / 8, row p, lane j % 8 of the packed w.
            let t: Vec<f32> = (0..n * k).map(|i| (i / k, i % k)).map(|(j, p)| self.w[(j / 8) * k * 8 + p * 8 + j % 8]).collect(); // [n, k]
            (sgemm::pack(&t, n, k), vec![0f32; k])
        });
        let mut dx = vec![0f32; m * k];
        sgemm::sgemm(dy, wt, zeros, &mut dx, m, n, k);
        dx
    }
}

/// `x` [m, k] through a [`Packed`] layer, as a burn op on the CPU backend, differentiable in `x`.
#[backend_extension(Flex, Autodiff)]
pub trait SgemmLinear: Backend {
    /// `x` [m, k] → `x·w + bias` [m, n].
    fn sgemm_linear(x: FloatTensor<Self>, layer: Arc<Packed>) -> FloatTensor<Self>;
}

/// `x` [m, ·] as a row-major slice (copied only when it is a strided view), and m.
fn with_rows<R>(x: &FlexTensor, f: impl FnOnce(&[f32], usize) -> R) -> R {
    let m = x.layout().shape()[0];
    match x.as_slice::<f32>() {
        Some(s) => f(s, m),
        None => f(x.to_contiguous().as_slice::<f32>().expect("f32 activations"), m),
    }
}

impl SgemmLinear for Flex {
    fn sgemm_linear(x: FloatTensor<Self>, layer: Arc<Packed>) -> FloatTensor<Self> {
        with_rows(&x, |xs, m| FlexTensor::from_data(TensorData::new(layer.forward(xs, m), [m, layer.n]))) // [M, out]
    }
}

#[derive(Debug)]
struct SgemmLinearBackward(Arc<Packed>);

impl Backward<Flex, 1> for SgemmLinearBackward {
    type State = ();

    fn backward(self, ops: Ops<(), 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        unary::<Flex, _>(ops.parents, ops.node, grads, |dy| {
            with_rows(&dy, |dys, m| FlexTensor::from_data(TensorData::new(self.0.backward(dys, m), [m, self.0.k]))) // [M, in]
        });
    }
}

impl<C: CheckpointStrategy> SgemmLinear for Autodiff<Flex, C> {
    fn sgemm_linear(x: FloatTensor<Self>, layer: Arc<Packed>) -> FloatTensor<Self> {
        let prep = SgemmLinearBackward(layer.clone()).prepare::<C>([x.node()]).compute_bound();
        let y = Flex::sgemm_linear(x.into_primitive(), layer);
        prep.stateless(y)
    }
}

/// `x` [m, k] → [m, n] on the CPU backend, with or without autodiff.
pub fn sgemm_linear(x: Tensor<2>, layer: Arc<Packed>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as SgemmLinear>::sgemm_linear(x.into_dispatch(), layer))
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::super::test_values as data;
    use super::*;

    /// The forward and the gradient reaching a tracked input, against burn's matmul under
    /// autodiff, on a row count that is not a multiple of the register block and a strided
    /// (transposed) input.
    #[test]
    fn forward_and_input_gradient_match_burns_matmul() {
        let (m, k, n) = (7, 24, 16);
        let device = Device::flex().autodiff();
        let w = data(k * n, 53, 89);
        let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.1 - 0.5).collect();
        let layer = Arc::new(Packed::new(w.clone(), bias.clone(), k, n));
        let r = Tensor::<2>::from_data(TensorData::new(data(m * n, 31, 97), [m, n]), &device);
        let run = |ours: bool| {
            let g = Tensor::<2>::from_data(TensorData::new(data(k * m, 37, 101), [k, m]), &device).require_grad();
            let x = g.clone().transpose(); // [M, K], a strided view of a tracked tensor
            let y = if ours {
                sgemm_linear(x, layer.clone())
            } else {
                let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [k, n]), &device);
                x.matmul(wt) + Tensor::<1>::from_data(TensorData::new(bias.clone(), [n]), &device).reshape([1, n])
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            (y.into_data().try_to_vec::<f32>().unwrap(), g.grad(&grads).expect("a gradient").into_data().try_to_vec::<f32>().unwrap())
        };
        let ((y, dg), (y_ref, dg_ref)) = (run(true), run(false));
        for (a, b) in y.iter().zip(&y_ref).chain(dg.iter().zip(&dg_ref)) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert_eq!((y.len(), dg.len()), (m * n, k * m));
    }
}
