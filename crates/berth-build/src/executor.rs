//! The build: parse, split into stages, pick the stages the target needs, then run
//! each instruction as cache lookup -> execute -> commit, printing docker's classic
//! builder lines ("Step 1/7 : FROM busybox", " ---> Using cache", " ---> 1a2b3c4d5e6f").

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use berth_stdx::Digest;

use crate::backend::{BaseImage, BuildBackend, Cancel, Progress, short};
use crate::cache::Cache;
use crate::error::{BuildError, Result};
use crate::instruction::{Instruction, Step, parse_instruction};
use crate::parser::{Node, ParseError, parse};
use crate::stage::StageState;
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

/// The stages `target` needs (itself included), by their FROM and `COPY --from`.
pub(crate) fn needed_stages(stages: &[StageDef], target: usize) -> BTreeSet<usize> {
    let mut need = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !need.insert(i) {
            continue;
        }
        let s = &stages[i];
        if let Instruction::From(f) = &s.from.inst
            && let Some(d) = stage_ref(stages, i, &f.image)
        {
            todo.push(d);
        }
        for st in &s.steps {
            if let Instruction::Copy(c) = &st.inst
                && let Some(from) = &c.from
                && let Some(d) = stage_ref(stages, i, from)
            {
                todo.push(d);
            }
        }
    }
    need
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
            .map(|(k, v)| format!("{}={}", go_quote(k), go_quote(v)))
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
    let need = needed_stages(&stages, target);
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
    };
    // Meta args: visible to FROM lines, and as defaults to `ARG name` in stages.
    let mut meta_args: BTreeMap<String, Option<String>> = BTreeMap::new();
    for m in &meta {
        ctx.print_step(&m.node);
        if let Instruction::Arg(args) = &m.inst {
            for (k, v) in args {
                let value = match opts.build_args.get(k) {
                    Some(Some(v)) => Some(v.clone()),
                    _ => match v {
                        Some(raw) => Some(
                            expand(raw, escape, &|n| meta_args.get(n).cloned().flatten())
                                .map_err(|e| ParseError::at(&m.node, e))?,
                        ),
                        None => None,
                    },
                };
                ctx.used_args.insert(k.clone());
                meta_args.insert(k.clone(), value);
            }
        }
    }
    let mut results: BTreeMap<usize, BaseImage> = BTreeMap::new();
    for (i, stage) in stages.iter().enumerate() {
        if !need.contains(&i) {
            continue;
        }
        let mut st = ctx.from(&stages, i, &results, &meta_args)?;
        for step in &stage.steps {
            if ctx.cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            ctx.print_step(&step.node);
            crate::dispatch::dispatch(&mut ctx, &mut st, step, &stages, i, &results)?;
            ctx.out
                .stream(&format!(" ---> {}\n", short(&st.id_string())));
        }
        let id = st.commit_final(&mut ctx)?;
        results.insert(
            i,
            BaseImage {
                id,
                config: st.image_config(),
            },
        );
    }
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
    step: usize,
    total: usize,
    pub(crate) used_args: BTreeSet<String>,
}

impl Ctx<'_> {
    pub(crate) fn print_step(&mut self, node: &Node) {
        self.step += 1;
        let line = format!("Step {}/{} : {}\n", self.step, self.total, node.original);
        self.out.stream(&line);
    }

    /// A cache hit for `key`, if the image still exists.
    pub(crate) fn cached(&mut self, key: &str) -> Option<BaseImage> {
        let id = self.cache?.get(key)?;
        let img = self.backend.image_by_id(&id)?;
        self.out.stream(" ---> Using cache\n");
        Some(img)
    }

    pub(crate) fn remember(&self, key: &str, id: &Digest) {
        if let Some(c) = self.cache_store
            && let Err(e) = c.put(key, id)
        {
            tracing::warn!(error = %e, "write build cache entry");
        }
    }

    /// FROM: the base image (a previous stage, scratch, or an image), then its
    /// ONBUILD triggers.
    fn from(
        &mut self,
        stages: &[StageDef],
        i: usize,
        results: &BTreeMap<usize, BaseImage>,
        meta_args: &BTreeMap<String, Option<String>>,
    ) -> Result<StageState> {
        let stage = &stages[i];
        self.print_step(&stage.from.node);
        let Instruction::From(f) = &stage.from.inst else {
            return Err(BuildError::Internal("stage without FROM".into()));
        };
        let lookup = |n: &str| meta_args.get(n).cloned().flatten();
        let image = expand(&f.image, self.escape, &lookup)
            .map_err(|e| ParseError::at(&stage.from.node, e))?;
        if image.is_empty() {
            return Err(ParseError::at(
                &stage.from.node,
                "base name (".to_string() + &f.image + ") should not be blank",
            )
            .into());
        }
        let base = if let Some(d) = stage_ref(stages, i, &image) {
            Some(
                results
                    .get(&d)
                    .cloned()
                    .ok_or_else(|| BuildError::Internal(format!("stage {d} was not built")))?,
            )
        } else if image.eq_ignore_ascii_case("scratch") {
            None
        } else {
            Some(self.backend.image(&image, self.opts.pull)?)
        };
        let mut st = StageState::new(base, meta_args.clone());
        self.out
            .stream(&format!(" ---> {}\n", short(&st.id_string())));
        let triggers = st.take_onbuild();
        if !triggers.is_empty() {
            self.out.stream(&format!(
                "# Executing {} build trigger{}\n",
                triggers.len(),
                if triggers.len() == 1 { "" } else { "s" }
            ));
            for t in triggers {
                let df = parse(&t)?;
                for node in df.nodes {
                    let inst = parse_instruction(&node, self.escape)?;
                    let step = Step { node, inst };
                    crate::dispatch::dispatch(self, &mut st, &step, stages, i, results)?;
                }
            }
        }
        Ok(st)
    }
}
