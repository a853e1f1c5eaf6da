//! The state of one stage while it builds: the current image and the config the
//! next commit writes.

use std::collections::BTreeMap;

use berth_image::{ContainerConfig, ImageConfig};
use berth_stdx::Digest;

use crate::backend::BaseImage;
use crate::error::{BuildError, Result};
use crate::executor::Ctx;

/// PATH a stage gets when its base sets none (docker's default on Linux).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) struct StageState {
    /// The current image (`None`: scratch, nothing committed yet).
    pub(crate) id: Option<Digest>,
    base: ImageConfig,
    pub(crate) config: ContainerConfig,
    /// ARGs declared in this stage, with their values.
    pub(crate) args: BTreeMap<String, Option<String>>,
    /// Values of the ARGs declared before the first FROM (defaults for `ARG name`).
    pub(crate) meta_args: BTreeMap<String, Option<String>>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub(crate) cmd_set: bool,
    pub(crate) author: Option<String>,
}

impl StageState {
    pub(crate) fn new(
        base: Option<BaseImage>,
        meta_args: BTreeMap<String, Option<String>>,
    ) -> Self {
        let (id, base) = match base {
            Some(b) => (Some(b.id), b.config),
            None => (None, ImageConfig::default()),
        };
        let mut config = base.config.clone().unwrap_or_default();
        let env = config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }
        StageState {
            id,
            author: base.author.clone(),
            base,
            config,
            args: BTreeMap::new(),
            meta_args,
            cmd_set: false,
        }
    }

    pub(crate) fn id_string(&self) -> String {
        self.id.as_ref().map(|d| d.to_string()).unwrap_or_default()
    }

    pub(crate) fn env(&self) -> &[String] {
        self.config.env.as_deref().unwrap_or(&[])
    }

    fn env_get(&self, name: &str) -> Option<String> {
        self.env().iter().rev().find_map(|e| {
            let (k, v) = e.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }

    /// A variable for substitution: ENV wins over ARG.
    pub(crate) fn lookup(&self, name: &str) -> Option<String> {
        self.env_get(name)
            .or_else(|| self.args.get(name).cloned().flatten())
    }

    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        let env = self.config.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k) == Some(key) || e.as_str() == key)
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
    }

    /// The shell for shell-form commands.
    pub(crate) fn shell(&self) -> Vec<String> {
        match &self.config.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }

    pub(crate) fn workdir(&self) -> String {
        if self.config.working_dir.is_empty() {
            "/".into()
        } else {
            self.config.working_dir.clone()
        }
    }

    /// The base image's ONBUILD triggers; the new image does not inherit them.
    pub(crate) fn take_onbuild(&mut self) -> Vec<String> {
        self.config.on_build.take().unwrap_or_default()
    }

    /// The build args a RUN sees: declared, with a value, not shadowed by ENV; sorted
    /// as `KEY=value` strings (docker sorts them so for the `|N K=v` history prefix).
    pub(crate) fn run_args(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .args
            .iter()
            .filter_map(|(k, v)| {
                let v = v.as_ref()?;
                if self.env_get(k).is_some() {
                    return None;
                }
                Some(format!("{k}={v}"))
            })
            .collect();
        v.sort();
        v
    }

    pub(crate) fn image_config(&self) -> ImageConfig {
        let mut c = self.base.clone();
        c.config = Some(self.config.clone());
        c
    }

    /// The stage's final image (a stage of only `FROM scratch` has none).
    pub(crate) fn commit_final(&self, _ctx: &mut Ctx<'_>) -> Result<Digest> {
        self.id.clone().ok_or_else(|| {
            BuildError::Invalid("No image was generated. Is your Dockerfile empty?".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::StageState;

    /// Regression: the `|N K=v` prefix was ordered by key (`A`, `A1`); docker sorts
    /// the `K=v` strings (`A1=..` before `A=..`, '1' < '=').
    #[test]
    fn run_args_sort_like_docker() {
        let mut st = StageState::new(None, Default::default());
        st.args.insert("A".into(), Some("x".into()));
        st.args.insert("A1".into(), Some("y".into()));
        st.args.insert("NOVALUE".into(), None);
        st.set_env("SHADOW", "env");
        st.args.insert("SHADOW".into(), Some("arg".into()));
        assert_eq!(st.run_args(), ["A1=y", "A=x"]);
    }
}
