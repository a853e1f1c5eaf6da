//! htpasswd basic auth, the bearer token flow, and TLS.

mod common;
use common::*;

fn htpasswd(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("htpasswd");
    let hash = bcrypt::hash("s3cret", 5).unwrap();
    std::fs::write(&p, format!("alice:{hash}\n")).unwrap();
    p
}

#[tokio::test]
async fn basic_auth() {
    let reg = start_with(|c, dir| {
        c.htpasswd = Some(htpasswd(dir));
        c.realm = "test realm".into();
    })
    .await;
    let r = reg.client.get(reg.u("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"test realm\""
    );
    assert_eq!(error_code(r).await, "UNAUTHORIZED");

    let ok = reg
        .client
        .get(reg.u("/v2/"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // Push with credentials works.
    let d = digest(b"data");
    let r = reg
        .client
        .post(reg.u(&format!("/v2/private/blobs/uploads/?digest={d}")))
        .basic_auth("alice", Some("s3cret"))
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // A wrong password or an unknown user gets the same 401 for an existing and a
    // missing repository: nothing is revealed about what exists.
    let mut bodies = Vec::new();
    for (user, pass) in [("alice", "wrong"), ("mallory", "s3cret")] {
        for path in [
            "/v2/private/tags/list".to_string(),
            format!("/v2/private/blobs/{d}"),
            "/v2/nothing/tags/list".into(),
            "/v2/_catalog".into(),
            "/v1/search?q=p".into(),
        ] {
            let r = reg
                .client
                .get(reg.u(&path))
                .basic_auth(user, Some(pass))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{path}");
            bodies.push(r.text().await.unwrap());
        }
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
}

#[tokio::test]
async fn token_flow() {
    let reg = start_with(|c, dir| {
        c.htpasswd = Some(htpasswd(dir));
        c.token_realm = Some("https://reg.example/token".into());
        c.service = "reg.example".into();
    })
    .await;
    let r = reg
        .client
        .get(reg.u("/v2/app/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"https://reg.example/token\",service=\"reg.example\",scope=\"repository:app:pull\""
    );
    // No or bad credentials: no token.
    let r = reg
        .client
        .get(reg.u("/token?service=reg.example&scope=repository:app:pull,push"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reg
        .client
        .get(reg.u("/token?service=reg.example&scope=repository:app:pull,push"))
        .basic_auth("alice", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = reg
        .client
        .get(reg.u("/token?service=reg.example&scope=repository:app:pull,push"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["access_token"], token.as_str());
    assert!(v["expires_in"].as_i64().unwrap() > 0);

    let d = digest(b"tok");
    let r = reg
        .client
        .post(reg.u(&format!("/v2/app/blobs/uploads/?digest={d}")))
        .bearer_auth(&token)
        .body("tok")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A tampered token is refused.
    let mut bad = token.clone();
    bad.pop();
    bad.push(if token.ends_with('A') { 'B' } else { 'A' });
    let r = reg
        .client
        .get(reg.u("/v2/"))
        .bearer_auth(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn tls_with_a_self_signed_certificate() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = ck.cert.pem();
    let reg = start_with(|c, dir| {
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
        c.tls_cert = Some(dir.join("cert.pem"));
        c.tls_key = Some(dir.join("key.pem"));
    })
    .await;
    assert!(reg.url.starts_with("https://"));
    let port = reg.server.local_addr().port();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    // A plain-HTTP request to the TLS port fails cleanly, and the server keeps serving.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v2/"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    let r = client
        .get(format!("https://localhost:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_tls_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c"), "not a pem").unwrap();
    let cfg = berth_registry::Config {
        addr: "127.0.0.1:0".into(),
        data_root: dir.path().join("d"),
        tls_cert: Some(dir.path().join("c")),
        tls_key: Some(dir.path().join("c")),
        ..Default::default()
    };
    let err = berth_registry::start(cfg).await.err().unwrap().to_string();
    assert!(err.starts_with("tls: "), "{err}");
}
