//! `hies quantize`: a float safetensors checkpoint as int8 (`hies::quantize`, format
//! hies-int8-v1: linear weights and word embeddings per row in int8 with f32 scales, the rest f32).

use std::path::PathBuf;

use hies::weights::ShardIndex;

use super::args::{Res, write};

#[derive(clap::Args)]
pub struct Args {
    /// The float checkpoint: model.safetensors (F32, F16, BF16 or F64), or a sharded one's
    /// model.safetensors.index.json (its shards are joined into one file).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The int8 file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(a: Args) -> Res<()> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("cannot read {} ({e})", p.display()));
    let name = a.input.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let bytes = if name.ends_with(".index.json") {
        let index = ShardIndex::parse(&read(&a.input)?).map_err(|e| e.context(a.input.display()))?;
        let dir = a.input.parent().unwrap_or(std::path::Path::new("."));
        let shards = index.files().into_iter().map(|f| Ok((f.clone(), read(&dir.join(&f))?))).collect::<Res<Vec<_>>>()?;
        index.merge(&shards)?
    } else if name.contains("-of-") {
        return Err(
            format!("{}: one shard of a sharded checkpoint; give its model.safetensors.index.json to quantise them all", a.input.display()).into()
        );
    } else {
        read(&a.input)?
    };
    // The file's own name, not the kind's default subject (model.safetensors).
    let int8 = hies::quantize::quantize(&bytes).map_err(|e| format!("{}: {}", a.input.display(), e.message))?;
    write(&a.out, &int8)?;
    eprintln!("hies: wrote {} ({:.1} MB from {:.1} MB)", a.out.display(), int8.len() as f64 / 1e6, bytes.len() as f64 / 1e6);
    Ok(())
}
