//! berth-build: the Dockerfile builder.
//!
//! Owns the Dockerfile parser (an AST with line/column: directives, escapes,
//! continuations, heredocs, exec/shell forms), variable substitution, `.dockerignore`,
//! build contexts (tar out of a directory, hostile-safe extraction), the stage graph,
//! the instruction executor and the build cache.
//!
//! Key decision: parse apart from evaluate. [`parse`] and [`parse_instruction`] only
//! look at text; [`build`] dispatches typed instructions whose every side effect
//! (images, containers, layers, tags) goes through the [`BuildBackend`] trait, so the
//! whole executor is tested over a fake and the daemon supplies the real one.
//!
//! Code map: `parser` (text -> nodes), `instruction` (nodes -> typed instructions),
//! `subst` (words, quotes, `$VAR`), `suggest` ("did you mean"), `dockerignore`,
//! `context` (context tar in and out), `executor` (stages, steps, output lines),
//! `schedule` (independent stages concurrently, output in stage order),
//! `stage` (per-stage state), `dispatch` (one instruction), `copy` (COPY/ADD
//! sources, checksum, layer), `cache`, `backend` (the trait), `git` (git URLs and
//! clones: git contexts, `add_git`), `platform` (`--platform`, the automatic args).

mod add_git;
mod backend;
mod cache;
mod context;
mod copy;
mod dispatch;
mod dockerignore;
mod error;
mod executor;
pub mod git;
mod instruction;
mod parser;
mod platform;
mod schedule;
mod stage;
mod subst;
mod suggest;

pub use backend::{
    BaseImage, BuildBackend, Cancel, CommitRequest, MountedImage, Progress, RunRequest,
    removed_container, running_in, short,
};
pub use cache::{Cache, CacheEntry};
pub use context::{SpooledContext, extract_context, remove_ignored, write_context_tar};
pub use dockerignore::Ignore;
pub use error::{BuildError, Result};
pub use executor::{BuildOptions, PROXY_ARGS, build, plan_dockerfile};
pub use instruction::{CmdLine, Instruction, Step, parse_instruction};
pub use parser::{Directives, Dockerfile, Flag, Heredoc, Node, ParseError, parse};
pub use platform::{Platform, mismatch as platform_mismatch};

/// The fuzz entry point (`fuzz/`): parse, type every node, expand every word and
/// match `.dockerignore` patterns; nothing may panic.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    fuzz::exercise(data);
}

#[cfg(test)]
mod executor_tests;
#[cfg(test)]
mod fake;
mod fuzz;
