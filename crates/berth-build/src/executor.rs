//! The build: parse, split into stages, pick the stages the target needs, then run
//! them (independent stages concurrently, see `schedule`), each instruction as cache
//! lookup -> execute -> commit, printing docker's classic builder lines
//! ("Step 1/7 : FROM busybox", " ---> Using cache", " ---> 1a2b3c4d5e6f").

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use berth_stdx::Digest;

use crate::backend::{BaseImage, BuildBackend, Cancel, Progress, short};
use crate::cache::Cache;
use crate::error::{BuildError, Result};
use crate::instruction::{Instruction, Step, parse_instruction};
use crate::parser::{Node, ParseError, parse};
use crate::subst::expand;

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The Dockerfile's name, for the "cannot be empty" error.
    pub dockerfile_name: String,
    /// The extracted build context.
    pub context: PathBuf,
    /// The received context when it is extracted on demand: `context` is empty
    /// until `spool.extract()` (COPY/ADD call it on a cache miss).
    pub spool: Option<std::sync::Arc<crate::context::SpooledContext>>,
    /// Scratch space for layer tars (removed by the caller).
    pub work_dir: PathBuf,
    /// `--build-arg`; `None` values were given without `=` and unset on the client.
    pub build_args: BTreeMap<String, Option<String>>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    pub pull: bool,
    pub target: Option<String>,
    pub tags: Vec<String>,
    pub network: String,
    pub extra_hosts: Vec<String>,
    pub quiet: bool,
    /// `--platform`: what FROM pulls and `TARGETPLATFORM` (the host's when `None`).
    pub platform: Option<String>,
}

/// The args docker lets a build use without declaring them.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// One stage: its FROM and instructions.
#[derive(Debug, Clone)]
pub struct StageDef {
    pub(crate) from: Step,
    pub(crate) name: Option<String>,
    pub(crate) steps: Vec<Step>,
}

/// Parses and types every instruction; the stage list and the meta args.
pub fn plan_dockerfile(
    text: &str,
    name: &str,
) -> std::result::Result<(Vec<Step>, Vec<StageDef>, char), BuildError> {
    let df = parse(text)?;
    let escape = df.directives.escape;
    if df.nodes.is_empty() {
        return Err(BuildError::Invalid(format!(
            "the Dockerfile ({name}) cannot be empty"
        )));
    }
    let mut meta = Vec::new();
    let mut stages: Vec<StageDef> = Vec::new();
    for node in df.nodes {
        let inst = parse_instruction(&node, escape)?;
        let step = Step { node, inst };
        match (&step.inst, stages.last_mut()) {
            (Instruction::From(f), _) => stages.push(StageDef {
                name: f.name.clone(),
                from: step,
                steps: Vec::new(),
            }),
            (Instruction::Arg(_), None) => meta.push(step),
            (_, None) => {
                return Err(ParseError::at(&step.node, "no build stage in current context").into());
            }
            (_, Some(s)) => s.steps.push(step),
        }
    }
    if stages.is_empty() {
        return Err(BuildError::Invalid(
            "dockerfile contains no stages to build".into(),
        ));
    }
    Ok((meta, stages, escape))
}

/// The index of the stage a `FROM`/`--from` value names, if it names one.
pub(crate) fn stage_ref(stages: &[StageDef], before: usize, name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    if let Some(i) = stages[..before]
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Some(i);
    }
    match name.parse::<usize>() {
        Ok(i) if i < before => Some(i),
        _ => None,
    }
}

/// The stages `target` needs (itself included), by their FROM (expanded with the
/// meta args, as FROM is) and `COPY --from`. A value that cannot be known before the
/// stage runs (a `--from` with a variable, a FROM that fails to expand) needs every
/// stage before it, as the classic builder (which builds them all) would have.
pub(crate) fn needed_stages(
    stages: &[StageDef],
    target: usize,
    meta_args: &BTreeMap<String, Option<String>>,
    escape: char,
) -> BTreeSet<usize> {
    let mut need = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !need.insert(i) {
            continue;
        }
        let s = &stages[i];
        if let Instruction::From(f) = &s.from.inst {
            match expand(&f.image, escape, &|n| meta_args.get(n).cloned().flatten()) {
                Ok(image) => todo.extend(stage_ref(stages, i, &image)),
                Err(_) => todo.extend(0..i),
            }
        }
        for st in &s.steps {
            if let Instruction::Copy(c) = &st.inst
                && let Some(from) = &c.from
            {
                if from.contains('$') {
                    todo.extend(0..i);
                } else {
                    todo.extend(stage_ref(stages, i, from));
                }
            }
        }
    }
    need
}

/// Sets the meta args one `ARG` before the first FROM declares (names and defaults
/// expanded with the meta args before it, as docker does; a `--build-arg` wins).
fn eval_meta_arg(
    m: &Step,
    opts: &BuildOptions,
    escape: char,
    meta_args: &mut BTreeMap<String, Option<String>>,
    used: &mut BTreeSet<String>,
) -> Result<()> {
    let Instruction::Arg(args) = &m.inst else {
        return Ok(());
    };
    for (raw_k, v) in args {
        let lookup = |n: &str| meta_args.get(n).cloned().flatten();
        let k = expand(raw_k, escape, &lookup).map_err(|e| ParseError::at(&m.node, e))?;
        let value = match opts.build_args.get(&k) {
            Some(Some(v)) => Some(v.clone()),
            _ => match v {
                Some(raw) => {
                    Some(expand(raw, escape, &lookup).map_err(|e| ParseError::at(&m.node, e))?)
                }
                // `ARG TARGETARCH` keeps the automatic value.
                None => lookup(&k),
            },
        };
        used.insert(k.clone());
        meta_args.insert(k, value);
    }
    Ok(())
}

