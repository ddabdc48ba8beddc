//! Labelled examples from a tab-separated file: `label<TAB>text` (one sentence) or
//! `label<TAB>text_a<TAB>text_b` (a sentence pair, as GLUE's MNLI, QNLI, MRPC, QQP and RTE). A
//! label is an index (0, 1, …) or one of the classifier's label names (`id2label`); for a
//! regression head (STS-B) it is the gold score, a number.

use crate::error::{Error, Result};
use crate::rng::Rng;

/// One labelled example: the gold label, the sentence and, for a pair task, the second
/// sentence (transformers' `text` / `text_pair`; the tokenizer's pair template joins them and
/// sets `token_type_ids`).
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The label's index in the classifier's labels (exact in f32), or a regression head's gold
    /// score: one type for both, as predictions are (`crate::evaluate`).
    pub label: f32,
    pub text: String,
    pub text_pair: Option<String>,
}

impl Example {
    /// A single-sentence example of class `label`.
    pub fn single(label: usize, text: impl Into<String>) -> Self {
        Self { label: label as f32, text: text.into(), text_pair: None }
    }

    /// The label as a class index (classification tasks only).
    pub fn class(&self) -> usize {
        debug_assert!(self.label >= 0.0 && self.label.fract() == 0.0, "a class index, not a score: {}", self.label);
        self.label as usize
    }
}

/// What the first field of a labelled line holds: one of the classifier's labels, or a
/// regression head's gold score.
#[derive(Debug, Clone, Copy)]
pub enum Gold<'a> {
    /// A label index or an `id2label` name.
    Labels(&'a [String]),
    /// A finite number.
    Scores,
}

/// One non-blank line of a tab-separated file: its number, its leading fields (the label), and
/// a sentence or a pair.
struct Line<'a> {
    number: usize,
    lead: Vec<&'a str>,
    text: &'a str,
    text_pair: Option<&'a str>,
}

/// The non-blank lines of `content` (a UTF-8 BOM and CRLF are fine), each `leading` fields and
/// then a sentence or a pair. Every line has the same form: mixing single sentences and pairs is
/// refused, as is a line with more fields (a tab inside a sentence would otherwise silently make
/// a pair). `form` names the expected forms in messages; errors name the line.
fn lines<'a>(content: &'a str, leading: usize, form: &str) -> Result<Vec<Line<'a>>> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut out: Vec<Line> = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (lead, rest) = fields.split_at(leading.min(fields.len()));
        let (text, text_pair) = match rest {
            [text] => (*text, None),
            [a, b] => (*a, Some(*b)),
            [] => return Err(Error::data(format!("line {}: expected {form}", i + 1))),
            _ => return Err(Error::data(format!("line {}: {} tab-separated fields; expected {form}", i + 1, fields.len()))),
        };
        if let Some(first) = out.first().map(|l| l.text_pair.is_some())
            && first != text_pair.is_some()
        {
            let kind = |pair: bool| if pair { "a sentence pair" } else { "a single sentence" };
            return Err(Error::data(format!("line {}: {}, but the lines before hold {}", i + 1, kind(text_pair.is_some()), kind(first))));
        }
        out.push(Line { number: i + 1, lead: lead.to_vec(), text, text_pair });
    }
    Ok(out)
}

/// Parses `label<TAB>text` or `label<TAB>text_a<TAB>text_b` lines (a UTF-8 BOM, blank lines
/// and CRLF are fine). Every line of a file has the same form: a file that mixes single
/// sentences and pairs is refused, as is a line with more than three fields (a tab inside a
/// sentence would otherwise silently become a pair). Errors name the line; the caller adds the
/// file.
pub fn parse_tsv(content: &str, gold: Gold) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for line in lines(content, 1, "\"label<TAB>text\" or \"label<TAB>text_a<TAB>text_b\"")? {
        let field = line.lead[0].trim();
        let label = match gold {
            Gold::Labels(labels) => {
                let index = match field.parse::<usize>() {
                    Ok(k) if k < labels.len() => Some(k),
                    Ok(_) => None,
                    Err(_) => labels.iter().position(|l| l.eq_ignore_ascii_case(field)),
                };
                index.ok_or_else(|| {
                    Error::data(format!(
                        "line {}: label \"{field}\" is neither 0..{} nor one of {labels:?}",
                        line.number,
                        labels.len().saturating_sub(1)
                    ))
                })? as f32
            }
            Gold::Scores => field.parse::<f32>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                Error::data(format!(
                    "line {}: \"{field}\" is not a number; this model is a regression head, so each line starts with its gold score",
                    line.number
                ))
            })?,
        };
        out.push(Example { label, text: line.text.to_string(), text_pair: line.text_pair.map(str::to_string) });
    }
    if out.is_empty() {
        return Err(Error::data("the file holds no labelled sentences"));
    }
    Ok(out)
}

