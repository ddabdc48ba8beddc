//! The q8 kernel for browsers with relaxed SIMD: `i32x4.relaxed_dot_i8x16_i7x16_add_s` multiplies
//! 16 int8 weights by 16 activations and adds the four sums of four into the accumulator in one
//! instruction, which V8 lowers to one `vpdpbusd` where the CPU has AVX-VNNI. On this project's
//! 2-core machine (Zen 5) Chromium 156 ran it at 133 G multiply-adds/s against 48 for
//! `i32x4.dot_i16x8_s` plus `i32x4.add`, the plain SIMD128 kernel's step (`super::qgemm`).
//!
//! The instruction's second operand must lie in [0, 127] for its result to be the same on every
//! machine (x86 without VNNI saturates, ARM reads it signed), so the activations go in as
//! `a + 64` (a ∈ [−63, 63], `super::qgemm::LEVELS`), and each block's sum starts from
//! `−64 · Σ_p q[p, j]` over the block, precomputed: the sums are exactly `Σ a·q`, the plain
//! kernel's integers, and the same f32 epilogue follows, so both builds agree to the bit.
//!
//! Compiled everywhere: in wasm with `--features relaxed-simd` the body is the instruction;
//! elsewhere a portable body computes the same integers, so native tests check the layout.

use super::qgemm::{BLOCK, NR, activation_q, activation_step, quantize_rows};
#[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
use super::qgemm::{add_block, finish_tile};
#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
use super::qgemm::{add_block_simd, finish_tile_simd};
use super::sgemm::{MR, for_each_tile};

/// Added to each activation so that it lies in [1, 127].
const OFFSET: i32 = 64;
/// k-quads per activation block.
const QUADS_PER_BLOCK: usize = BLOCK / 4;

/// A weight [k, n] of int8 packed for [`qgemm`]: panels of 8 columns, per k-quad the 8 columns'
/// 4 values in order ([n/8][⌈k/4⌉][8][4], k padded with zeros), and per block of [`BLOCK`] inputs
/// the sums' starting values `−64 · Σ_p q[p, j]` ([n/8][⌈k/32⌉][8]).
#[derive(Debug, Clone)]
pub struct Panels {
    k: usize,
    n: usize,
    packed: Vec<i8>,
    start: Vec<i32>,
}

impl Panels {
    /// `q` [k, n] row-major; `n` a multiple of 8.
    pub fn pack(q: &[i8], k: usize, n: usize) -> Self {
        assert!(n.is_multiple_of(NR) && q.len() == k * n);
        let (quads, blocks) = (k.div_ceil(4), k.div_ceil(BLOCK));
        let at = |p: usize, j: usize| if p < k { q[p * n + j] } else { 0 };
        let mut packed = Vec::with_capacity(n * quads * 4);
        let mut start = Vec::with_capacity(n * blocks);
        for j0 in (0..n).step_by(NR) {
            for qd in 0..quads {
                for j in j0..j0 + NR {
                    packed.extend((0..4).map(|t| at(4 * qd + t, j)));
                }
            }
            for b in 0..blocks {
                for j in j0..j0 + NR {
                    start.push(-OFFSET * (b * BLOCK..((b + 1) * BLOCK).min(k)).map(|p| q[p * n + j] as i32).sum::<i32>());
                }
            }
        }
        Self { k, n, packed, start }
    }

    /// [`Panels::pack`] undone: `q` [k, n] row-major.
    pub fn ints(&self) -> Vec<i8> {
        let (k, n, quads) = (self.k, self.n, self.k.div_ceil(4));
        let mut q = vec![0i8; k * n];
        for (c, panel) in self.packed.chunks(quads * NR * 4).enumerate() {
            for (qd, step) in panel.chunks(NR * 4).enumerate() {
                for (jj, four) in step.chunks(4).enumerate() {
                    for (t, &v) in four.iter().enumerate().filter(|&(t, _)| 4 * qd + t < k) {
                        q[(4 * qd + t) * n + c * NR + jj] = v;
                    }
                }
            }
        }
        q
    }
}

/// `x`: [m, k] row-major f32, `w`: [`Panels`] with their column scales `w_scale` [n], `bias`:
/// [n], `out`: [m, n] row-major.
pub fn qgemm(x: &[f32], w: &Panels, w_scale: &[f32], bias: &[f32], out: &mut [f32], m: usize) {
    let (k, n) = (w.k, w.n);
    assert!(x.len() == m * k && w_scale.len() == n && bias.len() == n && out.len() == m * n);
    let (quads, blocks) = (k.div_ceil(4), k.div_ceil(BLOCK));
    let (xq, x_scale) = quantize_activations(x, m, k);
    let shape = Shape { quads, blocks, n };
    for_each_tile(m, n, |i, rows, j| {
        let panel = &w.packed[j * quads * 4..(j + NR) * quads * 4];
        let start = &w.start[j * blocks..(j + NR) * blocks];
        let (ws, b) = (&w_scale[j..j + NR], &bias[j..j + NR]);
        // SAFETY: the slices hold what `block` reads, checked above and by construction; the
        // relaxed-SIMD body needs a browser that validated this module.
        unsafe {
            match rows {
                MR => block::<MR>(&xq, &x_scale, panel, start, ws, b, out, i, j, shape),
                1 => block::<1>(&xq, &x_scale, panel, start, ws, b, out, i, j, shape),
                2 => block::<2>(&xq, &x_scale, panel, start, ws, b, out, i, j, shape),
                _ => block::<3>(&xq, &x_scale, panel, start, ws, b, out, i, j, shape),
            }
        }
    });
}

