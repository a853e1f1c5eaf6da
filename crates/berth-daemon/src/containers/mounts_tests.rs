//! Table-driven: every mount form and every error message, as docker words them.

use super::*;
use serde_json::json;

fn bind(raw: &str) -> std::result::Result<MountPoint, String> {
    parse_bind(raw, "").map(|p| p.mp).map_err(|e| e.message)
}

#[test]
fn binds_parse_like_docker() {
    let mp = |kind: &str, name: &str, src: &str, dst: &str, mode: &str, rw: bool, prop: &str| {
        MountPoint {
            kind: kind.into(),
            source: src.into(),
            destination: dst.into(),
            mode: mode.into(),
            rw,
            propagation: prop.into(),
            copy_data: kind == "volume" && !mode.contains("nocopy"),
            ..Default::default()
        }
        .with_name(name)
    };
    let ok: &[(&str, MountPoint)] = &[
        (
            "/tmp:/data",
            mp("bind", "", "/tmp", "/data", "", true, "rprivate"),
        ),
        (
            "/tmp:/data:ro",
            mp("bind", "", "/tmp", "/data", "ro", false, "rprivate"),
        ),
        (
            "/tmp/:/data/../x/",
            mp("bind", "", "/tmp", "/x", "", true, "rprivate"),
        ),
        (
            "/tmp:/d:rw,rshared",
            mp("bind", "", "/tmp", "/d", "rw,rshared", true, "rshared"),
        ),
        (
            "/tmp:/d:z",
            mp("bind", "", "/tmp", "/d", "z", true, "rprivate"),
        ),
        (
            "/tmp:/d:Z,slave",
            mp("bind", "", "/tmp", "/d", "Z,slave", true, "slave"),
        ),
        ("v1:/data", mp("volume", "v1", "", "/data", "z", true, "")),
        (
            "v1:/data:ro",
            mp("volume", "v1", "", "/data", "ro", false, ""),
        ),
        (
            "v1:/data:nocopy",
            mp("volume", "v1", "", "/data", "nocopy", true, ""),
        ),
        (
            "v1:/data:ro,nocopy",
            mp("volume", "v1", "", "/data", "ro,nocopy", false, ""),
        ),
    ];
    for (raw, want) in ok {
        assert_eq!(bind(raw).as_ref(), Ok(want), "{raw}");
    }
    let vol = "includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path";
    let bad: &[(&str, String)] = &[
        (":/data", "invalid volume specification: ':/data'".into()),
        ("/tmp:rw", "invalid volume specification: '/tmp:rw'".into()),
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'".into()),
        ("/tmp:/data:bogus", "invalid mode: bogus".into()),
        ("/tmp:/data:ro,rw", "invalid mode: ro,rw".into()),
        (
            "/tmp:data",
            "invalid volume specification: '/tmp:data': invalid mount config for type \"bind\": invalid mount path: 'data' mount path must be absolute".into(),
        ),
        (
            "/tmp:../x",
            "invalid volume specification: '/tmp:../x': invalid mount config for type \"bind\": invalid mount path: '../x' mount path must be absolute".into(),
        ),
        (
            "/tmp:/",
            "invalid volume specification: '/tmp:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'".into(),
        ),
        (
            "/tmp:/x/..",
            "invalid volume specification: '/tmp:/x/..': invalid mount config for type \"bind\": invalid specification: destination can't be '/'".into(),
        ),
        (
            "v1:/d:shared",
            "invalid volume specification: 'v1:/d:shared': invalid mount config for type \"volume\": field BindOptions must not be specified".into(),
        ),
        (
            "/tmp:/d:nocopy",
            "invalid volume specification: '/tmp:/d:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified".into(),
        ),
        ("x@y:/data", format!("create x@y: \"x@y\" {vol}")),
        ("rel/dir:/data", format!("create rel/dir: \"rel/dir\" {vol}")),
        (
            "x:/data",
            "create x: volume name is too short, names should be at least two alphanumeric characters".into(),
        ),
    ];
    for (raw, want) in bad {
        assert_eq!(bind(raw).as_ref(), Err(want), "{raw}");
    }
    let e = parse_bind("v1:/d", "flocker").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            berth_stdx::ErrorKind::NotFound,
            "create v1: error looking up volume plugin flocker: plugin \"flocker\" not found"
        )
    );
}

