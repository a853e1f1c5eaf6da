//! Networking of a test daemon: several daemons run at once, so each gets its own
//! default bridge (`bt<6 hex>`), nftables table (the same name) and subnets
//! (`10.213.X.0/24` for the default bridge, `10.214.X.0/24` split into /28s for user
//! networks), with X free on the host and held by a lock file for the daemon's
//! lifetime. Everything is removed when the daemon is dropped, even after a kill -9.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

pub struct TestNet {
    pub bridge: String,
    pub table: String,
    pub octet: u8,
    /// Held (flock) while the daemon lives: other test processes skip this octet.
    _lock: Option<File>,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b
}

/// The third octets of `10.213.x.x` / `10.214.x.x` routes on the host.
fn routed_octets() -> Vec<u8> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let mut out = Vec::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(d), Some(m)) = (f.get(1), f.get(7)) else {
            continue;
        };
        let (Ok(d), Ok(m)) = (u32::from_str_radix(d, 16), u32::from_str_radix(m, 16)) else {
            continue;
        };
        let (d, m) = (d.to_le_bytes(), m.to_le_bytes());
        if d[0] != 10 {
            continue;
        }
        // A route wider than /16 inside 10/8 covers every X: refuse them all.
        if m[1] != 0xff {
            return (0..=255).collect();
        }
        if d[1] == 213 || d[1] == 214 {
            if m[2] == 0xff {
                out.push(d[2]);
            } else {
                return (0..=255).collect();
            }
        }
    }
    out
}

impl TestNet {
    pub fn pick() -> TestNet {
        let hex: String = random_bytes::<3>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("bt{hex}");
        let routed = routed_octets();
        let start = random_bytes::<1>()[0];
        for i in 0..=255u16 {
            let x = start.wrapping_add(i as u8);
            if x == 0 || x == 255 || routed.contains(&x) {
                continue;
            }
            let path = std::env::temp_dir().join(format!("berth-testnet-{x}.lock"));
            let Ok(f) = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
            else {
                continue;
            };
            // SAFETY: flock on a descriptor we own.
            let locked = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if locked {
                return TestNet {
                    bridge: name.clone(),
                    table: name,
                    octet: x,
                    _lock: Some(f),
                };
            }
        }
        panic!("no free 10.213.X.0/24 test subnet: remove stale test bridges");
    }

    pub fn bip(&self) -> String {
        format!("10.213.{}.1/24", self.octet)
    }

    pub fn pool(&self) -> String {
        format!("10.214.{}.0/24", self.octet)
    }

    /// The daemon flags, except those `config` (a daemon.json) already sets.
    pub fn daemon_args(&self, config: &Path) -> Vec<String> {
        let file: serde_json::Value = std::fs::read(config)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let has = |k: &str| file.get(k).is_some();
        let mut a = Vec::new();
        if !has("bridge") {
            a.extend(["--bridge".to_string(), self.bridge.clone()]);
        }
        if !has("bip") && !has("bridge") {
            a.extend(["--bip".to_string(), self.bip()]);
        }
        if !has("default-address-pools") {
            a.extend([
                "--default-address-pool".to_string(),
                format!("base={},size=28", self.pool()),
            ]);
        }
        a.extend([
            "--nft-table".to_string(),
            self.table.clone(),
            "--net-teardown-on-exit".to_string(),
        ]);
        a
    }

    /// Removes whatever the daemon left (it was killed, or a test left containers):
    /// namespaces under `exec_root`, the bridges its records name, our tables.
    pub fn cleanup(&self, exec_root: &Path, data_root: &Path) {
        if let Ok(rd) = std::fs::read_dir(exec_root.join("netns")) {
            for e in rd.flatten() {
                let p = e.path();
                if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) {
                    // SAFETY: a valid NUL-terminated path.
                    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                }
                let _ = std::fs::remove_file(&p);
            }
        }
        let mut bridges = vec![self.bridge.clone()];
        if let Ok(rd) = std::fs::read_dir(data_root.join("networks")) {
            for e in rd.flatten() {
                let v: serde_json::Value = std::fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                if let Some(b) = v.get("bridge").and_then(|b| b.as_str())
                    && !b.is_empty()
                {
                    bridges.push(b.to_string());
                }
            }
        }
        for b in bridges {
            if Path::new("/sys/class/net").join(&b).exists() {
                let _ = Command::new("ip").args(["link", "del", &b]).status();
            }
        }
        for fam in ["inet", "netdev"] {
            let _ = Command::new("nft")
                .args(["delete", "table", fam, &self.table])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
