//! `out = x·w + bias` with int8 weights and 7-bit activations: the "q8" compute path.
//!
//! Weights: symmetric per output channel, `w[p, j] ≈ q[p, j] · w_scale[j]` with
//! `w_scale[j] = max_p |w[p, j]| / 127` (the int8 checkpoint's layout, `crate::quantize`).
//! Activations: quantised on the fly in blocks of [`BLOCK`] inputs of a row, `x[i, p] ≈ a[i, p] ·
//! x_scale[i, p / 32]` with a in [−63, 63] and the block's `x_scale = max |x| / 63`
//! ([`activation_step`], [`activation_q`]): finer than onnxruntime's `quantize_dynamic`, which
//! uses one (asymmetric uint8) scale for the whole tensor. BERT's activations have a few outlier
//! features; with one scale per row they set the step for all 384 (or 1536) inputs, and on the 800
//! dev sentences 10 of 800 fine-tuned predictions flipped (98.75 % agreement, minimum embedding
//! cosine 0.9905, measured with 127 levels); blocks of 32 keep the outliers' coarse step to their
//! own block (2 flips with 63 levels, minimum cosine 0.99690). Products are
//! summed exactly in i32 per block, then `out = bias + (Σ_blocks f32(sum) · x_scale) · w_scale[j]`
//! in f32.
//!
//! Why 63 levels and not 127: the fast browser kernel (`super::qgemm_relaxed`) multiplies with
//! relaxed SIMD's `i32x4.relaxed_dot_i8x16_i7x16_add_s`, whose second operand must lie in
//! [0, 127] for the result to be the same on every machine; `a + 64` does. Every path uses the
//! same integers, so they agree to the bit. What it cost, on the fine-tuned model and the 800 dev
//! sentences (scripts/int8_effect.py, int8 weights): minimum embedding cosine to fp32 0.99777 →
//! 0.99633, agreement 99.62 % either way.
//!
//! Here, in wasm without relaxed SIMD, each step is `i32x4.dot_i16x8_s`: 8 multiplies and 4 adds
//! of pairs along k in one instruction, where the f32 kernel (`super::sgemm`) needs a multiply and
//! an add per 4. The native body is portable and gives the same integers and the same f32
//! epilogue, so the page's q8 and the native q8 agree to the bit on the linear layers.

use super::qgemm_relaxed;
use super::sgemm::{self, MR, for_each_tile};

// The kernels read pairs of i16 (and quads of u8) written in order as one little-endian i32.
#[cfg(target_endian = "big")]
compile_error!("qgemm packs i16 pairs into i32 little-endian");

/// Columns per panel (two i32x4 accumulators per row); the tiles are `sgemm`'s
/// ([`for_each_tile`]: 4 rows, chunks of 96 rows whose activations stay in L2).
pub const NR: usize = sgemm::NR;
/// Activations are quantised in blocks of this many inputs (a multiple of 4), each with its own scale.
pub const BLOCK: usize = 32;
/// An activation is an integer in [−LEVELS, LEVELS] times its block's scale.
pub const LEVELS: f32 = 63.0;

/// Whether this build multiplies with relaxed SIMD (`--features relaxed-simd`, wasm only).
pub const RELAXED: bool = cfg!(all(target_arch = "wasm32", feature = "relaxed-simd"));

/// A weight [k, n] quantised per output column and packed for [`qgemm`].
#[derive(Debug, Clone)]
pub struct QWeight {
    pub k: usize,
    pub n: usize,
    /// [n]
    pub scale: Vec<f32>,
    packed: Packed,
}

/// The weight as this build's kernel reads it.
#[derive(Debug, Clone)]
enum Packed {
    /// For [`block`]: panels of 8 columns, each k-pair's 8 × 2 values as i16, [n/8][⌈k/2⌉][8][2]
    /// (an odd k padded with a zero row).
    Pairs(Vec<i16>),
    /// For `qgemm_relaxed`.
    Quads(qgemm_relaxed::Panels),
}

/// Whether `qgemm` takes this shape: `sgemm`'s panels, so `n` a multiple of 8.
pub use sgemm::supports;