/// Unlabelled lines of `text` or `text_a<TAB>text_b` (`hies classify`'s input), by the same
/// rules as [`parse_tsv`]: each as (text, text_pair).
pub fn parse_inputs(content: &str) -> Result<Vec<(String, Option<String>)>> {
    Ok(lines(content, 0, "\"text\" or \"text_a<TAB>text_b\"")?.into_iter().map(|l| (l.text.to_string(), l.text_pair.map(str::to_string))).collect())
}

/// The built-in data (src/manifest.json: Rotten Tomatoes, labelled 0/1 for negative/positive)
/// fits a classifier only with the same label names in the same order: for any other model its
/// indices would silently be read as that model's classes (an NLI model's "entailment", …).
pub fn builtin_data_fits(gold: Gold) -> Result<()> {
    let data = &crate::manifest::manifest().data;
    let Gold::Labels(labels) = gold else {
        return Err(Error::data(format!(
            "this model is a regression head (one score per input), but the built-in data ({}) are labelled {}: give a file of \"score<TAB>text\" or \"score<TAB>text_a<TAB>text_b\" lines",
            data.name,
            data.labels.join(" / ")
        )));
    };
    let same = labels.len() == data.labels.len() && labels.iter().zip(&data.labels).all(|(a, b)| a.eq_ignore_ascii_case(b));
    if same {
        return Ok(());
    }
    Err(Error::data(format!(
        "this model's labels are {}, but the built-in data ({}) are labelled {}: give a labelled file for its task",
        labels.join(" / "),
        data.name,
        data.labels.join(" / ")
    )))
}

/// `n` examples drawn without replacement with `seed` (all of them if n ≥ len).
pub fn sample(examples: &[Example], n: usize, seed: u64) -> Vec<Example> {
    let mut idx: Vec<usize> = (0..examples.len()).collect();
    Rng::new(seed).shuffle(&mut idx);
    idx.truncate(n.min(examples.len()));
    idx.into_iter().map(|i| examples[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_by_index_or_name_and_clear_errors() {
        let labels = vec!["negative".to_string(), "positive".to_string()];
        let labels = Gold::Labels(&labels);
        let ex = parse_tsv("\u{feff}1\tgreat film\n\nnegative\tdull\r\n", labels).unwrap();
        assert_eq!(ex, vec![Example::single(1, "great film"), Example::single(0, "dull")]);
        let e = parse_tsv("1\tok\n2\tbad label\n", labels).unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("\"2\""), "{e}");
        let e = parse_tsv("no tab here\n", labels).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(parse_tsv("\n\n", labels).is_err());
    }

    #[test]
    fn a_regression_head_reads_gold_scores() {
        let ex = parse_tsv("4.25\tA man sleeps.\tSomeone rests.\n-1e-1\ta\tb\n", Gold::Scores).unwrap();
        assert_eq!((ex[0].label, ex[1].label), (4.25, -0.1));
        for bad in ["positive\ta\n", "NaN\ta\n", "inf\ta\n"] {
            let e = parse_tsv(bad, Gold::Scores).unwrap_err().to_string();
            assert!(e.contains("line 1") && e.contains("is not a number") && e.contains("regression head"), "{e}");
        }
        let e = builtin_data_fits(Gold::Scores).unwrap_err().to_string();
        assert!(e.contains("regression head") && e.contains("score<TAB>text"), "{e}");
    }

    #[test]
    fn pairs_are_three_fields_and_never_mixed_with_single_sentences() {
        let labels = vec!["entailment".to_string(), "neutral".to_string(), "contradiction".to_string()];
        let labels = Gold::Labels(&labels);
        let ex = parse_tsv("neutral\tA man sleeps.\tSomeone rests.\n2\tx\ty\n", labels).unwrap();
        assert_eq!(ex[0], Example { label: 1.0, text: "A man sleeps.".into(), text_pair: Some("Someone rests.".into()) });
        assert_eq!(ex[1].class(), 2);
        let e = parse_tsv("0\ta\tb\n1\tc\n", labels).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("single sentence") && e.contains("pair"), "{e}");
        let e = parse_tsv("0\ta\tb\tc\n", labels).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("4 tab-separated fields"), "{e}");
        // Unlabelled input, the same rules.
        assert_eq!(parse_inputs("a\tb\r\n\nc\td\n").unwrap(), vec![("a".into(), Some("b".into())), ("c".into(), Some("d".into()))]);
        let e = parse_inputs("a\nb\tc\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("a sentence pair, but the lines before hold a single sentence"), "{e}");
        let e = parse_inputs("a\tb\tc\n").unwrap_err().to_string();
        assert!(e.contains("3 tab-separated fields") && e.contains("\"text\" or \"text_a<TAB>text_b\""), "{e}");
    }

    #[test]
    fn sample_is_seeded_and_without_replacement() {
        let ex: Vec<Example> = (0..100).map(|i| Example::single(0, i.to_string())).collect();
        let a = sample(&ex, 32, 3);
        assert_eq!(a, sample(&ex, 32, 3));
        assert_ne!(a, sample(&ex, 32, 4));
        let mut t: Vec<&str> = a.iter().map(|e| e.text.as_str()).collect();
        t.sort();
        t.dedup();
        assert_eq!(t.len(), 32);
    }
}
