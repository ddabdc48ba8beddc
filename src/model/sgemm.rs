//! `out = x·w + bias` in f32 for the browser's CPU path (wasm SIMD128, one thread).
//!
//! The wasm profile (`bench/profile.mjs`) puts 82 % of a forward in gemm's simd128 microkernel
//! (12 accumulators), at about half the page's mul+add ceiling. This kernel keeps a 4×8 block
//! of the output in eight registers, reads `w` packed once into 8-column panels (in order, and
//! in L1 across a chunk of rows), and starts from the bias, so the bias needs no pass of its own.
//! Natively burn's gemm (AVX FMA, every core) is faster; this is for wasm only, with a portable
//! body so native tests check the same blocking.

/// Rows per register block and columns per panel (two f32x4): 8 accumulators. V8 has 16 SIMD
/// registers on x86-64; 6 or 5 rows (12 or 10 accumulators) spill and ran 1.5× slower.
pub(super) const MR: usize = 4;
pub(super) const NR: usize = 8;
/// Rows per chunk: its slice of `x` stays in L2 while every panel of `w` passes over it.
const MC: usize = 96;

/// Whether `sgemm` takes this shape (`n` a multiple of 8: every BERT projection, pruned or not).
pub fn supports(n: usize) -> bool {
    n > 0 && n.is_multiple_of(NR)
}

/// `w` [k, n] row-major as 8-column panels, [n/8][k][8], so the kernel reads it in order.
pub fn pack(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    assert!(supports(n) && w.len() == k * n);
    let mut packed = Vec::with_capacity(k * n);
    for j in (0..n).step_by(NR) {
        for p in 0..k {
            packed.extend_from_slice(&w[p * n + j..p * n + j + NR]);
        }
    }
    packed
}

/// `x`: [m, k] row-major, `w`: `pack`ed [k, n], `bias`: [n], `out`: [m, n] row-major.
pub fn sgemm(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(supports(n) && x.len() == m * k && w.len() == k * n && bias.len() == n && out.len() == m * n);
    for_each_tile(m, n, |i, rows, j| match rows {
        MR => block::<MR>(x, w, bias, out, i, j, k, n),
        1 => block::<1>(x, w, bias, out, i, j, k, n),
        2 => block::<2>(x, w, bias, out, i, j, k, n),
        _ => block::<3>(x, w, bias, out, i, j, k, n),
    });
}

/// Every register tile of an [m, n] product, in the order the kernels (this one and the q8 ones)
/// run them: chunks of [`MC`] rows, in each chunk the [`NR`]-column panels, in each panel [`MR`]
/// rows at a time, then the remainder: `tile(i, rows, j)` with `rows` in 1..=MR.
#[inline(always)]
pub(super) fn for_each_tile(m: usize, n: usize, mut tile: impl FnMut(usize, usize, usize)) {
    for i0 in (0..m).step_by(MC) {
        let end = (i0 + MC).min(m);
        for j in (0..n).step_by(NR) {
            for i in (i0..end).step_by(MR) {
                tile(i, MR.min(end - i), j);
            }
        }
    }
}

/// out[i..i+R, j..j+8] = bias[j..j+8] + Σ_p x[i..i+R, p] ⊗ w[p, j..j+8].
#[cfg(target_arch = "wasm32")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const R: usize>(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], i: usize, j: usize, k: usize, n: usize) {
    use core::arch::wasm32::*;
    // SAFETY: `sgemm` checked every slice length; i + R ≤ m, j + 8 ≤ n, p < k below.
    unsafe {
        let b0 = v128_load(bias.as_ptr().add(j) as *const v128);
        let b1 = v128_load(bias.as_ptr().add(j + 4) as *const v128);
        let mut acc = [[b0, b1]; R];
        let xp = x.as_ptr().add(i * k);
        let mut wp = w.as_ptr().add(j * k);
        for p in 0..k {
            let w0 = v128_load(wp as *const v128);
            let w1 = v128_load(wp.add(4) as *const v128);
            for (r, a) in acc.iter_mut().enumerate() {
                let s = f32x4_splat(*xp.add(r * k + p));
                a[0] = f32x4_add(a[0], f32x4_mul(s, w0));
                a[1] = f32x4_add(a[1], f32x4_mul(s, w1));
            }
            wp = wp.add(NR);
        }
        for (r, a) in acc.iter().enumerate() {
            let o = out.as_mut_ptr().add((i + r) * n + j);
            v128_store(o as *mut v128, a[0]);
            v128_store(o.add(4) as *mut v128, a[1]);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::too_many_arguments)]
fn block<const R: usize>(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], i: usize, j: usize, k: usize, n: usize) {
    let mut acc = [[0f32; NR]; R];
    for a in acc.iter_mut() {
        a.copy_from_slice(&bias[j..j + NR]);
    }
    for p in 0..k {
        let wr = &w[j * k + p * NR..j * k + (p + 1) * NR];
        for (r, a) in acc.iter_mut().enumerate() {
            let s = x[(i + r) * k + p];
            for (c, v) in a.iter_mut().enumerate() {
                *v += s * wr[c];
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        out[(i + r) * n + j..(i + r) * n + j + NR].copy_from_slice(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row remainder and chunk edge, against a plain triple loop in f64.
    #[test]
    fn matches_a_plain_product_on_awkward_shapes() {
        for &(m, k, n) in &[(1, 1, 8), (2, 3, 16), (7, 33, 8), (6, 5, 8), (98, 17, 24), (203, 64, 40)] {
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 53 % 89) as f32 - 44.0) / 30.0).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.1 - 1.0).collect();
            let mut out = vec![f32::NAN; m * n];
            sgemm(&x, &pack(&w, k, n), &bias, &mut out, m, k, n);
            for i in 0..m {
                for j in 0..n {
                    let want = bias[j] as f64 + (0..k).map(|p| x[i * k + p] as f64 * w[p * n + j] as f64).sum::<f64>();
                    let got = out[i * n + j] as f64;
                    assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "({m},{k},{n}) [{i},{j}]: {got} vs {want}");
                }
            }
        }
    }
}
