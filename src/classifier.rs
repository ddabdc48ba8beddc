//! The sentence classifier on top of the encoder: either the checkpoint's own
//! (BertForSequenceClassification: pooler + `classifier`) or a separate classifier file in
//! Hugging Face naming (`classifier.weight` [labels, hidden], `classifier.bias` [labels]) with a
//! JSON sidecar, over the checkpoint's pooled sentence embedding.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::config::{Pooling, PoolingMode, ProblemType};
use crate::error::{Error, Result};
use crate::model::{Bert, Linear, pool};
use crate::weights::Weights;

/// The JSON sidecar of a classifier file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Tsify)]
pub struct ClassifierMeta {
    pub labels: Vec<String>,
    /// "mean" or "cls": the pooling the classifier was trained on.
    pub pooling: String,
    /// Whether the pooled vector was L2-normalised.
    pub normalized: bool,
    #[serde(default)]
    #[tsify(optional)]
    pub train_accuracy: Option<f64>,
    #[serde(default)]
    #[tsify(optional)]
    pub dev_accuracy: Option<f64>,
    #[serde(default)]
    #[tsify(optional)]
    pub seed: Option<u64>,
    #[serde(default)]
    #[tsify(optional)]
    pub epochs: Option<usize>,
    #[serde(default)]
    #[tsify(optional)]
    pub learning_rate: Option<f64>,
    #[serde(default)]
    #[tsify(optional)]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The checkpoint's sentence embedding (its pooling and normalisation).
    Embedding,
    /// `tanh(pooler.dense(h[CLS]))`, as BertForSequenceClassification.
    Pooler,
}

#[derive(Debug, Clone)]
pub struct Classifier {
    pub linear: Linear, // [hidden → labels]
    /// `id2label`: one name per output (a regression head's one output has one too).
    pub labels: Vec<String>,
    pub input: Input,
    /// What it predicts: labels (softmax, cross-entropy) or one score (squared error).
    pub problem_type: ProblemType,
}

impl Classifier {
    /// The checkpoint's own classifier, if it has one (and the pooler it reads), with the problem
    /// config.json declares (or transformers infers from the output count).
    /// Errors: a declared problem_type that does not fit the outputs ([`ProblemType::of`]).
    pub fn from_checkpoint(model: &Bert, labels: Option<Vec<String>>, declared: Option<ProblemType>) -> Result<Option<Self>> {
        let (Some(linear), Some(_)) = (model.classifier.clone(), model.pooler.as_ref()) else { return Ok(None) };
        let n = linear.bias.dims()[0];
        let problem_type = ProblemType::of(declared, n)?;
        let labels = labels.filter(|l| l.len() == n).unwrap_or_else(|| (0..n).map(|i| format!("LABEL_{i}")).collect());
        Ok(Some(Self { linear, labels, input: Input::Pooler, problem_type }))
    }

    /// Outputs per input: the labels, or 1 for a regression head.
    pub fn outputs(&self) -> usize {
        self.labels.len()
    }

    /// One score per input, measured by Pearson's r (`ProblemType::Regression`).
    pub fn is_regression(&self) -> bool {
        self.problem_type == ProblemType::Regression
    }

    /// What a labelled data file's first field holds for this head.
    pub fn gold(&self) -> crate::data::Gold<'_> {
        if self.is_regression() { crate::data::Gold::Scores } else { crate::data::Gold::Labels(&self.labels) }
    }

    /// A classifier file and its sidecar, checked against the encoder it will sit on.
    pub fn from_file(bytes: &[u8], meta: &ClassifierMeta, hidden: usize, pooling: Pooling, device: &Device) -> Result<Self> {
        let want = match pooling.mode {
            PoolingMode::Mean => "mean",
            PoolingMode::Cls => "cls",
        };
        if meta.pooling != want || meta.normalized != pooling.normalize {
            return Err(Error::classifier(format!(
                "it was trained on {} pooling{}, but this model pools with {want}{}",
                meta.pooling,
                if meta.normalized { " (normalised)" } else { "" },
                if pooling.normalize { " (normalised)" } else { "" },
            )));
        }
        let n = meta.labels.len();
        if n < 2 {
            return Err(Error::classifier("its sidecar must list at least 2 labels"));
        }
        let as_classifier = |e: Error| Error::classifier(e.message);
        let mut w = Weights::parse(bytes).map_err(as_classifier)?;
        let linear = Linear::load(&mut w, "classifier", hidden, n, device).map_err(as_classifier)?;
        w.finish().map_err(as_classifier)?;
        Ok(Self { linear, labels: meta.labels.clone(), input: Input::Embedding, problem_type: ProblemType::SingleLabelClassification })
    }

    /// Logits [B, labels] from the encoder's last hidden states ([B, 1] scores for regression).
    pub fn logits(&self, model: &Bert, hidden: Tensor<3>, mask: Tensor<2>, pooling: Pooling) -> Tensor<2> {
        let x = match self.input {
            Input::Embedding => pool(hidden, mask, pooling),
            Input::Pooler => model.pooler_output(hidden).expect("from_checkpoint checked the pooler"),
        };
        self.linear.forward2(x)
    }

    /// Whether the logits read only the first position's last hidden state ([CLS]), so the
    /// last layer need run only that query ([`crate::model::Layer::forward_first`]).
    pub fn reads_first_token(&self, pooling: Pooling) -> bool {
        self.input == Input::Pooler || pooling.mode == PoolingMode::Cls
    }

    pub fn num_params(&self) -> usize {
        let [i, o] = self.linear.weight.dims();
        i * o + o
    }
}

/// Writes a classifier in Hugging Face naming: `classifier.weight` [labels, hidden] (PyTorch's
/// [out, in]) and `classifier.bias` [labels]. `weight` is given as [hidden, labels].
pub fn classifier_to_safetensors(weight: &[f32], bias: &[f32], hidden: usize) -> Vec<u8> {
    let labels = bias.len();
    let mut out_in = vec![0f32; weight.len()];
    for i in 0..hidden {
        for o in 0..labels {
            out_in[o * hidden + i] = weight[i * labels + o];
        }
    }
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (w, b) = (bytes(&out_in), bytes(bias));
    let views = vec![
        ("classifier.bias", safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![labels], &b).unwrap()),
        ("classifier.weight", safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![labels, hidden], &w).unwrap()),
    ];
    safetensors::serialize(views, None).expect("serializing two f32 tensors")
}