/// Symmetric int8 of `v` with `scale = max |v| / 127` (0 for an all-zero `v`: every q is 0),
/// rounding half away from zero. Deterministic: the same f32 operations natively and in wasm.
pub fn quantize_row(v: impl Iterator<Item = f32> + Clone) -> (Vec<i8>, f32) {
    let max = v.clone().fold(0f32, |m, x| m.max(x.abs()));
    let scale = max / 127.0;
    let q = v.map(|x| if scale > 0.0 { (x / scale).round().clamp(-127.0, 127.0) as i8 } else { 0 }).collect();
    (q, scale)
}

impl QWeight {
    /// Quantises `w` [k, n] row-major (the [in, out] layout `Linear` keeps) per output column.
    pub fn quantize(w: &[f32], k: usize, n: usize) -> Self {
        assert!(w.len() == k * n);
        let mut q = vec![0i8; k * n];
        let mut scale = vec![0f32; n];
        for j in 0..n {
            let (col, s) = quantize_row((0..k).map(|p| w[p * n + j]));
            col.iter().enumerate().for_each(|(p, &v)| q[p * n + j] = v);
            scale[j] = s;
        }
        Self::new(q, scale, k, n)
    }

    /// Int8 values `q` [k, n] row-major with their column scales, packed for this build's kernel.
    fn new(q: Vec<i8>, scale: Vec<f32>, k: usize, n: usize) -> Self {
        Self::with_kernel(q, scale, k, n, RELAXED)
    }

    fn with_kernel(q: Vec<i8>, scale: Vec<f32>, k: usize, n: usize, relaxed: bool) -> Self {
        assert!(supports(n) && q.len() == k * n && scale.len() == n);
        let packed = if relaxed { Packed::Quads(qgemm_relaxed::Panels::pack(&q, k, n)) } else { Packed::Pairs(pack_pairs(&q, k, n)) };
        Self { k, n, scale, packed }
    }

    /// The integers, [k, n] row-major (read back from the packing: no second copy is kept).
    fn ints(&self) -> Vec<i8> {
        match &self.packed {
            Packed::Pairs(packed) => unpack_pairs(packed, self.k, self.n),
            Packed::Quads(panels) => panels.ints(),
        }
    }

    /// Only the rows (input features) `rows`, with the same integers and column scales: a layer
    /// sliced this way multiplies exactly as the whole one does with the other inputs at 0.
    pub fn select_rows(&self, rows: &[usize]) -> Self {
        let q = self.ints();
        let kept: Vec<i8> = rows.iter().flat_map(|&r| q[r * self.n..(r + 1) * self.n].iter().copied()).collect();
        Self::with_kernel(kept, self.scale.clone(), rows.len(), self.n, matches!(self.packed, Packed::Quads(_)))
    }

    /// The weight as f32 again (q · scale), [k, n] row-major.
    #[cfg(test)]
    fn dequantize(&self) -> Vec<f32> {
        self.ints().iter().enumerate().map(|(i, &v)| v as f32 * self.scale[i % self.n]).collect()
    }
}

/// Whether the relaxed-SIMD kernel gives the SIMD128 kernel's bits on a fixed product with a row
/// remainder, a partial activation block and two panels. A browser can validate relaxed SIMD and
/// still compile it wrong (Node 20's V8, behind its flag, got rows 2–3 of a tile wrong): the page
/// asks this first and keeps to the SIMD128 build when it is false. Natively, and in builds
/// without relaxed SIMD, it compares the portable bodies.
pub fn relaxed_kernel_agrees() -> bool {
    let (m, k, n) = (7, 72, 16);
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
    let w: Vec<f32> = (0..k * n).map(|i| ((i * 53 % 89) as f32 - 44.0) / 30.0).collect();
    let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.25 - 2.0).collect();
    let q = QWeight::quantize(&w, k, n);
    let run = |relaxed| {
        let mut out = vec![0f32; m * n];
        qgemm(&x, &QWeight::with_kernel(q.ints(), q.scale.clone(), k, n, relaxed), &bias, &mut out, m);
        out
    };
    run(true).iter().zip(&run(false)).all(|(a, b)| a.to_bits() == b.to_bits())
}

/// `q` [k, n] as [`Packed::Pairs`].
fn pack_pairs(q: &[i8], k: usize, n: usize) -> Vec<i16> {
    let pairs = k.div_ceil(2);
    let at = |p: usize, j: usize| if p < k { q[p * n + j] as i16 } else { 0 };
    let mut packed = Vec::with_capacity(n * pairs * 2);
    for j0 in (0..n).step_by(NR) {
        for pp in 0..pairs {
            for j in j0..j0 + NR {
                packed.push(at(2 * pp, j));
                packed.push(at(2 * pp + 1, j));
            }
        }
    }
    packed
}

