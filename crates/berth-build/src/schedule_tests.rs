//! The stage scheduler over the fake backend: independent stages really overlap,
//! the output is the sequential build's, dependencies wait, failures and a client
//! that goes away cancel what they should.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::backend::{Cancel, Progress};
use crate::error::BuildError;
use crate::executor::build;
use crate::executor_tests::{Env, scrub};

/// Long enough never to be reached when the stages run together; a sequential
/// scheduler fails the test after it instead of hanging.
const GUARD: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds or the guard runs out.
fn wait_until(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + GUARD;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: &str) {
        self.0.lock().unwrap().push(s.to_string());
    }
    fn has(&self, s: &str) -> bool {
        self.0.lock().unwrap().iter().any(|l| l == s)
    }
    fn index(&self, s: &str) -> usize {
        let v = self.0.lock().unwrap();
        v.iter()
            .position(|l| l == s)
            .unwrap_or_else(|| panic!("{s:?} not in {v:?}"))
    }
}

/// A RUN that blocks until the build cancels it (then fails as cancelled).
fn block_until_cancelled(cancel: &Cancel) -> crate::error::Result<()> {
    if wait_until(|| cancel.is_cancelled()) {
        Err(BuildError::Cancelled)
    } else {
        Err(BuildError::Internal("this RUN was never cancelled".into()))
    }
}

