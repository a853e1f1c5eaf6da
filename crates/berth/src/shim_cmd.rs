//! `berth shim ...`: the hidden entry point the daemon spawns for each container and
//! each exec. Parsed by hand, before clap and before any async runtime exists: the
//! shim forks, and fork and threads don't mix.

use std::path::PathBuf;

use berth_runtime::driver::DriverKind;
use berth_runtime::shim::{ShimOptions, launch, logfile::LogConfig};

/// Runs the shim with the arguments after `shim`; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    match parse(args) {
        Ok(opts) => launch(opts),
        Err(e) => {
            eprintln!("berth shim: {e}");
            1
        }
    }
}

fn parse(args: &[String]) -> Result<ShimOptions, String> {
    let mut id = None;
    let mut bundle = None;
    let mut state_dir = None;
    let mut runtime = DriverKind::Embedded;
    let mut runtime_root = None;
    let mut tty = false;
    let mut stdin = false;
    let mut log_path: Option<PathBuf> = None;
    let mut max_size = 0u64;
    let mut max_files = 1u32;
    let mut exec_process = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: {name}"))
        };
        match flag.as_str() {
            "--id" => id = Some(value("--id")?),
            "--bundle" => bundle = Some(PathBuf::from(value("--bundle")?)),
            "--state-dir" => state_dir = Some(PathBuf::from(value("--state-dir")?)),
            "--runtime" => {
                let v = value("--runtime")?;
                runtime = if v == "embedded" {
                    DriverKind::Embedded
                } else {
                    DriverKind::Cli {
                        path: PathBuf::from(v),
                    }
                };
            }
            "--runtime-root" => runtime_root = Some(PathBuf::from(value("--runtime-root")?)),
            "--tty" => tty = true,
            "--stdin" => stdin = true,
            "--log-path" => log_path = Some(PathBuf::from(value("--log-path")?)),
            "--log-max-size" => {
                let v = value("--log-max-size")?;
                max_size = v
                    .parse()
                    .map_err(|_| format!("invalid --log-max-size {v:?}"))?;
            }
            "--log-max-file" => {
                let v = value("--log-max-file")?;
                max_files = v
                    .parse()
                    .map_err(|_| format!("invalid --log-max-file {v:?}"))?;
            }
            "--exec-process" => exec_process = Some(PathBuf::from(value("--exec-process")?)),
            other => return Err(format!("unknown flag: {other}")),
        }
    }
    let need = |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("missing {name}"));
    Ok(ShimOptions {
        id: id.ok_or("missing --id")?,
        bundle: need(bundle, "--bundle")?,
        state_dir: need(state_dir, "--state-dir")?,
        runtime,
        runtime_root: need(runtime_root, "--runtime-root")?,
        tty,
        stdin,
        log: log_path.map(|path| LogConfig {
            path,
            max_size,
            max_files: max_files.max(1),
        }),
        exec_process,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_flag() {
        let o = parse(&args(
            "--id c1 --bundle /b --state-dir /s --runtime /usr/bin/runc --runtime-root /r \
             --tty --stdin --log-path /l --log-max-size 10 --log-max-file 3 --exec-process /p",
        ))
        .unwrap();
        assert_eq!(o.id, "c1");
        assert_eq!(
            o.runtime,
            DriverKind::Cli {
                path: "/usr/bin/runc".into()
            }
        );
        assert!(o.tty && o.stdin);
        assert_eq!(o.log.unwrap().max_files, 3);
        assert_eq!(o.exec_process, Some(PathBuf::from("/p")));
    }

    #[test]
    fn rejects_missing_and_unknown() {
        assert_eq!(
            parse(&args("--bundle /b")).unwrap_err(),
            "missing --id".to_string()
        );
        assert!(
            parse(&args("--id x --what"))
                .unwrap_err()
                .contains("unknown flag")
        );
        assert!(
            parse(&args("--id"))
                .unwrap_err()
                .contains("needs an argument")
        );
    }
}
