//! `hies paper-check`: the claims of arXiv 2510.13832 checked on this model and data, with the
//! paper's figure, ours (mean ± std over calibration seeds) and a verdict for each.

use std::time::Instant;

use hies::curves::CurveProgress;
use hies::paper::{PaperCheckOptions, Verdict};

use super::args::{AnalysisArgs, Assets, Res, block, print_json, progress};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    session: AnalysisArgs,
    /// Calibration seeds.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4")]
    seeds: Vec<u64>,
    /// Calibration sizes for the "stable from N = 32" claim.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64,128")]
    sizes: Vec<usize>,
    /// Print the whole check as JSON (claims, ratios, sizes, layers, curves).
    #[arg(long)]
    json: bool,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session = a.session.open(assets)?;
    let scores = a.session.score.options(&a.session.model, assets);
    if a.session.score.alpha.is_none() && a.session.score.recorded_alpha(&a.session.model, assets).is_none() {
        eprintln!("hies: no α* recorded for this model and preset: using α = {} (run `hies alpha-sweep --record`, or give --alpha)", scores.alpha);
    }
    let options = PaperCheckOptions { alpha: scores.alpha, seeds: a.seeds, n: a.session.score.n, sizes: a.sizes, scores };
    let started = Instant::now();
    let (mut curves, mut sizes, mut evaluating) = (progress("scoring"), progress("calibration sizes"), progress("evaluating"));
    let check = block(session.paper_check(&options, None, &mut |p: CurveProgress| match p.stage {
        "curves" => curves(p.done, p.total),
        "sizes" => sizes(p.done, p.total),
        _ => evaluating(p.done, p.total),
    }))?;
    eprintln!("hies: paper check in {:.0} s", started.elapsed().as_secs_f64());
    if a.json {
        return print_json(&check);
    }
    println!("α = {}, {} evaluation sentences, {} seeds, N = {}", options.alpha, check.evaluation_size, options.seeds.len(), options.n);
    if options.alpha >= 1.0 {
        println!("α = 1: HIES ranks exactly as HIS, so every HIES–HIS difference is zero by construction");
    }
    for c in &check.claims {
        let v = match c.verdict {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::WithinSeedSpread => "within the seed spread",
        };
        println!("\n{}: {v}\n  paper: {}\n  ours:  {}\n  rule:  {}", c.claim, c.paper, c.ours, c.how);
    }
    println!("\nHIES / HIS    quality  stability  spread (HIS std / HIES std)");
    for r in &check.ratios {
        let (quality, spread) = (r.quality.map_or("–".to_string(), |q| format!("{q:.3}")), r.spread.map_or("–".to_string(), |s| format!("{s:.2}")));
        println!("{:>5.0} %      {:>6}   {:>6.3}     {:>6}", r.ratio * 100.0, quality, r.stability, spread);
    }
    Ok(())
}
