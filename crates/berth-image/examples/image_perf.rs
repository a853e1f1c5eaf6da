//! Throughput of import, save and load on a real tree:
//! `cargo run --release -p berth-image --example image_perf -- /path/to/rootfs.tar[.gz] [scratch-dir]`

use berth_image::{ImageStore, ImportOptions, SaveItem};
use std::fs;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tar = args
        .next()
        .ok_or("usage: image_perf ROOTFS_TAR [SCRATCH_DIR]")?;
    let base = args.next().unwrap_or_else(|| "/tmp".into());
    let dir = std::path::Path::new(&base).join(format!("berth-perf-{}", std::process::id()));
    let a = ImageStore::open(&dir.join("a"))?;

    let t = Instant::now();
    let img = a.import(&mut fs::File::open(&tar)?, &ImportOptions::default())?;
    println!("import: {:?} ({} bytes unpacked)", t.elapsed(), img.size);

    let out = dir.join("saved.tar");
    let t = Instant::now();
    a.save(
        &[SaveItem::Id(img.id.clone())],
        &mut fs::File::create(&out)?,
    )?;
    println!("save:   {:?}", t.elapsed());

    let b = ImageStore::open(&dir.join("b"))?;
    let t = Instant::now();
    let loaded = b.load(&mut fs::File::open(&out)?, &mut |_| {})?;
    println!("load:   {:?}", t.elapsed());
    assert_eq!(
        loaded[0].id, img.id,
        "a saved image loads back with the same id"
    );
    fs::remove_dir_all(&dir)?;
    Ok(())
}
