//! Multi-stage builds run their independent stages at the same time (as BuildKit
//! does) while `docker build` (the classic builder, `DOCKER_BUILDKIT=0`) and `berth
//! build` print exactly the sequential builder's lines; `--target` still skips the
//! stages it does not need.

mod common;
#[path = "build_support/mod.rs"]
mod nb;
#[path = "notes_support/mod.rs"]
mod notes_support;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use nb::{Env, s};
use std::time::Duration;

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The build output with ids replaced and the context upload line dropped (its size
/// differs between the CLIs).
fn scrub(out: &str) -> String {
    out.lines()
        .filter(|l| !l.starts_with("Sending build context"))
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
            match l.strip_prefix(" ---> ") {
                Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    " ---> <id>".to_string()
                }
                _ => l.to_string(),
            }
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stage `a` serves one line on 127.0.0.1:$PORT and stage `b` fetches it: both can
/// only finish when they run at the same time (each gives up after a while, so a
/// builder running them one after the other fails instead of hanging). The unused
/// `broken` stage is skipped; the last stage copies from both. No step is the same
/// in both stages (the second would wait for the first's and hit the cache).
const RENDEZVOUS: &str = r#"FROM busybox AS a
ARG PORT
RUN timeout 60 nc -l -p $PORT -e echo hello-from-a && echo served > /a.txt && echo "a served"
FROM busybox AS b
ARG PORT=0
RUN i=0; until got=$(nc 127.0.0.1 $PORT </dev/null 2>/dev/null) && [ -n "$got" ]; do i=$((i+1)); [ $i -lt 600 ] || exit 9; sleep 0.1; done; echo "$got" > /b.txt; echo "b got $got"
FROM busybox AS broken
RUN exit 7
FROM busybox
COPY --from=a /a.txt /a.txt
COPY --from=b /b.txt /b.txt
CMD ["cat", "/a.txt", "/b.txt"]
"#;

fn rendezvous_output(port: u16) -> String {
    format!(
        r#"Step 1/10 : FROM busybox AS a
 ---> <id>
Step 2/10 : ARG PORT
 ---> Running in <id>
 ---> Removed intermediate container <id>
 ---> <id>
Step 3/10 : RUN timeout 60 nc -l -p $PORT -e echo hello-from-a && echo served > /a.txt && echo "a served"
 ---> Running in <id>
a served
 ---> Removed intermediate container <id>
 ---> <id>
Step 4/10 : FROM busybox AS b
 ---> <id>
Step 5/10 : ARG PORT=0
 ---> Running in <id>
 ---> Removed intermediate container <id>
 ---> <id>
Step 6/10 : RUN i=0; until got=$(nc 127.0.0.1 $PORT </dev/null 2>/dev/null) && [ -n "$got" ]; do i=$((i+1)); [ $i -lt 600 ] || exit 9; sleep 0.1; done; echo "$got" > /b.txt; echo "b got $got"
 ---> Running in <id>
b got hello-from-a
 ---> Removed intermediate container <id>
 ---> <id>
Step 7/10 : FROM busybox
 ---> <id>
Step 8/10 : COPY --from=a /a.txt /a.txt
 ---> <id>
Step 9/10 : COPY --from=b /b.txt /b.txt
 ---> <id>
Step 10/10 : CMD ["cat", "/a.txt", "/b.txt"]
 ---> Running in <id>
 ---> Removed intermediate container <id>
 ---> <id>
Successfully built <id>
Successfully tagged stages-{port}:latest"#
    )
}

#[test]
fn independent_stages_run_at_the_same_time_with_sequential_output() {
    let e = Env::new();
    let ctx = e.ctx("rendezvous", &[("Dockerfile", RENDEZVOUS)]);
    // A fresh port per build: it is a build arg, so no RUN comes from the cache.
    let port = free_port();
    let tag = format!("stages-{port}");
    let arg = format!("PORT={port}");
    let out = e
        .docker(&[
            "build",
            "--network",
            "host",
            "--build-arg",
            &arg,
            "-t",
            &tag,
            s(&ctx),
        ])
        .ok()
        .out();
    assert_eq!(scrub(&out), rendezvous_output(port), "{out}");
    assert_eq!(
        e.docker(&["run", "--rm", "--network=none", &tag])
            .ok()
            .out(),
        "served\nhello-from-a\n"
    );
    e.assert_clean();

    // The berth CLI, plain progress: the same lines (`--no-cache`: the ARG steps of
    // the first build would be cache hits).
    let port = free_port();
    let tag = format!("stages-{port}");
    let arg = format!("PORT={port}");
    let out = e
        .berth(&[
            "build",
            "--progress=plain",
            "--no-cache",
            "--network=host",
            "--build-arg",
            &arg,
            "-t",
            &tag,
            s(&ctx),
        ])
        .ok()
        .out();
    assert_eq!(scrub(&out), rendezvous_output(port), "{out}");
    assert_eq!(
        e.docker(&["run", "--rm", "--network=none", &tag])
            .ok()
            .out(),
        "served\nhello-from-a\n"
    );
    e.assert_clean();
}

#[test]
fn target_skips_unneeded_stages_and_waits_for_dependencies() {
    let e = Env::new();
    let df = "FROM busybox AS base\nRUN echo base > /base.txt\nFROM busybox AS broken\nRUN exit 7\nFROM base AS side\nRUN cat /base.txt && echo side > /side.txt\nFROM busybox AS want\nCOPY --from=base /base.txt /base.txt\nCOPY --from=side /side.txt /side.txt\nCMD [\"cat\", \"/base.txt\", \"/side.txt\"]\nFROM want AS later\nRUN exit 8\n";
    let ctx = e.ctx("target", &[("Dockerfile", df)]);
    let out = e
        .docker(&["build", "--target", "want", "-t", "want", s(&ctx)])
        .ok()
        .out();
    expect_test::expect![[r#"
        Step 1/8 : FROM busybox AS base
         ---> <id>
        Step 2/8 : RUN echo base > /base.txt
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Step 3/8 : FROM base AS side
         ---> <id>
        Step 4/8 : RUN cat /base.txt && echo side > /side.txt
         ---> Running in <id>
        base
         ---> Removed intermediate container <id>
         ---> <id>
        Step 5/8 : FROM busybox AS want
         ---> <id>
        Step 6/8 : COPY --from=base /base.txt /base.txt
         ---> <id>
        Step 7/8 : COPY --from=side /side.txt /side.txt
         ---> <id>
        Step 8/8 : CMD ["cat", "/base.txt", "/side.txt"]
         ---> Running in <id>
         ---> Removed intermediate container <id>
         ---> <id>
        Successfully built <id>
        Successfully tagged want:latest"#]]
    .assert_eq(&scrub(&out));
    assert_eq!(
        e.docker(&["run", "--rm", "--network=none", "want"])
            .ok()
            .out(),
        "base\nside\n"
    );
    // A failing stage stops the build with its command and code, the stages after it
    // are never shown, and nothing is left behind.
    let f = e.docker(&["build", "--target", "later", s(&ctx)]).fails();
    assert_eq!(f.code, Some(8), "{}", f.err());
    assert!(
        f.err()
            .contains("The command '/bin/sh -c exit 8' returned a non-zero code: 8"),
        "{}",
        f.err()
    );
    assert!(!f.out().contains("exit 7"), "{}", f.out());
    e.assert_clean();
}

/// Two stages FROM the same image that is only in a registry: it is pulled once
/// (the second stage waits for the first one's pull), and both stages build on it.
#[test]
fn stages_from_the_same_missing_image_pull_it_once() {
    let e = Env::new();
    let reg = TestRegistry::start(env!("CARGO_BIN_EXE_berth"), &[]);
    let base = format!("{}/stages/busybox:1", reg.host);
    e.docker(&["tag", "busybox", &base]).ok();
    e.docker(&["push", &base]).ok();
    e.docker(&["rmi", &base]).ok();
    let since = chrono::Utc::now().timestamp().to_string();
    let df = format!(
        "FROM {base} AS one\nRUN echo one > /one\nFROM {base} AS two\nRUN echo two > /two\nFROM busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\nCMD [\"cat\", \"/one\", \"/two\"]\n"
    );
    let ctx = e.ctx("pull-once", &[("Dockerfile", &df)]);
    e.docker(&["build", "-t", "pulled-once", s(&ctx)]).ok();
    assert_eq!(
        e.docker(&["run", "--rm", "--network=none", "pulled-once"])
            .ok()
            .out(),
        "one\ntwo\n"
    );
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let pulls = e
        .docker(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=image",
            "--filter",
            "event=pull",
            "--format",
            "{{.Actor.ID}}",
        ])
        .ok()
        .lines();
    assert_eq!(pulls, vec![base.clone()], "{pulls:?}");
    e.assert_clean();
}

/// A client that goes away while two stages run cancels both: their containers are
/// killed and removed, and the build's scratch dir goes.
#[test]
fn a_client_that_goes_away_cancels_every_stage() {
    let e = Env::new();
    let ctx = e.ctx("cancel-stages", &[("Dockerfile", "FROM busybox AS a\nRUN echo started-a && sleep 60\nFROM busybox AS b\nRUN echo started-b && sleep 60\nFROM busybox\nCOPY --from=a /bin/sh /a\nCOPY --from=b /bin/sh /b\n")]);
    let client = e.docker_client(&[s(&ctx)], "\nstarted-a\n");
    // Stage b's output is held back behind a's, but its container runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while e.docker(&["ps", "-q"]).ok().lines().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "stage b never ran while stage a ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!client.seen.contains("started-b"), "{}", client.seen);
    client.kill();
    e.wait_clean("docker killed while two stages ran");
    e.assert_clean();
}