impl MountPoint {
    fn with_name(mut self, n: &str) -> Self {
        self.name = n.into();
        self
    }
}

fn api(v: Value) -> std::result::Result<Planned, String> {
    parse_api_mount(&v, true).map_err(|e| e.message)
}

#[test]
fn api_mounts_parse_like_docker() {
    let p = api(
        json!({"Type": "bind", "Source": "/tmp", "Target": "/t", "ReadOnly": true,
        "BindOptions": {"Propagation": "rslave"}}),
    )
    .unwrap();
    assert_eq!(
        (
            p.mp.source.as_str(),
            p.mp.rw,
            p.mp.propagation.as_str(),
            p.mp.mode.as_str(),
            p.mp.skip_create
        ),
        ("/tmp", false, "rslave", "", true)
    );
    let p = api(
        json!({"Type": "bind", "Source": "/nonexistent-berth", "Target": "/t",
        "BindOptions": {"CreateMountpoint": true}}),
    )
    .unwrap();
    assert!(!p.mp.skip_create);
    let p = api(json!({"Type": "volume", "Source": "v1", "Target": "/v",
        "VolumeOptions": {"NoCopy": true, "Labels": {"a": "b"},
            "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}}}))
    .unwrap();
    assert_eq!((p.mp.mode.as_str(), p.mp.copy_data), ("z", false));
    let want = p.volume.unwrap();
    assert_eq!(want.name, "v1");
    assert_eq!(
        want.labels,
        Some([("a".to_string(), "b".to_string())].into())
    );
    assert_eq!(want.options.unwrap()["type"], "tmpfs");
    let p = api(json!({"Type": "volume", "Target": "/anon"})).unwrap();
    assert!(
        p.mp.anonymous
            && p.volume
                .unwrap()
                .labels
                .unwrap()
                .contains_key(ANONYMOUS_LABEL)
    );
    let p = api(json!({"Type": "tmpfs", "Target": "/t", "ReadOnly": true,
        "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1770}}))
    .unwrap();
    assert_eq!(p.mp.tmpfs, "ro,mode=1770,size=1m");
    let p =
        api(json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1000}})).unwrap();
    assert_eq!(p.mp.tmpfs, "size=1000");

    let bad: &[(Value, &str)] = &[
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "x"}),
            "invalid mount config for type \"bind\": invalid mount path: 'x' mount path must be absolute",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "/"}),
            "invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp"}),
            "invalid mount config for type \"bind\": field Target must not be empty",
        ),
        (
            json!({"Type": "bind", "Target": "/t"}),
            "invalid mount config for type \"bind\": field Source must not be empty",
        ),
        (
            json!({"Type": "bind", "Source": "rel", "Target": "/t"}),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            json!({"Type": "bind", "Source": "/berth-no-such-dir", "Target": "/t"}),
            "invalid mount config for type \"bind\": bind source path does not exist: /berth-no-such-dir",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "/t", "BindOptions": {"Propagation": "weird"}}),
            "invalid mount config for type \"bind\": invalid propagation mode: weird",
        ),
        (
            json!({"Type": "bind", "Source": "/tmp", "Target": "/t", "VolumeOptions": {}}),
            "invalid mount config for type \"bind\": field VolumeOptions must not be specified",
        ),
        (
            json!({"Type": "volume", "Source": "v", "Target": "/t", "BindOptions": {}}),
            "invalid mount config for type \"volume\": field BindOptions must not be specified",
        ),
        (
            json!({"Type": "volume", "Target": "/t", "ReadOnly": true}),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes",
        ),
        (
            json!({"Type": "volume", "Source": "a b", "Target": "/t"}),
            "create a b: \"a b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
        ),
        (
            json!({"Type": "tmpfs", "Source": "x", "Target": "/t"}),
            "invalid mount config for type \"tmpfs\": field Source must not be specified",
        ),
        (
            json!({"Type": "npipe", "Target": "/t"}),
            "invalid mount config for type \"npipe\": mount type unknown",
        ),
    ];
    for (v, want) in bad {
        assert_eq!(api(v.clone()).err().as_deref(), Some(*want), "{v}");
    }
}

