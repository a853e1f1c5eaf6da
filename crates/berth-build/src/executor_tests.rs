//! The executor over the fake backend: output lines, configs, cache behaviour,
//! stages, failures and hostile contexts.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use crate::backend::Cancel;
use crate::cache::Cache;
use crate::error::BuildError;
use crate::executor::{BuildOptions, build};
use crate::fake::{Fake, Out};

pub(crate) struct Env {
    pub(crate) fake: Fake,
    ctx: tempfile::TempDir,
    work: tempfile::TempDir,
    cache_dir: tempfile::TempDir,
}

impl Env {
    pub(crate) fn new() -> Env {
        Env {
            fake: Fake::new(),
            ctx: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
            cache_dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, rel: &str, body: &str) {
        let p = self.ctx.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    pub(crate) fn opts(&self, dockerfile: &str) -> BuildOptions {
        BuildOptions {
            dockerfile: dockerfile.into(),
            dockerfile_name: "Dockerfile".into(),
            context: self.ctx.path().to_path_buf(),
            work_dir: self.work.path().to_path_buf(),
            ..Default::default()
        }
    }

    pub(crate) fn run(&self, o: &BuildOptions) -> (Result<berth_stdx::Digest, BuildError>, String) {
        let cache = Cache::open(self.cache_dir.path()).unwrap();
        let mut out = Out::default();
        let r = build(o, &self.fake, Some(&cache), &mut out, &Cancel::default());
        (r, out.0)
    }
}

/// Output with random container ids and image ids replaced.
pub(crate) fn scrub(s: &str) -> String {
    s.lines()
        .map(|l| {
            for p in [
                " ---> Running in ",
                " ---> Removed intermediate container ",
                "Successfully built ",
            ] {
                if l.starts_with(p) {
                    return format!("{p}<id>");
                }
            }
            if let Some(rest) = l.strip_prefix(" ---> ")
                && rest.len() == 12
                && rest.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return " ---> <id>".to_string();
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_multi_instruction_build() {
    let e = Env::new();
    e.file("app/main.sh", "echo hi\n");
    let df = "FROM busybox\nENV A=1 B=\"two words\"\nWORKDIR /app\nCOPY app/ ./\nRUN echo $A\nEXPOSE 80 53/udp 8000-8001\nLABEL v=$A\nUSER www\nCMD [\"sh\", \"main.sh\"]\n";
    let mut o = e.opts(df);
    o.tags = vec!["x".into()];
    let (r, out) = e.run(&o);
    let id = r.unwrap();
    expect_test::expect![[r#"
        Step 1/9 : FROM busybox
         ---> <id>
        Step 2/9 : ENV A=1 B="two words"
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Step 3/9 : WORKDIR /app
         ---> <id>
        Step 4/9 : COPY app/ ./
         ---> <id>
        Step 5/9 : RUN echo $A
         ---> Running in <id>
        ran: /bin/sh -c echo $A
         ---> Removed intermediate container <id>
         ---> <id>
        Step 6/9 : EXPOSE 80 53/udp 8000-8001
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Step 7/9 : LABEL v=$A
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Step 8/9 : USER www
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Step 9/9 : CMD ["sh", "main.sh"]
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Successfully built <id>
        Successfully tagged x:latest"#]]
    .assert_eq(&scrub(&out));
    let c = e.fake.config(&id);
    assert_eq!(c.env.unwrap(), vec!["PATH=/bin", "A=1", "B=two words"]);
    assert_eq!(c.working_dir, "/app");
    assert_eq!(c.user, "www");
    assert_eq!(c.cmd.unwrap(), vec!["sh", "main.sh"]);
    assert_eq!(c.labels.unwrap()["v"], "1");
    let ports: Vec<String> = c.exposed_ports.unwrap().keys().cloned().collect();
    assert_eq!(ports, vec!["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
    let dir = e.fake.dir(&id);
    assert_eq!(
        std::fs::read_to_string(dir.join("app/main.sh")).unwrap(),
        "echo hi\n"
    );
    let run = e.fake.st.lock().unwrap().runs[0].clone();
    assert_eq!(run.workdir, "/app");
    assert!(run.env.contains(&"A=1".to_string()));
    let h = e.fake.history(&id);
    assert_eq!(h[0], "/bin/sh -c #(nop)  ENV A=1 B=two words");
    assert_eq!(h[1], "/bin/sh -c #(nop) WORKDIR /app");
    assert!(h[2].starts_with("/bin/sh -c #(nop) COPY dir:"), "{}", h[2]);
    assert_eq!(h[3], "/bin/sh -c echo $A");
    assert_eq!(h[7], "/bin/sh -c #(nop)  CMD [\"sh\" \"main.sh\"]");
    assert_eq!(e.fake.st.lock().unwrap().names["x:latest"], id);
}

#[test]
fn cache_hits_and_exact_invalidation() {
    let e = Env::new();
    e.file("a", "1");
    e.file("b", "1");
    let df = "FROM busybox\nCOPY a /a\nRUN cat /a\nCOPY b /b\nRUN cat /b\n";
    let (first, _) = e.run(&e.opts(df));
    let first = first.unwrap();
    let (again, out) = e.run(&e.opts(df));
    assert_eq!(again.unwrap(), first);
    assert_eq!(out.matches(" ---> Using cache").count(), 4, "{out}");
    assert_eq!(e.fake.st.lock().unwrap().runs.len(), 2);
    // Changing b: the first two steps still hit, the last two do not.
    e.file("b", "2");
    let (third, out) = e.run(&e.opts(df));
    assert_ne!(third.unwrap(), first);
    assert_eq!(out.matches(" ---> Using cache").count(), 2, "{out}");
    assert_eq!(e.fake.st.lock().unwrap().runs.len(), 3);
    // A new mtime alone changes nothing.
    let f = std::fs::File::options()
        .append(true)
        .open(e.ctx.path().join("a"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(100))
        .unwrap();
    let (_, out) = e.run(&e.opts(df));
    assert_eq!(out.matches(" ---> Using cache").count(), 4, "{out}");
    // A mode change invalidates.
    std::fs::set_permissions(
        e.ctx.path().join("a"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (_, out) = e.run(&e.opts(df));
    assert_eq!(out.matches(" ---> Using cache").count(), 0, "{out}");
    // --no-cache uses nothing.
    let mut o = e.opts(df);
    o.no_cache = true;
    let (_, out) = e.run(&o);
    assert!(!out.contains("Using cache"));
}

#[test]
fn multi_stage_copy_from_target_and_skipped_stages() {
    let e = Env::new();
    let df = "FROM busybox AS build\nRUN make\nFROM busybox AS unused\nRUN exit 9\nFROM busybox AS final\nCOPY --from=build /ran /out/ran\nFROM final AS after\nRUN later\n";
    let mut o = e.opts(df);
    o.target = Some("final".into());
    let (r, out) = e.run(&o);
    let id = r.unwrap();
    assert!(out.contains("Step 1/4 : FROM busybox AS build"), "{out}");
    assert!(!out.contains("exit 9"), "{out}");
    assert!(!out.contains("later"), "{out}");
    assert_eq!(
        std::fs::read_to_string(e.fake.dir(&id).join("out/ran")).unwrap(),
        "/bin/sh -c make\n"
    );
    let mut o = e.opts(df);
    o.target = Some("nope".into());
    assert_eq!(
        e.run(&o).0.unwrap_err().to_string(),
        "failed to reach build target nope in Dockerfile"
    );
    // A stage built on a previous one, by name.
    let (r, _) = e.run(&e.opts(df.replace("RUN exit 9\n", "").as_str()));
    let id = r.unwrap();
    assert!(e.fake.dir(&id).join("out/ran").exists());
}

#[test]
fn failing_run_reports_command_and_code() {
    let e = Env::new();
    let before = e.fake.image_count();
    let (r, out) = e.run(&e.opts("FROM busybox\nRUN exit 3\n"));
    let err = r.unwrap_err();
    assert_eq!(
        err.to_string(),
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    );
    assert_eq!(err.code(), Some(3));
    assert!(!out.contains("Successfully built"));
    assert_eq!(e.fake.image_count(), before);
    assert_eq!(e.fake.st.lock().unwrap().live_containers, 0);
}

#[test]
fn copy_never_reads_outside_the_context() {
    let e = Env::new();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("secret"), "host data").unwrap();
    std::os::unix::fs::symlink(secret.path(), e.ctx.path().join("esc")).unwrap();
    std::os::unix::fs::symlink(secret.path().join("secret"), e.ctx.path().join("f")).unwrap();
    for src in ["esc/secret", "f", "../secret", "/esc/secret", "/../secret"] {
        let (r, _) = e.run(&e.opts(&format!("FROM busybox\nCOPY {src} /x\n")));
        let msg = r.unwrap_err().to_string();
        // A path climbing out is refused as docker does; links resolve inside.
        let want = if src.contains("..") {
            "COPY failed: forbidden path outside the build context: ../secret ()"
        } else {
            "file not found in build context or excluded by .dockerignore"
        };
        assert!(msg.contains(want), "{src}: {msg}");
    }
    // A directory holding the symlink copies the link, not its target.
    let (r, _) = e.run(&e.opts("FROM busybox\nCOPY . /ctx/\n"));
    let dir = e.fake.dir(&r.unwrap());
    let md = std::fs::symlink_metadata(dir.join("ctx/f")).unwrap();
    assert!(md.file_type().is_symlink());
}

#[test]
fn args_build_args_and_history() {
    let e = Env::new();
    let df = "ARG BASE=busybox\nFROM $BASE\nARG V=def\nARG BASE\nRUN echo $V\nENV E=${V:-x}-${NOPE:-none}\n";
    let mut o = e.opts(df);
    o.build_args = BTreeMap::from([
        ("V".to_string(), Some("1".to_string())),
        ("UNUSED".to_string(), Some("x".to_string())),
        ("HTTP_PROXY".to_string(), Some("http://p".to_string())),
    ]);
    let (r, out) = e.run(&o);
    let id = r.unwrap();
    assert!(out.contains("Step 1/6 : ARG BASE=busybox"), "{out}");
    assert!(out.contains("[Warning] One or more build-args [UNUSED] were not consumed"));
    let h = e.fake.history(&id);
    assert_eq!(h[2], "|2 BASE=busybox V=1 /bin/sh -c echo $V");
    let run = e.fake.st.lock().unwrap().runs[0].clone();
    assert!(run.env.contains(&"HTTP_PROXY=http://p".to_string()));
    let c = e.fake.config(&id);
    assert!(c.env.unwrap().contains(&"E=1-none".to_string()));
    // ARGs are not kept in the image.
    assert!(
        !e.fake
            .config(&id)
            .env
            .unwrap()
            .iter()
            .any(|v| v.starts_with("V="))
    );
}

#[test]
fn onbuild_triggers_run_in_the_child() {
    let e = Env::new();
    let (r, _) = e.run(&e.opts("FROM busybox\nONBUILD RUN echo trig\n"));
    let parent = r.unwrap();
    assert_eq!(
        e.fake.config(&parent).on_build.unwrap(),
        vec!["RUN echo trig"]
    );
    let (r, out) = e.run(&e.opts(&format!("FROM {parent}\nCMD [\"x\"]\n")));
    let child = r.unwrap();
    assert!(out.contains("# Executing 1 build trigger\n"), "{out}");
    assert!(out.contains("ran: /bin/sh -c echo trig"), "{out}");
    assert_eq!(e.fake.config(&child).on_build, None);
}

#[test]
fn heredocs_entrypoint_shell_and_add_archives() {
    let e = Env::new();
    // A gzip'd tar to ADD.
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(3);
    tb.append_data(&mut h, "inner/x.txt", &b"abc"[..]).unwrap();
    let tar = tb.into_inner().unwrap();
    let mut gz = flate2_like_gzip(&tar);
    std::fs::write(e.ctx.path().join("a.tar.gz"), &mut gz).unwrap();
    let df = "FROM busybox\nENV NAME=world\nCOPY <<EOF /greet\nhello $NAME\nEOF\nCOPY <<'RAW' /raw\n$NAME\nRAW\nRUN <<EOT\necho one\nEOT\nSHELL [\"/bin/bash\", \"-c\"]\nENTRYPOINT echo ep\nADD a.tar.gz /x/\nCOPY --chown=www --chmod=700 <<EOF /owned\nx\nEOF\n";
    let (r, _) = e.run(&e.opts(df));
    let id = r.unwrap();
    let dir = e.fake.dir(&id);
    assert_eq!(
        std::fs::read_to_string(dir.join("greet")).unwrap(),
        "hello world\n"
    );
    assert_eq!(std::fs::read_to_string(dir.join("raw")).unwrap(), "$NAME\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("x/inner/x.txt")).unwrap(),
        "abc"
    );
    let md = std::fs::metadata(dir.join("owned")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o700);
    let c = e.fake.config(&id);
    assert_eq!(c.entrypoint.unwrap(), vec!["/bin/bash", "-c", "echo ep"]);
    // An inherited CMD does not survive a new ENTRYPOINT.
    assert_eq!(c.cmd, None);
    let runs = e.fake.st.lock().unwrap().runs.clone();
    assert_eq!(runs[0].cmd, vec!["/bin/sh", "-c", "echo one\n"]);
}

/// A stored (uncompressed) gzip member, enough for the ADD test without a compressor.
fn flate2_like_gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for chunk in data.chunks(65535) {
        let last = chunk.as_ptr() as usize + chunk.len() == data.as_ptr() as usize + data.len();
        out.push(u8::from(last));
        out.extend((chunk.len() as u16).to_le_bytes());
        out.extend((!(chunk.len() as u16)).to_le_bytes());
        out.extend(chunk);
    }
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for b in data {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn parse_errors_and_missing_images() {
    let e = Env::new();
    let cases = [
        (
            "FROM busybox\nRUNN echo\n",
            "dockerfile parse error on line 2: unknown instruction: RUNN (did you mean run?)",
        ),
        (
            "FROM busybox\nCOPY --frm=x a b\n",
            "dockerfile parse error on line 2: unknown flag: frm",
        ),
        (
            "FROM busybox\nRUN <<EOF\necho\n",
            "dockerfile parse error on line 2: unterminated heredoc EOF",
        ),
        ("", "the Dockerfile (Dockerfile) cannot be empty"),
        (
            "RUN x\n",
            "dockerfile parse error on line 1: no build stage in current context",
        ),
        (
            "FROM nothere\n",
            "pull access denied for nothere, repository does not exist or may require 'docker login'",
        ),
        (
            "FROM busybox\nENV X=\"unterminated\n",
            // docker's text ("failed to process ..."), with the line.
            "dockerfile parse error on line 2: failed to process \"\\\"unterminated\": unexpected end of statement while looking for matching double-quote",
        ),
        (
            "FROM busybox\nCOPY missing /x\n",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist",
        ),
        (
            "FROM busybox\nCOPY a b /x\n",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat a: file does not exist",
        ),
    ];
    for (df, want) in cases {
        let (r, _) = e.run(&e.opts(df));
        assert_eq!(r.unwrap_err().to_string(), want, "{df}");
    }
}

#[test]
fn workdir_is_created_and_relative() {
    let e = Env::new();
    let (r, _) = e.run(&e.opts("FROM busybox\nWORKDIR a\nWORKDIR b/../c\nWORKDIR /bin\n"));
    let id = r.unwrap();
    let dir = e.fake.dir(&id);
    assert!(dir.join("a/c").is_dir());
    assert_eq!(e.fake.config(&id).working_dir, "/bin");
    // COPY into a symlinked directory of the image follows it inside the image.
    e.file("tool", "t");
    let (r, _) = e.run(&e.opts("FROM busybox\nCOPY tool /usr/bin/\n"));
    let dir = e.fake.dir(&r.unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("bin/tool")).unwrap(), "t");
}

#[test]
fn labels_from_options_are_a_last_step() {
    let e = Env::new();
    let mut o = e.opts("FROM busybox\n");
    o.labels = BTreeMap::from([("l".to_string(), "1".to_string())]);
    let (r, out) = e.run(&o);
    // docker's `%q='%s'` (the value is never expanded).
    assert!(out.contains("Step 2/2 : LABEL \"l\"='1'"), "{out}");
    assert_eq!(e.fake.config(&r.unwrap()).labels.unwrap()["l"], "1");
}

/// Regression: `FROM $VAR` naming a stage did not make that stage needed ("stage 0
/// was not built"); a `--from` with a variable needs every stage before it.
#[test]
fn needed_stages_expand_from_with_the_meta_args() {
    use crate::executor::{needed_stages, plan_dockerfile};
    let df = "ARG B=one\nFROM busybox AS one\nFROM busybox AS two\nFROM $B\nFROM busybox\nCOPY --from=$X /a /a\n";
    let (_, stages, esc) = plan_dockerfile(df, "Dockerfile").unwrap();
    let mut meta = BTreeMap::new();
    meta.insert("B".to_string(), Some("one".to_string()));
    let got: Vec<usize> = needed_stages(&stages, 2, &meta, esc).into_iter().collect();
    assert_eq!(got, [0, 2]);
    meta.insert("B".to_string(), Some("two".to_string()));
    let got: Vec<usize> = needed_stages(&stages, 2, &meta, esc).into_iter().collect();
    assert_eq!(got, [1, 2]);
    let got: Vec<usize> = needed_stages(&stages, 3, &meta, esc).into_iter().collect();
    assert_eq!(got, [0, 1, 2, 3]);
}
