//! A fake [`BuildBackend`] for the executor's tests: every image is a full directory
//! tree in a temp dir; RUN "executes" by recording its command in `/ran` (and fails
//! with N when the script contains `exit N`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_image::{ImageConfig, RootFs};
use berth_stdx::Digest;

use crate::backend::{
    BaseImage, BuildBackend, Cancel, CommitRequest, MountedImage, Progress, RunRequest,
    removed_container, running_in,
};
use crate::error::{BuildError, Result};

pub(crate) struct FakeImage {
    pub(crate) config: ImageConfig,
    pub(crate) dir: PathBuf,
    pub(crate) history: Vec<String>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) images: BTreeMap<Digest, FakeImage>,
    pub(crate) names: BTreeMap<String, Digest>,
    pub(crate) runs: Vec<RunRequest>,
    pub(crate) pulls: Vec<String>,
    pub(crate) live_containers: usize,
    n: u64,
}

/// Called at the start of each RUN with its script and cancel; an error fails the
/// RUN (tests use it to make stages wait for each other).
pub(crate) type RunHook = std::sync::Arc<dyn Fn(&str, &Cancel) -> Result<()> + Send + Sync>;

pub(crate) struct Fake {
    pub(crate) root: tempfile::TempDir,
    pub(crate) st: Mutex<State>,
    pub(crate) run_hook: Mutex<Option<RunHook>>,
}

pub(crate) struct Dir(PathBuf);

impl MountedImage for Dir {
    fn root(&self) -> &Path {
        &self.0
    }
}

impl Fake {
    pub(crate) fn new() -> Fake {
        let f = Fake {
            root: tempfile::tempdir().unwrap(),
            st: Mutex::new(State::default()),
            run_hook: Mutex::new(None),
        };
        // A "busybox" with /etc/passwd, /bin and a symlinked dir.
        let dir = f.root.path().join("base");
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("usr")).unwrap();
        std::os::unix::fs::symlink("/bin", dir.join("usr/bin")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nwww:x:33:\n").unwrap();
        let config: ImageConfig = serde_json::from_value(serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        let id = Digest::sha256_of(b"busybox");
        let mut st = f.st.lock().unwrap();
        st.images.insert(
            id.clone(),
            FakeImage {
                config,
                dir,
                history: Vec::new(),
            },
        );
        st.names.insert("busybox".into(), id);
        drop(st);
        f
    }

    pub(crate) fn history(&self, id: &Digest) -> Vec<String> {
        self.st.lock().unwrap().images[id].history.clone()
    }

    pub(crate) fn dir(&self, id: &Digest) -> PathBuf {
        self.st.lock().unwrap().images[id].dir.clone()
    }

    pub(crate) fn config(&self, id: &Digest) -> berth_image::ContainerConfig {
        self.st.lock().unwrap().images[id]
            .config
            .config
            .clone()
            .unwrap_or_default()
    }

    pub(crate) fn image_count(&self) -> usize {
        self.st.lock().unwrap().images.len()
    }

    fn new_image(&self, req: &CommitRequest, layer: Option<&mut dyn Read>) -> Result<Digest> {
        let mut st = self.st.lock().unwrap();
        st.n += 1;
        let n = st.n;
        let dir = self.root.path().join(format!("img{n}"));
        let (mut config, mut history) = match &req.parent {
            Some(p) => {
                let parent = &st.images[p];
                copy_tree(&parent.dir, &dir);
                (parent.config.clone(), parent.history.clone())
            }
            None => {
                std::fs::create_dir_all(&dir).unwrap();
                (
                    ImageConfig {
                        rootfs: RootFs::default(),
                        ..Default::default()
                    },
                    Vec::new(),
                )
            }
        };
        if let Some(l) = layer {
            let mut ar = tar::Archive::new(l);
            ar.set_preserve_permissions(true);
            ar.unpack(&dir)
                .map_err(|e| BuildError::Internal(format!("apply layer: {e}")))?;
        }
        config.config = Some(req.config.clone());
        config.author = req.author.clone();
        history.push(req.created_by.clone());
        let id = Digest::sha256_of(format!("{n}{}", req.created_by).as_bytes());
        st.images.insert(
            id.clone(),
            FakeImage {
                config,
                dir,
                history,
            },
        );
        Ok(id)
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

impl BuildBackend for Fake {
    fn image(&self, name: &str, pull: bool) -> Result<BaseImage> {
        let mut st = self.st.lock().unwrap();
        if pull {
            st.pulls.push(name.to_string());
        }
        let id = st
            .names
            .get(name)
            .cloned()
            .or_else(|| name.parse::<Digest>().ok().filter(|d| st.images.contains_key(d)))
            .ok_or_else(|| {
                BuildError::NotFound(format!(
                    "pull access denied for {name}, repository does not exist or may require 'docker login'"
                ))
            })?;
        Ok(BaseImage {
            config: st.images[&id].config.clone(),
            id,
        })
    }

    fn image_by_id(&self, id: &Digest) -> Option<BaseImage> {
        let st = self.st.lock().unwrap();
        st.images.get(id).map(|i| BaseImage {
            id: id.clone(),
            config: i.config.clone(),
        })
    }

    fn run(
        &self,
        req: &RunRequest,
        commit: &CommitRequest,
        out: &mut dyn Progress,
        cancel: &Cancel,
    ) -> Result<Digest> {
        self.st.lock().unwrap().runs.push(req.clone());
        self.st.lock().unwrap().live_containers += 1;
        let cid = berth_stdx::random_id();
        running_in(out, &cid);
        let script = req.cmd.join(" ");
        out.stream(&format!("ran: {script}\n"));
        let hook = self.run_hook.lock().unwrap().clone();
        if let Some(Err(e)) = hook.map(|h| h(&script, cancel)) {
            self.st.lock().unwrap().live_containers -= 1;
            removed_container(out, &cid);
            return Err(e);
        }
        let code = script
            .split("exit ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<i32>().ok())
            .unwrap_or(0);
        let mut layer = tar::Builder::new(Vec::new());
        let body = format!("{script}\n");
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        layer.append_data(&mut h, "ran", body.as_bytes()).unwrap();
        let tar = layer.into_inner().unwrap();
        let res = if code != 0 {
            Err(BuildError::RunFailed { cmd: script, code })
        } else {
            self.new_image(commit, Some(&mut &tar[..]))
        };
        self.st.lock().unwrap().live_containers -= 1;
        removed_container(out, &cid);
        res
    }

    fn commit(&self, req: &CommitRequest, layer: Option<&mut dyn Read>) -> Result<Digest> {
        self.new_image(req, layer)
    }

    fn mount(&self, id: Option<&Digest>) -> Result<Box<dyn MountedImage>> {
        match id {
            Some(id) => Ok(Box::new(Dir(self.dir(id)))),
            None => {
                let d = self
                    .root
                    .path()
                    .join(format!("scratch-{}", berth_stdx::id::random_hex(4)));
                std::fs::create_dir_all(&d).unwrap();
                Ok(Box::new(Dir(d)))
            }
        }
    }

    fn tag(&self, id: &Digest, tag: &str) -> Result<String> {
        let name = if tag.contains(':') {
            tag.to_string()
        } else {
            format!("{tag}:latest")
        };
        self.st
            .lock()
            .unwrap()
            .names
            .insert(name.clone(), id.clone());
        Ok(name)
    }
}

/// Collects output.
#[derive(Default)]
pub(crate) struct Out(pub(crate) String);

impl Progress for Out {
    fn stream(&mut self, text: &str) -> bool {
        self.0.push_str(text);
        true
    }
}