#[test]
fn volumes_from_specs() {
    assert_eq!(parse_volumes_from("web").unwrap(), ("web".into(), true));
    assert_eq!(parse_volumes_from("web:ro").unwrap(), ("web".into(), false));
    assert_eq!(parse_volumes_from("web:rw").unwrap(), ("web".into(), true));
    for (spec, want) in [
        ("", "volumes-from specification cannot be an empty string"),
        ("web:shared", "invalid mode: shared"),
        ("web:nocopy", "invalid mode: nocopy"),
        ("web:xx", "invalid mode: xx"),
    ] {
        assert_eq!(
            parse_volumes_from(spec).unwrap_err().message,
            want,
            "{spec}"
        );
    }
}

#[test]
fn plan_orders_and_dedups_like_docker() {
    let config = json!({"Volumes": {"/data": {}, "/cache": {}, "/t": {}}});
    let hc = json!({"Binds": ["v1:/data"], "Tmpfs": {"/t": ""},
        "Mounts": [{"Type": "tmpfs", "Target": "/scratch"}], "VolumesFrom": ["web:ro"]});
    let p = plan(config.as_object().unwrap(), hc.as_object().unwrap()).unwrap();
    assert_eq!(p.volumes_from, vec![("web".to_string(), false)]);
    let dests: Vec<(&str, &str, bool)> = p
        .mounts
        .iter()
        .map(|m| {
            (
                m.mp.destination.as_str(),
                m.mp.kind.as_str(),
                m.mp.anonymous,
            )
        })
        .collect();
    // `/data` comes from the bind; `/t` is a --tmpfs; `/cache` is anonymous.
    assert_eq!(
        dests,
        vec![
            ("/data", "volume", false),
            ("/scratch", "tmpfs", false),
            ("/cache", "volume", true)
        ]
    );
    let dup = |hc: Value| {
        plan(&Map::new(), hc.as_object().unwrap())
            .unwrap_err()
            .message
    };
    assert_eq!(
        dup(json!({"Binds": ["/tmp:/a", "v1:/a"]})),
        "Duplicate mount point: /a"
    );
    assert_eq!(
        dup(json!({"Binds": ["/tmp:/a"], "Mounts": [{"Type": "tmpfs", "Target": "/a/"}]})),
        "Duplicate mount point: /a/"
    );
    assert_eq!(
        dup(json!({"Binds": ["/tmp:/a"], "Tmpfs": {"/a": ""}})),
        "Duplicate mount point: /a"
    );
}

#[test]
fn inspect_shape_matches_docker() {
    let mps = vec![
        MountPoint {
            kind: "bind".into(),
            source: "/tmp".into(),
            destination: "/b".into(),
            mode: "ro".into(),
            rw: false,
            propagation: "rprivate".into(),
            ..Default::default()
        },
        MountPoint {
            kind: "volume".into(),
            name: "v1".into(),
            source: "/var/lib/berth/volumes/v1/_data".into(),
            destination: "/v".into(),
            driver: "local".into(),
            mode: "z".into(),
            rw: true,
            ..Default::default()
        },
    ];
    assert_eq!(
        api_mounts(&mps).to_string(),
        r#"[{"Type":"bind","Source":"/tmp","Destination":"/b","Mode":"ro","RW":false,"Propagation":"rprivate"},{"Type":"volume","Name":"v1","Source":"/var/lib/berth/volumes/v1/_data","Destination":"/v","Driver":"local","Mode":"z","RW":true,"Propagation":""}]"#
    );
    let mut s = vec![mps[1].clone(), mps[0].clone()];
    s[0].destination = "/a/b".into();
    sort(&mut s);
    assert_eq!(s[0].destination, "/b");
}
