//! The registry client end to end: the real docker CLI (and the berth CLI) against a
//! test daemon, pushing to and pulling from `berth registry serve` on 127.0.0.1.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

fn registry(extra: &[&str]) -> TestRegistry {
    TestRegistry::start(env!("CARGO_BIN_EXE_berth"), extra)
}

fn inspect(d: &TestDaemon, name: &str) -> Value {
    let out = d.docker(["image", "inspect", name]).ok().out();
    let v: Value = serde_json::from_str(&out).expect("inspect JSON");
    v[0].clone()
}

/// The value after `prefix` on the line that has it.
fn line_after(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
        .to_string()
}

#[test]
fn push_pull_run_and_digests() {
    let reg = registry(&[]);
    let d = daemon();
    let img = format!("{}/test/busybox:v1", reg.host);
    let id = import_busybox(&d, &img);

    // First push uploads, second finds every layer in place.
    let out = d.docker(["push", &img]).ok().out();
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/test/busybox]\n",
            reg.host
        )),
        "{out}"
    );
    assert!(
        out.contains(": Preparing\n") && out.contains(": Pushed\n"),
        "{out}"
    );
    let pushed = line_after(&out, "v1: digest: ");
    let (digest, size) = pushed.split_once(" size: ").expect("digest and size");
    assert!(
        digest.starts_with("sha256:") && size.parse::<u64>().is_ok(),
        "{out}"
    );
    let again = d.docker(["push", &img]).ok().out();
    assert!(again.contains(": Layer already exists\n"), "{again}");
    assert!(
        again.contains(&format!("v1: digest: {digest} size: {size}")),
        "re-push is stable:\n{again}"
    );

    // skopeo (an independent client) reads what berth pushed.
    let sk = Cmd::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{img}"))
        .ok();
    let skv: Value = serde_json::from_str(&sk.out()).unwrap();
    assert_eq!(skv["Digest"], digest, "{sk}");

    // Pull back by tag: docker's lines, RepoDigests, then "up to date".
    d.docker(["rmi", &img]).ok();
    let out = d.docker(["pull", &img]).ok().out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "v1: Pulling from test/busybox", "{out}");
    assert!(out.contains(": Pull complete\n"), "{out}");
    assert!(out.contains(&format!("\nDigest: {digest}\n")), "{out}");
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {img}\n{img}\n"
        )),
        "{out}"
    );
    let v = inspect(&d, &img);
    assert_eq!(v["Id"], id.as_str());
    let repo_digest = format!("{}/test/busybox@{digest}", reg.host);
    assert_eq!(v["RepoDigests"], serde_json::json!([repo_digest]));
    let listed = d
        .docker(["images", "--digests", "--format", "{{.Digest}}"])
        .ok()
        .out();
    assert_eq!(listed.trim(), digest);
    // The berth CLI renders the same stream the same way.
    d.docker(["rmi", &img]).ok();
    assert_eq!(d.berth(["pull", &img]).ok().out(), out);
    let out = d.docker(["pull", &img]).ok().out();
    assert!(
        out.contains(&format!("Status: Image is up to date for {img}\n")),
        "{out}"
    );

    // pull and push are image events, as docker logs them.
    let until = (chrono_now() + 1).to_string();
    let ev = d
        .docker([
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "type=image",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ])
        .ok()
        .out();
    assert!(ev.contains(&format!("push {img}\n")), "{ev}");
    assert!(ev.contains(&format!("pull {img}\n")), "{ev}");

    // By digest (the berth CLI, quiet): the same image.
    d.docker(["rmi", &img]).ok();
    let out = d.berth(["pull", "-q", &repo_digest]).ok().out();
    assert_eq!(out, format!("{repo_digest}\n"));
    assert_eq!(inspect(&d, &repo_digest)["Id"], id.as_str());

    // `run` of an image only the registry has: 404, pull, retry.
    d.docker(["rmi", &repo_digest]).ok();
    let r = d
        .docker(["run", "--rm", &img, "echo", "from-registry"])
        .ok();
    assert_eq!(r.out(), "from-registry\n");
    assert!(
        r.err()
            .contains(&format!("Unable to find image '{img}' locally")),
        "{}",
        r.err()
    );
    let r = d.berth(["run", "--rm", &img, "echo", "again"]).ok();
    assert_eq!(r.out(), "again\n");

    // A tag the registry does not have.
    let missing = format!("{}/test/busybox:nope", reg.host);
    let r = d.docker(["pull", &missing]).fails();
    assert!(
        r.err().contains(&format!(
            "manifest for {missing} not found: manifest unknown"
        )),
        "{}",
        r.err()
    );
}

