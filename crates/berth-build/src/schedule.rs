//! Runs the stages a build needs concurrently, as BuildKit does, while the output
//! stays byte-for-byte what the classic (sequential) builder prints.
//!
//! Every needed stage gets its own thread (`std::thread::scope`) as soon as the
//! build starts; a stage first waits until the stages it depends on (its FROM naming
//! a stage, its `COPY --from=<stage>`) are built, then runs. Step numbers are fixed
//! up front (each stage's first step is known from the stages before it), so a
//! stage prints the same "Step N/M" lines whenever it runs.
//!
//! Output stays in stage order: a stage's lines go over a channel to the calling
//! thread, which streams the earliest unfinished stage live and buffers the later
//! ones, flushing a buffer when its stage's turn comes. When a stage fails, the
//! stages after it (which the sequential builder would never have started) are
//! cancelled; the ones before it finish, as they would have, so the output and the
//! error (the earliest failing stage's) are what the sequential build gives. A
//! client that goes away, or the caller's [`Cancel`], cancels every stage.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[path = "claims.rs"]
mod claims;
pub(crate) use claims::Claims;

use crate::backend::{BaseImage, Cancel, Progress, short};
use crate::error::{BuildError, Result};
use crate::executor::{Ctx, StageDef, stage_ref};
use crate::instruction::{Instruction, Step, parse_instruction};
use crate::parser::{ParseError, parse};
use crate::stage::StageState;
use crate::subst::expand;

/// How often the calling thread checks the client and the caller's cancel while no
/// stage prints anything.
const TICK: Duration = Duration::from_millis(200);

/// What a stage thread tells the calling thread.
enum Event {
    Text(usize, String),
    Done(usize, Result<()>, BTreeSet<String>),
}

/// The stages built so far, for the stages waiting on them.
#[derive(Default)]
struct Board {
    built: Mutex<BTreeMap<usize, BaseImage>>,
    changed: Condvar,
}

