//! The int8 checkpoint (`hies quantize`, hies-int8-v1) and the q8 compute path: the file is
//! deterministic and round-trips, the loader dequantises exactly q · scale, q8 inference stays
//! close to f32 and agrees with it, and scoring keeps f32.

use std::sync::Arc;

use hies::engine::ModelDir;
use hies::model::{Compute, quantize_row};
use hies::report::Removal;
use hies::scores::ScoreOptions;
use hies::{Backend, Engine, Session, SessionOptions};

use crate::common::*;

fn tiny(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/tiny").join(name)
}

fn quantize_cli(input: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hies"))
        .args(["quantize", "--in", input.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap()
}

/// The tiny BERT (fp16) as int8: the same bytes twice, every tensor the format names, the
/// loader's f32 equal to q · scale, and the logits within int8's error of the float model's.
#[test]
fn the_int8_checkpoint_is_deterministic_and_loads_as_q_times_scale() {
    let dir = std::env::temp_dir().join(format!("hies-int8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    for out in [&a, &b] {
        let run = quantize_cli(&tiny("bert-pair").join("model.safetensors"), out);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    }
    let bytes = std::fs::read(&a).unwrap();
    assert!(bytes == std::fs::read(&b).unwrap(), "the same input gives the same bytes");
    // A sharded checkpoint through its index: the same tensors, so the same file; a lone shard
    // is refused with the way to give them all.
    let sharded = dir.join("sharded.safetensors");
    let run = quantize_cli(&tiny("bert-pair-sharded").join("model.safetensors.index.json"), &sharded);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(std::fs::read(&sharded).unwrap() == bytes, "the shards joined quantise as the single file");
    let shard =
        std::fs::read_dir(tiny("bert-pair-sharded")).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_string_lossy().contains("-of-")).unwrap();
    let run = quantize_cli(&shard, &dir.join("shard.safetensors"));
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("index.json"), "{}", String::from_utf8_lossy(&run.stderr));
    let float = std::fs::read(tiny("bert-pair").join("model.safetensors")).unwrap();
    let (st, orig) = (safetensors::SafeTensors::deserialize(&bytes).unwrap(), safetensors::SafeTensors::deserialize(&float).unwrap());
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["quantization"], hies::quantize::FORMAT);
    for (name, view) in orig.tensors() {
        let got = st.tensor(&name).unwrap();
        let q = hies::quantize::quantized(&name, view.shape());
        assert_eq!(got.dtype(), if q { safetensors::Dtype::I8 } else { view.dtype() }, "{name}: int8, or as it was");
        assert_eq!(got.shape(), view.shape());
        if !q {
            assert_eq!(got.data(), view.data(), "{name} unchanged");
        }
        if q {
            // Row by row: the scale and integers the format defines.
            let w = hies::weights::to_f32(view.dtype(), view.data()).unwrap();
            let scale = st.tensor(&format!("{name}_scale")).unwrap();
            assert_eq!(scale.shape(), [view.shape()[0], 1]);
            let cols = view.shape()[1];
            for (r, s) in scale.data().chunks(4).enumerate() {
                let (want, ws) = quantize_row(w[r * cols..(r + 1) * cols].iter().copied());
                assert_eq!(f32::from_le_bytes(s.try_into().unwrap()), ws, "{name} row {r}");
                assert_eq!(&got.data()[r * cols..(r + 1) * cols], want.iter().map(|&v| v as u8).collect::<Vec<_>>(), "{name} row {r}");
            }
        }
    }
    assert!(st.names().iter().any(|n| n.ends_with("word_embeddings.weight_scale")));
    assert!(!st.names().iter().any(|n| n.contains("position_embeddings.weight_scale")), "position embeddings stay f32");

    // Loaded: logits within int8's error of the float checkpoint's, through the same loader.
    let files = |weights: &[u8]| {
        let d = ModelDir::read(&tiny("bert-pair")).unwrap();
        let mut f = d.files();
        f.weights = weights;
        Engine::load(&f, burn::tensor::Device::flex(), Backend::Cpu).map(|e| (e, d))
    };
    let (int8, _) = files(&bytes).unwrap();
    let (fp, _) = files(&float).unwrap();
    let inputs = [("A man is playing a guitar on the stage.", Some("A man plays music.")), ("It rained all day.", Some("The weather was wet."))];
    let (li, lf) =
        (pollster::block_on(int8.logits(&int8.model, &inputs, &[])).unwrap(), pollster::block_on(fp.logits(&fp.model, &inputs, &[])).unwrap());
    let d = max_abs_diff(&li, &lf);
    eprintln!("tiny BERT int8 vs fp16 checkpoint: max |Δ logits| {d:.1e}");
    assert!(d > 0.0 && d < 0.1, "{d}");
    // The int8 file is exactly its dequantised f32 twin (q · scale written as F32): the same
    // logits to the bit, and q8 on either re-quantises to the same integers.
    let twin: Owned = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("_scale"))
        .map(|(n, v)| {
            if v.dtype() == safetensors::Dtype::I8 {
                let s = hies::weights::to_f32(safetensors::Dtype::F32, st.tensor(&format!("{n}_scale")).unwrap().data()).unwrap();
                let cols = v.shape()[1];
                let data = v.data().iter().enumerate().flat_map(|(i, &q)| (q as i8 as f32 * s[i / cols]).to_le_bytes()).collect();
                (n, safetensors::Dtype::F32, v.shape().to_vec(), data)
            } else {
                (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())
            }
        })
        .collect();
    let twin = serialize(&twin);
    let (twin, _) = files(&twin).unwrap();
    assert_eq!(pollster::block_on(twin.logits(&twin.model, &inputs, &[])).unwrap(), li);
    int8.set_compute(Compute::Q8).unwrap();
    twin.set_compute(Compute::Q8).unwrap();
    let (qi, qt) = (
        pollster::block_on(int8.logits(int8.runner(), &inputs, &[])).unwrap(),
        pollster::block_on(twin.logits(twin.runner(), &inputs, &[])).unwrap(),
    );
    assert_eq!(qi, qt);
    assert!(max_abs_diff(&qi, &li) > 0.0, "q8 ran");

    // An int8 tensor without its scale is named, as is a file quantised twice.
    let run = quantize_cli(&a, &dir.join("c.safetensors"));
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("already quantised"));
    let views: Vec<_> = st.tensors().into_iter().filter(|(n, _)| !n.ends_with("query.weight_scale")).collect();
    let broken = safetensors::serialize(views.iter().map(|(n, v)| (n.clone(), v.clone())), None).unwrap();
    let e = files(&broken).err().expect("refused").to_string();
    assert!(e.contains("query.weight") && e.contains("is int8 but has no") && e.contains("weight_scale"), "{e}");
    // A scale of the wrong shape or with a negative value is named too.
    let views: Owned = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            if n.ends_with("query.weight_scale") {
                let data: Vec<u8> =
                    v.data().chunks(4).enumerate().flat_map(|(i, b)| if i == 0 { (-1f32).to_le_bytes() } else { b.try_into().unwrap() }).collect();
                (n, v.dtype(), v.shape().to_vec(), data)
            } else {
                (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())
            }
        })
        .collect();
    let negative = serialize(&views);
    let e = files(&negative).err().expect("refused").to_string();
    assert!(e.contains("query.weight_scale") && e.contains("finite, non-negative"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// MiniLM with the committed classifier, q8: predictions agree with f32 on the calibration
/// sentences, embeddings keep a cosine ≥ 0.99, scores (gradients) are f32's exactly, and
/// switching back gives f32's numbers again (nothing cached from q8 survives).
#[test]
fn q8_inference_stays_close_to_f32_and_scoring_stays_f32() {
    let mut engine = load_engine(Backend::Cpu);
    let bytes = std::fs::read(root().join(&hies::manifest::manifest().classifier.weights)).unwrap();
    engine.set_classifier(&bytes, &classifier_meta()).unwrap();
    let examples = calibration_examples();
    let session = Session::new(Arc::new(engine), SessionOptions::default());
    session.set_calibration(examples.clone());
    session.set_evaluation(&examples).unwrap();
    let texts: Vec<String> = examples.iter().map(|e| e.text.clone()).collect();
    let removal = Removal { heads: vec![(0, 1), (3, 4)], structural: false };

    let exact = pollster::block_on(session.evaluate(&removal, &mut |_| {})).unwrap();
    let exact_emb = pollster::block_on(session.embed(&texts)).unwrap();
    let request = hies::session::ScoreRequest {
        calibration: hies::session::Calibration { n: 8, seed: 0 },
        off: vec![],
        options: Some(ScoreOptions::default()),
    };
    let exact_scores = pollster::block_on(session.score(&request, &mut |_, _| {})).unwrap();
    session.set_compute(Compute::Q8).unwrap();
    assert_eq!(session.info().compute, Compute::Q8);
    let q8 = pollster::block_on(session.evaluate(&removal, &mut |_| {})).unwrap();
    let q8_emb = pollster::block_on(session.embed(&texts)).unwrap();
    let q8_scores = pollster::block_on(session.score(&request, &mut |_, _| {})).unwrap();
    let sliced = pollster::block_on(session.evaluate(&Removal { structural: true, ..removal.clone() }, &mut |_| {})).unwrap();

    let min_cos = exact_emb.iter().zip(&q8_emb).map(|(a, b)| cosine(&a.embedding, &b.embedding)).fold(1.0, f64::min);
    let moved = max_abs_diff(&exact_emb[0].embedding, &q8_emb[0].embedding);
    eprintln!("q8 vs f32 on 16 sentences: min cosine {min_cos:.5}, accuracy {:?} vs {:?}", q8.accuracy, exact.accuracy);
    assert!(moved > 0.0, "q8 ran");
    assert!(min_cos >= 0.99, "{min_cos}");
    assert!((q8.accuracy.unwrap() - exact.accuracy.unwrap()).abs() <= 1.0 / 16.0 + 1e-12);
    assert_eq!(q8.agreement, sliced.agreement, "sliced q8 predicts what masked q8 does");
    // Slicing keeps the whole layer's integers and scales (MiniLM's heads fill whole blocks of
    // 32): the sliced and the masked q8 logits are the same numbers.
    let classify =
        |r: &Removal| pollster::block_on(session.classify(&texts, None, r)).unwrap().into_iter().flat_map(|c| c.logits).collect::<Vec<f32>>();
    let (masked_logits, sliced_logits) = (classify(&removal), classify(&Removal { structural: true, ..removal.clone() }));
    assert!(max_abs_diff(&masked_logits, &sliced_logits) <= 1e-5, "{}", max_abs_diff(&masked_logits, &sliced_logits));
    // A session that was q8 from the start gives the same evaluation: the switch kept nothing
    // from the f32 passes.
    let fresh = Session::new(session.engine().clone(), SessionOptions::default());
    fresh.set_evaluation(&examples).unwrap();
    assert_eq!(pollster::block_on(fresh.evaluate(&removal, &mut |_| {})).unwrap(), q8, "no f32 predictions kept into the q8 pass");
    assert_eq!(exact_scores.his_raw, q8_scores.his_raw, "scores keep f32 gradients");
    assert_eq!(exact_scores.entropy, q8_scores.entropy, "and f32 attention");

    session.set_compute(Compute::Exact).unwrap();
    let again = pollster::block_on(session.evaluate(&removal, &mut |_| {})).unwrap();
    assert_eq!(again, exact, "back to f32: nothing kept from the q8 passes");
}