#[test]
fn pull_all_tags_and_search() {
    let reg = registry(&[]);
    let d = daemon();
    let repo = format!("{}/team/app", reg.host);
    import_busybox(&d, &format!("{repo}:one"));
    d.docker(["tag", &format!("{repo}:one"), &format!("{repo}:two")])
        .ok();
    // Without a tag and with -a, push sends every tag.
    let out = d.berth(["push", "-a", &repo]).ok().out();
    assert!(
        out.contains("one: digest: ") && out.contains("two: digest: "),
        "{out}"
    );
    // Another repository of the same registry: the layer is mounted, not sent.
    let other = format!("{}/other/app:x", reg.host);
    d.docker(["tag", &format!("{repo}:one"), &other]).ok();
    let out = d.docker(["push", &other]).ok().out();
    assert!(out.contains(": Mounted from team/app\n"), "{out}");
    d.docker([
        "rmi",
        &format!("{repo}:one"),
        &format!("{repo}:two"),
        &other,
    ])
    .ok();

    let r = d.docker(["pull", "-a", &format!("{repo}:one")]).fails();
    assert_eq!(r.err().trim(), "tag can't be used with --all-tags/-a");
    let out = d.docker(["pull", "-a", &repo]).ok().out();
    assert!(out.contains("one: Pulling from team/app"), "{out}");
    assert!(out.contains("two: Pulling from team/app"), "{out}");
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {repo}\n{repo}\n"
        )),
        "{out}"
    );
    let mut tags = repo_tags(&d);
    tags.sort();
    assert_eq!(tags, vec![format!("{repo}:one"), format!("{repo}:two")]);

    // search over the registry's catalog, both CLIs, docker's table.
    assert_same_output(&d, &["search", &format!("{}/app", reg.host)]);
    assert_same_output(
        &d,
        &[
            "search",
            "--no-trunc",
            "--limit",
            "1",
            &format!("{}/app", reg.host),
        ],
    );
    for c in CLIS {
        let out = cli(&d, c, &["search", &format!("{}/team", reg.host)])
            .ok()
            .out();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            columns(lines[0]),
            ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"],
            "{out}"
        );
        assert_eq!(columns(lines[1]), ["team/app", "0"], "{out}");
        let out = cli(
            &d,
            c,
            &[
                "search",
                "--format",
                "{{.Name}}:{{.StarCount}}",
                &format!("{}/team/app", reg.host),
            ],
        )
        .ok()
        .out();
        assert_eq!(out, "team/app:0\n");
        let out = cli(
            &d,
            c,
            &[
                "search",
                "--filter",
                "stars=3",
                &format!("{}/team/app", reg.host),
            ],
        )
        .ok()
        .out();
        assert_eq!(out.lines().count(), 1, "only the header: {out}");
    }
}

