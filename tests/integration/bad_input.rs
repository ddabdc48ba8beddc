//! Broken or mismatched model files give an error that names the problem; nothing panics.

use hies::{Backend, Engine, ErrorKind, ModelFiles};
use safetensors::Dtype;

use crate::common::*;

fn load(config: &[u8], weights: &[u8], tokenizer: &[u8]) -> hies::Result<Engine> {
    let files = ModelFiles { config, weights, tokenizer, modules: None, pooling: None, sentence_bert_config: None, adapter: None };
    Engine::load(&files, burn::tensor::Device::flex(), Backend::Cpu)
}

fn error(config: &[u8], weights: &[u8], tokenizer: &[u8]) -> hies::Error {
    match load(config, weights, tokenizer) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn assert_says(e: &hies::Error, kind: ErrorKind, words: &[&str]) {
    let text = e.to_string();
    assert_eq!(e.kind, kind, "{text}");
    for w in words {
        assert!(text.contains(w), "error {text:?} should mention {w:?}");
    }
}

#[test]
fn truncated_and_corrupt_weights() {
    let m = model_dir();
    let e = error(&m.config, &m.weights[..m.weights.len() / 3], &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["model.safetensors", "truncated or corrupt"]);
    let e = error(&m.config, &m.weights[..5], &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["8-byte header"]);
    let mut garbage = m.weights[..4096].to_vec();
    garbage[8..16].copy_from_slice(b"NOT JSON");
    let e = error(&m.config, &garbage, &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["not a valid safetensors file"]);
}

#[test]
fn wrong_shape_missing_unexpected_and_wrong_dtype_tensors() {
    let m = model_dir();
    let real = tensors(&m.weights);

    let mut t = real.clone();
    let k = t.iter_mut().find(|x| x.0 == "encoder.layer.2.attention.self.key.weight").unwrap();
    k.2 = vec![384, 383];
    k.3.truncate(384 * 383 * 4);
    let e = error(&m.config, &serialize(&t), &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["encoder.layer.2.attention.self.key.weight", "[384, 383]", "[384, 384]"]);

    let t: Owned = real.iter().filter(|x| x.0 != "encoder.layer.5.output.dense.bias").cloned().collect();
    let e = error(&m.config, &serialize(&t), &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["missing tensor", "encoder.layer.5.output.dense.bias"]);

    let mut t = real.clone();
    t.push(("encoder.layer.0.attention.self.rotary.weight".into(), Dtype::F32, vec![2], vec![0; 8]));
    let e = error(&m.config, &serialize(&t), &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["unexpected tensor", "encoder.layer.0.attention.self.rotary.weight"]);

    let mut t = real.clone();
    let b = t.iter_mut().find(|x| x.0 == "embeddings.LayerNorm.bias").unwrap();
    b.1 = Dtype::I32;
    let e = error(&m.config, &serialize(&t), &m.tokenizer);
    assert_says(&e, ErrorKind::Weights, &["embeddings.LayerNorm.bias", "dtype"]);
}

#[test]
fn config_that_does_not_match_or_is_not_bert() {
    let m = model_dir();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_slice(&m.config).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let gpt2 = edit(&|v| v["model_type"] = "gpt2".into());
    assert_says(
        &error(&gpt2, &m.weights, &m.tokenizer),
        ErrorKind::Config,
        &["config.json", "gpt2", "bert, distilbert, roberta, xlm-roberta and electra"],
    );
    let tokens = edit(&|v| v["architectures"] = serde_json::json!(["BertForTokenClassification"]));
    assert_says(&error(&tokens, &m.weights, &m.tokenizer), ErrorKind::Config, &["BertForTokenClassification", "sentence-pair classifiers"]);
    // A DistilBERT config over BERT weights: DistilBERT has no token types.
    let distil = edit(&|v| {
        *v = serde_json::json!({"model_type": "distilbert", "vocab_size": 30522, "dim": 384, "n_layers": 6, "n_heads": 12, "hidden_dim": 1536, "max_position_embeddings": 512});
    });
    assert_says(
        &error(&distil, &m.weights, &m.tokenizer),
        ErrorKind::Weights,
        &["unexpected tensor \"embeddings.token_type_embeddings.weight\"", "a DistilBERT encoder"],
    );

    let wide = edit(&|v| v["hidden_size"] = 768.into());
    assert_says(&error(&wide, &m.weights, &m.tokenizer), ErrorKind::Weights, &["embeddings.word_embeddings.weight", "[30522, 384]", "[30522, 768]"]);

    let shallow = edit(&|v| v["num_hidden_layers"] = 4.into());
    assert_says(&error(&shallow, &m.weights, &m.tokenizer), ErrorKind::Weights, &["unexpected tensor", "encoder.layer.4."]);

    let odd = edit(&|v| v["num_attention_heads"] = 7.into());
    assert_says(&error(&odd, &m.weights, &m.tokenizer), ErrorKind::Config, &["not a multiple"]);

    let relu = edit(&|v| v["hidden_act"] = "relu".into());
    assert_says(&error(&relu, &m.weights, &m.tokenizer), ErrorKind::Config, &["hidden_act", "relu"]);

    let missing = edit(&|v| {
        v.as_object_mut().unwrap().remove("intermediate_size");
    });
    assert_says(&error(&missing, &m.weights, &m.tokenizer), ErrorKind::Config, &["intermediate_size is missing"]);

    assert_says(&error(b"{not json", &m.weights, &m.tokenizer), ErrorKind::Config, &["not valid JSON"]);

    let small_vocab = edit(&|v| v["vocab_size"] = 1000.into());
    assert_says(&error(&small_vocab, &m.weights, &m.tokenizer), ErrorKind::Tokenizer, &["30522", "vocab_size is 1000"]);
}

#[test]
fn broken_tokenizer() {
    let m = model_dir();
    let e = error(&m.config, &m.weights, b"{\"version\": \"1.0\"}");
    assert_says(&e, ErrorKind::Tokenizer, &["tokenizer.json", "cannot be read"]);
}

#[test]
fn sequence_classification_checkpoint_with_bert_prefix_loads() {
    let m = model_dir();
    let mut t: Owned = tensors(&m.weights).into_iter().map(|(n, d, s, b)| (format!("bert.{n}"), d, s, b)).collect();
    let f32s = |n: usize, v: f32| v.to_le_bytes().repeat(n);
    // The MiniLM file already carries pooler.dense.* (now bert.pooler.dense.*); add a 3-label head.
    assert!(t.iter().any(|x| x.0 == "bert.pooler.dense.weight"));
    t.push(("classifier.weight".into(), Dtype::F32, vec![3, 384], f32s(3 * 384, 0.02)));
    t.push(("classifier.bias".into(), Dtype::F32, vec![3], f32s(3, 0.0)));
    let engine = load(&m.config, &serialize(&t), &m.tokenizer).expect("BertForSequenceClassification loads");
    assert!(engine.model.pooler.is_some());
    assert_eq!(engine.model.classifier.as_ref().unwrap().weight.dims(), [384, 3]);
    // Same encoder weights as the plain checkpoint: same embedding.
    let plain = load(&m.config, &m.weights, &m.tokenizer).unwrap();
    let s = ["a prefix changes nothing".to_string()];
    let a = pollster::block_on(engine.embed(&s)).unwrap();
    let b = pollster::block_on(plain.embed(&s)).unwrap();
    assert_eq!(max_abs_diff(&a[0].embedding, &b[0].embedding), 0.0);
}

#[test]
fn long_and_empty_sentences_are_handled() {
    let engine = engine(Backend::Cpu);
    let long = "word ".repeat(10_000);
    let out = pollster::block_on(engine.embed(&[long.clone(), String::new()])).unwrap();
    assert!(out[0].truncated);
    // sentence_bert_config.json's max_seq_length, as sentence-transformers' encode truncates.
    assert_eq!((engine.max_len, out[0].ids.len()), (256, 256));
    assert_eq!(out[0].ids[255], 102, "[SEP] closes the truncated input");
    // Without that file the encoder takes its 512 positions, as transformers does.
    let m = model_dir();
    let files = ModelFiles { sentence_bert_config: None, ..m.files() };
    let bare = Engine::load(&files, burn::tensor::Device::flex(), Backend::Cpu).unwrap();
    let out512 = pollster::block_on(bare.embed(&[long])).unwrap();
    assert_eq!(out512[0].ids.len(), 512);
    assert_eq!(out512[0].ids[..255], out[0].ids[..255]);
    assert_eq!((out[1].ids.len(), out[1].truncated), (2, false));
    assert!(out.iter().all(|e| e.embedding.iter().all(|x| x.is_finite())));
}

#[test]
fn a_classifier_that_does_not_fit_is_refused_and_says_why() {
    let bytes = std::fs::read(root().join(&hies::manifest::manifest().classifier.weights)).unwrap();
    let mut e = load_engine(Backend::Cpu);
    let mut cls = classifier_meta();
    cls.pooling = "cls".into();
    let err = e.set_classifier(&bytes, &cls).unwrap_err();
    assert_says(&err, ErrorKind::Classifier, &["classifier", "trained on cls pooling", "mean"]);
    let mut three = classifier_meta();
    three.labels.push("neutral".into());
    let err = e.set_classifier(&bytes, &three).unwrap_err();
    assert_says(&err, ErrorKind::Classifier, &["classifier.weight", "[2, 384]", "[3, 384]"]);
    let err = e.set_classifier(&bytes[..100], &classifier_meta()).unwrap_err();
    assert_says(&err, ErrorKind::Classifier, &["truncated or corrupt"]);
    assert!(e.classifier.is_none(), "a refused classifier leaves none set");
}
