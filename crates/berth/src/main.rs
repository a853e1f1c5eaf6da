//! The `berth` binary: docker's CLI (commands, flags, output, exit codes) and the
//! `berth daemon` entry point.

mod autostart;
mod cli;
mod cmd;
mod daemon_cmd;
mod daemon_net;
mod format;
mod help;
mod registry_cmd;
mod shim_cmd;
mod tty;
mod usage;

use clap::Parser;

use cli::{Cli, Command, ImageCommand, SystemCommand};
use cmd::{Ctx, events, image, inspect, registry_client, system};
use usage::Exit;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    // Hidden, and before anything else: the shim forks and must stay single-threaded.
    if argv.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(shim_cmd::main(&argv[2..]));
    }
    let rest = argv.get(1..).unwrap_or_default().to_vec();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    | clap::error::ErrorKind::MissingSubcommand
            ) {
                let path = usage::command_path(&rest);
                let text = help::render(&<Cli as clap::CommandFactory>::command(), &path);
                // `--help` prints to stdout; a bare command group prints to stderr (exit 0).
                if e.kind() == clap::error::ErrorKind::DisplayHelp {
                    print!("{text}");
                } else {
                    eprint!("{text}");
                }
                std::process::exit(0);
            }
            let ex = usage::from_clap(e, &rest);
            match ex.code {
                0 => print!("{}", ex.message),
                -1 => {
                    eprint!("{}", ex.message);
                    std::process::exit(0);
                }
                _ => eprintln!("{}", ex.message),
            }
            std::process::exit(ex.code.max(0));
        }
    };
    std::process::exit(run(cli, rest));
}

fn run(cli: Cli, rest: Vec<String>) -> i32 {
    if cli.version {
        println!("berth version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some(command) = cli.cmd else {
        let root = <Cli as clap::CommandFactory>::command();
        print!("{}", help::render(&root, &[]));
        return 0;
    };
    if let Command::Daemon(args) = command {
        return match daemon_cmd::run(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e:#}");
                1
            }
        };
    }
    if let Command::Registry(cmd) = command {
        return match registry_cmd::run(cmd) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e:#}");
                1
            }
        };
    }
    let (host, default_host) = match berth_client::Host::select(cli.host.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let ctx = Ctx::new(host, default_host, usage::command_path(&rest));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("start runtime: {e}");
            return 1;
        }
    };
    let result = rt.block_on(dispatch(&ctx, command));
    match result {
        Ok(()) => 0,
        Err(e) => match e.downcast::<Exit>() {
            Ok(ex) => {
                if !ex.message.is_empty() {
                    eprintln!("{}", ex.message);
                }
                ex.code
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Version(a) => system::version(ctx, a).await,
        Command::Info(a) => system::info(ctx, a).await,
        Command::System(SystemCommand::Info(a)) => system::info(ctx, a).await,
        Command::System(SystemCommand::Df(a)) => system::df(ctx, a).await,
        Command::System(SystemCommand::Events(a)) | Command::Events(a) => {
            events::events(ctx, a).await
        }
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => image::list(ctx, a).await,
        Command::Inspect(a) => cmd::container_info::inspect_any(ctx, a).await,
        Command::Build(a) => cmd::build::build(ctx, a).await,
        Command::Builder(c) => cmd::build::builder(ctx, c).await,
        Command::Container(c) => cmd::container_cli::dispatch(ctx, c).await,
        Command::Volume(c) => cmd::volume::dispatch(ctx, c).await,
        Command::Network(c) => cmd::network::dispatch(ctx, c).await,
        Command::Containers(c) => cmd::container_cli::dispatch(ctx, c.into()).await,
        Command::System(SystemCommand::Prune(a)) => cmd::container::system_prune(ctx, a).await,
        Command::Image(ImageCommand::Inspect(a)) => inspect::inspect(ctx, a).await,
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            image::history(ctx, a).await
        }
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => image::tag(ctx, a).await,
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            registry_client::pull(ctx, a).await
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            registry_client::push(ctx, a).await
        }
        Command::Login(a) => registry_client::login(ctx, a).await,
        Command::Logout(a) => registry_client::logout(ctx, a).await,
        Command::Search(a) => registry_client::search(ctx, a).await,
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => image::rm(ctx, a).await,
        Command::Image(ImageCommand::Prune(a)) => image::prune(ctx, a).await,
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => image::import(ctx, a).await,
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => image::save(ctx, a).await,
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => image::load(ctx, a).await,
        Command::Daemon(_) | Command::Registry(_) => Ok(()),
    }
}
