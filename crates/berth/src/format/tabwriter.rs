//! Go's `text/tabwriter` as docker's formatters use it (space padding, no flags).
//!
//! Text is split into lines and tab-terminated cells; the last cell of a line is not
//! part of any column. A column block is a run of consecutive lines that all have a
//! cell in that column; its width is the widest cell plus `padding`, at least
//! `minwidth`. A line without any tab ends all blocks (Go flushes there), which is
//! why a stray line in a table breaks the alignment exactly as it does in docker.

pub(crate) struct TabWriter {
    minwidth: usize,
    padding: usize,
    text: String,
}

impl TabWriter {
    /// docker's tables: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
    pub(crate) fn table() -> Self {
        Self::new(10, 3)
    }

    pub(crate) fn new(minwidth: usize, padding: usize) -> Self {
        TabWriter {
            minwidth,
            padding,
            text: String::new(),
        }
    }

    pub(crate) fn write(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Aligns everything written so far.
    pub(crate) fn finish(self) -> String {
        let mut out = String::new();
        let mut segment: Vec<Vec<&str>> = Vec::new();
        let mut rest = self.text.as_str();
        loop {
            let (line, more) = match rest.find('\n') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            let cells: Vec<&str> = line.split('\t').collect();
            let single = cells.len() == 1;
            segment.push(cells);
            match more {
                Some(m) => {
                    if single {
                        // A line with no tab flushes: it ends every column block.
                        self.format_segment(&segment, &mut out, true);
                        segment.clear();
                    }
                    rest = m;
                }
                None => {
                    // The last (unterminated) line is written without a newline.
                    self.format_segment(&segment, &mut out, false);
                    break;
                }
            }
        }
        out
    }

    fn format_segment(&self, lines: &[Vec<&str>], out: &mut String, newline_last: bool) {
        let mut widths = Vec::new();
        self.format(&mut widths, lines, 0, lines.len(), out, newline_last);
    }

    fn format(
        &self,
        widths: &mut Vec<usize>,
        lines: &[Vec<&str>],
        mut line0: usize,
        line1: usize,
        out: &mut String,
        newline_last: bool,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(widths, lines, line0, this, out, newline_last);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                let w = lines[this][column].chars().count() + self.padding;
                width = width.max(w);
                this += 1;
            }
            widths.push(width);
            self.format(widths, lines, line0, this, out, newline_last);
            widths.pop();
            line0 = this;
        }
        self.write_lines(widths, lines, line0, line1, out, newline_last);
    }

    fn write_lines(
        &self,
        widths: &[usize],
        lines: &[Vec<&str>],
        line0: usize,
        line1: usize,
        out: &mut String,
        newline_last: bool,
    ) {
        for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if j < widths.len() && j + 1 < line.len() {
                    let w = cell.chars().count();
                    out.extend(std::iter::repeat_n(' ', widths[j].saturating_sub(w)));
                }
            }
            if i + 1 < lines.len() || newline_last {
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn check(minwidth: usize, padding: usize, input: &str, expect: expect_test::Expect) {
        let mut tw = TabWriter::new(minwidth, padding);
        tw.write(input);
        // Show line ends so trailing spaces are visible.
        expect.assert_eq(&tw.finish().replace('\n', "$\n"));
    }

    #[test]
    fn docker_table() {
        check(
            10,
            3,
            "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\nbusybox\tlatest\tabcdefabcdef\t2 weeks ago\t4.26MB\nlocalhost:5000/a/very-long-name\tv1\t012345678901\tAbout a minute ago\t0B\n",
            expect![[r#"
                REPOSITORY                        TAG       IMAGE ID       CREATED              SIZE$
                busybox                           latest    abcdefabcdef   2 weeks ago          4.26MB$
                localhost:5000/a/very-long-name   v1        012345678901   About a minute ago   0B$
            "#]],
        );
    }

    #[test]
    fn header_only_and_empty_cells() {
        check(
            10,
            3,
            "A\tB\n",
            expect![[r#"
            A         B$
        "#]],
        );
        // Two empty cells, each padded to the minimum width of 10.
        let mut tw = TabWriter::table();
        tw.write("\t\tx\n");
        assert_eq!(tw.finish(), format!("{}x\n", " ".repeat(20)));
    }

    #[test]
    fn line_without_tab_splits_blocks() {
        check(
            1,
            1,
            "a\tb\nlonger-cell\tc\nplain line\nx\ty\n",
            expect![[r#"
                a           b$
                longer-cell c$
                plain line$
                x y$
            "#]],
        );
    }

    #[test]
    fn ragged_rows_and_unicode() {
        check(
            20,
            1,
            "Client:\n Version:\t1\n API version:\t1.45 (downgraded)\n Ünïcode:\tz\n",
            expect![[r#"
                Client:$
                 Version:           1$
                 API version:       1.45 (downgraded)$
                 Ünïcode:           z$
            "#]],
        );
        check(
            1,
            1,
            "a\tb\tc\nlong\td\n",
            expect![[r#"
            a    b c$
            long d$
        "#]],
        );
        check(1, 2, "no newline\tat end", expect!["no newline  at end"]);
    }
}
