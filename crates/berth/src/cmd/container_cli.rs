//! The `container` command group and the dispatch of every container command
//! (top-level shortcuts such as `run` and `ps` share it).

use clap::Subcommand;

use super::Ctx;
use super::container::{ExportArgs, KillArgs, NamesArgs, PortArgs, PruneArgs, RmArgs, StopArgs};
use super::container_exec::{AttachArgs, ExecArgs, LogsArgs};
use super::container_info::{CommitArgs, CpArgs, StatsArgs, TopArgs, UpdateArgs};
use super::container_ps::PsArgs;
use super::container_run::{CreateArgs, RunArgs, StartArgs};
use super::inspect::InspectArgs;

const HELP: &str = "Usage:  {usage}\n\n{about}\n\n{all-args}{after-help}";

/// `berth container <verb>` (docker's names and aliases).
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Attach local standard input, output, and error streams to a running container
    #[command(override_usage = "berth container attach [OPTIONS] CONTAINER", help_template = HELP)]
    Attach(AttachArgs),
    /// Create a new image from a container's changes
    #[command(override_usage = "berth container commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", help_template = HELP)]
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    #[command(override_usage = "berth container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", help_template = HELP)]
    Cp(CpArgs),
    /// Create a new container
    #[command(override_usage = "berth container create [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true, mut_arg("pull", |a| a.help(r#"Pull image before creating ("always", "|missing", "never")"#)))]
    Create(CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    #[command(override_usage = "berth container diff CONTAINER", help_template = HELP)]
    Diff(NamesArgs),
    /// Execute a command in a running container
    #[command(override_usage = "berth container exec [OPTIONS] CONTAINER COMMAND [ARG...]", help_template = HELP)]
    Exec(ExecArgs),
    /// Export a container's filesystem as a tar archive
    #[command(override_usage = "berth container export [OPTIONS] CONTAINER", help_template = HELP)]
    Export(ExportArgs),
    /// Display detailed information on one or more containers
    #[command(override_usage = "berth container inspect [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Inspect(InspectArgs),
    /// Kill one or more running containers
    #[command(override_usage = "berth container kill [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Kill(KillArgs),
    /// Fetch the logs of a container
    #[command(override_usage = "berth container logs [OPTIONS] CONTAINER", help_template = HELP)]
    Logs(LogsArgs),
    /// List containers
    #[command(visible_aliases = ["ps", "list"], override_usage = "berth container ls [OPTIONS]", help_template = HELP)]
    Ls(PsArgs),
    /// Pause all processes within one or more containers
    #[command(override_usage = "berth container pause CONTAINER [CONTAINER...]", help_template = HELP)]
    Pause(NamesArgs),
    /// List port mappings or a specific mapping for the container
    #[command(override_usage = "berth container port CONTAINER [PRIVATE_PORT[/PROTO]]", help_template = HELP)]
    Port(PortArgs),
    /// Remove all stopped containers
    #[command(override_usage = "berth container prune [OPTIONS]", help_template = HELP)]
    Prune(PruneArgs),
    /// Rename a container
    #[command(override_usage = "berth container rename CONTAINER NEW_NAME", help_template = HELP)]
    Rename(NamesArgs),
    /// Restart one or more containers
    #[command(override_usage = "berth container restart [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Restart(StopArgs),
    /// Remove one or more containers
    #[command(visible_aliases = ["remove"], override_usage = "berth container rm [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Rm(RmArgs),
    /// Create and run a new container from an image
    #[command(override_usage = "berth container run [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true)]
    Run(RunArgs),
    /// Start one or more stopped containers
    #[command(override_usage = "berth container start [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Start(StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    #[command(override_usage = "berth container stats [OPTIONS] [CONTAINER...]", help_template = HELP)]
    Stats(StatsArgs),
    /// Stop one or more running containers
    #[command(override_usage = "berth container stop [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Stop(StopArgs),
    /// Display the running processes of a container
    #[command(override_usage = "berth container top CONTAINER [ps OPTIONS]", help_template = HELP)]
    Top(TopArgs),
    /// Unpause all processes within one or more containers
    #[command(override_usage = "berth container unpause CONTAINER [CONTAINER...]", help_template = HELP)]
    Unpause(NamesArgs),
    /// Update configuration of one or more containers
    #[command(override_usage = "berth container update [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Update(UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    #[command(override_usage = "berth container wait CONTAINER [CONTAINER...]", help_template = HELP)]
    Wait(NamesArgs),
}

