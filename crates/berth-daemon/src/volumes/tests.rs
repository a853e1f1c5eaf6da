use super::*;

fn store(dir: &std::path::Path) -> VolumeStore {
    let s = VolumeStore::new(dir.join("volumes"), EventBus::new());
    s.load().unwrap();
    s
}

fn named(name: &str) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn names_follow_docker() {
    assert!(validate_name("v1").is_ok());
    assert!(validate_name("a.b_c-d").is_ok());
    assert_eq!(
        validate_name("x").unwrap_err().message,
        "volume name is too short, names should be at least two alphanumeric characters"
    );
    for bad in ["x@y", "-ab", ".ab", "../x", "a/b", "a b"] {
        assert_eq!(
            validate_name(bad).unwrap_err().message,
            format!(
                "{bad:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )
        );
    }
}

#[test]
fn create_is_idempotent_and_persists() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    let v = s.create(named("v1"), None).unwrap();
    assert!(s.data_path("v1").is_dir());
    let again = s.create(named("v1"), Some("c1")).unwrap();
    assert_eq!(v, again);
    let err = s.create(named("x@y"), None).unwrap_err();
    assert!(
        err.message.starts_with("create x@y: \"x@y\" includes"),
        "{err:?}"
    );
    assert!(!s.root().join("x@y").exists());
    let anon = s
        .create(
            CreateRequest {
                labels: Some([(ANONYMOUS_LABEL.to_string(), String::new())].into()),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(anon.name.len(), 64);
    assert!(anon.is_anonymous());
    // A new store over the same root (a restarted daemon) sees the same volumes.
    let s2 = store(t.path());
    assert_eq!(s2.get("v1").unwrap(), v);
    assert_eq!(s2.get(&anon.name).unwrap(), anon);
    assert_eq!(
        s2.get("nope").unwrap_err().message,
        "get nope: no such volume"
    );
}

#[test]
fn a_half_created_volume_is_cleaned_at_load() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("volumes/half/_data")).unwrap();
    std::fs::create_dir_all(t.path().join("volumes/kept/_data")).unwrap();
    std::fs::write(t.path().join("volumes/kept/_data/f"), "x").unwrap();
    let s = store(t.path());
    assert!(s.get("half").is_err() && !t.path().join("volumes/half").exists());
    assert_eq!(s.get("kept").unwrap().driver, "local");
}

#[test]
fn in_use_volumes_are_not_removed() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    s.create(named("v1"), Some("abc")).unwrap();
    let e = s.remove("v1", false).unwrap_err();
    assert_eq!(e.message, "remove v1: volume is in use - [abc]");
    assert_eq!(e.kind, berth_stdx::ErrorKind::Conflict);
    s.release("abc");
    s.remove("v1", false).unwrap();
    assert!(!s.root().join("v1").exists());
    assert_eq!(
        s.remove("v1", false).unwrap_err().message,
        "get v1: no such volume"
    );
    s.remove("v1", true).unwrap();
}

#[test]
fn list_filters_and_prune() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    s.create(
        CreateRequest {
            name: "web-data".into(),
            labels: Some([("env".to_string(), "prod".to_string())].into()),
            ..Default::default()
        },
        Some("c1"),
    )
    .unwrap();
    s.create(named("cache"), None).unwrap();
    let anon = s
        .create(
            CreateRequest {
                labels: Some([(ANONYMOUS_LABEL.to_string(), String::new())].into()),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    std::fs::write(s.data_path(&anon.name).join("f"), "12345").unwrap();
    let names = |f: &str| -> Vec<String> {
        s.list(&Filters::parse(f).unwrap())
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect()
    };
    assert_eq!(names(r#"{"dangling":["false"]}"#), vec!["web-data"]);
    assert_eq!(names(r#"{"name":["cach"]}"#), vec!["cache"]);
    assert_eq!(names(r#"{"name":["^web"]}"#), vec!["web-data"]);
    assert_eq!(names(r#"{"name":["^cache$"]}"#), vec!["cache"]);
    assert!(names(r#"{"name":["^ache"]}"#).is_empty());
    assert_eq!(names(r#"{"label":["env=prod"]}"#), vec!["web-data"]);
    assert_eq!(names(r#"{"driver":["local"]}"#).len(), 3);
    assert!(
        s.list(&Filters::parse(r#"{"foo":["x"]}"#).unwrap())
            .is_err()
    );
    // Default prune: anonymous only.
    let (gone, size) = s.prune(&Filters::new()).unwrap();
    assert_eq!((gone, size), (vec![anon.name.clone()], 5));
    let (gone, _) = s
        .prune(&Filters::parse(r#"{"all":["true"]}"#).unwrap())
        .unwrap();
    assert_eq!(gone, vec!["cache"]);
    assert!(s.get("web-data").is_ok());
}