#[test]
fn independent_stages_overlap_and_print_in_sequential_order() {
    let e = Env::new();
    let log = Log::default();
    let l = log.clone();
    *e.fake.run_hook.lock().unwrap() = Some(Arc::new(move |script: &str, _: &Cancel| {
        if script.ends_with("wait-for-b") {
            l.push("start a");
            // Only a scheduler that runs b while a runs gets past this.
            if !wait_until(|| l.has("start b")) {
                return Err(BuildError::Internal(
                    "stage b did not start while stage a ran".into(),
                ));
            }
            l.push("end a");
        } else if let Some(word) = script.rsplit(' ').next() {
            l.push(&format!("start {word}"));
        }
        Ok(())
    }));
    let df = "FROM busybox AS a\nRUN wait-for-b\nFROM busybox AS b\nRUN b\nFROM a AS child\nRUN child\nFROM busybox\nCOPY --from=a /ran /a\nCOPY --from=b /ran /b\nCOPY --from=child /ran /child\nRUN final\n";
    let (r, out) = e.run(&e.opts(df));
    let id = r.unwrap();
    expect_test::expect![[r#"
        Step 1/11 : FROM busybox AS a
         ---> <id>
        Step 2/11 : RUN wait-for-b
         ---> Running in <id>
        ran: /bin/sh -c wait-for-b
         ---> Removed intermediate container <id>
         ---> <id>
        Step 3/11 : FROM busybox AS b
         ---> <id>
        Step 4/11 : RUN b
         ---> Running in <id>
        ran: /bin/sh -c b
         ---> Removed intermediate container <id>
         ---> <id>
        Step 5/11 : FROM a AS child
         ---> <id>
        Step 6/11 : RUN child
         ---> Running in <id>
        ran: /bin/sh -c child
         ---> Removed intermediate container <id>
         ---> <id>
        Step 7/11 : FROM busybox
         ---> <id>
        Step 8/11 : COPY --from=a /ran /a
         ---> <id>
        Step 9/11 : COPY --from=b /ran /b
         ---> <id>
        Step 10/11 : COPY --from=child /ran /child
         ---> <id>
        Step 11/11 : RUN final
         ---> Running in <id>
        ran: /bin/sh -c final
         ---> Removed intermediate container <id>
         ---> <id>
        Successfully built <id>"#]]
    .assert_eq(&scrub(&out));
    // Dependencies waited: `FROM a` and the COPY --from stage ran after a.
    assert!(log.index("start child") > log.index("end a"));
    assert!(log.index("start final") > log.index("end a"));
    assert!(log.index("start final") > log.index("start child"));
    let dir = e.fake.dir(&id);
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    assert_eq!(read("a"), "/bin/sh -c wait-for-b\n");
    assert_eq!(read("b"), "/bin/sh -c b\n");
    assert_eq!(read("child"), "/bin/sh -c child\n");
}

#[test]
fn a_failing_stage_cancels_the_stages_after_it() {
    let e = Env::new();
    let log = Log::default();
    let l = log.clone();
    *e.fake.run_hook.lock().unwrap() = Some(Arc::new(move |script: &str, cancel: &Cancel| {
        if script.ends_with("block") {
            l.push("b running");
            let r = block_until_cancelled(cancel);
            l.push(if r.is_err() { "b stopped" } else { "b done" });
            return r;
        }
        // Stage a fails only once b is running, so b has something to cancel.
        if !wait_until(|| l.has("b running")) {
            return Err(BuildError::Internal("stage b never ran".into()));
        }
        Ok(())
    }));
    let df = "FROM busybox AS a\nRUN exit 3\nFROM busybox AS b\nRUN block\nFROM busybox\nCOPY --from=a /ran /a\nCOPY --from=b /ran /b\n";
    let (r, out) = e.run(&e.opts(df));
    let err = r.unwrap_err();
    assert_eq!(
        err.to_string(),
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    );
    // b saw the cancel (and did not time out: that would be another error).
    assert!(wait_until(|| log.has("b stopped")));
    // Only what the sequential build printed before failing.
    expect_test::expect![[r#"
        Step 1/7 : FROM busybox AS a
         ---> <id>
        Step 2/7 : RUN exit 3
         ---> Running in <id>
        ran: /bin/sh -c exit 3
         ---> Removed intermediate container <id>"#]]
    .assert_eq(&scrub(&out));
    assert_eq!(e.fake.st.lock().unwrap().live_containers, 0);
}

#[test]
fn a_later_failure_lets_the_stages_before_it_finish() {
    let e = Env::new();
    let log = Log::default();
    let l = log.clone();
    *e.fake.run_hook.lock().unwrap() = Some(Arc::new(move |script: &str, _: &Cancel| {
        if script.ends_with("exit 4") {
            l.push("b failing");
        } else if !wait_until(|| l.has("b failing")) {
            return Err(BuildError::Internal("stage b never ran".into()));
        }
        Ok(())
    }));
    let df = "FROM busybox AS a\nRUN after-b\nFROM busybox AS b\nRUN exit 4\nFROM busybox\nCOPY --from=a /ran /a\nCOPY --from=b /ran /b\n";
    let (r, out) = e.run(&e.opts(df));
    assert_eq!(r.unwrap_err().code(), Some(4));
    // a finished (the sequential build ran it first), then b's failure.
    expect_test::expect![[r#"
        Step 1/7 : FROM busybox AS a
         ---> <id>
        Step 2/7 : RUN after-b
         ---> Running in <id>
        ran: /bin/sh -c after-b
         ---> Removed intermediate container <id>
         ---> <id>
        Step 3/7 : FROM busybox AS b
         ---> <id>
        Step 4/7 : RUN exit 4
         ---> Running in <id>
        ran: /bin/sh -c exit 4
         ---> Removed intermediate container <id>"#]]
    .assert_eq(&scrub(&out));
}

/// Output whose client goes away once a RUN has printed: through `stream`'s
/// result, or (when `via_alive`) through `alive`.
struct Leaving {
    text: String,
    via_alive: bool,
}

impl Progress for Leaving {
    fn stream(&mut self, text: &str) -> bool {
        self.text.push_str(text);
        self.via_alive || !self.text.contains("ran: ")
    }
    fn alive(&mut self) -> bool {
        !self.text.contains("ran: ")
    }
}

#[test]
fn a_client_that_goes_away_cancels_every_stage() {
    for via_alive in [false, true] {
        let e = Env::new();
        let log = Log::default();
        let l = log.clone();
        *e.fake.run_hook.lock().unwrap() = Some(Arc::new(move |script: &str, cancel: &Cancel| {
            let r = block_until_cancelled(cancel);
            if matches!(r, Err(BuildError::Cancelled)) {
                l.push(&format!("cancelled {script}"));
            }
            r
        }));
        let df = "FROM busybox AS a\nRUN a\nFROM busybox AS b\nRUN b\nFROM busybox\nCOPY --from=a /ran /a\nCOPY --from=b /ran /b\n";
        let mut out = Leaving {
            text: String::new(),
            via_alive,
        };
        let caller = Cancel::default();
        let r = build(&e.opts(df), &e.fake, None, &mut out, &caller);
        assert!(matches!(r, Err(BuildError::Cancelled)), "{r:?}");
        assert!(log.has("cancelled /bin/sh -c a"), "via_alive={via_alive}");
        // b was cancelled too: in its RUN or before it started.
        let runs = e.fake.st.lock().unwrap().runs.len();
        assert!(runs == 1 || log.has("cancelled /bin/sh -c b"));
        assert_eq!(e.fake.st.lock().unwrap().live_containers, 0);
        assert!(!out.text.contains("Step 3/7"), "{}", out.text);
    }
}

#[test]
fn the_callers_cancel_stops_every_stage() {
    let e = Env::new();
    let caller = Cancel::default();
    let c = caller.clone();
    let started = Log::default();
    let s = started.clone();
    *e.fake.run_hook.lock().unwrap() = Some(Arc::new(move |script: &str, cancel: &Cancel| {
        s.push(script);
        if s.has("/bin/sh -c a") && s.has("/bin/sh -c b") {
            c.cancel();
        }
        block_until_cancelled(cancel)
    }));
    let df = "FROM busybox AS a\nRUN a\nFROM busybox AS b\nRUN b\nFROM busybox\nCOPY --from=a /ran /a\nCOPY --from=b /ran /b\n";
    let mut out = crate::fake::Out::default();
    let r = build(&e.opts(df), &e.fake, None, &mut out, &caller);
    assert!(matches!(r, Err(BuildError::Cancelled)), "{r:?}");
    assert_eq!(e.fake.st.lock().unwrap().runs.len(), 2);
    assert_eq!(e.fake.st.lock().unwrap().live_containers, 0);
}

#[test]
fn stage_dependencies_from_and_copy_from() {
    let (_, stages, _) = crate::executor::plan_dockerfile(
        "ARG BASE=one\nFROM busybox AS one\nFROM busybox AS two\nFROM $BASE AS three\nCOPY --from=two /a /a\nCOPY --from=busybox /b /b\nFROM busybox\nCOPY --from=$X /c /c\n",
        "Dockerfile",
    )
    .unwrap();
    let need = (0..4).collect();
    let meta = std::collections::BTreeMap::from([("BASE".to_string(), Some("one".to_string()))]);
    let deps = |i| crate::schedule::stage_deps(&stages, i, &need, &meta, '\\');
    assert!(deps(0).is_empty());
    assert_eq!(deps(2).into_iter().collect::<Vec<_>>(), [0, 1]);
    // A --from with a variable waits for every stage before it.
    assert_eq!(deps(3).into_iter().collect::<Vec<_>>(), [0, 1, 2]);
    // A stage the target does not need is never waited for.
    let need = [1, 2].into_iter().collect();
    let deps = crate::schedule::stage_deps(&stages, 2, &need, &meta, '\\');
    assert_eq!(deps.into_iter().collect::<Vec<_>>(), [1]);
    // Hostile input: a FROM whose expansion fails waits for everything before it.
    let (_, stages, _) = crate::executor::plan_dockerfile(
        "FROM busybox AS x\nFROM ${NOPE:?unset} AS y\n",
        "Dockerfile",
    )
    .unwrap();
    let need = [0, 1].into_iter().collect();
    let deps = crate::schedule::stage_deps(&stages, 1, &need, &Default::default(), '\\');
    assert_eq!(deps.into_iter().collect::<Vec<_>>(), [0]);
}

#[test]
fn the_target_skips_stages_it_does_not_need() {
    let e = Env::new();
    let df = "FROM busybox AS base\nRUN base\nFROM busybox AS broken\nRUN exit 7\nFROM base AS side\nRUN side\nFROM busybox AS want\nCOPY --from=side /ran /side\nFROM want AS later\nRUN exit 8\n";
    let mut o = e.opts(df);
    o.target = Some("want".into());
    let (r, out) = e.run(&o);
    r.unwrap();
    assert!(
        out.contains("Step 6/6 : COPY --from=side /ran /side\n"),
        "{out}"
    );
    assert!(!out.contains("exit 7") && !out.contains("exit 8"), "{out}");
}

#[test]
fn the_same_step_in_two_stages_runs_once() {
    let e = Env::new();
    let df = "FROM busybox AS a\nRUN same\nFROM busybox AS b\nRUN same\nFROM busybox\nCOPY --from=a /ran /a\nCOPY --from=b /ran /b\n";
    let (r, out) = e.run(&e.opts(df));
    r.unwrap();
    assert_eq!(e.fake.st.lock().unwrap().runs.len(), 1, "{out}");
    assert_eq!(out.matches(" ---> Using cache\n").count(), 1, "{out}");
    // --no-cache: no cache at all, both run (as in the sequential build).
    let mut o = e.opts(df);
    o.no_cache = true;
    let (r, out) = e.run(&o);
    r.unwrap();
    assert_eq!(e.fake.st.lock().unwrap().runs.len(), 3, "{out}");
}
