//! Dockerfile text -> AST dump, table-driven.

use super::*;
use crate::instruction::{CmdLine, Instruction, parse_instruction};

fn dump(text: &str) -> String {
    match parse(text) {
        Err(e) => format!("error: {e} (column {})", e.column),
        Ok(df) => {
            let mut s = format!("escape={:?}", df.directives.escape);
            if let Some(x) = &df.directives.syntax {
                s.push_str(&format!(" syntax={x}"));
            }
            if let Some(x) = &df.directives.check {
                s.push_str(&format!(" check={x}"));
            }
            s.push('\n');
            for n in &df.nodes {
                s.push_str(&format!("{}:{} {}", n.line, n.column, n.keyword));
                for f in &n.flags {
                    s.push_str(&format!(" --{}={:?}", f.name, f.value));
                }
                s.push_str(&format!(" {:?}", n.args));
                for h in &n.heredocs {
                    s.push_str(&format!(
                        " <<{}(expand={},tabs={}){:?}",
                        h.name, h.expand, h.strip_tabs, h.content
                    ));
                }
                s.push('\n');
            }
            s
        }
    }
}

#[test]
fn table() {
    let cases: &[(&str, expect_test::Expect)] = &[
        (
            "# syntax=docker/dockerfile:1\n# check=skip=all\nFROM busybox\n",
            expect_test::expect![[r#"
                escape='\\' syntax=docker/dockerfile:1 check=skip=all
                3:1 FROM "busybox"
            "#]],
        ),
        (
            "# escape=`\nFROM x\nRUN echo a `\n  b\n",
            expect_test::expect![[r#"
                escape='`'
                2:1 FROM "x"
                3:1 RUN "echo a   b"
            "#]],
        ),
        (
            "FROM x\nRUN a \\\n# comment inside\n\n  b \\  \n  c\n  run d\n",
            expect_test::expect![[r#"
                escape='\\'
                1:1 FROM "x"
                2:1 RUN "a   b   c"
                7:3 RUN "d"
            "#]],
        ),
        (
            "FROM x\nCOPY --from=build --chown=\"a b\" --link src dst\n",
            expect_test::expect![[r#"
                escape='\\'
                1:1 FROM "x"
                2:1 COPY --from=Some("build") --chown=Some("a b") --link=None "src dst"
            "#]],
        ),
        (
            "FROM x\nRUN <<EOF\necho $A\nEOF\nRUN cat <<-'A' <<\"B\" > f\n\tone\n\tA\ntwo\nB\n",
            expect_test::expect![[r#"
                escape='\\'
                1:1 FROM "x"
                2:1 RUN "<<EOF" <<EOF(expand=true,tabs=false)"echo $A\n"
                5:1 RUN "cat <<-'A' <<\"B\" > f" <<A(expand=false,tabs=true)"one\n" <<B(expand=false,tabs=false)"two\n"
            "#]],
        ),
        (
            "FROM x\nRUN [\"echo\", \"<<EOF\"]\nCOPY <<EOF /f\nx\nEOF\n",
            expect_test::expect![[r#"
                escape='\\'
                1:1 FROM "x"
                2:1 RUN "[\"echo\", \"<<EOF\"]"
                3:1 COPY "<<EOF /f" <<EOF(expand=true,tabs=false)"x\n"
            "#]],
        ),
        (
            "FROM x\nRUN <<EOF\nnever ends\n",
            expect_test::expect![
                "error: dockerfile parse error on line 2: unterminated heredoc EOF (column 1)"
            ],
        ),
        (
            "# escape=x\nFROM x\n",
            expect_test::expect![
                "error: dockerfile parse error on line 1: invalid escape token 'x' does not match ^[\\\\`]$ (column 1)"
            ],
        ),
        (
            "\u{feff}FROM x\r\nCMD a\r\n",
            expect_test::expect![[r#"
                escape='\\'
                1:1 FROM "x"
                2:1 CMD "a"
            "#]],
        ),
        (
            "FROM x\nENV a=1\n# escape=`\nRUN a \\\n",
            expect_test::expect![[r#"
                escape='\\'
                1:1 FROM "x"
                2:1 ENV "a=1"
                4:1 RUN "a"
            "#]],
        ),
    ];
    for (input, want) in cases {
        want.assert_eq(&dump(input));
    }
}

fn inst(text: &str) -> Result<Instruction, String> {
    let df = parse(text).map_err(|e| e.to_string())?;
    parse_instruction(&df.nodes[0], '\\').map_err(|e| e.to_string())
}

#[test]
fn instructions() {
    assert_eq!(
        inst("CMD [\"a\", \"b\"]").unwrap(),
        Instruction::Cmd(CmdLine::Exec(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        inst("CMD [\"a\", b]").unwrap(),
        Instruction::Cmd(CmdLine::Shell("[\"a\", b]".into()))
    );
    // Regression: a bare CMD became `/bin/sh -c ""`; docker sets an empty command.
    assert_eq!(
        inst("CMD").unwrap(),
        Instruction::Cmd(CmdLine::Exec(vec![]))
    );
    assert_eq!(
        inst("ENTRYPOINT  ").unwrap(),
        Instruction::Entrypoint(CmdLine::Exec(vec![]))
    );
    assert_eq!(
        inst("ENV A 1 2").unwrap(),
        Instruction::Env(vec![("A".into(), "1 2".into())])
    );
    assert_eq!(
        inst("ENV A=1 B=\"x y\"").unwrap(),
        Instruction::Env(vec![
            ("A".into(), "1".into()),
            ("B".into(), "\"x y\"".into())
        ])
    );
    let errors = [
        (
            "RUNN x",
            "dockerfile parse error on line 1: unknown instruction: RUNN (did you mean run?)",
        ),
        (
            "form x",
            "dockerfile parse error on line 1: unknown instruction: form (did you mean from?)",
        ),
        (
            "BOGUSWORD x",
            "dockerfile parse error on line 1: unknown instruction: BOGUSWORD",
        ),
        (
            "FROM a b",
            "dockerfile parse error on line 1: FROM requires either one or three arguments",
        ),
        (
            "FROM a AS 1x",
            "dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
        ),
        (
            "COPY a",
            "dockerfile parse error on line 1: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "RUN --mount=type=cache,target=/x echo",
            "dockerfile parse error on line 1: the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
        ),
        (
            "RUN --security=insecure x",
            "dockerfile parse error on line 1: the --security option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
        ),
        (
            "COPY --exclude=*.md . /a",
            "dockerfile parse error on line 1: the --exclude option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
        ),
        (
            "COPY --parents a/b /c",
            "dockerfile parse error on line 1: the --parents option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
        ),
        (
            "ADD --checksum=sha256:00 http://x/a /a",
            "dockerfile parse error on line 1: the --checksum option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
        ),
        (
            "RUN --network=bridge2 x",
            "dockerfile parse error on line 1: unsupported network mode: bridge2",
        ),
        (
            "RUN --bogus x",
            "dockerfile parse error on line 1: unknown flag: bogus",
        ),
        (
            "COPY --chown a b",
            "dockerfile parse error on line 1: missing a value on flag: chown",
        ),
        (
            "COPY --from=a --from=b a b",
            "dockerfile parse error on line 1: duplicate flag specified: from",
        ),
        (
            "ENV",
            "dockerfile parse error on line 1: ENV requires at least one argument",
        ),
        (
            "ENV A",
            "dockerfile parse error on line 1: ENV must have two arguments",
        ),
        (
            "ENV A=1 B",
            "dockerfile parse error on line 1: Syntax error - can't find = in \"B\". Must be of the form: name=value",
        ),
        (
            "SHELL []",
            "dockerfile parse error on line 1: SHELL requires at least one argument",
        ),
        (
            "SHELL sh -c",
            "dockerfile parse error on line 1: SHELL requires the arguments to be in JSON form",
        ),
        (
            "ONBUILD ONBUILD RUN x",
            "dockerfile parse error on line 1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "ONBUILD FROM x",
            "dockerfile parse error on line 1: FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "ONBUILD RUNX x",
            "dockerfile parse error on line 1: unknown instruction: RUNX (did you mean run?)",
        ),
        (
            "HEALTHCHECK FOO x",
            "dockerfile parse error on line 1: Unknown type \"FOO\" in HEALTHCHECK (try CMD)",
        ),
        (
            "HEALTHCHECK --interval=abc CMD x",
            "dockerfile parse error on line 1: time: invalid duration \"abc\"",
        ),
        (
            "HEALTHCHECK --interval=500us CMD x",
            "dockerfile parse error on line 1: Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --retries=-2 CMD x",
            "dockerfile parse error on line 1: --retries cannot be negative (-2)",
        ),
        (
            "WORKDIR",
            "dockerfile parse error on line 1: WORKDIR requires exactly one argument",
        ),
    ];
    for (text, want) in errors {
        assert_eq!(inst(text).unwrap_err(), want, "{text}");
    }
    let Instruction::Healthcheck(h) =
        inst("HEALTHCHECK --interval=5s --timeout=1m30s --retries=3 CMD curl -f x").unwrap()
    else {
        panic!("not a healthcheck")
    };
    assert_eq!(h.test.unwrap(), vec!["CMD-SHELL", "curl -f x"]);
    assert_eq!(h.interval, Some(5_000_000_000));
    assert_eq!(h.timeout, Some(90_000_000_000));
    assert_eq!(h.retries, Some(3));
    assert!(matches!(
        inst("HEALTHCHECK NONE").unwrap(),
        Instruction::Healthcheck(crate::instruction::Health { test: Some(t), .. }) if t == vec!["NONE"]
    ));
}

#[test]
fn error_excerpt_points_at_the_column() {
    let e = parse("FROM x\n  RUNN a\n")
        .and_then(|df| parse_instruction(&df.nodes[1], '\\'))
        .unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.column, 3);
    assert_eq!(e.excerpt(), "   2 | RUNN a\n     |   ^");
}

/// Regression: ONBUILD triggers were stored with the keyword upper-cased; docker keeps
/// the line as written after `ONBUILD`.
#[test]
fn onbuild_keeps_the_trigger_as_written() {
    assert_eq!(
        inst("onbuild   run echo  \"hi\"").unwrap(),
        Instruction::Onbuild("run echo  \"hi\"".into())
    );
    assert_eq!(
        inst("ONBUILD COPY --chown=1:2 a \\\n  /b").unwrap(),
        Instruction::Onbuild("COPY --chown=1:2 a   /b".into())
    );
}

/// Regression: healthcheck history lines printed 90s as "90s" and 1.5s as "1500ms";
/// Go's Duration.String() and `%q` of the retries (a rune) are what docker shows.
#[test]
fn healthcheck_history_text_is_gos() {
    use crate::instruction::go_duration;
    for (ns, want) in [
        (0, "0s"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (5_400_500_000_000, "1h30m0.5s"),
        (500_000_000, "500ms"),
        (1_500_000, "1.5ms"),
        (2_000, "2µs"),
        (7, "7ns"),
        (-2_000_000_000, "-2s"),
    ] {
        assert_eq!(go_duration(ns), want, "{ns}");
    }
    let Instruction::Healthcheck(h) =
        inst("HEALTHCHECK --interval=90s --start-period=1.5s --retries=10 CMD [\"true\"]").unwrap()
    else {
        panic!("not a healthcheck")
    };
    assert_eq!(
        h.history_text(),
        "&{[\"CMD\" \"true\"] \"1m30s\" \"0s\" \"1.5s\" \"0s\" '\\n'}"
    );
    let Instruction::Healthcheck(h) = inst("HEALTHCHECK NONE").unwrap() else {
        panic!("not a healthcheck")
    };
    assert_eq!(
        h.history_text(),
        "&{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}"
    );
}

#[test]
fn stop_signals_are_checked_like_dockers() {
    use crate::instruction::check_signal;
    for ok in ["SIGTERM", "term", "9", "SIGRTMIN+3", "RTMAX-1", "sigusr1"] {
        assert_eq!(check_signal(ok), Ok(()), "{ok}");
    }
    for bad in ["SIGNOPE", "0", "", "RTMIN+16", "SIG", "RTMIN+0"] {
        assert_eq!(
            check_signal(bad),
            Err(format!("Invalid signal: {bad}")),
            "{bad}"
        );
    }
}

/// Hostile inputs, each a known way to break a hand-written parser: none panics,
/// overflows the stack or takes long (the fuzz target runs the same entry point).
#[test]
fn hostile_inputs_never_panic() {
    let deep_subst = format!(
        "FROM x\nENV A={}b{}\nLABEL l=\"{}\"\n",
        "${B:-".repeat(50_000),
        "}".repeat(50_000),
        "${C:+".repeat(50_000)
    );
    let deep_json = format!("FROM x\nCMD {}\n", "[".repeat(100_000));
    let huge_line = format!("FROM x\nRUN echo {}\n", "a".repeat(2 << 20));
    let many_continuations = format!("FROM x\nRUN a{}\n", " \\\n".repeat(100_000));
    let many_heredocs = format!(
        "FROM x\nRUN {}\n{}",
        "<<E ".repeat(20_000),
        "E\n".repeat(20_000)
    );
    let cases: Vec<Vec<u8>> = vec![
        deep_subst.into_bytes(),
        deep_json.into_bytes(),
        huge_line.into_bytes(),
        many_continuations.into_bytes(),
        many_heredocs.into_bytes(),
        b"FROM x\nRUN <<EOF\nnever closed\n".to_vec(),
        b"FROM x\nCOPY <<\"A\" <<-B /d\n".to_vec(),
        b"FROM x\nENV A=\"unterminated\nLABEL b='open\n".to_vec(),
        b"FROM x\nCOPY [\"a\", \n".to_vec(),
        b"FROM \xff\xfe\nRUN \xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28\n".to_vec(),
        b"\xef\xbb\xbf# escape=`\nFROM x\nRUN a `".to_vec(),
        b"# escape=\\\n# escape=`\nFROM x\n".to_vec(),
        b"ONBUILD ONBUILD ONBUILD\nONBUILD\nHEALTHCHECK\nHEALTHCHECK CMD\n".to_vec(),
        b"FROM x\nRUN --=x --\"a b\"=1 --\nCOPY --from= a b\n".to_vec(),
        b"FROM x\nEXPOSE 70000 1-0 a/b\nSTOPSIGNAL\nHEALTHCHECK --interval=9999999999999h CMD x\n"
            .to_vec(),
        vec![b'\\'; 100_000],
        vec![0u8; 10_000],
    ];
    for c in &cases {
        crate::fuzz::exercise(c);
    }
    // The unterminated heredoc and deep nesting are errors with a line, not panics.
    assert_eq!(
        parse("FROM x\nRUN <<EOF\nnever closed\n")
            .unwrap_err()
            .to_string(),
        "dockerfile parse error on line 2: unterminated heredoc EOF"
    );
}

/// Parser directives count only at the very top: after a blank line, a comment or an
/// instruction they are comments (docker's rule); spaces around `=` are allowed.
#[test]
fn directives_only_at_the_top() {
    let esc = |t: &str| parse(t).unwrap().directives.escape;
    assert_eq!(esc("#escape = `\nFROM x\n"), '`');
    assert_eq!(esc("# ESCAPE=`\nFROM x\n"), '`');
    assert_eq!(esc("\n# escape=`\nFROM x\n"), '\\');
    assert_eq!(esc("# a comment\n# escape=`\nFROM x\n"), '\\');
    assert_eq!(esc("# unknown=1\n# escape=`\nFROM x\n"), '\\');
    assert_eq!(esc("FROM x\n# escape=`\n"), '\\');
    assert_eq!(
        parse("# escape=`\n# escape=\\\nFROM x\n")
            .unwrap_err()
            .to_string(),
        "dockerfile parse error on line 2: only one escape parser directive can be used"
    );
    assert_eq!(
        parse("# escape=x\nFROM x\n").unwrap_err().to_string(),
        "dockerfile parse error on line 1: invalid escape token 'x' does not match ^[\\\\`]$"
    );
}
