use super::*;

fn root_with_passwd() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("etc")).unwrap();
    std::fs::write(t.path().join("etc/passwd"), "www:x:33:34::/:/bin/false\n").unwrap();
    std::fs::write(t.path().join("etc/group"), "www:x:34:\nstaff:x:50:\n").unwrap();
    t
}

#[test]
fn chown_specs() {
    let r = root_with_passwd();
    assert_eq!(parse_chown(r.path(), "10").unwrap(), (10, 10));
    assert_eq!(parse_chown(r.path(), "10:20").unwrap(), (10, 20));
    assert_eq!(parse_chown(r.path(), "www").unwrap(), (33, 34));
    assert_eq!(parse_chown(r.path(), "www:staff").unwrap(), (33, 50));
    assert_eq!(
        parse_chown(r.path(), "nobody").unwrap_err().to_string(),
        "unable to convert uid/gid chown string to host mapping: can't find uid for user nobody: no such user: nobody"
    );
    // Regression: a missing group was reported as a missing user.
    assert_eq!(
        parse_chown(r.path(), "www:nosuch").unwrap_err().to_string(),
        "unable to convert uid/gid chown string to host mapping: can't find gid for group nosuch: no such group: nosuch"
    );
    assert_eq!(parse_chmod("755").unwrap(), 0o755);
    assert!(parse_chmod("u+x").is_err());
    assert!(parse_chmod("99999").is_err());
}

#[test]
fn checksum_ignores_mtime_but_not_content_or_mode() {
    let ctx = tempfile::tempdir().unwrap();
    let img = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("f"), "x").unwrap();
    let sources = vec!["f".to_string()];
    let req = |owner| Request {
        src_root: ctx.path(),
        sources: &sources,
        heredocs: &[],
        dest: "/f",
        image_root: img.path(),
        owner,
        chmod: None,
        extract: false,
        remote: &[],
        cmd: "COPY",
    };
    let a = plan(&req((0, 0))).unwrap().checksum;
    assert!(a.starts_with("file:"));
    let f = std::fs::File::options()
        .append(true)
        .open(ctx.path().join("f"))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(plan(&req((0, 0))).unwrap().checksum, a);
    assert_ne!(plan(&req((1, 0))).unwrap().checksum, a);
    std::fs::write(ctx.path().join("f"), "y").unwrap();
    assert_ne!(plan(&req((0, 0))).unwrap().checksum, a);
}

#[test]
fn wildcards_and_destination_rules() {
    let ctx = tempfile::tempdir().unwrap();
    let img = tempfile::tempdir().unwrap();
    for f in ["a.txt", "b.txt", "c.md"] {
        std::fs::write(ctx.path().join(f), f).unwrap();
    }
    let run = |sources: &[&str], dest: &str| {
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let p = plan(&Request {
            src_root: ctx.path(),
            sources: &sources,
            heredocs: &[],
            dest,
            image_root: img.path(),
            owner: (0, 0),
            chmod: None,
            extract: false,
            remote: &[],
            cmd: "COPY",
        })?;
        Ok::<Vec<String>, BuildError>(p.items.iter().map(|i| i.dest.clone()).collect())
    };
    assert_eq!(run(&["*.txt"], "/d/").unwrap(), vec!["d/a.txt", "d/b.txt"]);
    assert_eq!(run(&["a.txt"], "/d").unwrap(), vec!["d"]);
    assert_eq!(run(&["a.txt"], "/d/").unwrap(), vec!["d/a.txt"]);
    assert_eq!(
        run(&["*.txt"], "/d").unwrap_err().to_string(),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    // As docker: a wildcard matching one file is one source; several sources want
    // the slash even into a directory that exists.
    assert_eq!(run(&["*.md"], "/d").unwrap(), vec!["d"]);
    std::fs::create_dir(img.path().join("e")).unwrap();
    assert_eq!(run(&["c.md"], "/e").unwrap(), vec!["e/c.md"]);
    assert!(run(&["a.txt", "b.txt"], "/e").is_err());
    assert_eq!(
        run(&["../*.txt"], "/d/").unwrap_err().to_string(),
        "COPY failed: no source files were specified"
    );
    assert_eq!(
        run(&["*.none"], "/d/").unwrap_err().to_string(),
        "COPY failed: no source files were specified"
    );
}

#[test]
fn url_base_is_the_last_path_segment() {
    assert_eq!(url_base("http://h:1/a/b.txt?x=1#f"), "b.txt");
    assert_eq!(url_base("https://h/a/dir/"), "dir");
    assert_eq!(url_base("https://h"), "");
    assert_eq!(url_base("https://h/"), "");
    assert_eq!(url_base("https://h/a/.."), "");
    assert_eq!(url_base("https://h/a/./"), "");
}

#[test]
fn remote_sources_name_mode_and_checksum() {
    let ctx = tempfile::tempdir().unwrap();
    let img = tempfile::tempdir().unwrap();
    let dl = ctx.path().join("download");
    std::fs::write(&dl, "one").unwrap();
    let url = "http://127.0.0.1:1/x/file.txt?q=1".to_string();
    let sources = vec![url.clone()];
    let remote = [Remote {
        url,
        file: dl.clone(),
        mtime: 5,
    }];
    let req = |dest, cmd| Request {
        src_root: ctx.path(),
        sources: &sources,
        heredocs: &[],
        dest,
        image_root: img.path(),
        owner: (0, 0),
        chmod: None,
        extract: cmd == "ADD",
        remote: if cmd == "ADD" { &remote[..] } else { &[] },
        cmd,
    };
    let p = plan(&req("/d/", "ADD")).unwrap();
    assert_eq!(p.items[0].dest, "d/file.txt");
    let mut tar = Vec::new();
    write_layer(&p, &mut tar).unwrap();
    let mut ar = tar::Archive::new(&tar[..]);
    let e = ar
        .entries()
        .unwrap()
        .flatten()
        .find(|e| e.path().unwrap().to_string_lossy() == "d/file.txt")
        .unwrap();
    assert_eq!(e.header().mode().unwrap(), 0o600);
    assert_eq!(e.header().mtime().unwrap(), 5);
    assert_eq!(plan(&req("/f", "ADD")).unwrap().items[0].dest, "f");
    let a = p.checksum.clone();
    std::fs::write(&dl, "two").unwrap();
    assert_ne!(plan(&req("/d/", "ADD")).unwrap().checksum, a);
    assert_eq!(
        plan(&req("/f", "COPY")).unwrap_err().to_string(),
        "COPY failed: source can't be a URL for COPY"
    );
}
