//! The pruning order the engine computes, written to the golden file that the page's own
//! ranking (www/analysis.js, which answers the sliders at once) is tested against with
//! `node --test tests/js`. This test fails when the engine's order changes and the file was not
//! regenerated: `HIES_BLESS=1 cargo test --test integration ranking` rewrites it.

use hies::analysis::{self, Grid, Preset};
use hies::prune::{Criterion, catalogue, keep_score};
use hies::rng::Rng;
use hies::scores::{ScoreOptions, Scores};
use serde_json::{Value, json};

use crate::common::root;

/// Grids with ties (values on a coarse grid) and without, so both the order and its tie-break
/// by (layer, head) are pinned down.
fn grid(rng: &mut Rng, coarse: bool) -> Grid {
    (0..6).map(|_| (0..12).map(|_| if coarse { (rng.next_f64() * 5.0).round() / 5.0 } else { rng.next_f64() * 3.0 }).collect()).collect()
}

/// Random grids; `absent` heads (sliced out of a checkpoint) score 0 as the engine gives them.
fn scores(seed: u64, coarse: bool, absent: &[(usize, usize)]) -> Scores {
    let mut rng = Rng::new(seed);
    let his_raw = grid(&mut rng, coarse);
    let his_token_mean = grid(&mut rng, coarse);
    let entropy = grid(&mut rng, coarse);
    let confidence = grid(&mut rng, coarse);
    let weight_norm = grid(&mut rng, coarse);
    let zero = |mut g: Vec<Vec<f64>>| {
        absent.iter().for_each(|&(l, h)| g[l][h] = 0.0);
        g
    };
    let (his_raw, his_token_mean, entropy, confidence, weight_norm) =
        (zero(his_raw), zero(his_token_mean), zero(entropy), zero(confidence), zero(weight_norm));
    let s = Scores {
        layers: 6,
        heads: 12,
        n: 32,
        tokens: 400,
        seed: Some(seed),
        alpha: 0.5,
        entropy: entropy.clone(),
        entropy_nats: entropy,
        his_raw: his_raw.clone(),
        his_token_mean,
        his: his_raw.clone(),
        hies: his_raw,
        confidence,
        weight_norm,
        absent_heads: absent.to_vec(),
        options: ScoreOptions::default(),
    };
    s.with_options(ScoreOptions::default())
}

fn golden() -> Value {
    let mut cases = Vec::new();
    // The third: a checkpoint with heads sliced out already, one whole layer among them.
    let absent: Vec<(usize, usize)> = [(0, 3), (2, 0), (2, 7)].into_iter().chain((0..12).map(|h| (4, h))).collect();
    for (seed, coarse, absent) in [(11, false, &[][..]), (12, true, &[][..]), (13, false, &absent[..])] {
        let s = scores(seed, coarse, absent);
        for info in catalogue() {
            let hies = info.id == Criterion::Hies;
            let alphas: &[f64] = if hies { &[0.0, 0.3, 0.5, 1.0] } else { &[0.5] };
            let seeds: &[u64] = if info.id == Criterion::Random { &[0, 3] } else { &[0] };
            let presets: &[Preset] = if hies || info.id == Criterion::His { &Preset::ALL } else { &[Preset::Paper] };
            let per_layer: &[bool] = if hies { &[false, true] } else { &[false] };
            for (&alpha, &random_seed, &preset, &per_layer_min_max) in iproduct(alphas, seeds, presets, per_layer) {
                let o = ScoreOptions { alpha, his_norm: preset.his_norm(), per_layer_min_max };
                let keep = keep_score(info.id, &s.with_options(o), random_seed);
                let order = analysis::prune_order(&keep, &[]);
                cases.push(json!({
                    "criterion": info.id, "alpha": alpha, "seed": random_seed, "preset": preset, "per_layer_min_max": per_layer_min_max,
                    "scores": { "his_raw": s.his_raw, "his_token_mean": s.his_token_mean, "entropy": s.entropy, "confidence": s.confidence, "weight_norm": s.weight_norm, "absent_heads": s.absent_heads },
                    "keep": keep, "order": order, "pruned_22": analysis::select_pruned(&keep, 22, false, &[]),
                    "pruned_3": analysis::select_pruned(&keep, 3, false, &[]),
                }));
            }
        }
    }
    json!({ "note": "Written by tests/integration/ranking.rs (HIES_BLESS=1); www/analysis.js must reproduce it (tests/js).", "cases": cases })
}

/// Every combination of four lists, in order.
fn iproduct<'a, A, B, C, D>(a: &'a [A], b: &'a [B], c: &'a [C], d: &'a [D]) -> Vec<(&'a A, &'a B, &'a C, &'a D)> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            for z in c {
                for w in d {
                    out.push((x, y, z, w));
                }
            }
        }
    }
    out
}

#[test]
fn ranking_golden_file_is_what_the_engine_computes() {
    let path = root().join("tests/fixtures/ranking.json");
    // Compared as text: the shortest round-trip form of every number, as JS reads it back.
    let want = serde_json::to_string(&golden()).unwrap() + "\n";
    if std::env::var_os("HIES_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).expect("tests/fixtures/ranking.json: run with HIES_BLESS=1 to write it");
    assert!(got == want, "tests/fixtures/ranking.json differs from the engine's ranking: regenerate it with HIES_BLESS=1 and check www/analysis.js");
}