impl Board {
    fn publish(&self, stage: usize, img: BaseImage) {
        self.lock().insert(stage, img);
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, BaseImage>> {
        self.built.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every stage of `deps` is built (or `cancel`); returns the stages
    /// built so far.
    fn wait(&self, deps: &BTreeSet<usize>, cancel: &Cancel) -> Result<BTreeMap<usize, BaseImage>> {
        let mut built = self.lock();
        loop {
            if cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            if deps.iter().all(|d| built.contains_key(d)) {
                return Ok(built.clone());
            }
            // Timed, so a cancel is seen even without a notification.
            built = self
                .changed
                .wait_timeout(built, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// A stage's output: sent to the calling thread, which orders it.
struct StageOut<'a> {
    stage: usize,
    tx: Sender<Event>,
    gone: &'a AtomicBool,
}

impl Progress for StageOut<'_> {
    fn stream(&mut self, text: &str) -> bool {
        let _ = self.tx.send(Event::Text(self.stage, text.to_string()));
        !self.gone.load(Ordering::SeqCst)
    }

    fn alive(&mut self) -> bool {
        !self.gone.load(Ordering::SeqCst)
    }
}

/// The needed stages before `i`.
fn before(need: &BTreeSet<usize>, i: usize) -> BTreeSet<usize> {
    need.range(..i).copied().collect()
}

/// The stages stage `i` needs built before it starts: its FROM (expanded with the
/// meta args, as FROM is) and its `COPY --from`s. A `--from` with a variable can only
/// be resolved while the stage runs, so such a stage waits for every stage before it,
/// as it would have in a sequential build.
pub(crate) fn stage_deps(
    stages: &[StageDef],
    i: usize,
    need: &BTreeSet<usize>,
    meta_args: &BTreeMap<String, Option<String>>,
    escape: char,
) -> BTreeSet<usize> {
    let mut deps = BTreeSet::new();
    let s = &stages[i];
    if let Instruction::From(f) = &s.from.inst {
        match expand(&f.image, escape, &|n| meta_args.get(n).cloned().flatten()) {
            Ok(image) => deps.extend(stage_ref(stages, i, &image)),
            Err(_) => return before(need, i),
        }
    }
    for st in &s.steps {
        if let Instruction::Copy(c) = &st.inst
            && let Some(from) = &c.from
        {
            if from.contains('$') {
                return before(need, i);
            }
            deps.extend(stage_ref(stages, i, from));
        }
    }
    // A reference to a stage the target does not need fails when it is used (as
    // it did when stages ran one after another), never waits forever.
    deps.retain(|d| need.contains(d));
    deps
}

/// What one stage thread needs besides its [`Ctx`].
struct StagePlan<'p> {
    stages: &'p [StageDef],
    need: &'p BTreeSet<usize>,
    meta_args: &'p BTreeMap<String, Option<String>>,
    board: &'p Board,
    claims: &'p Claims,
}

/// Builds the stages of `need` (the meta args already printed through `ctx`),
/// concurrently where they are independent; returns each stage's image and adds the
/// args they used to `ctx.used_args`.
pub(crate) fn run_stages(
    ctx: &mut Ctx<'_>,
    stages: &[StageDef],
    need: &BTreeSet<usize>,
    meta_args: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<usize, BaseImage>> {
    let order: Vec<usize> = need.iter().copied().collect();
    // Each stage's step counter starts where the stages before it end.
    let mut first = BTreeMap::new();
    let mut n = ctx.step;
    for &i in &order {
        first.insert(i, n);
        n += 1 + stages[i].steps.len();
    }
    let cancels: BTreeMap<usize, Cancel> = order.iter().map(|i| (*i, Cancel::default())).collect();
    let gone = AtomicBool::new(false);
    let board = Board::default();
    let claims = Claims::default();
    let plan = StagePlan {
        stages,
        need,
        meta_args,
        board: &board,
        claims: &claims,
    };
    let (opts, backend, cache, cache_store, escape, total) = (
        ctx.opts,
        ctx.backend,
        ctx.cache,
        ctx.cache_store,
        ctx.escape,
        ctx.total,
    );
    let (tx, rx) = mpsc::channel::<Event>();
    let outcome = std::thread::scope(|s| {
        for &i in &order {
            let tx = tx.clone();
            let (cancel, plan, gone, step) = (&cancels[&i], &plan, &gone, first[&i]);
            s.spawn(move || {
                let mut out = StageOut { stage: i, tx, gone };
                let mut sctx = Ctx {
                    opts,
                    backend,
                    cache,
                    cache_store,
                    out: &mut out,
                    cancel,
                    escape,
                    step,
                    total,
                    used_args: BTreeSet::new(),
                    stage: i,
                    claims: Some(plan.claims),
                };
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_stage(&mut sctx, plan, i)
                }))
                .unwrap_or_else(|_| Err(BuildError::Internal(format!("build stage {i} panicked"))));
                plan.claims.release_stage(i);
                let used = std::mem::take(&mut sctx.used_args);
                drop(sctx);
                let res = res.map(|img| plan.board.publish(i, img));
                let _ = out.tx.send(Event::Done(i, res, used));
            });
        }
        drop(tx);
        Merger {
            out: &mut *ctx.out,
            caller: ctx.cancel,
            order: &order,
            cancels: &cancels,
            gone: &gone,
            board: &board,
            pos: 0,
            buffers: BTreeMap::new(),
            done: BTreeMap::new(),
            used: BTreeSet::new(),
            failure: None,
        }
        .run(&rx)
    });
    let used = outcome?;
    ctx.used_args.extend(used);
    ctx.step = n;
    Ok(board.lock().clone())
}

/// The calling thread's side: orders the stages' output and propagates cancels.
struct Merger<'m> {
    out: &'m mut dyn Progress,
    caller: &'m Cancel,
    order: &'m [usize],
    cancels: &'m BTreeMap<usize, Cancel>,
    gone: &'m AtomicBool,
    board: &'m Board,
    /// Index in `order` of the stage that streams live.
    pos: usize,
    buffers: BTreeMap<usize, String>,
    done: BTreeMap<usize, Result<()>>,
    used: BTreeSet<String>,
    /// The error of the stage the output stopped at.
    failure: Option<BuildError>,
}

