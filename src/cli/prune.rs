//! `hies prune`: the heads a criterion removes, evaluated masked (and sliced) on the dev set in
//! one pass, and timed.

use hies::evaluate::{SAME_SCORE, agrees};
use hies::prune::{Criterion, PruneOptions};
use hies::report::{PruneReport, Removal};
use hies::session::{LatencyRequest, PlanRequest};

use super::args::{AnalysisArgs, Assets, Res, block, print_json, progress};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    session: AnalysisArgs,
    /// A criterion from the catalogue: hies, his, entropy, confidence, weight_norm or random.
    #[arg(long, default_value = "hies")]
    criterion: String,
    /// Share of all heads to prune, 0–1.
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    ratio: f64,
    /// Prune in steps, re-scoring the survivors after each.
    #[arg(long)]
    iterative: bool,
    /// Share of all heads per iterative step.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    step: f64,
    /// The same share of heads from every layer (default: lowest scores globally).
    #[arg(long)]
    per_layer: bool,
    /// Also build the structurally pruned model, check it and time it.
    #[arg(long)]
    structural: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session = a.session.open(assets)?;
    let options = PruneOptions {
        criterion: Criterion::parse(&a.criterion)?,
        ratio: a.ratio,
        per_layer: a.per_layer,
        iterative_step: a.iterative.then_some(a.step),
        scores: a.session.score.options(&a.session.model, assets),
        random_seed: a.session.score.seed,
    };
    let plan = block(session.plan(&PlanRequest { calibration: a.session.score.calibration(), options }, &mut |_, _| {}))?;
    let masked = Removal { heads: plan.pruned.clone(), structural: false };
    let sliced = Removal { heads: plan.pruned.clone(), structural: true };
    let removals = if a.structural { vec![masked.clone(), sliced] } else { vec![masked.clone()] };
    let mut results = block(session.evaluate_all(&removals, &mut progress("evaluating")))?.into_iter();
    let (masked_eval, masked_pred) = results.next().expect("one result per removal");
    let structural = results.next();
    let latency = block(
        session.latency(&LatencyRequest { removal: Removal { structural: a.structural, ..masked }, sentences: 32, rounds: 3 }, &mut |_, _| {}),
    )?;
    let report = PruneReport {
        options,
        n: a.session.score.n,
        seed: a.session.score.seed,
        heads_pruned: plan.pruned.len(),
        pruned: plan.pruned,
        masked: masked_eval,
        structural_equals_masked: structural.as_ref().map(|(_, pred)| pred.iter().zip(&masked_pred).all(|(a, b)| agrees(*a, *b, SAME_SCORE))),
        structural: structural.map(|(e, _)| e),
        latency,
    };
    if a.json {
        return print_json(&report);
    }
    let m = &report.masked;
    println!("{} heads pruned by {} ({:.0} %): {}", report.heads_pruned, options.criterion.id(), a.ratio * 100.0, heads(&report.pruned));
    let spearman = m.spearman.map_or(String::new(), |r| format!(", Spearman {r:.4} (unpruned {:.4})", m.full_spearman.unwrap_or(f64::NAN)));
    println!(
        "dev {} {:.4} (unpruned {:.4}){spearman}, agreement {:.4}, {} sentences",
        m.metric.name(),
        m.quality(),
        m.full_quality(),
        m.agreement,
        m.sentences
    );
    let l = &report.latency;
    println!("latency per sentence: full {:.2} ms, masked {:.2} ms", l.full_ms, l.masked_ms);
    if let (Some(s), Some(ms)) = (&report.structural, l.structural_ms) {
        println!(
            "sliced: {} {:.4} (same predictions as masked: {}), {:.2} ms, parameters {} of {}",
            s.metric.name(),
            s.quality(),
            report.structural_equals_masked == Some(true),
            ms,
            s.parameters,
            s.parameters_full
        );
    }
    Ok(())
}

fn heads(h: &[(usize, usize)]) -> String {
    h.iter().map(|(l, h)| format!("{l}.{h}")).collect::<Vec<_>>().join(" ")
}
