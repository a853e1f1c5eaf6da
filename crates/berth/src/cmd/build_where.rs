//! Where a failed build stopped: the berth CLI follows the daemon's "Step N/M : …"
//! lines and, when a step fails (a missing file, a path outside the context, a base
//! image that cannot be pulled, a RUN's exit code), quotes that instruction of the
//! local Dockerfile with a caret at its column, as it does for parse errors.

/// Follows the steps the daemon announced.
#[derive(Default)]
pub(crate) struct StepTracker {
    /// The instruction text of the last "Step N/M : " line.
    last: Option<String>,
    /// How many steps had that same text before it (a Dockerfile may repeat one).
    repeats: usize,
    seen: Vec<String>,
}

impl StepTracker {
    /// Takes one chunk of the daemon's output stream.
    pub(crate) fn feed(&mut self, chunk: &str) {
        for line in chunk.lines() {
            // Every step is done: a later error (tagging) is no instruction's.
            if line.starts_with("Successfully built ") {
                self.last = None;
            }
            let Some(rest) = line.strip_prefix("Step ") else {
                continue;
            };
            let Some((_, text)) = rest.split_once(" : ") else {
                continue;
            };
            self.repeats = self.seen.iter().filter(|s| *s == text).count();
            self.seen.push(text.to_string());
            self.last = Some(text.to_string());
        }
    }

    /// The failing instruction quoted from `dockerfile`, when it can be found.
    pub(crate) fn excerpt(&self, dockerfile: &str) -> Option<String> {
        let last = self.last.as_deref()?;
        let parsed = berth_build::parse(dockerfile).ok()?;
        let node = parsed
            .nodes
            .iter()
            .filter(|n| n.original == last)
            .nth(self.repeats)?;
        let first = node.original.lines().next().unwrap_or("");
        let source = dockerfile.lines().nth(node.line.checked_sub(1)?)?;
        // The quoted line is the file's own (indentation kept), the caret under
        // the instruction's column.
        let shown = if source.trim_start().starts_with(first.trim_start()) {
            source
        } else {
            first
        };
        Some(format!(
            "{:>4} | {shown}\n     | {}^",
            node.line,
            " ".repeat(node.column.saturating_sub(1))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_step_that_failed_even_when_repeated() {
        let df = "FROM busybox\nCOPY a /a\nRUN true\n  COPY a /a\n";
        let mut t = StepTracker::default();
        assert_eq!(t.excerpt(df), None);
        t.feed("Step 1/4 : FROM busybox\n ---> 123\nStep 2/4 : COPY a /a\n");
        assert_eq!(t.excerpt(df).unwrap(), "   2 | COPY a /a\n     | ^");
        t.feed("Step 3/4 : RUN true\nStep 4/4 : COPY a /a\n");
        assert_eq!(t.excerpt(df).unwrap(), "   4 |   COPY a /a\n     |   ^");
        t.feed(" ---> 456\nSuccessfully built 456\n");
        assert_eq!(t.excerpt(df), None);
    }
}