impl Merger<'_> {
    fn run(mut self, rx: &mpsc::Receiver<Event>) -> Result<BTreeSet<String>> {
        loop {
            if self.caller.is_cancelled() {
                self.cancel_after(0);
            }
            match rx.recv_timeout(TICK) {
                Ok(Event::Text(i, text)) => {
                    if self.failure.is_some() {
                        // Nothing after the failing stage is shown.
                    } else if self.order.get(self.pos) == Some(&i) {
                        self.emit(&text);
                    } else {
                        self.buffers.entry(i).or_default().push_str(&text);
                    }
                }
                Ok(Event::Done(i, res, used)) => {
                    self.used.extend(used);
                    if res.is_err() {
                        // The sequential build would never have started them.
                        let at = self.order.iter().position(|s| *s == i).unwrap_or(0);
                        self.cancel_after(at + 1);
                    }
                    self.done.insert(i, res);
                    self.advance();
                }
                Err(RecvTimeoutError::Timeout) => {
                    if !self.out.alive() {
                        self.client_gone();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if let Some(e) = self.failure {
            return Err(e);
        }
        if self.pos < self.order.len() {
            // A stage ended without a result (only after a cancel, in practice).
            return Err(BuildError::Cancelled);
        }
        Ok(self.used)
    }

    /// Moves the live position past the finished stages, flushing the buffered
    /// output of each stage as its turn comes; stops at a failed stage.
    fn advance(&mut self) {
        while self.failure.is_none() {
            let Some(&cur) = self.order.get(self.pos) else {
                return;
            };
            match self.done.remove(&cur) {
                None => return,
                Some(Err(e)) => self.failure = Some(e),
                Some(Ok(())) => {
                    self.pos += 1;
                    if let Some(next) = self.order.get(self.pos)
                        && let Some(text) = self.buffers.remove(next)
                    {
                        self.emit(&text);
                    }
                }
            }
        }
    }

    fn emit(&mut self, text: &str) {
        if !self.out.stream(text) {
            self.client_gone();
        }
    }

    fn client_gone(&mut self) {
        self.gone.store(true, Ordering::SeqCst);
        self.cancel_after(0);
    }

    /// Cancels the stages from position `at` of the order on.
    fn cancel_after(&self, at: usize) {
        for i in self.order.iter().skip(at) {
            if let Some(c) = self.cancels.get(i)
                && !c.is_cancelled()
            {
                c.cancel();
            }
        }
        self.board.changed.notify_all();
    }
}

/// One stage: wait for its dependencies, FROM, every step, the stage's image.
fn run_stage(ctx: &mut Ctx<'_>, plan: &StagePlan<'_>, i: usize) -> Result<BaseImage> {
    let deps = stage_deps(plan.stages, i, plan.need, plan.meta_args, ctx.escape);
    let mut results = plan.board.wait(&deps, ctx.cancel)?;
    let mut st = from(ctx, plan, i, &mut results)?;
    for step in &plan.stages[i].steps {
        if ctx.cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        plan.claims.release_stage(i);
        ctx.print_step(&step.node);
        crate::dispatch::dispatch(ctx, &mut st, step, plan.stages, i, &results)?;
        ctx.out
            .stream(&format!(" ---> {}\n", short(&st.id_string())));
    }
    let id = st.commit_final(ctx)?;
    Ok(BaseImage {
        id,
        config: st.image_config(),
    })
}

/// FROM: the base image (a previous stage, scratch, or an image), then its ONBUILD
/// triggers.
fn from(
    ctx: &mut Ctx<'_>,
    plan: &StagePlan<'_>,
    i: usize,
    results: &mut BTreeMap<usize, BaseImage>,
) -> Result<StageState> {
    let stage = &plan.stages[i];
    ctx.print_step(&stage.from.node);
    let Instruction::From(f) = &stage.from.inst else {
        return Err(BuildError::Internal("stage without FROM".into()));
    };
    let lookup = |n: &str| plan.meta_args.get(n).cloned().flatten();
    let image =
        expand(&f.image, ctx.escape, &lookup).map_err(|e| ParseError::at(&stage.from.node, e))?;
    if image.is_empty() {
        return Err(ParseError::at(
            &stage.from.node,
            "base name (".to_string() + &f.image + ") should not be blank",
        )
        .into());
    }
    let base = if let Some(d) = stage_ref(plan.stages, i, &image) {
        Some(
            results
                .get(&d)
                .cloned()
                .ok_or_else(|| BuildError::Internal(format!("stage {d} was not built")))?,
        )
    } else if image.eq_ignore_ascii_case("scratch") {
        None
    } else {
        Some(crate::platform::from_image(
            ctx,
            f,
            &stage.from.node,
            &image,
            &lookup,
        )?)
    };
    let mut st = StageState::new(base, plan.meta_args.clone());
    let triggers = st.take_onbuild();
    if !triggers.is_empty() {
        ctx.out.stream(&format!(
            "# Executing {} build trigger{}\n",
            triggers.len(),
            if triggers.len() == 1 { "" } else { "s" }
        ));
        // A trigger may `COPY --from` any earlier stage: wait for them all, as the
        // sequential build had them.
        if triggers
            .iter()
            .any(|t| t.to_ascii_lowercase().contains("--from"))
        {
            *results = plan.board.wait(&before(plan.need, i), ctx.cancel)?;
        }
        for t in triggers {
            let df = parse(&t)?;
            for node in df.nodes {
                let inst = parse_instruction(&node, ctx.escape)?;
                let step = Step { node, inst };
                plan.claims.release_stage(i);
                crate::dispatch::dispatch(ctx, &mut st, &step, plan.stages, i, results)?;
            }
        }
    }
    // docker prints the FROM step's image once its ONBUILD triggers have run.
    ctx.out
        .stream(&format!(" ---> {}\n", short(&st.id_string())));
    Ok(st)
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