/// [`pack_pairs`] undone: `q` [k, n] row-major.
fn unpack_pairs(packed: &[i16], k: usize, n: usize) -> Vec<i8> {
    let pairs = k.div_ceil(2);
    let mut q = vec![0i8; k * n];
    for (c, panel) in packed.chunks(pairs * NR * 2).enumerate() {
        for (pp, step) in panel.chunks(NR * 2).enumerate() {
            for (jj, pair) in step.chunks(2).enumerate() {
                for (h, &v) in pair.iter().enumerate().filter(|&(h, _)| 2 * pp + h < k) {
                    q[(2 * pp + h) * n + c * NR + jj] = v as i8;
                }
            }
        }
    }
    q
}

/// `x`: [m, k] row-major f32, `w`: a packed [`QWeight`], `bias`: [n], `out`: [m, n] row-major.
pub fn qgemm(x: &[f32], w: &QWeight, bias: &[f32], out: &mut [f32], m: usize) {
    let (k, n) = (w.k, w.n);
    assert!(x.len() == m * k && bias.len() == n && out.len() == m * n);
    let packed = match &w.packed {
        Packed::Pairs(packed) => packed,
        Packed::Quads(panels) => return qgemm_relaxed::qgemm(x, panels, &w.scale, bias, out, m),
    };
    let pairs = k.div_ceil(2);
    let blocks = k.div_ceil(BLOCK);
    let (xq, x_scale) = quantize_activations(x, m, k);
    let shape = Shape { pairs, blocks, n };
    for_each_tile(m, n, |i, rows, j| {
        let panel = &packed[j * pairs * 2..(j + NR) * pairs * 2];
        let (ws, b) = (&w.scale[j..j + NR], &bias[j..j + NR]);
        match rows {
            MR => block::<MR>(&xq, &x_scale, panel, ws, b, out, i, j, shape),
            1 => block::<1>(&xq, &x_scale, panel, ws, b, out, i, j, shape),
            2 => block::<2>(&xq, &x_scale, panel, ws, b, out, i, j, shape),
            _ => block::<3>(&xq, &x_scale, panel, ws, b, out, i, j, shape),
        }
    });
}

/// Each row of `x` [m, k] in blocks of [`BLOCK`]: the int8 values as pairs, two i16 in one i32
/// (little-endian: x[2p] low, x[2p+1] high, the form the kernel splats), [m, ⌈k/2⌉]; and each
/// block's scale, [m, ⌈k/32⌉].
#[inline(never)]
fn quantize_activations(x: &[f32], m: usize, k: usize) -> (Vec<i32>, Vec<f32>) {
    quantize_rows::<i16>(x, m, k, k.div_ceil(2), 0, quantize_block)
}

/// The integer types activations are packed as, several to an i32 word.
///
/// # Safety
/// Every bit pattern is a valid value, and the size divides 4 (`quantize_rows` views i32 words as these).
pub(super) unsafe trait Lane: Copy {}
// SAFETY: plain integers of 2 and 1 bytes.
unsafe impl Lane for i16 {}
unsafe impl Lane for u8 {}

/// Each row of `x` [m, k] in blocks of [`BLOCK`], quantised by `block` into `T`s packed in order
/// in i32 words, `words` a row (initialised to `fill`), and each block's scale, [m, ⌈k/32⌉].
#[inline(always)]
pub(super) fn quantize_rows<T: Lane>(
    x: &[f32],
    m: usize,
    k: usize,
    words: usize,
    fill: i32,
    block: impl Fn(&[f32], &mut [T]) -> f32,
) -> (Vec<i32>, Vec<f32>) {
    let per_word = size_of::<i32>() / size_of::<T>();
    assert!(words * per_word >= k && x.len() == m * k);
    let blocks = k.div_ceil(BLOCK);
    let mut xq = vec![fill; m * words];
    let mut x_scale = vec![0f32; m * blocks];
    // SAFETY: `T` is i16 or u8 (`Lane`: every bit pattern valid, alignment within i32's): the same
    // allocation as `T`s, written in order.
    let lanes = unsafe { std::slice::from_raw_parts_mut(xq.as_mut_ptr() as *mut T, m * words * per_word) };
    for i in 0..m {
        for (b, chunk) in x[i * k..(i + 1) * k].chunks(BLOCK).enumerate() {
            x_scale[i * blocks + b] = block(chunk, &mut lanes[i * words * per_word + b * BLOCK..]);
        }
    }
    (xq, x_scale)
}

