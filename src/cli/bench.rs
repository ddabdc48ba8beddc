//! `hies bench`: timed runs for bench/ (not a test). The dev set forward, head scoring on the
//! calibration sample, and structural pruning in HIES order against its FLOP prediction; medians
//! of `--runs` after a warm-up, full and pruned interleaved so drift hits both alike. JSON out.

use std::path::PathBuf;
use std::time::Instant;

use hies::Engine;
use hies::analysis::{self, Grid};
use hies::batch::{self, Batch};
use hies::flops::{encoder_flops, kept_per_layer};
use hies::model::Bert;
use hies::prune::{Criterion, keep_score};
use hies::session::{ScoreRequest, median};
use serde::Serialize;

use super::args::{AnalysisArgs, Assets, Res, block, print_json, write};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    session: AnalysisArgs,
    /// Timed repetitions of each measurement (after one warm-up); medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.7")]
    ratios: Vec<f64>,
    /// Also write the calibration sample (label<TAB>text), so other systems score the same sentences.
    #[arg(long, value_name = "FILE")]
    calibration_out: Option<PathBuf>,
}

/// What bench/ reads (bench/report.mjs).
#[derive(Serialize)]
struct Report {
    threads: usize,
    forward: Forward,
    score: Scoring,
    pruning: Vec<PruningTiming>,
}

/// The dev set forward, as `embed` batches it.
#[derive(Serialize)]
struct Forward {
    sentences: usize,
    tokens: usize,
    padded_tokens: usize,
    median_s: f64,
    runs_s: Vec<f64>,
    sentences_per_s: f64,
    gflop_per_s: f64,
    encoder_gflop: f64,
}

/// Head scoring on the calibration sample, with the grids to compare against PyTorch.
#[derive(Serialize)]
struct Scoring {
    n: usize,
    median_s: f64,
    runs_s: Vec<f64>,
    his_raw: Grid,
    entropy: Grid,
}

/// The full and the sliced encoder over the dev set, against the FLOP count's prediction.
#[derive(Serialize)]
struct PruningTiming {
    ratio: f64,
    heads_pruned: usize,
    full_s: f64,
    structural_s: f64,
    measured_speedup: f64,
    flop_predicted_speedup: f64,
    share_of_predicted: f64,
}

/// Seconds for `f`, median of `runs` after one warm-up call, and every run.
fn timed(runs: usize, mut f: impl FnMut() -> Res<()>) -> Res<(f64, Vec<f64>)> {
    f()?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64());
    }
    Ok((median(&times), times))
}

/// The full and the sliced encoder (HIES order, `ratio` of the heads) over `batches`,
/// interleaved, against the FLOP count's prediction.
fn time_pruning(engine: &Engine, batches: &[Batch], keep: &Grid, ratio: f64, runs: usize) -> Res<PruningTiming> {
    let c = engine.config();
    let encode_all = |m: &Bert| -> Res<()> {
        for b in batches {
            let (ids, mask) = b.tensors(&engine.device);
            block(hies::engine::read(m.forward(ids, mask, b.token_type_ids(&engine.device), None, false).last_hidden_state.sum()))?;
        }
        Ok(())
    };
    let flops = |kept: &[usize]| batches.iter().map(|b| encoder_flops(c, kept, b.b, b.t)).sum::<f64>();
    let count = analysis::heads_for_ratio(ratio, c.num_hidden_layers * c.num_attention_heads);
    let off = analysis::select_pruned(keep, count, false, &[]);
    let small = engine.runner().without_heads(&off);
    eprintln!("bench: pruning {} heads", off.len());
    let (mut full_t, mut small_t) = (Vec::new(), Vec::new());
    encode_all(engine.runner())?;
    encode_all(&small)?;
    for _ in 0..runs {
        let t = Instant::now();
        encode_all(engine.runner())?;
        full_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        encode_all(&small)?;
        small_t.push(t.elapsed().as_secs_f64());
    }
    let (full_s, structural_s) = (median(&full_t), median(&small_t));
    let predicted = flops(&kept_per_layer(c, &[])) / flops(&kept_per_layer(c, &off));
    Ok(PruningTiming {
        ratio,
        heads_pruned: off.len(),
        full_s,
        structural_s,
        measured_speedup: full_s / structural_s,
        flop_predicted_speedup: predicted,
        share_of_predicted: (full_s / structural_s - 1.0) / (predicted - 1.0),
    })
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let session = a.session.open(assets)?;
    let engine = session.engine();
    let c = engine.config().clone();
    let calibration = session.calibration_sample(a.session.score.calibration())?;
    if let Some(path) = &a.calibration_out {
        let line = |e: &hies::data::Example| match &e.text_pair {
            Some(b) => format!("{}\t{}\t{b}\n", e.label, e.text),
            None => format!("{}\t{}\n", e.label, e.text),
        };
        write(path, calibration.iter().map(line).collect::<String>())?;
    }
    let texts: Vec<String> = session.evaluation()?.examples().iter().map(|e| e.text.clone()).collect();
    let encoded = session.evaluation()?.examples().iter().map(|e| engine.encode(e)).collect::<hies::Result<Vec<_>>>()?;
    let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();

    // 1. Forward: tokenize, encode and pool the dev set, batched as `embed` batches.
    eprintln!("bench: forward over {} sentences", texts.len());
    let (forward_s, forward_runs) = timed(a.runs, || block(engine.embed(&texts)).map(|_| ()))?;

    // 2. Scoring: entropy, confidence and HIS (forward + backward) on the calibration sample.
    eprintln!("bench: scoring {} sentences", calibration.len());
    let request = ScoreRequest {
        calibration: a.session.score.calibration(),
        off: Vec::new(),
        options: Some(a.session.score.options(&a.session.model, assets)),
    };
    let mut scores = None;
    let (score_s, score_runs) = timed(a.runs, || {
        scores = Some(block(session.score(&request, &mut |_, _| {}))?);
        Ok(())
    })?;
    let scores = scores.expect("ran");

    // 3. Structural pruning in HIES order: encoder time over the dev set vs the FLOP count.
    let batches: Vec<Batch> = batch::plan(&lens, 4096, 64)
        .into_iter()
        .map(|g| Batch::from_encoded(&g.iter().map(|&i| &encoded[i]).collect::<Vec<_>>(), c.pad_token_id))
        .collect();
    let full_flops = batches.iter().map(|b| encoder_flops(&c, &kept_per_layer(&c, &[]), b.b, b.t)).sum::<f64>();
    let keep = keep_score(Criterion::Hies, &scores, a.session.score.seed);
    let pruning = a.ratios.iter().map(|&ratio| time_pruning(engine, &batches, &keep, ratio, a.runs)).collect::<Res<Vec<_>>>()?;
    let tokens: usize = lens.iter().sum();
    let padded: usize = batches.iter().map(|b| b.b * b.t).sum();
    print_json(&Report {
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        forward: Forward {
            sentences: texts.len(),
            tokens,
            padded_tokens: padded,
            median_s: forward_s,
            runs_s: forward_runs,
            sentences_per_s: texts.len() as f64 / forward_s,
            gflop_per_s: full_flops / forward_s / 1e9,
            encoder_gflop: full_flops / 1e9,
        },
        score: Scoring { n: calibration.len(), median_s: score_s, runs_s: score_runs, his_raw: scores.his_raw, entropy: scores.entropy },
        pruning,
    })
}
