//! `hies curve`: accuracy (a regression head: Pearson's r) and agreement vs pruning ratio for every criterion, mean ± std over
//! calibration seeds.

use std::path::PathBuf;
use std::time::Instant;

use hies::curves::{CurveOptions, CurveProgress};
use hies::prune::Criterion;
use hies::report::curves_csv;

use super::args::{AnalysisArgs, Assets, Res, block, print_json, progress, write};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    session: AnalysisArgs,
    #[arg(long, value_delimiter = ',', default_value = "hies,his,entropy,confidence,weight_norm,random")]
    criteria: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")]
    ratios: Vec<f64>,
    /// Calibration seeds (the random baseline uses them too).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4")]
    seeds: Vec<u64>,
    #[arg(long)]
    per_layer: bool,
    /// Iterative pruning with this step (share of all heads).
    #[arg(long)]
    iterative_step: Option<f64>,
    #[arg(long)]
    json: bool,
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session = a.session.open(assets)?;
    let options = CurveOptions {
        criteria: a.criteria.iter().map(|c| Criterion::parse(c)).collect::<hies::Result<_>>()?,
        ratios: a.ratios,
        seeds: a.seeds,
        n: a.session.score.n,
        per_layer: a.per_layer,
        iterative_step: a.iterative_step,
        scores: a.session.score.options(&a.session.model, assets),
    };
    let started = Instant::now();
    let (mut scoring, mut evaluating) = (progress("scoring"), progress("evaluating"));
    let curves = block(session.curves(&options, None, &mut |p: CurveProgress| match p.stage {
        "scoring" => scoring(p.done, p.total),
        _ => evaluating(p.done, p.total),
    }))?;
    eprintln!("hies: curves in {:.0} s ({} distinct head sets)", started.elapsed().as_secs_f64(), curves.evaluations);
    if let Some(path) = &a.csv {
        write(path, curves_csv(&curves))?;
    }
    if a.json {
        return print_json(&curves);
    }
    let metric = curves.metric.name();
    println!("unpruned dev {metric} {:.4} on {} sentences", curves.full_accuracy, curves.evaluation_size);
    println!("{:>12} {:>6} {:>16} {:>16}", "criterion", "ratio", metric, "agreement");
    for p in &curves.points {
        println!(
            "{:>12} {:>6.2} {:>8.4} ± {:<6.4} {:>8.4} ± {:<6.4}",
            p.criterion.id(),
            p.ratio,
            p.accuracy_mean,
            p.accuracy_std,
            p.agreement_mean,
            p.agreement_std
        );
    }
    Ok(())
}