#[test]
fn login_logout_and_auth_errors() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    write_htpasswd(&htpasswd, &[("testuser", "testpass")]);
    let reg = registry(&["--htpasswd", htpasswd.to_str().unwrap()]);
    let d = daemon();
    let img = format!("{}/test/busybox:v1", reg.host);
    import_busybox(&d, &img);

    // No credentials: the stream starts, then docker's in-band error.
    let r = d.docker(["push", &img]).fails();
    assert_eq!(r.code, Some(1));
    assert!(r.err().contains("no basic auth credentials"), "{}", r.err());

    // Wrong password: docker's message and exit 1, nothing stored.
    for c in CLIS {
        let r = cli(
            &d,
            c,
            &["login", "-u", "testuser", "--password-stdin", &reg.host],
        )
        .stdin("wrong\n")
        .fails();
        assert_eq!(r.code, Some(1));
        assert_eq!(
            r.err().trim(),
            format!(
                "Error response from daemon: login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
                reg.host
            ),
            "{c:?}"
        );
    }
    let cfg = d.dir().join("docker-config/config.json");
    assert!(
        !std::fs::read_to_string(&cfg)
            .unwrap_or_default()
            .contains(&reg.host),
        "no credentials stored after a failed login"
    );

    // Right password with the berth CLI: config.json in docker's format.
    let r = d
        .berth(["login", "-u", "testuser", "--password-stdin", &reg.host])
        .stdin("testpass\n")
        .ok();
    assert_eq!(r.out(), "Login Succeeded\n");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(v["auths"][&reg.host]["auth"], "dGVzdHVzZXI6dGVzdHBhc3M=");

    // The docker CLI reads the same file: push and pull work.
    d.docker(["push", &img]).ok();
    d.docker(["rmi", &img]).ok();
    d.berth(["pull", &img]).ok();

    // -p warns as docker does.
    let r = d
        .berth(["login", "-u", "testuser", "-p", "testpass", &reg.host])
        .ok();
    assert!(
        r.err()
            .contains("WARNING! Using --password via the CLI is insecure. Use --password-stdin."),
        "{}",
        r.err()
    );

    // logout: the docker CLI and berth both remove the entry.
    let r = d.berth(["logout", &reg.host]).ok();
    assert_eq!(
        r.out(),
        format!("Removing login credentials for {}\n", reg.host)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert!(v["auths"].get(&reg.host).is_none(), "{v}");
    d.docker(["rmi", &img]).ok();
    let r = d.docker(["pull", &img]).fails();
    assert_eq!(
        r.err().trim(),
        format!(
            "Error response from daemon: Head \"http://{}/v2/test/busybox/manifests/v1\": no basic auth credentials",
            reg.host
        )
    );
}

