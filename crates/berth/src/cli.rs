//! The command tree, as docker spells it: names, aliases, flags and usage lines.
//! Positional arguments are collected as lists and counted by the commands
//! themselves, so the usage errors can be worded exactly as docker words them.

use clap::{Parser, Subcommand};

use crate::cmd::{events, image, inspect, system};
use crate::daemon_cmd;

const HELP: &str = "Usage:  {usage}\n\n{about}\n\n{all-args}{after-help}";

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers",
    override_usage = "berth [OPTIONS] COMMAND [ARG...]",
    help_template = HELP,
    disable_version_flag = true,
    disable_help_subcommand = true,
    subcommand_required = false,
    after_help = "Run 'berth COMMAND --help' for more information on a command."
)]
pub(crate) struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", value_name = "list")]
    pub host: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,
    /// Location of client config files
    #[arg(long = "config", value_name = "string")]
    pub config: Option<String>,
    /// Name of the context to use to connect to the daemon
    #[arg(short = 'c', long = "context", value_name = "string")]
    pub context: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub cmd: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the berth version information
    #[command(override_usage = "berth version [OPTIONS]", help_template = HELP)]
    Version(system::VersionArgs),
    /// Display system-wide information
    #[command(override_usage = "berth info [OPTIONS]", help_template = HELP)]
    Info(system::InfoArgs),
    /// Manage berth
    #[command(
        subcommand,
        override_usage = "berth system COMMAND",
        help_template = HELP,
        after_help = "Run 'berth system COMMAND --help' for more information on a command."
    )]
    System(SystemCommand),
    /// List images
    #[command(override_usage = "berth images [OPTIONS] [REPOSITORY[:TAG]]", help_template = HELP)]
    Images(image::ListArgs),
    /// Manage images
    #[command(
        subcommand,
        override_usage = "berth image COMMAND",
        help_template = HELP,
        after_help = "Run 'berth image COMMAND --help' for more information on a command."
    )]
    Image(ImageCommand),
    /// Return low-level information on berth objects
    #[command(override_usage = "berth inspect [OPTIONS] NAME|ID [NAME|ID...]", help_template = HELP)]
    Inspect(inspect::InspectArgs),
    /// Build an image from a Dockerfile
    #[command(override_usage = "berth build [OPTIONS] PATH | URL | -", help_template = HELP)]
    Build(crate::cmd::build::BuildArgs),
    /// Manage builds
    #[command(subcommand, override_usage = "berth builder COMMAND", help_template = HELP)]
    Builder(crate::cmd::build::BuilderCommand),
    /// Show the history of an image
    #[command(override_usage = "berth history [OPTIONS] IMAGE", help_template = HELP)]
    History(image::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", help_template = HELP)]
    Tag(image::TagArgs),
    /// Remove one or more images
    #[command(override_usage = "berth rmi [OPTIONS] IMAGE [IMAGE...]", help_template = HELP)]
    Rmi(image::RmArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", help_template = HELP)]
    Import(image::ImportArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "berth save [OPTIONS] IMAGE [IMAGE...]", help_template = HELP)]
    Save(image::SaveArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "berth load [OPTIONS]", help_template = HELP)]
    Load(image::LoadArgs),
    /// Get real time events from the server
    #[command(override_usage = "berth events [OPTIONS]", help_template = HELP)]
    Events(events::EventsArgs),
    /// Download an image from a registry
    #[command(override_usage = "berth pull [OPTIONS] NAME[:TAG|@DIGEST]", help_template = HELP)]
    Pull(crate::cmd::registry_client::PullArgs),
    /// Upload an image to a registry
    #[command(override_usage = "berth push [OPTIONS] NAME[:TAG]", help_template = HELP)]
    Push(crate::cmd::registry_client::PushArgs),
    /// Authenticate to a registry
    #[command(override_usage = "berth login [OPTIONS] [SERVER]", help_template = HELP)]
    Login(crate::cmd::registry_client::LoginArgs),
    /// Log out from a registry
    #[command(override_usage = "berth logout [SERVER]", help_template = HELP)]
    Logout(crate::cmd::registry_client::LogoutArgs),
    /// Search Docker Hub for images
    #[command(override_usage = "berth search [OPTIONS] TERM", help_template = HELP)]
    Search(crate::cmd::registry_client::SearchArgs),
    /// Manage containers
    #[command(
        subcommand,
        override_usage = "berth container COMMAND",
        help_template = HELP,
        after_help = "Run 'berth container COMMAND --help' for more information on a command."
    )]
    Container(crate::cmd::container_cli::ContainerCommand),
    #[command(flatten)]
    Containers(crate::cmd::container_cli::TopLevel),
    /// Manage volumes
    #[command(
        subcommand,
        override_usage = "berth volume COMMAND",
        help_template = HELP,
        after_help = "Run 'berth volume COMMAND --help' for more information on a command."
    )]
    Volume(crate::cmd::volume::VolumeCommand),
    /// Manage networks
    #[command(
        subcommand,
        override_usage = "berth network COMMAND",
        help_template = HELP,
        after_help = "Run 'berth network COMMAND --help' for more information on a command."
    )]
    Network(crate::cmd::network::NetworkCommand),
    /// Run the berth daemon
    #[command(override_usage = "berth daemon [OPTIONS]", help_template = HELP)]
    Daemon(daemon_cmd::DaemonArgs),
    /// Run an OCI distribution registry
    #[command(
        subcommand,
        override_usage = "berth registry COMMAND",
        help_template = HELP,
        after_help = "Run 'berth registry COMMAND --help' for more information on a command."
    )]
    Registry(crate::registry_cmd::RegistryCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SystemCommand {
    /// Show berth disk usage
    #[command(override_usage = "berth system df [OPTIONS]", help_template = HELP)]
    Df(system::DfArgs),
    /// Get real time events from the server
    #[command(override_usage = "berth system events [OPTIONS]", help_template = HELP)]
    Events(events::EventsArgs),
    /// Display system-wide information
    #[command(override_usage = "berth system info [OPTIONS]", help_template = HELP)]
    Info(system::InfoArgs),
    /// Remove unused data
    #[command(override_usage = "berth system prune [OPTIONS]", help_template = HELP)]
    Prune(crate::cmd::container::SystemPruneArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// Show the history of an image
    #[command(override_usage = "berth image history [OPTIONS] IMAGE", help_template = HELP)]
    History(image::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "berth image import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", help_template = HELP)]
    Import(image::ImportArgs),
    /// Display detailed information on one or more images
    #[command(override_usage = "berth image inspect [OPTIONS] IMAGE [IMAGE...]", help_template = HELP)]
    Inspect(inspect::ImageInspectArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "berth image load [OPTIONS]", help_template = HELP)]
    Load(image::LoadArgs),
    /// List images
    #[command(visible_alias = "list", override_usage = "berth image ls [OPTIONS] [REPOSITORY[:TAG]]", help_template = HELP)]
    Ls(image::ListArgs),
    /// Remove unused images
    #[command(override_usage = "berth image prune [OPTIONS]", help_template = HELP)]
    Prune(image::PruneArgs),
    /// Download an image from a registry
    #[command(override_usage = "berth image pull [OPTIONS] NAME[:TAG|@DIGEST]", help_template = HELP)]
    Pull(crate::cmd::registry_client::PullArgs),
    /// Upload an image to a registry
    #[command(override_usage = "berth image push [OPTIONS] NAME[:TAG]", help_template = HELP)]
    Push(crate::cmd::registry_client::PushArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove", override_usage = "berth image rm [OPTIONS] IMAGE [IMAGE...]", help_template = HELP)]
    Rm(image::RmArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "berth image save [OPTIONS] IMAGE [IMAGE...]", help_template = HELP)]
    Save(image::SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "berth image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", help_template = HELP)]
    Tag(image::TagArgs),
}
