//! "Did you mean ...?" for unknown instructions: the closest known word by edit
//! distance, when it is close enough to be a typo.

/// The candidate nearest to `word`, if within half its length.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 2).max(1);
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let c = crate::instruction::INSTRUCTIONS;
        assert_eq!(closest("runn", c), Some("run"));
        assert_eq!(closest("form", c), Some("from"));
        assert_eq!(closest("copyy", c), Some("copy"));
        assert_eq!(closest("entrypoit", c), Some("entrypoint"));
        assert_eq!(closest("xyzzy", c), None);
    }
}