#[test]
fn tls_trust_from_certs_dir() {
    let dir = tempfile::tempdir().unwrap();
    let tls = make_tls(&dir.path().join("tls"));
    let reg = registry(&[
        "--tls-cert",
        tls.cert.to_str().unwrap(),
        "--tls-key",
        tls.key.to_str().unwrap(),
    ]);
    assert!(reg.url.starts_with("https://"), "{}", reg.url);
    let certs = dir.path().join("certs.d");
    let host_dir = certs.join(&reg.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    // A different CA first: verification must fail.
    let other = make_tls(&dir.path().join("other"));
    std::fs::copy(&other.ca, host_dir.join("ca.crt")).unwrap();
    let config = serde_json::json!({"certs-dirs": [certs]}).to_string();
    let d = TestDaemon::start_with_config(env!("CARGO_BIN_EXE_berth"), Some(&config));
    let img = format!("{}/secure/busybox:v1", reg.host);
    import_busybox(&d, &img);
    let r = d.docker(["push", &img]).fails();
    assert!(
        r.err().to_lowercase().contains("certificate"),
        "{}",
        r.err()
    );

    // The right CA: push and pull over verified TLS.
    std::fs::copy(&tls.ca, host_dir.join("ca.crt")).unwrap();
    d.docker(["push", &img]).ok();
    d.docker(["rmi", &img]).ok();
    let out = d.docker(["pull", &img]).ok().out();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
}

#[test]
fn interrupted_pull_resumes_without_refetching_finished_layers() {
    let reg = registry(&[]);
    let mut d = daemon();
    let big = write_random_layer(&d.scratch().join("big.tar"), 96 << 20, 7);
    let small = Layer::new().file("small.txt", "small").build();
    let img = TestImage::new(&["resume:v1"], vec![small, std::fs::read(&big).unwrap()]);
    load_images(&d, "resume.tar", &[img]);
    let name = format!("{}/resume/img:v1", reg.host);
    d.docker(["tag", "resume:v1", &name]).ok();
    d.docker(["push", &name]).ok();
    d.docker(["rmi", "resume:v1", &name]).ok();

    // Pull, and kill -9 the daemon once the small layer is in and the big one
    // is still coming.
    let snaps = d.data_root().join("snapshots");
    let count = || {
        std::fs::read_dir(&snaps)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    };
    let bin = env!("CARGO_BIN_EXE_berth");
    let mut pull = std::process::Command::new(bin)
        .args(["pull", &name])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let layers_at_kill = count();
    d.kill9();
    let _ = pull.wait();
    assert_eq!(layers_at_kill, 1, "killed with exactly the small layer in");

    d.restart();
    // Nothing half-pulled is visible.
    assert!(repo_tags(&d).is_empty(), "{:?}", repo_tags(&d));
    let out = d.docker(["pull", &name]).ok().out();
    assert_eq!(out.matches(": Already exists").count(), 1, "{out}");
    assert!(out.contains(": Pull complete"), "{out}");
    let v = inspect(&d, &name);
    assert_eq!(v["RootFS"]["Layers"].as_array().map(Vec::len), Some(2));
}

/// A plain HTTP/1.1 PUT over TCP to 127.0.0.1 (the registry); returns the status.
fn http_put(host: &str, path: &str, content_type: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn image_index_picks_the_platform() {
    let reg = registry(&[]);
    let d = daemon();
    let single = format!("{}/multi/img:single", reg.host);
    import_busybox(&d, &single);
    let out = d.docker(["push", &single]).ok().out();
    let pushed = line_after(&out, "single: digest: ");
    let (digest, size) = pushed.split_once(" size: ").unwrap();
    // An OCI index naming that manifest for linux/amd64 and linux/arm64/v8.
    let mt = "application/vnd.docker.distribution.manifest.v2+json";
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": mt, "digest": digest, "size": size.parse::<u64>().unwrap(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": mt, "digest": digest, "size": size.parse::<u64>().unwrap(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    })
    .to_string();
    let status = http_put(
        &reg.host,
        "/v2/multi/img/manifests/multi",
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
    );
    assert_eq!(status, 201);
    let index_digest = format!("sha256:{}", sha256_hex(index.as_bytes()));
    d.docker(["rmi", &single]).ok();

    let multi = format!("{}/multi/img:multi", reg.host);
    let out = d
        .docker(["pull", "--platform", "linux/arm64/v8", &multi])
        .ok()
        .out();
    // The digest reported and recorded is the index's, as docker does.
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    let v = inspect(&d, &multi);
    assert_eq!(
        v["RepoDigests"],
        serde_json::json!([format!("{}/multi/img@{index_digest}", reg.host)])
    );
    let r = d
        .docker(["pull", "--platform", "linux/s390x", &multi])
        .fails();
    assert!(
        r.err()
            .contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{}",
        r.err()
    );
}

fn sha256_hex(data: &[u8]) -> String {
    berth_stdx::Digest::sha256_of(data).hex().to_string()
}

#[test]
fn bearer_token_flow() {
    // The token realm names the registry's own port: pick a free one first.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    write_htpasswd(&htpasswd, &[("alice", "s3cret")]);
    let addr = format!("127.0.0.1:{port}");
    let realm = format!("http://{addr}/token");
    let reg = registry(&[
        "--addr",
        &addr,
        "--htpasswd",
        htpasswd.to_str().unwrap(),
        "--token-realm",
        &realm,
    ]);
    let d = daemon();
    let img = format!("{}/tok/busybox:v1", reg.host);
    import_busybox(&d, &img);
    let r = d.docker(["push", &img]).fails();
    assert_eq!(r.code, Some(1), "{r}");
    let r = d
        .docker(["login", "-u", "alice", "--password-stdin", &reg.host])
        .stdin("nope\n")
        .fails();
    assert!(
        r.err().contains("failed with status: 401 Unauthorized"),
        "{}",
        r.err()
    );
    d.docker(["login", "-u", "alice", "--password-stdin", &reg.host])
        .stdin("s3cret\n")
        .ok();
    d.docker(["push", &img]).ok();
    d.docker(["rmi", &img]).ok();
    let out = d.berth(["pull", &img]).ok().out();
    assert!(out.contains("Status: Downloaded newer image"), "{out}");

    // Anonymous tokens (Docker Hub's flow for public images): no login at all.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let realm = format!("http://{addr}/token");
    let open = registry(&["--addr", &addr, "--token-realm", &realm]);
    let anon = format!("{}/anon/busybox:v1", open.host);
    d.docker(["tag", &img, &anon]).ok();
    d.docker(["push", &anon]).ok();
    d.docker(["rmi", &anon]).ok();
    d.docker(["pull", &anon]).ok();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn credential_helper_and_registry_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    write_htpasswd(&htpasswd, &[("helper", "pw")]);
    let reg = registry(&["--htpasswd", htpasswd.to_str().unwrap()]);
    // A mirror for docker.io: an open registry on loopback.
    let mirror = registry(&[]);
    let config =
        serde_json::json!({"registry-mirrors": [format!("http://{}", mirror.host)]}).to_string();
    let d = TestDaemon::start_with_config(env!("CARGO_BIN_EXE_berth"), Some(&config));

    // docker-credential-<name>: store/get/erase over one JSON file.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = dir.path().join("helper.json");
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n store) cat > {s} ;;\n get) read _; [ -f {s} ] && cat {s} || {{ echo 'credentials not found in native keychain'; exit 1; }} ;;\n erase) read _; rm -f {s} ;;\nesac\n",
        s = store.display()
    );
    let helper = bin.join("docker-credential-testhelper");
    std::fs::write(&helper, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = d.dir().join("docker-config/config.json");
    std::fs::write(&cfg, r#"{"credsStore": "testhelper"}"#).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let r = d
        .berth(["login", "-u", "helper", "--password-stdin", &reg.host])
        .env("PATH", &path)
        .stdin("pw\n")
        .ok();
    assert_eq!(r.out(), "Login Succeeded\n");
    assert!(!r.err().contains("unencrypted"), "{}", r.err());
    let stored: Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(stored["Username"], "helper");
    assert_eq!(stored["Secret"], "pw");
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("\"auth\""));

    // Both CLIs get the credentials from the helper.
    let img = format!("{}/helped/busybox:v1", reg.host);
    import_busybox(&d, &img);
    d.berth(["push", &img]).env("PATH", &path).ok();
    d.docker(["push", &img]).env("PATH", &path).ok();
    d.berth(["logout", &reg.host]).env("PATH", &path).ok();
    assert!(!store.exists(), "erase ran");

    // docker.io names go to the mirror.
    let mirrored = format!("{}/library/mirrored:v1", mirror.host);
    d.docker(["tag", &img, &mirrored]).ok();
    d.docker(["push", &mirrored]).ok();
    d.docker(["rmi", &mirrored, &img]).ok();
    let out = d.docker(["pull", "mirrored:v1"]).ok().out();
    assert!(
        out.starts_with("v1: Pulling from library/mirrored\n"),
        "{out}"
    );
    assert!(out.ends_with("docker.io/library/mirrored:v1\n"), "{out}");
    let v = inspect(&d, "mirrored:v1");
    assert!(
        v["RepoDigests"][0]
            .as_str()
            .is_some_and(|s| s.starts_with("mirrored@sha256:")),
        "{v}"
    );
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
