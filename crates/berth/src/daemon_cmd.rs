//! `berth daemon`: dockerd's flags, mapped onto the daemon's options.
//! (Owned by the daemon work; the CLI only wires it in as a subcommand.)

/// Flags of `berth daemon`, as dockerd spells them.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {}

/// Runs the daemon in the foreground until SIGINT/SIGTERM.
pub fn run(_args: DaemonArgs) -> anyhow::Result<()> {
    anyhow::bail!("berth daemon: not built yet")
}
