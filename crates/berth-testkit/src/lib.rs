//! berth-testkit: what the end-to-end tests stand on (dev-dependency only).
//!
//! - [`TestDaemon`]: a real `berth daemon` on a private socket/data-root per test, with
//!   `docker(..)`/`berth(..)` command builders and raw API access; killed on drop.
//! - [`layers`]: small layer tars, a large random layer, the busybox rootfs.
//! - [`archive`]: `docker save` archives (Docker 1.10–24, Docker 25+) and OCI layouts,
//!   optionally broken (missing layer file, wrong diff_id).
//! - [`hostile`]: layer tars that try to escape the snapshot dir, and the checks.
//! - [`registry`]: a `berth registry serve` process, htpasswd files, a test CA.
//! - [`http`]: raw HTTP over the unix socket, and a file server for `import URL`.
//!
//! Key decision: tests drive the *built binaries* (the `berth` CLI and the real docker
//! CLI) over the real socket, never in-process APIs, so they test what users run.

pub mod archive;
pub mod cmd;
pub mod daemon;
pub mod hostile;
pub mod http;
pub mod layers;
pub mod net;
pub mod registry;
pub mod tarw;

pub use archive::{ArchiveInfo, Breakage, Format, LayerSrc, TestImage, write_archive};
pub use cmd::{Cmd, Output};
pub use daemon::{DOCKER_CLI, TestDaemon};
pub use http::{FileServer, HttpResponse};
pub use layers::{Layer, busybox_rootfs_tar, write_random_layer};
pub use registry::{TestRegistry, TlsFiles, make_tls, write_htpasswd};

/// Compress `src` with a system tool (`gzip`, `bzip2`, `xz`, `zstd`) into `src.<ext>`,
/// keeping the original. Panics with a clear message if the tool is missing.
pub fn compress_with(tool: &str, src: &std::path::Path) -> std::path::PathBuf {
    let ext = match tool {
        "gzip" => "gz",
        "bzip2" => "bz2",
        "xz" => "xz",
        "zstd" => "zst",
        other => panic!("unknown compressor {other}"),
    };
    let dst = std::path::PathBuf::from(format!("{}.{ext}", src.display()));
    let out = std::fs::File::create(&dst).expect("create compressed file");
    let st = std::process::Command::new(tool)
        .args(["-c", "-q"])
        .arg(src)
        .stdout(out)
        .status()
        .unwrap_or_else(|e| panic!("run {tool}: {e} (install the {tool} package)"));
    assert!(st.success(), "{tool} -c {} failed", src.display());
    dst
}
