//! `berth registry serve`: run the OCI distribution registry in the foreground.

use std::path::PathBuf;

use anyhow::{Context, anyhow};

const HELP: &str = "Usage:  {usage}\n\n{about}\n\n{all-args}{after-help}";

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RegistryCommand {
    /// Run an OCI distribution registry
    #[command(override_usage = "berth registry serve [OPTIONS]", help_template = HELP)]
    Serve(ServeArgs),
    /// Remove blobs no repository links (the registry must be stopped)
    #[command(
        name = "garbage-collect",
        override_usage = "berth registry garbage-collect [OPTIONS]",
        help_template = HELP
    )]
    GarbageCollect(GcArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct GcArgs {
    /// Root directory of registry storage
    #[arg(
        long = "data-root",
        value_name = "string",
        default_value = "/var/lib/berth-registry"
    )]
    data_root: PathBuf,
}

/// Flags of `berth registry serve`; each overrides the same key of `--config`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (default "0.0.0.0:5000")
    #[arg(long = "addr", value_name = "string")]
    addr: Option<String>,
    /// Root directory of registry storage (default "/var/lib/berth-registry")
    #[arg(long = "data-root", value_name = "string")]
    data_root: Option<PathBuf>,
    /// TLS certificate file (PEM)
    #[arg(long = "tls-cert", value_name = "string")]
    tls_cert: Option<PathBuf>,
    /// TLS key file (PEM)
    #[arg(long = "tls-key", value_name = "string")]
    tls_key: Option<PathBuf>,
    /// htpasswd file with bcrypt entries (htpasswd -Bbn USER PASSWORD)
    #[arg(long = "htpasswd", value_name = "string")]
    htpasswd: Option<PathBuf>,
    /// Realm for basic authentication
    #[arg(long = "realm", value_name = "string")]
    realm: Option<String>,
    /// Ask clients for bearer tokens from this URL (e.g. https://HOST:5000/token)
    #[arg(long = "token-realm", value_name = "string")]
    token_realm: Option<String>,
    /// Allow deleting manifests, tags and blobs
    #[arg(long = "delete")]
    delete: bool,
    /// Configuration file (JSON or key = value lines)
    #[arg(long = "config", value_name = "string")]
    config: Option<PathBuf>,
    /// Set the logging level ("debug"|"info"|"warn"|"error")
    #[arg(
        short = 'l',
        long = "log-level",
        value_name = "string",
        default_value = "info"
    )]
    log_level: String,
}

fn config(args: ServeArgs) -> anyhow::Result<berth_registry::Config> {
    let mut c = berth_registry::Config::default();
    if let Some(p) = &args.config {
        c = berth_registry::ConfigFile::load(p)?.apply(c);
    }
    macro_rules! flag {
        ($($f:ident),*) => { $( if let Some(v) = args.$f { c.$f = v.into(); } )* };
    }
    flag!(addr, data_root, realm);
    macro_rules! flag_opt {
        ($($f:ident),*) => { $( if args.$f.is_some() { c.$f = args.$f; } )* };
    }
    flag_opt!(tls_cert, tls_key, htpasswd, token_realm);
    c.delete |= args.delete;
    Ok(c)
}

pub(crate) fn run(cmd: RegistryCommand) -> anyhow::Result<()> {
    let args = match cmd {
        RegistryCommand::Serve(a) => a,
        RegistryCommand::GarbageCollect(a) => {
            let r = berth_registry::garbage_collect(&a.data_root)
                .map_err(|e| anyhow!("berth registry garbage-collect: {e}"))?;
            println!("removed {} blobs, {} bytes", r.blobs_removed, r.bytes_freed);
            return Ok(());
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,berth_registry={}", args.log_level))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let cfg = config(args).map_err(|e| anyhow!("berth registry serve: {e}"))?;
    let rt = tokio::runtime::Runtime::new().context("start async runtime")?;
    rt.block_on(async move {
        let server = berth_registry::start(cfg)
            .await
            .map_err(|e| anyhow!("berth registry serve: {e}"))?;
        eprintln!("berth registry listening on {}", server.url());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("install SIGTERM handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        server.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: RegistryCommand,
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(
            &file,
            r#"{"addr":"127.0.0.1:7000","realm":"file","delete":true}"#,
        )
        .unwrap();
        let t = T::try_parse_from([
            "t",
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--addr",
            "127.0.0.1:7001",
        ])
        .unwrap();
        let RegistryCommand::Serve(args) = t.cmd else {
            panic!("serve expected")
        };
        let c = config(args).unwrap();
        assert_eq!(c.addr, "127.0.0.1:7001");
        assert_eq!(c.realm, "file");
        assert!(c.delete);
        assert_eq!(c.data_root, PathBuf::from("/var/lib/berth-registry"));
    }
}