/// Runs a build. Returns the final image id.
pub fn build(
    opts: &BuildOptions,
    backend: &dyn BuildBackend,
    cache: Option<&Cache>,
    out: &mut dyn Progress,
    cancel: &Cancel,
) -> Result<Digest> {
    let (meta, mut stages, escape) = plan_dockerfile(&opts.dockerfile, &opts.dockerfile_name)?;
    let target = match &opts.target {
        Some(t) if !t.is_empty() => {
            let lower = t.to_ascii_lowercase();
            stages
                .iter()
                .position(|s| s.name.as_deref() == Some(lower.as_str()))
                .ok_or_else(|| {
                    BuildError::Invalid(format!("failed to reach build target {t} in Dockerfile"))
                })?
        }
        _ => stages.len() - 1,
    };
    stages.truncate(target + 1);
    // The classic builder appends `--label`s to the last stage as one more LABEL.
    if !opts.labels.is_empty() {
        let text = opts
            .labels
            .iter()
            // docker's `%q='%s'`: the value single-quoted, so never expanded.
            .map(|(k, v)| format!("{}='{v}'", go_quote(k)))
            .collect::<Vec<_>>()
            .join(" ");
        let node = Node {
            keyword: "LABEL".into(),
            keyword_raw: "LABEL".into(),
            original: format!("LABEL {text}"),
            line: 0,
            column: 1,
            end_line: 0,
            flags: Vec::new(),
            args: text,
            heredocs: Vec::new(),
        };
        let inst = parse_instruction(&node, escape)?;
        stages[target].steps.push(Step { node, inst });
    }
    // Meta args: visible to FROM lines, and as defaults to `ARG name` in stages.
    // The automatic platform args are meta args from the start. A first, silent pass
    // tells which stages a `FROM $VAR` needs; errors are reported below, at their step.
    let platform_args = crate::platform::meta_args(opts.platform.as_deref())?;
    let mut preview = platform_args.clone();
    for m in &meta {
        if eval_meta_arg(m, opts, escape, &mut preview, &mut BTreeSet::new()).is_err() {
            break;
        }
    }
    let need = needed_stages(&stages, target, &preview, escape);
    let total = meta.len()
        + need
            .iter()
            .map(|i| 1 + stages[*i].steps.len())
            .sum::<usize>();
    let mut ctx = Ctx {
        opts,
        backend,
        cache: if opts.no_cache { None } else { cache },
        cache_store: cache,
        out,
        cancel,
        escape,
        step: 0,
        total,
        used_args: BTreeSet::new(),
        stage: 0,
        claims: None,
    };
    let mut meta_args = platform_args;
    for m in &meta {
        ctx.print_step(&m.node);
        eval_meta_arg(m, opts, escape, &mut meta_args, &mut ctx.used_args)?;
    }
    let mut results = crate::schedule::run_stages(&mut ctx, &stages, &need, &meta_args)?;
    let last = results
        .remove(&target)
        .ok_or_else(|| BuildError::Internal("the target stage was not built".into()))?;
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !ctx.used_args.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let list = unused
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        ctx.out.stream(&format!(
            "[Warning] One or more build-args [{list}] were not consumed\n"
        ));
    }
    ctx.out.aux_id(&last.id.to_string());
    ctx.out.stream(&format!(
        "Successfully built {}\n",
        short(&last.id.to_string())
    ));
    for t in &opts.tags {
        let name = backend.tag(&last.id, t)?;
        ctx.out.stream(&format!("Successfully tagged {name}\n"));
    }
    Ok(last.id)
}

/// Go's `strconv.Quote` for the simple strings labels are.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Build-wide state handed to each dispatch.
pub(crate) struct Ctx<'a> {
    pub(crate) opts: &'a BuildOptions,
    pub(crate) backend: &'a dyn BuildBackend,
    /// The cache to look up (none with `--no-cache`).
    pub(crate) cache: Option<&'a Cache>,
    /// The cache to record into (also with `--no-cache`).
    pub(crate) cache_store: Option<&'a Cache>,
    pub(crate) out: &'a mut dyn Progress,
    pub(crate) cancel: &'a Cancel,
    pub(crate) escape: char,
    /// The number of the last step printed.
    pub(crate) step: usize,
    pub(crate) total: usize,
    pub(crate) used_args: BTreeSet<String>,
    /// Which stage this is, and the cache keys the build's stages are running
    /// (`None`: outside the stages).
    pub(crate) stage: usize,
    pub(crate) claims: Option<&'a crate::schedule::Claims>,
}

impl Ctx<'_> {
    pub(crate) fn print_step(&mut self, node: &Node) {
        self.step += 1;
        let line = format!("Step {}/{} : {}\n", self.step, self.total, node.original);
        self.out.stream(&line);
    }

    /// A cache hit for `key`, if the image still exists.
    /// Waits while another stage runs the same step (see `claims`).
    pub(crate) fn cached(&mut self, key: &str) -> Option<BaseImage> {
        let cache = self.cache?;
        let lookup = || {
            let id = cache.get(key)?;
            self.backend.image_by_id(&id)
        };
        let img = match self.claims {
            Some(c) => c.lookup(key, self.stage, self.cancel, lookup),
            None => lookup(),
        }?;
        self.out.stream(" ---> Using cache\n");
        Some(img)
    }

    pub(crate) fn remember(&self, key: &str, id: &Digest) {
        if let Some(c) = self.cache_store
            && let Err(e) = c.put(key, id)
        {
            tracing::warn!(error = %e, "write build cache entry");
        }
        if let Some(c) = self.claims {
            c.release(key, self.stage);
        }
    }
}