pub(crate) async fn dispatch(ctx: &Ctx, cmd: ContainerCommand) -> anyhow::Result<()> {
    use super::{container as c, container_exec as x, container_info as i, container_run as r};
    use ContainerCommand as C;
    match cmd {
        C::Attach(a) => x::attach(ctx, a).await,
        C::Commit(a) => i::commit(ctx, a).await,
        C::Cp(a) => i::cp(ctx, a).await,
        C::Create(a) => r::create(ctx, a).await,
        C::Diff(a) => c::diff(ctx, a).await,
        C::Exec(a) => x::exec(ctx, a).await,
        C::Export(a) => c::export(ctx, a).await,
        C::Inspect(a) => i::inspect_containers(ctx, a).await,
        C::Kill(a) => c::kill(ctx, a).await,
        C::Logs(a) => x::logs(ctx, a).await,
        C::Ls(a) => super::container_ps::ps(ctx, a).await,
        C::Pause(a) => c::simple(ctx, a, "pause").await,
        C::Port(a) => c::port(ctx, a).await,
        C::Prune(a) => c::prune(ctx, a).await,
        C::Rename(a) => c::rename(ctx, a).await,
        C::Restart(a) => c::stop(ctx, a, "restart").await,
        C::Rm(a) => c::rm(ctx, a).await,
        C::Run(a) => r::run(ctx, a).await,
        C::Start(a) => r::start(ctx, a).await,
        C::Stats(a) => i::stats(ctx, a).await,
        C::Stop(a) => c::stop(ctx, a, "stop").await,
        C::Top(a) => i::top(ctx, a).await,
        C::Unpause(a) => c::simple(ctx, a, "unpause").await,
        C::Update(a) => i::update(ctx, a).await,
        C::Wait(a) => c::wait(ctx, a).await,
    }
}

