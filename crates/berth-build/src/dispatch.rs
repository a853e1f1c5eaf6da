//! One instruction: expand what docker expands, change the config, and commit
//! (metadata steps commit an empty-layer image, as the classic builder does).

use std::collections::BTreeMap;
use std::path::Path;

use berth_image::HealthConfig;
use serde_json::Map;

use crate::backend::{BaseImage, CommitRequest, RunRequest, removed_container, running_in};
use crate::cache::Cache;
use crate::copy;
use crate::error::{BuildError, Result};
use crate::executor::{Ctx, PROXY_ARGS, StageDef, stage_ref};
use crate::instruction::{CmdLine, Copy, Health, Instruction, Run, Step};
use crate::parser::{Node, ParseError};
use crate::stage::StageState;
use crate::subst::{expand, expand_heredoc};

/// Go's `%q` of a string slice: `["a" "b"]`, as docker's history shows it.
pub(crate) fn go_list(v: &[String]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// Expands one word; an error carries docker's text (`failed to process "${A":
/// ...`) and, beyond docker, the instruction's line.
fn ex(ctx: &Ctx<'_>, st: &StageState, node: &Node, raw: &str) -> Result<String> {
    expand(raw, ctx.escape, &|n| st.lookup(n)).map_err(|e| {
        let quoted = serde_json::to_string(raw).unwrap_or_default();
        ParseError::at(node, format!("failed to process {quoted}: {e}")).into()
    })
}

pub(crate) fn dispatch(
    ctx: &mut Ctx<'_>,
    st: &mut StageState,
    step: &Step,
    stages: &[StageDef],
    stage_idx: usize,
    results: &BTreeMap<usize, BaseImage>,
) -> Result<()> {
    let node = &step.node;
    match &step.inst {
        Instruction::From(_) => Err(BuildError::Internal("FROM inside a stage".into())),
        Instruction::Env(pairs) => {
            // Every value sees the environment as it was before this instruction.
            let mut done = Vec::new();
            for (k, v) in pairs {
                done.push((ex(ctx, st, node, k)?, ex(ctx, st, node, v)?));
            }
            let mut msg = String::from("ENV");
            for (k, v) in &done {
                st.set_env(k, v);
                msg.push_str(&format!(" {k}={v}"));
            }
            commit_meta(ctx, st, &msg)
        }
        Instruction::Label(pairs) => {
            let mut msg = String::from("LABEL");
            let mut done = Vec::new();
            for (k, v) in pairs {
                done.push((ex(ctx, st, node, k)?, ex(ctx, st, node, v)?));
            }
            let labels = st.config.labels.get_or_insert_with(Default::default);
            for (k, v) in done {
                msg.push_str(&format!(" {k}={v}"));
                labels.insert(k, v);
            }
            commit_meta(ctx, st, &msg)
        }
        Instruction::Arg(args) => {
            let mut msg = String::from("ARG");
            for (raw_k, default) in args {
                // docker expands the name too (`ARG ${NAME}=x`).
                let k = &ex(ctx, st, node, raw_k)?;
                let value = match ctx.opts.build_args.get(k) {
                    Some(Some(v)) => Some(v.clone()),
                    _ => match default {
                        Some(raw) => Some(ex(ctx, st, node, raw)?),
                        None => st.meta_args.get(k).cloned().flatten(),
                    },
                };
                msg.push_str(&format!(" {k}"));
                // docker's history shows the default after expansion.
                if let Some(d) = default {
                    msg.push_str(&format!("={}", ex(ctx, st, node, d)?));
                }
                ctx.used_args.insert(k.clone());
                st.args.insert(k.clone(), value);
            }
            commit_meta(ctx, st, &msg)
        }
        Instruction::Expose(words) => {
            // EXPOSE alone splits expanded words (`EXPOSE $PORTS`, PORTS="80 443").
            let mut raw = Vec::new();
            for w in words {
                raw.extend(ex(ctx, st, node, w)?.split_whitespace().map(String::from));
            }
            let ports = st.config.exposed_ports.get_or_insert_with(Default::default);
            for p in &raw {
                // A dispatch-time error: docker's has no "parse error on line".
                for port in expose_ports(p).map_err(BuildError::Invalid)? {
                    ports.insert(port, Map::new());
                }
            }
            commit_meta(ctx, st, &format!("EXPOSE {}", raw.join(" ")))
        }
        Instruction::Volume(words) => {
            let mut vols = Vec::new();
            for w in words {
                vols.push(ex(ctx, st, node, w)?);
            }
            let v = st.config.volumes.get_or_insert_with(Default::default);
            for p in &vols {
                v.insert(p.clone(), Map::new());
            }
            commit_meta(ctx, st, &format!("VOLUME [{}]", vols.join(" ")))
        }
        Instruction::User(u) => {
            let u = ex(ctx, st, node, u)?;
            st.config.user = u.clone();
            commit_meta(ctx, st, &format!("USER {u}"))
        }
        Instruction::Stopsignal(s) => {
            let s = ex(ctx, st, node, s)?;
            crate::instruction::check_signal(&s).map_err(BuildError::Invalid)?;
            st.config.stop_signal = Some(s.clone());
            commit_meta(ctx, st, &format!("STOPSIGNAL {s}"))
        }
        Instruction::Maintainer(m) => {
            st.author = Some(m.clone());
            commit_meta(ctx, st, &format!("MAINTAINER {m}"))
        }
        Instruction::Cmd(c) => {
            let cmd = cmd_argv(st, c);
            st.config.cmd = Some(cmd.clone());
            // `CMD []` does not count as set: a later ENTRYPOINT still drops it.
            st.cmd_set = !matches!(c, CmdLine::Exec(v) if v.is_empty());
            commit_meta(ctx, st, &format!("CMD {}", go_list(&cmd)))
        }
        Instruction::Entrypoint(c) => {
            let ep = cmd_argv(st, c);
            st.config.entrypoint = Some(ep.clone());
            // An inherited CMD does not survive a new ENTRYPOINT.
            if !st.cmd_set {
                st.config.cmd = None;
            }
            commit_meta(ctx, st, &format!("ENTRYPOINT {}", go_list(&ep)))
        }
        Instruction::Shell(v) => {
            st.config.shell = Some(v.clone());
            // Go's `%v` of a string slice: `SHELL [/bin/sh -ec]`.
            commit_meta(ctx, st, &format!("SHELL [{}]", v.join(" ")))
        }
        Instruction::Onbuild(t) => {
            // Kept as written, as docker does.
            st.config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(t.clone());
            commit_meta(ctx, st, &format!("ONBUILD {t}"))
        }
        Instruction::Healthcheck(h) => {
            if let Some(old) = st.config.healthcheck.as_ref().and_then(|o| o.test.as_ref())
                && old.first().is_some_and(|t| t != "NONE")
            {
                ctx.out.stream(&format!(
                    "Note: overriding previous HEALTHCHECK: [{}]\n",
                    old.join(" ")
                ));
            }
            st.config.healthcheck = Some(health_config(h));
            commit_meta(ctx, st, &format!("HEALTHCHECK {}", h.history_text()))
        }
        Instruction::Workdir(w) => workdir(ctx, st, node, w),
        Instruction::Run(r) => run(ctx, st, r),
        Instruction::Copy(c) => copy_step(ctx, st, node, c, "COPY", stages, stage_idx, results),
        Instruction::Add(c) => copy_step(ctx, st, node, c, "ADD", stages, stage_idx, results),
    }
}

fn cmd_argv(st: &StageState, c: &CmdLine) -> Vec<String> {
    match c {
        CmdLine::Exec(v) => v.clone(),
        CmdLine::Shell(s) => {
            let mut v = st.shell();
            v.push(s.clone());
            v
        }
    }
}

/// `80`, `80/udp`, `8000-8002/tcp` -> `80/tcp`, ...
pub(crate) fn expose_ports(p: &str) -> std::result::Result<Vec<String>, String> {
    let (ports, proto) = match p.split_once('/') {
        Some((a, b)) => (a, b.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let bad = || format!("invalid containerPort: {ports}");
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let n = ports.parse::<u16>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if hi < lo {
        return Err(format!(
            "invalid range specified for container port: {ports}"
        ));
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

fn health_config(h: &Health) -> HealthConfig {
    HealthConfig {
        test: h.test.clone(),
        interval: h.interval,
        timeout: h.timeout,
        start_period: h.start_period,
        start_interval: h.start_interval,
        retries: h.retries,
        extra: Map::new(),
    }
}

/// A metadata-only step: an image with the new config and no layer. The classic
/// builder ran a throwaway container for these; the lines it printed are kept. Its
/// history line starts with the stage's SHELL (`/bin/sh -c #(nop)  CMD [...]`).
fn commit_meta(ctx: &mut Ctx<'_>, st: &mut StageState, comment: &str) -> Result<()> {
    let created_by = format!("{} #(nop)  {comment}", st.shell().join(" "));
    commit_nop(ctx, st, created_by)
}

fn commit_nop(ctx: &mut Ctx<'_>, st: &mut StageState, created_by: String) -> Result<()> {
    let key = Cache::key(st.id.as_ref(), &created_by);
    if let Some(img) = ctx.cached(&key) {
        st.id = Some(img.id);
        return Ok(());
    }
    let fake = berth_stdx::random_id();
    running_in(ctx.out, &fake);
    let id = ctx.backend.commit(
        &CommitRequest {
            parent: st.id.clone(),
            config: st.config.clone(),
            created_by,
            empty_layer: true,
            author: st.author.clone(),
        },
        None,
    )?;
    removed_container(ctx.out, &fake);
    ctx.remember(&key, &id);
    st.id = Some(id);
    Ok(())
}

/// The script a shell-form RUN with heredocs runs.
fn heredoc_script(cmd: &str, run: &Run) -> String {
    let t = cmd.trim();
    if run.heredocs.len() == 1 && t.starts_with("<<") && !t.contains(char::is_whitespace) {
        return run.heredocs[0].content.clone();
    }
    let mut s = cmd.to_string();
    for h in &run.heredocs {
        s.push('\n');
        s.push_str(&h.content);
        s.push_str(&h.name);
    }
    s
}

fn run(ctx: &mut Ctx<'_>, st: &mut StageState, r: &Run) -> Result<()> {
    let cmd = match &r.cmd {
        CmdLine::Exec(v) => v.clone(),
        CmdLine::Shell(s) => {
            let mut v = st.shell();
            v.push(heredoc_script(s, r));
            v
        }
    };
    let args = st.run_args();
    let created_by = if args.is_empty() {
        cmd.join(" ")
    } else {
        format!("|{} {} {}", args.len(), args.join(" "), cmd.join(" "))
    };
    let network = r
        .network
        .clone()
        .unwrap_or_else(|| ctx.opts.network.clone());
    let key = Cache::key(st.id.as_ref(), &format!("{created_by}\nnetwork={network}"));
    if let Some(img) = ctx.cached(&key) {
        st.id = Some(img.id);
        return Ok(());
    }
    let Some(parent) = st.id.clone() else {
        return Err(BuildError::Invalid(format!(
            "The command '{}' cannot run: the stage has no filesystem (FROM scratch)",
            cmd.join(" ")
        )));
    };
    let mut env = st.env().to_vec();
    env.extend(args);
    for p in PROXY_ARGS {
        if let Some(Some(v)) = ctx.opts.build_args.get(*p)
            && !st.args.contains_key(*p)
        {
            env.push(format!("{p}={v}"));
        }
    }
    let req = RunRequest {
        parent: parent.clone(),
        cmd,
        env,
        workdir: st.config.working_dir.clone(),
        user: st.config.user.clone(),
        network: if network == "default" {
            String::new()
        } else {
            network
        },
        extra_hosts: ctx.opts.extra_hosts.clone(),
    };
    let commit = CommitRequest {
        parent: Some(parent),
        config: st.config.clone(),
        created_by,
        empty_layer: false,
        author: st.author.clone(),
    };
    let id = ctx.backend.run(&req, &commit, ctx.out, ctx.cancel)?;
    ctx.remember(&key, &id);
    st.id = Some(id);
    Ok(())
}

fn workdir(ctx: &mut Ctx<'_>, st: &mut StageState, node: &Node, w: &str) -> Result<()> {
    let w = ex(ctx, st, node, w)?;
    let abs = if w.starts_with('/') {
        w.clone()
    } else {
        format!("{}/{}", st.workdir().trim_end_matches('/'), w)
    };
    let abs = berth_stdx::rootpath::clean_absolute(&abs);
    st.config.working_dir = abs.clone();
    // One space after `#(nop)` for WORKDIR, COPY and ADD (docker's
    // withCmdCommentString), two for the other metadata steps.
    let created_by = format!("{} #(nop) WORKDIR {abs}", st.shell().join(" "));
    let key = Cache::key(st.id.as_ref(), &created_by);
    if let Some(img) = ctx.cached(&key) {
        st.id = Some(img.id);
        return Ok(());
    }
    // Created if missing: the missing directories become this step's layer.
    let missing = {
        let m = ctx.backend.mount(st.id.as_ref())?;
        missing_dirs(m.root(), &abs)
    };
    if missing.is_empty() {
        return commit_nop(ctx, st, created_by);
    }
    let mut b = tar::Builder::new(Vec::new());
    for d in &missing {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .map_err(|e| BuildError::io("write layer", e))?;
    }
    let tar = b
        .into_inner()
        .map_err(|e| BuildError::io("write layer", e))?;
    let id = ctx.backend.commit(
        &CommitRequest {
            parent: st.id.clone(),
            config: st.config.clone(),
            created_by,
            empty_layer: false,
            author: st.author.clone(),
        },
        Some(&mut &tar[..]),
    )?;
    ctx.remember(&key, &id);
    st.id = Some(id);
    Ok(())
}

/// The components of `abs` missing in the image, outermost first (relative paths),
/// resolved inside the image root so its symlinked directories are followed.
fn missing_dirs(root: &Path, abs: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in abs.split('/').filter(|c| !c.is_empty()) {
        cur = if cur.is_empty() {
            c.to_string()
        } else {
            format!("{cur}/{c}")
        };
        let real = berth_stdx::rootpath::resolve_in_root(root, Path::new(&cur));
        let exists = real.map(|p| p.exists()).unwrap_or(false);
        if !exists {
            out.push(cur.clone());
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn copy_step(
    ctx: &mut Ctx<'_>,
    st: &mut StageState,
    node: &Node,
    c: &Copy,
    kw: &str,
    stages: &[StageDef],
    stage_idx: usize,
    results: &BTreeMap<usize, BaseImage>,
) -> Result<()> {
    let mut sources = Vec::new();
    for s in &c.sources {
        sources.push(ex(ctx, st, node, s)?);
    }
    let dest = ex(ctx, st, node, &c.dest)?;
    let mut heredocs = Vec::new();
    for h in &c.heredocs {
        let body = if h.expand {
            expand_heredoc(&h.content, ctx.escape, &|n| st.lookup(n))
                .map_err(|e| ParseError::at(node, e))?
        } else {
            h.content.clone()
        };
        heredocs.push((h.name.clone(), body.into_bytes()));
    }
    if kw == "ADD" && sources.iter().any(|s| crate::git::is_git_url(s)) {
        let chown = c.chown.as_ref().map(|s| ex(ctx, st, node, s)).transpose()?;
        let chmod = c.chmod.as_ref().map(|s| ex(ctx, st, node, s)).transpose()?;
        return crate::add_git::step(ctx, st, c, &sources, &dest, chown, chmod);
    }
    // A hit found from the context's index needs no mount and no extracted context.
    let fast_key = match (&c.from, ctx.opts.spool.clone()) {
        (None, Some(sp)) => copy::fast_key_for(&sp, st, c, kw, &sources, &heredocs, &dest, |s| {
            ex(ctx, st, node, s)
        })?,
        _ => None,
    };
    if let Some(img) = fast_key.as_ref().and_then(|k| ctx.cached(&k.key)) {
        st.id = Some(img.id);
        return Ok(());
    }
    if let (None, Some(sp)) = (&c.from, &ctx.opts.spool) {
        match &fast_key {
            Some(k) => k.extract(sp),
            None => sp.extract(),
        }
        .map_err(|e| BuildError::io("extract build context", e))?;
    }
    let from_mount = match &c.from {
        None => None,
        Some(f) => {
            let f = ex(ctx, st, node, f)?;
            let id = match stage_ref(stages, stage_idx, &f) {
                Some(d) => results
                    .get(&d)
                    .map(|b| b.id.clone())
                    .ok_or_else(|| BuildError::Internal(format!("stage {d} was not built")))?,
                None => ctx.backend.image(&f, false)?.id,
            };
            Some(ctx.backend.mount(Some(&id))?)
        }
    };
    let image = ctx.backend.mount(st.id.as_ref())?;
    let chown_text = match &c.chown {
        Some(s) => ex(ctx, st, node, s)?,
        None => String::new(),
    };
    let owner = match &c.chown {
        Some(_) => copy::parse_chown(image.root(), &chown_text)?,
        None => (0, 0),
    };
    let chmod = match &c.chmod {
        Some(s) => Some(copy::parse_chmod(&ex(ctx, st, node, s)?)?),
        None => None,
    };
    let dest_abs = if dest.starts_with('/') {
        dest.clone()
    } else {
        format!("{}/{}", st.workdir().trim_end_matches('/'), dest)
    };
    let src_root = match &from_mount {
        Some(m) => m.root().to_path_buf(),
        None => ctx.opts.context.clone(),
    };
    // ADD <url>: each download goes to a fresh file in the build's work dir, removed
    // once the step is done; its content is part of the checksum (the cache key).
    let mut remote = Vec::new();
    let fetched = (|| {
        if kw != "ADD" || from_mount.is_some() {
            return Ok(());
        }
        for s in sources.iter().filter(|s| copy::is_url(s)) {
            let file = ctx
                .opts
                .work_dir
                .join(format!("download-{}", berth_stdx::id::random_hex(8)));
            // Registered before the download so a partial file is removed too.
            remote.push(copy::Remote {
                url: s.clone(),
                file: file.clone(),
                mtime: 0,
            });
            let mtime = ctx.backend.download(s, &file)?;
            if let Some(last) = remote.last_mut() {
                last.mtime = mtime.unwrap_or(0);
            }
        }
        Ok(())
    })();
    let res = fetched.and_then(|()| {
        copy_commit(
            ctx,
            st,
            kw,
            &src_root,
            &sources,
            &heredocs,
            &dest,
            &dest_abs,
            image,
            owner,
            chmod,
            &remote,
            fast_key.map(|k| k.key),
            &chown_text,
        )
    });
    for r in &remote {
        let _ = std::fs::remove_file(&r.file);
    }
    res
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn copy_commit(
    ctx: &mut Ctx<'_>,
    st: &mut StageState,
    kw: &str,
    src_root: &std::path::Path,
    sources: &[String],
    heredocs: &[(String, Vec<u8>)],
    dest: &str,
    dest_abs: &str,
    image: Box<dyn crate::backend::MountedImage>,
    owner: (u32, u32),
    chmod: Option<u32>,
    remote: &[copy::Remote],
    fast_key: Option<String>,
    chown_text: &str,
) -> Result<()> {
    let plan = copy::plan(&copy::Request {
        src_root,
        sources,
        heredocs,
        dest: dest_abs,
        image_root: image.root(),
        owner,
        chmod,
        extract: kw == "ADD",
        remote,
        cmd: kw,
    })?;
    let created_by = copy_created_by(st, kw, chown_text, &plan.checksum, dest);
    let key = fast_key.unwrap_or_else(|| {
        Cache::key(
            st.id.as_ref(),
            &format!("{created_by}\nowner={owner:?}\nchmod={chmod:?}"),
        )
    });
    if let Some(img) = ctx.cached(&key) {
        st.id = Some(img.id);
        return Ok(());
    }
    drop(image);
    let tmp = ctx
        .opts
        .work_dir
        .join(format!("layer-{}.tar", berth_stdx::id::random_hex(8)));
    let res = (|| {
        let f = std::fs::File::create(&tmp).map_err(|e| BuildError::io("create layer", e))?;
        copy::write_layer(&plan, std::io::BufWriter::new(f))?;
        let mut f = std::fs::File::open(&tmp).map_err(|e| BuildError::io("open layer", e))?;
        ctx.backend.commit(
            &CommitRequest {
                parent: st.id.clone(),
                config: st.config.clone(),
                created_by,
                empty_layer: false,
                author: st.author.clone(),
            },
            Some(&mut f),
        )
    })();
    let _ = std::fs::remove_file(&tmp);
    let id = res?;
    ctx.remember(&key, &id);
    st.id = Some(id);
    Ok(())
}

/// A COPY/ADD history line as docker's classic builder writes it: the stage's shell,
/// one space after `#(nop)`, `--chown=` glued to the checksum (docker's own quirk:
/// `COPY --chown=1:2file:ab… in /x `).
fn copy_created_by(st: &StageState, kw: &str, chown: &str, checksum: &str, dest: &str) -> String {
    let chown = if chown.is_empty() {
        String::new()
    } else {
        format!("--chown={chown}")
    };
    format!(
        "{} #(nop) {kw} {chown}{checksum} in {dest} ",
        st.shell().join(" ")
    )
}
