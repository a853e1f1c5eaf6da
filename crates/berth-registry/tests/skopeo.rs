//! End to end with a real client: `skopeo copy` an OCI layout into the registry and
//! back, with basic auth and with the bearer token flow. Needs skopeo (`.ci/run` installs it).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn have_skopeo() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A one-layer OCI image layout at `dir`, tagged `v1`.
fn oci_layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = digest(data);
        std::fs::write(blobs.join(d.hex()), data).unwrap();
        (d, data.len())
    };
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "hello.txt", &b"hello\n"[..])
        .unwrap();
    let diff_id = digest(tar.get_ref());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
    let layer = gz.finish().unwrap();
    let (ld, ls) = put(&layer);
    let config = serde_json::json!({"architecture":"amd64","os":"linux","config":{},
        "rootfs":{"type":"layers","diff_ids":[diff_id.to_string()]}});
    let (cd, cs) = put(&serde_json::to_vec(&config).unwrap());
    let m = serde_json::json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":cd.to_string(),"size":cs},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":ld.to_string(),"size":ls}]});
    let (md, ms) = put(&serde_json::to_vec(&m).unwrap());
    let index = serde_json::json!({"schemaVersion":2,"manifests":[{"mediaType":OCI_MANIFEST,
        "digest":md.to_string(),"size":ms,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo").args(args).output().unwrap()
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "skopeo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn round_trip(reg: &Reg, creds: &[&str]) {
    let src = reg.dir.path().join("src");
    oci_layout(&src);
    let host = reg.server.local_addr().to_string();
    let dst = format!("docker://{host}/e2e/app:v1");
    let srcref = format!("oci:{}:v1", src.display());
    let mut a = vec!["copy", "--dest-tls-verify=false"];
    if !creds.is_empty() {
        a.extend(["--dest-creds", creds[0]]);
    }
    a.extend([srcref.as_str(), dst.as_str()]);
    tokio::task::block_in_place(|| ok(skopeo(&a)));

    let back = reg.dir.path().join("back");
    let backref = format!("oci:{}:v1", back.display());
    let mut a = vec!["copy", "--src-tls-verify=false"];
    if !creds.is_empty() {
        a.extend(["--src-creds", creds[0]]);
    }
    a.extend([dst.as_str(), backref.as_str()]);
    tokio::task::block_in_place(|| ok(skopeo(&a)));
    // Same blobs came back, byte for byte.
    let names = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&src), names(&back));

    let mut a = vec!["list-tags", "--tls-verify=false"];
    if !creds.is_empty() {
        a.extend(["--creds", creds[0]]);
    }
    let repo = format!("docker://{host}/e2e/app");
    a.push(&repo);
    let tags = tokio::task::block_in_place(|| ok(skopeo(&a)));
    assert!(tags.contains("\"v1\""), "{tags}");
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_copy_in_and_out() {
    assert!(
        have_skopeo(),
        "skopeo is required for this test: apt-get install -y skopeo"
    );
    let reg = start().await;
    round_trip(&reg, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_with_basic_auth_and_with_tokens() {
    assert!(
        have_skopeo(),
        "skopeo is required for this test: apt-get install -y skopeo"
    );
    let write_htpasswd = |dir: &Path| {
        let p = dir.join("htpasswd");
        std::fs::write(
            &p,
            format!("alice:{}\n", bcrypt::hash("s3cret", 5).unwrap()),
        )
        .unwrap();
        p
    };
    let reg = start_with(|c, dir| c.htpasswd = Some(write_htpasswd(dir))).await;
    round_trip(&reg, &["alice:s3cret"]).await;
    // Wrong credentials fail.
    let host = reg.server.local_addr().to_string();
    let out = tokio::task::block_in_place(|| {
        skopeo(&[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            "alice:bad",
            &format!("docker://{host}/e2e/app"),
        ])
    });
    assert!(!out.status.success());

    // Token flow: the realm must name our own address, so pick a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reg = start_with(|c, dir| {
        c.addr = format!("127.0.0.1:{port}");
        c.htpasswd = Some(write_htpasswd(dir));
        c.token_realm = Some(format!("http://127.0.0.1:{port}/token"));
    })
    .await;
    round_trip(&reg, &["alice:s3cret"]).await;
}
