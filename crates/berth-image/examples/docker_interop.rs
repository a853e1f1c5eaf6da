//! Interop with a real docker daemon, by hand:
//! `cargo run -p berth-image --example docker_interop -- save OUT.tar` writes an archive for
//! `docker load`; `... -- load IN.tar` loads a `docker save` output and prints what it got.

use berth_image::{ImageStore, ImportOptions, Reference, SaveItem};
use std::fs;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, path) = match args.as_slice() {
        [m, p] if m == "save" || m == "load" => (m.as_str(), p.as_str()),
        _ => return Err("usage: docker_interop save|load FILE".into()),
    };
    let dir = std::env::temp_dir().join(format!("berth-interop-{}", std::process::id()));
    let store = ImageStore::open(&dir)?;
    if mode == "save" {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("bin/hello", &b"hello from berth\n"[..]),
            ("etc/os-release", &b"ID=berth\n"[..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            tar.append_data(&mut h, name, data)?;
        }
        let tar = tar.into_inner()?;
        let opts = ImportOptions {
            changes: vec!["CMD [\"/bin/hello\"]".into(), "ENV A=1".into()],
            tag: Some(Reference::parse("berth-interop:v1")?),
            ..Default::default()
        };
        let img = store.import(&mut &tar[..], &opts)?;
        store.save(
            &[SaveItem::Tag(img.repo_tags[0].clone())],
            &mut fs::File::create(path)?,
        )?;
        println!("saved {} as berth-interop:v1 to {path}", img.id);
    } else {
        for l in store.load(&mut fs::File::open(path)?, &mut |_| {})? {
            let img = store.get(&l.id)?;
            let tags: Vec<String> = l.tags.iter().map(|t| t.familiar()).collect();
            println!("loaded {} {:?} size {}", l.id, tags, img.size);
        }
    }
    fs::remove_dir_all(&dir)?;
    Ok(())
}