/// One block of activations into `out` (as many i16); returns its scale. In wasm a full block is
/// quantised 8 at a time (multiply, `f32x4.nearest`, saturating convert, narrow): the scalar
/// loop took a fifth of the q8 linear layers' time. Both give the same integers (a NaN is left
/// out of the block's max and becomes 0 in both: an activation that is NaN has already made the
/// f32 model's output NaN).
#[inline(always)]
fn quantize_block(chunk: &[f32], out: &mut [i16]) -> f32 {
    let (scale, inv) = activation_step(chunk);
    #[cfg(target_arch = "wasm32")]
    if chunk.len() == BLOCK {
        use core::arch::wasm32::*;
        assert!(out.len() >= BLOCK);
        let s = f32x4_splat(inv);
        // SAFETY: `chunk` holds 32 f32 and `out` at least 32 i16 (checked above).
        unsafe {
            let (p, o) = (chunk.as_ptr(), out.as_mut_ptr());
            for t in 0..BLOCK / 8 {
                let q = |u: usize| i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(v128_load(p.add(u) as *const v128), s)));
                v128_store(o.add(8 * t) as *mut v128, i16x8_narrow_i32x4(q(8 * t), q(8 * t + 4)));
            }
        }
        return scale;
    }
    for (o, &v) in out.iter_mut().zip(chunk) {
        *o = activation_q(v, inv);
    }
    scale
}

/// An activation block's scale (`max |x| / 63`) and the factor that quantises it (`63 / max`,
/// 0 for a block of zeros).
#[inline(always)]
pub fn activation_step(block: &[f32]) -> (f32, f32) {
    // A compare and select, not f32::max: in wasm that is a libm call (it must ignore NaN,
    // which f32.max does not), and it took 5 % of a q8 forward. In wasm a full block is read 4
    // at a time, as integers: |x| with NaN lanes zeroed is a non-negative float, whose bits
    // order as it does, so `i32x4.max_s` finds the same max exactly. (The scalar loop was 15 % of
    // the relaxed-SIMD build's q8 forward; a float max there would become `f32x4.relaxed_max`,
    // which the relaxed-SIMD feature lets LLVM choose, and whose NaN handling varies by machine.)
    #[cfg(target_arch = "wasm32")]
    let max = if block.len() == BLOCK {
        use core::arch::wasm32::*;
        let p = block.as_ptr();
        let m = (0..BLOCK / 4).fold(i32x4_splat(0), |m, t| {
            // SAFETY: `block` holds 32 f32.
            let v = unsafe { v128_load(p.add(4 * t) as *const v128) };
            i32x4_max(m, v128_and(f32x4_abs(v), f32x4_eq(v, v)))
        });
        [i32x4_extract_lane::<0>(m), i32x4_extract_lane::<1>(m), i32x4_extract_lane::<2>(m), i32x4_extract_lane::<3>(m)]
            .into_iter()
            .max()
            .map_or(0.0, |b| f32::from_bits(b as u32))
    } else {
        block.iter().fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m })
    };
    #[cfg(not(target_arch = "wasm32"))]
    let max = block.iter().fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    // A block whose 63 / max is not finite (max below about 1.9e-37, or 0) counts as zeros: an
    // infinite factor would saturate differently in each kernel.
    let inv = LEVELS / max;
    if max > 0.0 && inv.is_finite() { (max / LEVELS, inv) } else { (0.0, 0.0) }
}

/// One activation in int8: `x · inv` to the nearest integer, ties to even (`f32.nearest` in wasm,
/// `roundss` natively: one instruction, where rounding half away from zero is a libm call that
/// took a tenth of a q8 forward). |x · inv| ≤ 63 up to rounding, and the cast saturates, as the
/// wasm path's `i32x4.trunc_sat_f32x4` and `i16x8.narrow_i32x4_s` do.
#[inline(always)]
pub fn activation_q(x: f32, inv: f32) -> i16 {
    (x * inv).round_ties_even() as i16
}

