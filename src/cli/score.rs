//! `hies score`: every head's scores on a calibration sample.

use std::path::PathBuf;

use hies::SessionOptions;
use hies::analysis::Grid;
use hies::report::scores_csv;
use hies::session::ScoreRequest;

use super::args::{Assets, ClassifierArgs, ModelArgs, Res, ScoreArgs, block, open_session, print_json, progress, write};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    classifier: ClassifierArgs,
    #[command(flatten)]
    score: ScoreArgs,
    /// Print the whole result as JSON.
    #[arg(long)]
    json: bool,
    /// Also write one row per head as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session = open_session(assets, &a.model, &a.classifier, Some(&a.score), None, SessionOptions::default())?;
    let request = ScoreRequest { calibration: a.score.calibration(), off: Vec::new(), options: Some(a.score.options(&a.model, assets)) };
    let s = block(session.score(&request, &mut progress("scoring")))?;
    if let Some(path) = &a.csv {
        write(path, scores_csv(&s)?)?;
    }
    if a.json {
        print_json(&s)?;
    } else {
        print!("{}", grid_table(&format!("HIES (α = {})", s.alpha), &s.hies));
        print!("{}", grid_table("HIS", &s.his));
        print!("{}", grid_table("entropy (normalised)", &s.entropy));
    }
    Ok(())
}

fn grid_table(name: &str, g: &Grid) -> String {
    let mut s = format!("{name}\n      ");
    for h in 0..g[0].len() {
        s += &format!("{h:>6}");
    }
    for (l, row) in g.iter().enumerate() {
        s += &format!("\n  L{l:<3}");
        for x in row {
            s += &format!("{x:>6.3}");
        }
    }
    s + "\n"
}
