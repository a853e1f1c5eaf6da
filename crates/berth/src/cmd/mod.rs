//! Commands, one module per resource. Each takes its clap args and a [`Ctx`].

pub(crate) mod build;
pub(crate) mod build_where;
pub(crate) mod container;
pub(crate) mod container_cli;
pub(crate) mod container_cp;
pub(crate) mod container_exec;
pub(crate) mod container_flags;
pub(crate) mod container_info;
pub(crate) mod container_opts;
pub(crate) mod container_parse;
pub(crate) mod container_ps;
pub(crate) mod container_run;
pub(crate) mod container_stream;
pub(crate) mod events;
pub(crate) mod image;
pub(crate) mod image_io;
pub(crate) mod inspect;
pub(crate) mod network;
pub(crate) mod reference;
pub(crate) mod registry_auth;
pub(crate) mod registry_client;
pub(crate) mod system;
pub(crate) mod volume;

use anyhow::Result;
use berth_client::{Client, Host};
use tokio::sync::OnceCell;

use crate::usage::{self, Arity, Exit};

/// What every command needs: the daemon address, a lazily connected client and
/// the command path (for usage messages).
pub(crate) struct Ctx {
    pub host: Host,
    pub default_host: bool,
    pub path: Vec<String>,
    client: OnceCell<Client>,
}

impl Ctx {
    pub(crate) fn new(host: Host, default_host: bool, path: Vec<String>) -> Ctx {
        Ctx {
            host,
            default_host,
            path,
            client: OnceCell::new(),
        }
    }

    /// The client, after version negotiation; starts the daemon when allowed.
    pub(crate) async fn client(&self) -> Result<&Client> {
        self.client
            .get_or_try_init(|| async {
                let client = Client::new(self.host.clone());
                match client.negotiate().await {
                    Ok(_) => Ok(client),
                    Err(e)
                        if e.is_connect() && self.default_host && crate::autostart::allowed() =>
                    {
                        crate::autostart::start(&client).await?;
                        client.negotiate().await?;
                        Ok(client)
                    }
                    // Like docker, a daemon that answers /_ping badly is still used
                    // (unversioned paths); only an unreachable one is fatal here.
                    Err(berth_client::Error::Daemon { .. }) => Ok(client),
                    Err(e) => Err(anyhow::Error::new(e)),
                }
            })
            .await
    }

    /// The API version negotiated so far, for extra connections (wait, resize).
    pub(crate) fn client_version(&self) -> Option<String> {
        self.client
            .get()
            .and_then(|c| c.api_version().map(str::to_string))
    }

    /// Validates the number of positional arguments, docker style.
    pub(crate) fn args(&self, arity: Arity, n: usize) -> Result<(), Exit> {
        usage::check_args(&self.path, arity, n)
    }

    /// A bad flag value (exit 125), worded as docker's flag parser words it.
    pub(crate) fn flag_error(&self, msg: &str) -> Exit {
        let p = usage::display_path(&self.path);
        let usage = crate::usage::usage_of(&self.path);
        Exit {
            code: 125,
            message: format!("{msg}\n\nUsage:  {usage}\n\nRun '{p} --help' for more information"),
        }
    }
}

/// `-f key=value` flags as docker's filter JSON (map form).
pub(crate) fn filters_json(ctx: &Ctx, filters: &[String]) -> Result<Option<String>, Exit> {
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            return Err(ctx.flag_error(&format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            )));
        };
        let k = k.trim().to_lowercase();
        let entry = map.entry(k).or_insert_with(|| serde_json::json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(v.trim().to_string(), serde_json::Value::Bool(true));
        }
    }
    if map.is_empty() {
        return Ok(None);
    }
    Ok(Some(serde_json::Value::Object(map).to_string()))
}

/// Writes to stdout, ignoring a closed pipe like docker does.
/// docker's map flags (`--label`, `--opt`, ...): `k=v` → k: v, `k` alone → k: "", sorted
/// by key as Go marshals a map.
pub(crate) fn kv_sorted(list: &[String]) -> std::collections::BTreeMap<String, String> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

pub(crate) fn out(s: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}
