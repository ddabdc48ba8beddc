//! Labelled sentences from a `label<TAB>text` file. A label is an index (0, 1, …) or one of the
//! classifier's label names.

use crate::error::{Error, Result};
use crate::rng::Rng;

/// One labelled sentence: the label's index in the classifier's labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub label: usize,
    pub text: String,
}

/// Parses `label<TAB>text` lines (a UTF-8 BOM, blank lines and CRLF are fine). Errors name the
/// line; the caller adds the file.
pub fn parse_tsv(content: &str, labels: &[String]) -> Result<Vec<Example>> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let (label, text) = line.split_once('\t').ok_or_else(|| Error::data(format!("line {}: expected \"label<TAB>text\"", i + 1)))?;
        let label = label.trim();
        let index = match label.parse::<usize>() {
            Ok(k) if k < labels.len() => Some(k),
            Ok(_) => None,
            Err(_) => labels.iter().position(|l| l.eq_ignore_ascii_case(label)),
        };
        let label = index.ok_or_else(|| {
            Error::data(format!("line {}: label \"{label}\" is neither 0..{} nor one of {labels:?}", i + 1, labels.len().saturating_sub(1)))
        })?;
        out.push(Example { label, text: text.to_string() });
    }
    if out.is_empty() {
        return Err(Error::data("the file holds no labelled sentences"));
    }
    Ok(out)
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
        let ex = parse_tsv("\u{feff}1\tgreat film\n\nnegative\tdull\r\n", &labels).unwrap();
        assert_eq!(ex, vec![Example { label: 1, text: "great film".into() }, Example { label: 0, text: "dull".into() }]);
        let e = parse_tsv("1\tok\n2\tbad label\n", &labels).unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("\"2\""), "{e}");
        let e = parse_tsv("no tab here\n", &labels).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(parse_tsv("\n\n", &labels).is_err());
    }

    #[test]
    fn sample_is_seeded_and_without_replacement() {
        let ex: Vec<Example> = (0..100).map(|i| Example { label: 0, text: i.to_string() }).collect();
        let a = sample(&ex, 32, 3);
        assert_eq!(a, sample(&ex, 32, 3));
        assert_ne!(a, sample(&ex, 32, 4));
        let mut t: Vec<&str> = a.iter().map(|e| e.text.as_str()).collect();
        t.sort();
        t.dedup();
        assert_eq!(t.len(), 32);
    }
}
