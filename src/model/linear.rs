use std::sync::{Arc, OnceLock};

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::qgemm::{self, QWeight};
use super::sgemm;
use super::sgemm_op::{Packed, sgemm_linear};
use crate::error::Result;
use crate::weights::Weights;

/// How inference multiplies: in f32 ("exact"), or with int8 weights and activations ("q8",
/// `super::qgemm`). Gradients (scoring) and the GPU always run f32.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum Compute {
    #[default]
    Exact,
    Q8,
}

/// `y = x @ weight + bias`, with `weight` kept as [in, out] (transposed once at load).
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: Tensor<2>, // [in, out]
    pub bias: Tensor<1>,   // [out]
    pub compute: Compute,
    /// The browser's CPU path multiplies with `sgemm` (inference and scoring): the weight packed
    /// for it and the bias, copied out of burn once, on first use (clones share them).
    host: Arc<Host>,
    /// The same for the q8 path: the weight quantised per output column and packed.
    quantized: Arc<OnceLock<(QWeight, Vec<f32>)>>,
}

#[derive(Default)]
struct Host(OnceLock<Arc<Packed>>);

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "packed" } else { "not packed" })
    }
}

impl Linear {
    pub fn new(weight: Tensor<2>, bias: Tensor<1>) -> Self {
        Self { weight, bias, compute: Compute::Exact, host: Arc::default(), quantized: Arc::default() }
    }

    /// The same layer computing the `compute` way (clones share the weights and what was packed).
    pub fn with_compute(&self, compute: Compute) -> Self {
        Self { compute, ..self.clone() }
    }

    /// Loads `{prefix}.weight` [out, in] and `{prefix}.bias` [out].
    pub fn load(w: &mut Weights, prefix: &str, d_in: usize, d_out: usize, device: &Device) -> Result<Self> {
        Ok(Self::new(w.linear_weight(&format!("{prefix}.weight"), d_in, d_out, device)?, w.vector(&format!("{prefix}.bias"), d_out, device)?))
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d_in] = x.dims();
        let [_, d_out] = self.weight.dims();
        if self.use_q8(&x, d_out) {
            return self.forward_q8(x.reshape([b * t, d_in])).reshape([b, t, d_out]);
        }
        if self.use_sgemm(&x, d_out) {
            return self.forward_host(x.reshape([b * t, d_in])).reshape([b, t, d_out]);
        }
        let y = x.reshape([b * t, d_in]).matmul(self.weight.clone()); // [B*T, out]
        y.reshape([b, t, d_out]) + self.bias.clone().reshape([1, 1, d_out])
    }

    pub fn forward2(&self, x: Tensor<2>) -> Tensor<2> {
        let [_, d_out] = self.weight.dims();
        if self.use_q8(&x, d_out) {
            return self.forward_q8(x);
        }
        if self.use_sgemm(&x, d_out) {
            return self.forward_host(x);
        }
        x.matmul(self.weight.clone()) + self.bias.clone().reshape([1, d_out])
    }

    fn forward_host(&self, x: Tensor<2>) -> Tensor<2> {
        sgemm_linear(x, self.packed().clone()) // [M, out]
    }

    fn packed(&self) -> &Arc<Packed> {
        let [k, n] = self.weight.dims();
        self.host.0.get_or_init(|| Arc::new(Packed::new(host(self.weight.clone()), host(self.bias.clone()), k, n)))
    }

    /// Only in wasm, on the CPU backend; under autodiff only when the weights take no gradient
    /// (scoring, not fine-tuning) and the backward's `wᵀ` fits `sgemm` too.
    fn use_sgemm<const D: usize>(&self, x: &Tensor<D>, n: usize) -> bool {
        let [k, _] = self.weight.dims();
        cfg!(target_family = "wasm")
            && sgemm::supports(n)
            && x.device().inner() == Device::flex()
            && (!x.is_autodiff() || (sgemm::supports(k) && !self.weight.is_tracked() && !self.bias.is_tracked()))
    }
}

impl Linear {
    /// The layer reading only the input features `rows` (structural pruning of
    /// attention.output.dense). On the q8 path the kept rows keep the whole layer's integers and
    /// column scales, so the sliced layer multiplies exactly as the whole one does with the other
    /// inputs at 0 (masking), as long as the removed inputs fill whole activation blocks (a head
    /// size that is a multiple of 32: MiniLM's, BERT-base's).
    pub fn keep_inputs(&self, rows: &[usize]) -> Self {
        let device = self.weight.device();
        let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(rows.iter().map(|&r| r as i32).collect::<Vec<_>>(), [rows.len()]), &device);
        let out = Linear::new(self.weight.clone().select(0, idx), self.bias.clone()).with_compute(self.compute); // [kept, out]
        if self.compute == Compute::Q8 {
            let (w, b) = self.quantized();
            let _ = out.quantized.set((w.select_rows(rows), b.clone()));
        }
        out
    }

    /// The weight quantised per output column and packed, and the bias (computed once, shared by clones).
    fn quantized(&self) -> &(QWeight, Vec<f32>) {
        let [k, n] = self.weight.dims();
        self.quantized.get_or_init(|| (QWeight::quantize(&host(self.weight.clone()), k, n), host(self.bias.clone())))
    }

    /// q8 runs on the CPU backend outside autodiff, natively and in wasm.
    fn use_q8<const D: usize>(&self, x: &Tensor<D>, n: usize) -> bool {
        self.compute == Compute::Q8 && qgemm::supports(n) && !x.is_autodiff() && x.device() == Device::flex()
    }

    fn forward_q8(&self, x: Tensor<2>) -> Tensor<2> {
        let [m, k] = x.dims();
        let [_, n] = self.weight.dims();
        let device = x.device();
        let (w, bias) = self.quantized();
        debug_assert_eq!((w.k, w.n), (k, n));
        let data = x.into_data();
        let xs: &[f32] = data.as_slice().expect("f32 activations");
        let mut out = vec![0f32; m * n];
        qgemm::qgemm(xs, w, bias, &mut out, m);
        Tensor::from_data(TensorData::new(out, [m, n]), &device) // [M, out]
    }
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec().expect("f32 weights")
}
