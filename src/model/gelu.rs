use burn::tensor::{Device, Tensor, TensorData, activation};

/// Exact (erf) GELU, `0.5·x·(1 + erf(x/√2))`, as BERT uses.
///
/// burn's CPU backend evaluates it with libm's scalar `erff`: 18 % of a native forward and 5–10 %
/// of a wasm one (`bench/profile.mjs`, perf). On the CPU the values are computed here with a
/// branch-free rational erf that the compiler vectorises; other devices keep burn's kernel.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if device.clone().inner() != Device::flex() {
        return activation::gelu(x);
    }
    let shape = x.shape();
    if !x.is_tracked() {
        // In place: the activation is usually the only owner of its buffer, so no copy.
        let mut values: Vec<f32> = x.into_data().try_into_vec().expect("f32 activations");
        values.iter_mut().for_each(|v| *v = gelu_f32(*v));
        return Tensor::from_data(TensorData::new(values, shape), &device);
    }
    // Under autodiff: value gelu(x̄), gradient gelu'(x̄), with x̄ = x held constant.
    let values: Vec<f32> = x.clone().inner().into_data().try_into_vec().expect("f32 activations");
    let y: Vec<f32> = values.iter().map(|&v| gelu_f32(v)).collect();
    let slope: Vec<f32> = values.iter().map(|&v| gelu_grad_f32(v)).collect();
    let y = Tensor::from_data(TensorData::new(y, shape.clone()), &device);
    let slope = Tensor::from_data(TensorData::new(slope, shape), &device);
    y + (x.clone() - x.detach()) * slope
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;

pub fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * FRAC_1_SQRT_2))
}

/// d/dx gelu = Φ(x) + x·φ(x).
pub fn gelu_grad_f32(x: f32) -> f32 {
    let pdf = (-0.5 * x * x).exp() * (0.5 * std::f32::consts::FRAC_2_SQRT_PI * FRAC_1_SQRT_2);
    0.5 * (1.0 + erf_f32(x * FRAC_1_SQRT_2)) + x * pdf
}

/// erf(x) as x·P(x²)/Q(x²) on [-4, 4] (|erf| rounds to 1 beyond): the rational approximation
/// Eigen and XLA use for f32, within a few ulp, and free of branches so loops over it vectorise.
#[allow(clippy::excessive_precision)] // the published coefficients, as printed
pub fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = [
        -2.72614225801306e-10_f32,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ]
    .iter()
    .fold(0.0, |acc, &c| acc * x2 + c);
    let q = [-1.45660718464996e-05_f32, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03, -1.42647390514189e-02]
        .iter()
        .fold(0.0, |acc, &c| acc * x2 + c);
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against an f64 erf (series / continued fraction, below) on a dense grid.
    #[test]
    fn erf_matches_libm_to_a_few_ulp() {
        let mut worst = 0f64;
        for i in -80_000..=80_000 {
            let x = i as f32 * 1e-4;
            let want = reference_erf(x as f64);
            worst = worst.max((erf_f32(x) as f64 - want).abs());
        }
        assert!(worst < 5e-7, "max |erf error| {worst:e}");
    }

    #[test]
    fn gelu_and_its_slope_match_the_definition() {
        for i in -600..=600 {
            let x = i as f32 * 0.01;
            let xd = x as f64;
            let want = 0.5 * xd * (1.0 + reference_erf(xd / std::f64::consts::SQRT_2));
            assert!((gelu_f32(x) as f64 - want).abs() < 1e-6 * (1.0 + want.abs()), "gelu({x})");
            // Central difference of the f64 reference.
            let h = 1e-5;
            let g = |v: f64| 0.5 * v * (1.0 + reference_erf(v / std::f64::consts::SQRT_2));
            let slope = (g(xd + h) - g(xd - h)) / (2.0 * h);
            assert!((gelu_grad_f32(x) as f64 - slope).abs() < 1e-5, "gelu'({x})");
        }
    }

    /// erf in f64 by its Maclaurin series (|x| ≤ 3) or continued fraction for erfc (|x| > 3).
    fn reference_erf(x: f64) -> f64 {
        let a = x.abs();
        let r = if a <= 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * std::f64::consts::FRAC_2_SQRT_PI
        } else {
            // Lentz-free backward evaluation of erfc's continued fraction.
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            1.0 - (-a * a).exp() / (std::f64::consts::PI.sqrt() * (a + f))
        };
        r.copysign(x)
    }
}
