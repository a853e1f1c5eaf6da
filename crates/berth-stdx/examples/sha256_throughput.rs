//! `bench/registry.sh`: how fast pull's digest verification hashes a file (the same
//! streaming sha256 every blob goes through), as a markdown table row.

use std::io::Read;
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: sha256_throughput FILE");
        std::process::exit(2);
    };
    let mut f = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("open {path}: {e}");
        std::process::exit(1);
    });
    let start = Instant::now();
    let mut h = berth_stdx::digest::Hasher::new(berth_stdx::digest::Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    let mut n: u64 = 0;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) => {
                eprintln!("read {path}: {e}");
                std::process::exit(1);
            }
        }
    }
    let d = h.finish();
    let secs = start.elapsed().as_secs_f64();
    eprintln!("{d}");
    println!(
        "| berth (berth-stdx streaming sha256, as pull verifies) | {secs:.2} | {:.0} |",
        n as f64 / 1e6 / secs
    );
}