/// k-quads and activation blocks per row, and the output's columns.
#[derive(Clone, Copy)]
struct Shape {
    quads: usize,
    blocks: usize,
    n: usize,
}

/// Each row of `x` [m, k] in blocks of [`BLOCK`]: `a + 64` as bytes, four in one i32 (the form
/// the kernel splats; k padded with 64, i.e. a = 0), [m, ⌈k/4⌉]; and each block's scale,
/// [m, ⌈k/32⌉]. The same integers as `super::qgemm`'s.
#[inline(never)]
fn quantize_activations(x: &[f32], m: usize, k: usize) -> (Vec<i32>, Vec<f32>) {
    quantize_rows::<u8>(x, m, k, k.div_ceil(4), i32::from_le_bytes([OFFSET as u8; 4]), quantize_block)
}

/// One block into `out` as `a + 64` bytes; returns its scale. In wasm a full block goes 16 at a
/// time (multiply, `f32x4.nearest`, saturating convert, add 64, narrow twice).
#[inline(always)]
fn quantize_block(chunk: &[f32], out: &mut [u8]) -> f32 {
    let (scale, inv) = activation_step(chunk);
    #[cfg(target_arch = "wasm32")]
    if chunk.len() == BLOCK {
        use core::arch::wasm32::*;
        assert!(out.len() >= BLOCK);
        let (s, offset) = (f32x4_splat(inv), i32x4_splat(OFFSET));
        // SAFETY: `chunk` holds 32 f32 and `out` at least 32 bytes (checked above).
        unsafe {
            let (p, o) = (chunk.as_ptr(), out.as_mut_ptr());
            for t in 0..BLOCK / 16 {
                let q = |u: usize| i32x4_add(i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(v128_load(p.add(u) as *const v128), s))), offset);
                let lo = i16x8_narrow_i32x4(q(16 * t), q(16 * t + 4));
                let hi = i16x8_narrow_i32x4(q(16 * t + 8), q(16 * t + 12));
                v128_store(o.add(16 * t) as *mut v128, u8x16_narrow_i16x8(lo, hi));
            }
        }
        return scale;
    }
    for (o, &v) in out.iter_mut().zip(chunk) {
        *o = (activation_q(v, inv) as i32 + OFFSET) as u8;
    }
    scale
}

/// out[i..i+R, j..j+8] from rows i..i+R of `xq` and one 8-column panel: per activation block,
/// exact i32 sums from the block's starting values, then `acc += f32(sum) · x_scale[block]`.
#[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
#[allow(clippy::too_many_arguments)]
unsafe fn block<const R: usize>(
    xq: &[i32],
    x_scale: &[f32],
    panel: &[i8],
    start: &[i32],
    w_scale: &[f32],
    bias: &[f32],
    out: &mut [f32],
    i: usize,
    j: usize,
    s: Shape,
) {
    #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
    {
        use core::arch::wasm32::*;
        let mut acc = [[f32x4_splat(0.0); 2]; R];
        // SAFETY: rows i..i+R < m; the panel holds quads × 32 bytes, `start` blocks × 8 values, each
        // row of `xq` `quads` values and of `x_scale` `blocks`.
        unsafe {
            for b in 0..s.blocks {
                let (q0, q1) = (b * QUADS_PER_BLOCK, ((b + 1) * QUADS_PER_BLOCK).min(s.quads));
                let s0 = v128_load(start.as_ptr().add(b * NR) as *const v128);
                let s1 = v128_load(start.as_ptr().add(b * NR + 4) as *const v128);
                let mut sums = [[s0, s1]; R];
                let mut wp = panel.as_ptr().add(q0 * 4 * NR);
                for qd in q0..q1 {
                    let w0 = v128_load(wp as *const v128);
                    let w1 = v128_load(wp.add(16) as *const v128);
                    for (r, a) in sums.iter_mut().enumerate() {
                        let x = v128_load32_splat(xq.as_ptr().add((i + r) * s.quads + qd) as *const u32);
                        a[0] = i32x4_relaxed_dot_i8x16_i7x16_add(w0, x, a[0]);
                        a[1] = i32x4_relaxed_dot_i8x16_i7x16_add(w1, x, a[1]);
                    }
                    wp = wp.add(4 * NR);
                }
                add_block_simd(&mut acc, &sums, x_scale, i, s.blocks, b);
            }
        }
        finish_tile_simd(&acc, w_scale, bias, out, i, j, s.n);
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
    {
        let mut acc = [[0f32; NR]; R];
        for b in 0..s.blocks {
            let (q0, q1) = (b * QUADS_PER_BLOCK, ((b + 1) * QUADS_PER_BLOCK).min(s.quads));
            let mut sums = [[0i32; NR]; R];
            sums.iter_mut().for_each(|a| a.copy_from_slice(&start[b * NR..(b + 1) * NR]));
            for qd in q0..q1 {
                let wq = &panel[qd * 4 * NR..(qd + 1) * 4 * NR];
                for (r, a) in sums.iter_mut().enumerate() {
                    let x = xq[(i + r) * s.quads + qd].to_le_bytes();
                    for (c, t) in a.iter_mut().enumerate() {
                        *t += (0..4).map(|u| wq[4 * c + u] as i32 * x[u] as i32).sum::<i32>();
                    }
                }
            }
            add_block(&mut acc, &sums, x_scale, i, s.blocks, b);
        }
        finish_tile(&acc, w_scale, bias, out, i, j, s.n);
    }
}