/// The top-level shortcuts docker keeps for container commands (`berth run`, ...).
#[derive(Debug, Subcommand)]
pub(crate) enum TopLevel {
    /// Attach local standard input, output, and error streams to a running container
    #[command(override_usage = "berth attach [OPTIONS] CONTAINER", help_template = HELP)]
    Attach(AttachArgs),
    /// Create a new image from a container's changes
    #[command(override_usage = "berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", help_template = HELP)]
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    #[command(override_usage = "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", help_template = HELP)]
    Cp(CpArgs),
    /// Create a new container
    #[command(override_usage = "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true, mut_arg("pull", |a| a.help(r#"Pull image before creating ("always", "|missing", "never")"#)))]
    Create(CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    #[command(override_usage = "berth diff CONTAINER", help_template = HELP)]
    Diff(NamesArgs),
    /// Execute a command in a running container
    #[command(override_usage = "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]", help_template = HELP)]
    Exec(ExecArgs),
    /// Export a container's filesystem as a tar archive
    #[command(override_usage = "berth export [OPTIONS] CONTAINER", help_template = HELP)]
    Export(ExportArgs),
    /// Kill one or more running containers
    #[command(override_usage = "berth kill [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Kill(KillArgs),
    /// Fetch the logs of a container
    #[command(override_usage = "berth logs [OPTIONS] CONTAINER", help_template = HELP)]
    Logs(LogsArgs),
    /// Pause all processes within one or more containers
    #[command(override_usage = "berth pause CONTAINER [CONTAINER...]", help_template = HELP)]
    Pause(NamesArgs),
    /// List port mappings or a specific mapping for the container
    #[command(override_usage = "berth port CONTAINER [PRIVATE_PORT[/PROTO]]", help_template = HELP)]
    Port(PortArgs),
    /// List containers
    #[command(override_usage = "berth ps [OPTIONS]", help_template = HELP)]
    Ps(PsArgs),
    /// Rename a container
    #[command(override_usage = "berth rename CONTAINER NEW_NAME", help_template = HELP)]
    Rename(NamesArgs),
    /// Restart one or more containers
    #[command(override_usage = "berth restart [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Restart(StopArgs),
    /// Remove one or more containers
    #[command(override_usage = "berth rm [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Rm(RmArgs),
    /// Create and run a new container from an image
    #[command(override_usage = "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true)]
    Run(RunArgs),
    /// Start one or more stopped containers
    #[command(override_usage = "berth start [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Start(StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    #[command(override_usage = "berth stats [OPTIONS] [CONTAINER...]", help_template = HELP)]
    Stats(StatsArgs),
    /// Stop one or more running containers
    #[command(override_usage = "berth stop [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Stop(StopArgs),
    /// Display the running processes of a container
    #[command(override_usage = "berth top CONTAINER [ps OPTIONS]", help_template = HELP)]
    Top(TopArgs),
    /// Unpause all processes within one or more containers
    #[command(override_usage = "berth unpause CONTAINER [CONTAINER...]", help_template = HELP)]
    Unpause(NamesArgs),
    /// Update configuration of one or more containers
    #[command(override_usage = "berth update [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP)]
    Update(UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    #[command(override_usage = "berth wait CONTAINER [CONTAINER...]", help_template = HELP)]
    Wait(NamesArgs),
}

impl From<TopLevel> for ContainerCommand {
    fn from(t: TopLevel) -> ContainerCommand {
        use ContainerCommand as C;
        match t {
            TopLevel::Attach(a) => C::Attach(a),
            TopLevel::Commit(a) => C::Commit(a),
            TopLevel::Cp(a) => C::Cp(a),
            TopLevel::Create(a) => C::Create(a),
            TopLevel::Diff(a) => C::Diff(a),
            TopLevel::Exec(a) => C::Exec(a),
            TopLevel::Export(a) => C::Export(a),
            TopLevel::Kill(a) => C::Kill(a),
            TopLevel::Logs(a) => C::Logs(a),
            TopLevel::Pause(a) => C::Pause(a),
            TopLevel::Port(a) => C::Port(a),
            TopLevel::Ps(a) => C::Ls(a),
            TopLevel::Rename(a) => C::Rename(a),
            TopLevel::Restart(a) => C::Restart(a),
            TopLevel::Rm(a) => C::Rm(a),
            TopLevel::Run(a) => C::Run(a),
            TopLevel::Start(a) => C::Start(a),
            TopLevel::Stats(a) => C::Stats(a),
            TopLevel::Stop(a) => C::Stop(a),
            TopLevel::Top(a) => C::Top(a),
            TopLevel::Unpause(a) => C::Unpause(a),
            TopLevel::Update(a) => C::Update(a),
            TopLevel::Wait(a) => C::Wait(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[test]
    fn command_tree_is_consistent() {
        crate::cli::Cli::command().debug_assert();
        let parse = |line: &str| {
            let mut argv = vec!["berth"];
            argv.extend(line.split_whitespace());
            crate::cli::Cli::try_parse_from(argv).map(|c| format!("{:?}", c.cmd))
        };
        // Flags stop at the image: the command's own flags are its arguments.
        let run = parse("run -it --rm busybox sh -c -x").unwrap();
        assert!(
            run.contains(r#"args: ["busybox", "sh", "-c", "-x"]"#),
            "{run}"
        );
        assert!(parse("container ls -a").unwrap().contains("Ls("));
        assert!(parse("container ps").unwrap().contains("Ls("));
        let exec = parse("exec -it c1 ls -la").unwrap();
        assert!(exec.contains(r#"args: ["c1", "ls", "-la"]"#), "{exec}");
    }
}