/// k-pairs, activation blocks per row, and the output's columns.
#[derive(Clone, Copy)]
struct Shape {
    pairs: usize,
    blocks: usize,
    n: usize,
}

/// The f32 epilogue, shared by every body so that they round alike.
#[inline(always)]
pub(super) fn finish(acc: &[f32; NR], w_scale: &[f32], bias: &[f32], out: &mut [f32]) {
    for c in 0..NR {
        out[c] = bias[c] + acc[c] * w_scale[c];
    }
}

/// out[i..i+R, j..j+8] from rows i..i+R of `xq` and one 8-column panel: per activation block,
/// exact i32 sums, then `acc += f32(sum) · x_scale[block]`.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const R: usize>(xq: &[i32], x_scale: &[f32], panel: &[i16], w_scale: &[f32], bias: &[f32], out: &mut [f32], i: usize, j: usize, s: Shape) {
    use core::arch::wasm32::*;
    let mut acc = [[f32x4_splat(0.0); 2]; R];
    // SAFETY: `qgemm` checked the lengths; rows i..i+R < m, the panel holds pairs × 16 i16, and
    // each row of `xq` `pairs` values, of `x_scale` `blocks`.
    unsafe {
        for b in 0..s.blocks {
            let (p0, p1) = (b * BLOCK / 2, ((b + 1) * BLOCK / 2).min(s.pairs));
            let mut sums = [[i32x4_splat(0); 2]; R];
            let mut wp = panel.as_ptr().add(p0 * 2 * NR);
            for pp in p0..p1 {
                let w0 = v128_load(wp as *const v128);
                let w1 = v128_load(wp.add(8) as *const v128);
                for (r, a) in sums.iter_mut().enumerate() {
                    let x = i32x4_splat(*xq.get_unchecked((i + r) * s.pairs + pp));
                    a[0] = i32x4_add(a[0], i32x4_dot_i16x8(x, w0));
                    a[1] = i32x4_add(a[1], i32x4_dot_i16x8(x, w1));
                }
                wp = wp.add(2 * NR);
            }
            add_block_simd(&mut acc, &sums, x_scale, i, s.blocks, b);
        }
    }
    finish_tile_simd(&acc, w_scale, bias, out, i, j, s.n);
}

/// The SIMD bodies' step after an activation block of rows i..i+R: `acc += f32(sum) · x_scale`.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub(super) fn add_block_simd<const R: usize>(
    acc: &mut [[core::arch::wasm32::v128; 2]; R],
    sums: &[[core::arch::wasm32::v128; 2]; R],
    x_scale: &[f32],
    i: usize,
    blocks: usize,
    b: usize,
) {
    use core::arch::wasm32::*;
    for (r, (a, sum)) in acc.iter_mut().zip(sums).enumerate() {
        let xs = f32x4_splat(x_scale[(i + r) * blocks + b]);
        a[0] = f32x4_add(a[0], f32x4_mul(f32x4_convert_i32x4(sum[0]), xs));
        a[1] = f32x4_add(a[1], f32x4_mul(f32x4_convert_i32x4(sum[1]), xs));
    }
}

/// The SIMD bodies' end of a tile: out[i..i+R, j..j+8] from `acc` ([`finish`] per row).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
pub(super) fn finish_tile_simd<const R: usize>(
    acc: &[[core::arch::wasm32::v128; 2]; R],
    w_scale: &[f32],
    bias: &[f32],
    out: &mut [f32],
    i: usize,
    j: usize,
    n: usize,
) {
    use core::arch::wasm32::*;
    for (r, a) in acc.iter().enumerate() {
        let mut lanes = [0f32; NR];
        // SAFETY: two v128 stores into an [f32; 8].
        unsafe {
            v128_store(lanes.as_mut_ptr() as *mut v128, a[0]);
            v128_store(lanes.as_mut_ptr().add(4) as *mut v128, a[1]);
        }
        finish(&lanes, w_scale, bias, &mut out[(i + r) * n + j..(i + r) * n + j + NR]);
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::too_many_arguments)]
fn block<const R: usize>(xq: &[i32], x_scale: &[f32], panel: &[i16], w_scale: &[f32], bias: &[f32], out: &mut [f32], i: usize, j: usize, s: Shape) {
    let mut acc = [[0f32; NR]; R];
    for b in 0..s.blocks {
        let (p0, p1) = (b * BLOCK / 2, ((b + 1) * BLOCK / 2).min(s.pairs));
        let mut sums = [[0i32; NR]; R];
        for pp in p0..p1 {
            let wr = &panel[pp * 2 * NR..(pp + 1) * 2 * NR];
            for (r, a) in sums.iter_mut().enumerate() {
                let v = xq[(i + r) * s.pairs + pp];
                let (x0, x1) = (v as i16 as i32, (v >> 16) as i16 as i32);
                for (c, t) in a.iter_mut().enumerate() {
                    *t += x0 * wr[2 * c] as i32 + x1 * wr[2 * c + 1] as i32;
                }
            }
        }
        add_block(&mut acc, &sums, x_scale, i, s.blocks, b);
    }
    finish_tile(&acc, w_scale, bias, out, i, j, s.n);
}

