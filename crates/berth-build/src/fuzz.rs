//! The parser must never panic: a few thousand random and mutated inputs through
//! parse + parse_instruction + expansion (cargo-fuzz runs the same entry point in
//! `fuzz/`, without CI).

use crate::instruction::parse_instruction;
use crate::parser::parse;

/// The fuzz entry point: parse, type every node, expand every word.
pub(crate) fn exercise(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(df) = parse(&text) {
        for n in &df.nodes {
            match parse_instruction(n, df.directives.escape) {
                Ok(crate::instruction::Instruction::Healthcheck(h)) => {
                    let _ = h.history_text();
                }
                Ok(crate::instruction::Instruction::Stopsignal(sig)) => {
                    let _ = crate::instruction::check_signal(&sig);
                }
                _ => {}
            }
            for w in crate::subst::split_words(&n.args, df.directives.escape) {
                let _ = crate::subst::expand(&w, df.directives.escape, &|k| {
                    (k.len() % 2 == 0).then(|| k.to_string())
                });
            }
            for h in &n.heredocs {
                let _ = crate::subst::expand_heredoc(&h.content, '\\', &|_| None);
            }
        }
    }
    let ig = crate::dockerignore::Ignore::parse(&text);
    let _ = ig.excluded("a/b/c");
}

#[cfg(test)]
mod tests {
    use super::exercise;

    /// xorshift: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const SEEDS: &[&str] = &[
        "# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox AS b\nRUN echo `\n hi\n",
        "FROM x\nRUN <<EOF <<-'B'\nline\nEOF\n\tb\n\tB\n",
        "FROM x\nCOPY --from=a --chown=1:2 --chmod=755 [\"a\", \"b\"] /c/\n",
        "ARG A=${B:-${C:+d}}\nFROM $A\nENV X=\"a b\" Y='c' Z=\\$q\nLABEL a=b\n",
        "FROM x\nHEALTHCHECK --interval=1s --retries=2 CMD [\"true\"]\nONBUILD RUN x\nSHELL [\"a\"]\n",
        "FROM x\nEXPOSE 80/udp 1-2\nVOLUME [\"/a\"]\nWORKDIR ${W}\nUSER u:g\nSTOPSIGNAL 9\n",
    ];

    const TOKENS: &[&str] = &[
        "\\", "`", "\n", "<<", "<<-", "\"", "'", "$", "${", "}", ":-", ":+", "[", "]", "--", "=",
        " ", "\t", "#", "RUN", "COPY", "EOF", "\r", "\u{feff}", "é", "\0",
    ];

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..4000 {
            let mut s: Vec<u8> = if i % 4 == 0 {
                (0..rng.below(200)).map(|_| rng.next() as u8).collect()
            } else {
                SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec()
            };
            for _ in 0..rng.below(8) {
                let pos = if s.is_empty() {
                    0
                } else {
                    rng.below(s.len() + 1)
                };
                match rng.below(3) {
                    0 => {
                        let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                        s.splice(pos..pos, t.iter().copied());
                    }
                    1 if !s.is_empty() => {
                        let end = (pos + rng.below(10)).min(s.len());
                        s.drain(pos.min(end)..end);
                    }
                    _ => s.insert(pos, rng.next() as u8),
                }
            }
            exercise(&s);
        }
    }
}
