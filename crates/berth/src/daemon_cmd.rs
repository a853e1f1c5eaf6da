//! `berth daemon`: dockerd's flags, mapped onto the daemon's options.
//! (Owned by the daemon work; the CLI only wires it in as a subcommand.)

use std::path::PathBuf;

use anyhow::anyhow;

/// Flags of `berth daemon`, as dockerd spells them.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Daemon socket(s) to connect to
    #[arg(short = 'H', long = "host", value_name = "list")]
    pub hosts: Vec<String>,
    /// Root directory of persistent berth state
    #[arg(long = "data-root", value_name = "string")]
    pub data_root: Option<PathBuf>,
    /// Root directory for execution state files
    #[arg(long = "exec-root", value_name = "string")]
    pub exec_root: Option<PathBuf>,
    /// Path to use for daemon PID file
    #[arg(short = 'p', long = "pidfile", value_name = "string")]
    pub pidfile: Option<PathBuf>,
    /// Daemon configuration file
    #[arg(long = "config-file", value_name = "string")]
    pub config_file: Option<PathBuf>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Enable live restore of berth when containers are still running
    #[arg(long = "live-restore")]
    pub live_restore: bool,
    /// Validate daemon configuration and exit
    #[arg(long = "validate")]
    pub validate: bool,
    #[command(flatten)]
    pub net: crate::daemon_net::NetDaemonArgs,
}

fn init_logging(level: &str, debug: bool) {
    let level = match (debug, level) {
        (true, _) => "debug",
        (_, "fatal") => "error",
        (_, l) => l,
    };
    // Our crates at the chosen level; dependencies stay quiet unless asked for.
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "warn,berth={level},berth_daemon={level},berth_image={level}"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Runs the daemon in the foreground until SIGINT/SIGTERM.
pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let flags = berth_daemon::Flags {
        hosts: args.hosts,
        data_root: args.data_root,
        exec_root: args.exec_root,
        pidfile: args.pidfile,
        config_file: args.config_file,
        log_level: args.log_level,
        debug: args.debug,
        live_restore: args.live_restore,
    };
    let mut opts = berth_daemon::resolve(&flags).map_err(|e| anyhow!("berth daemon: {e}"))?;
    let config_file = opts.config_file.display().to_string();
    args.net
        .merge_into(&mut opts.file, &config_file)
        .map_err(|e| anyhow!("berth daemon: {e}"))?;
    if args.validate {
        println!("configuration OK");
        return Ok(());
    }
    init_logging(&opts.log_level, opts.debug);
    berth_daemon::run(opts).map_err(|e| anyhow!("berth daemon: {e}"))
}