/// The portable bodies' step after an activation block of rows i..i+R: `acc += f32(sum) · x_scale`.
#[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
#[inline(always)]
pub(super) fn add_block<const R: usize>(acc: &mut [[f32; NR]; R], sums: &[[i32; NR]; R], x_scale: &[f32], i: usize, blocks: usize, b: usize) {
    for (r, (a, sum)) in acc.iter_mut().zip(sums).enumerate() {
        let xs = x_scale[(i + r) * blocks + b];
        for (v, &t) in a.iter_mut().zip(sum) {
            *v += t as f32 * xs;
        }
    }
}

/// The portable bodies' end of a tile: out[i..i+R, j..j+8] from `acc` ([`finish`] per row).
#[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
#[inline(always)]
pub(super) fn finish_tile<const R: usize>(acc: &[[f32; NR]; R], w_scale: &[f32], bias: &[f32], out: &mut [f32], i: usize, j: usize, n: usize) {
    for (r, a) in acc.iter().enumerate() {
        finish(a, w_scale, bias, &mut out[(i + r) * n + j..(i + r) * n + j + NR]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_values as data;
    use super::*;

    /// Every row remainder, an odd k, partial activation blocks and several panels, against an
    /// integer reference computed here from the same quantisation: exact integer sums per block,
    /// the same f32 epilogue, so equal to the bit.
    #[test]
    fn matches_an_integer_reference_on_awkward_shapes() {
        for &(m, k, n) in &[(0, 4, 8), (1, 1, 8), (2, 3, 16), (7, 33, 8), (6, 5, 8), (9, 64, 24), (13, 385, 40), (5, 96, 8)] {
            let (mut x, w) = (data(m * k, 37, 101), data(k * n, 53, 89));
            // A block of zeros (scale 0) in the first row.
            x.iter_mut().take(k.min(BLOCK)).for_each(|v| *v = 0.0);
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.1 - 1.0).collect();
            let qw = QWeight::quantize(&w, k, n);
            let mut out = vec![f32::NAN; m * n];
            qgemm(&x, &qw, &bias, &mut out, m);
            // The relaxed-SIMD kernel's layout and offsets (its portable body here) give the same
            // integers, hence the same bits; so do both kernels on a weight sliced by rows.
            for relaxed in [false, true] {
                let other = QWeight::with_kernel(qw.ints(), qw.scale.clone(), k, n, relaxed);
                let mut again = vec![f32::NAN; m * n];
                qgemm(&x, &other, &bias, &mut again, m);
                assert_eq!(
                    again.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "({m},{k},{n}) relaxed {relaxed}"
                );
                if k > 2 {
                    let rows: Vec<usize> = (0..k).filter(|p| p % 3 != 1).collect();
                    let (sliced, xs) =
                        (other.select_rows(&rows), x.iter().enumerate().filter(|(t, _)| (t % k) % 3 != 1).map(|(_, &v)| v).collect::<Vec<_>>());
                    let reference = QWeight::with_kernel(sliced.ints(), sliced.scale.clone(), rows.len(), n, !relaxed);
                    let (mut a, mut b) = (vec![0f32; m * n], vec![0f32; m * n]);
                    qgemm(&xs, &sliced, &bias, &mut a, m);
                    qgemm(&xs, &reference, &bias, &mut b, m);
                    assert_eq!(a, b, "({m},{k},{n}) sliced, relaxed {relaxed}");
                }
            }
            for i in 0..m {
                let row = &x[i * k..(i + 1) * k];
                let blocks: Vec<(Vec<i16>, f32)> = row
                    .chunks(BLOCK)
                    .map(|c| {
                        let (scale, inv) = activation_step(c);
                        (c.iter().map(|&v| activation_q(v, inv)).collect(), scale)
                    })
                    .collect();
                for j in 0..n {
                    let (wq, ws) = quantize_row((0..k).map(|p| w[p * n + j]));
                    assert_eq!(ws, qw.scale[j]);
                    let mut acc = 0f32;
                    for (b, (xq, xs)) in blocks.iter().enumerate() {
                        let sum: i64 = xq.iter().enumerate().map(|(t, &a)| a as i64 * wq[b * BLOCK + t] as i64).sum();
                        acc += sum as i32 as f32 * xs;
                    }
                    assert_eq!(out[i * n + j], bias[j] + acc * ws, "({m},{k},{n}) [{i},{j}]");
                    // And close to the f32 product: each factor keeps half a step of its scale.
                    let exact = bias[j] as f64 + (0..k).map(|p| row[p] as f64 * w[p * n + j] as f64).sum::<f64>();
                    let bound =
                        (0..k).map(|p| (row[p] as f64).abs() * ws as f64 + (w[p * n + j] as f64).abs() * blocks[p / BLOCK].1 as f64).sum::<f64>();
                    assert!((out[i * n + j] as f64 - exact).abs() <= bound, "({m},{k},{n}) [{i},{j}]");
                }
            }
        }
    }

    #[test]
    fn both_packings_give_their_integers_back() {
        for &(k, n) in &[(1, 8), (3, 16), (5, 8), (33, 24), (64, 8)] {
            let q: Vec<i8> = (0..k * n).map(|i| ((i * 37 % 255) as i32 - 127) as i8).collect();
            for relaxed in [false, true] {
                assert_eq!(QWeight::with_kernel(q.clone(), vec![1.0; n], k, n, relaxed).ints(), q, "({k},{n}) relaxed {relaxed}");
            }
        }
    }

    #[test]
    fn the_relaxed_kernels_self_check_passes_here() {
        assert!(relaxed_kernel_agrees());
    }

    /// NaN is left out of a block's max and becomes 0; a block too small for a finite 63 / max
    /// counts as zeros (an infinite factor saturated differently in each kernel); both kernels agree.
    #[test]
    fn nan_and_tiny_blocks_quantise_alike_in_both_kernels() {
        assert_eq!(activation_step(&[f32::NAN, -2.0, 1.0]), (2.0 / LEVELS, LEVELS / 2.0));
        assert_eq!(activation_step(&[1e-37, -3e-38]), (0.0, 0.0));
        assert_eq!(activation_step(&[0.0; 4]), (0.0, 0.0));
        let (m, k, n) = (3, 40, 8);
        let mut x: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-39).collect(); // tiny
        x[5] = f32::NAN;
        x[k + 3] = 2.0;
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 53 % 89) as f32 - 44.0) / 30.0).collect();
        let q = QWeight::quantize(&w, k, n);
        let run = |relaxed| {
            let mut out = vec![0f32; m * n];
            qgemm(&x, &QWeight::with_kernel(q.ints(), q.scale.clone(), k, n, relaxed), &[0.0; 8], &mut out, m);
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(true), run(false));
    }

    #[test]
    fn quantisation_is_symmetric_per_column_and_round_trips() {
        let w = [0.5f32, -2.0, 0.0, 1.0, 0.25, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]; // [2, 8]
        let q = QWeight::quantize(&w, 2, 8);
        assert_eq!(q.scale[0], 0.5 / 127.0);
        assert_eq!(q.scale[1], 2.0 / 127.0);
        assert_eq!(q.scale[2], 0.0, "an all-zero column");
        let back = q.dequantize();
        for (a, b) in w.iter().zip(&back) {
            assert!((a - b).abs() <= 2.0 / 127.0 / 2.0 + 1e-7, "{a} vs {b}");
        }
        // The largest value of a column maps to ±127 and comes back (up to the scale's rounding).
        assert!((back[1] + 2.0).abs() < 1e-6);
        // Requantising the dequantised weight gives the same integers (a checkpoint stored as
        // int8 and a weight quantised at load agree).
        let again = QWeight::quantize(&back, 2, 8);
        assert_eq!(again.ints(), q.ints());
    }
}
