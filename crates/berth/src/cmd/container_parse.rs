//! Value parsers for container flags, each worded as docker's (go-units sizes, Go
//! durations, rational CPU counts, ulimits, devices, ports, `--mount` CSV, env and
//! label files).

use serde_json::{Map, Value, json};

/// go's `os.PathError` text for a failed open: `open x: no such file or directory`.
pub(crate) fn go_io_error(e: &std::io::Error, path: &str) -> String {
    let msg = match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    };
    format!("open {path}: {msg}")
}

/// go-units `RAMInBytes`: `32m` → 33554432 (binary multiples; optional `b`/`ib`),
/// with its error wording.
pub(crate) fn mem_bytes(s: &str) -> Result<i64, String> {
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{s}'"));
    };
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing \"{num}\": invalid syntax"))?;
    if size < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad = |x: &str| Err(format!("invalid suffix: '{x}'"));
    if sfx.len() > 3 {
        return bad(sfx);
    }
    let l = sfx.to_lowercase();
    let b = l.as_bytes();
    if b[0] == b'b' {
        return if b.len() > 1 {
            bad(&l)
        } else {
            Ok(size as i64)
        };
    }
    let mul: i64 = match b[0] {
        b'k' => 1 << 10,
        b'm' => 1 << 20,
        b'g' => 1 << 30,
        b't' => 1 << 40,
        b'p' => 1 << 50,
        _ => return bad(&l),
    };
    if (b.len() == 2 && b[1] != b'b') || (b.len() == 3 && &l[1..] != "ib") {
        return bad(&l);
    }
    Ok((size * mul as f64) as i64)
}

/// `--cpus 1.5` → 1500000000 nano CPUs.
pub(crate) fn nano_cpus(s: &str) -> Result<i64, String> {
    let v: f64 = s
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("failed to parse {s} as a rational number"))?;
    let n = v * 1e9;
    if n.fract() != 0.0 {
        return Err("value is too precise".into());
    }
    Ok(n as i64)
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub(crate) fn go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{s}\""))?;
        if n == 0 {
            return Err(bad());
        }
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            unit => return Err(format!("time: unknown unit \"{unit}\" in duration \"{s}\"")),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(if neg { -total as i64 } else { total as i64 })
}

/// `nofile=100:200` → `{"Name":"nofile","Hard":200,"Soft":100}`.
pub(crate) fn parse_ulimit(s: &str) -> Result<Value, String> {
    let Some((name, limits)) = s.split_once('=') else {
        return Err(format!("invalid ulimit argument: {s}"));
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (a, b),
        None => (limits, limits),
    };
    let num = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit soft value {v}"))
    };
    let soft = num(soft)?;
    let hard = hard
        .parse::<i64>()
        .map_err(|_| format!("invalid ulimit hard value {hard}"))?;
    if soft > hard && hard != -1 {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(json!({"Name": name, "Hard": hard, "Soft": soft}))
}

/// `--device /dev/x[:/dev/y][:rwm]`.
pub(crate) fn parse_device(s: &str) -> Result<Value, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let valid_perm = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, ctr, perm) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if valid_perm(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(format!("invalid device specification: {s}")),
    };
    if !ctr.starts_with('/') {
        return Err(format!("{ctr} is not an absolute path"));
    }
    if !valid_perm(perm) {
        return Err(format!("bad mode specified: {perm}"));
    }
    Ok(json!({"PathOnHost": host, "PathInContainer": ctr, "CgroupPermissions": perm}))
}

/// `-e K=V` as is; `-e K` takes K from our environment when set.
pub(crate) fn parse_env(e: &str) -> Result<String, String> {
    let (k, has_value) = match e.split_once('=') {
        Some((k, _)) => (k, true),
        None => (e, false),
    };
    if k.is_empty() {
        return Err(format!("invalid environment variable: {e}"));
    }
    if has_value {
        return Ok(e.to_string());
    }
    Ok(match std::env::var(k) {
        Ok(v) => format!("{k}={v}"),
        Err(_) => e.to_string(),
    })
}

/// docker's kvfile: `#` comments, blank lines skipped; `K` alone is looked up in the
/// environment (env files) or dropped.
pub(crate) fn parse_kv_file(path: &str, lookup_env: bool) -> Result<Vec<String>, String> {
    let data = std::fs::read(path).map_err(|e| go_io_error(&e, path))?;
    let wrap = |msg: String| format!("invalid env file ({path}): {msg}");
    let text = String::from_utf8(data).map_err(|_| wrap("invalid utf8 bytes at line 1".into()))?;
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let raw = if i == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, has_value) = match line.split_once('=') {
            Some((k, _)) => (k, true),
            None => (line, false),
        };
        if key.is_empty() {
            return Err(wrap(format!("no variable name on line '{line}'")));
        }
        if key.contains([' ', '\t']) {
            return Err(wrap(format!("variable '{key}' contains whitespaces")));
        }
        if has_value {
            out.push(line.to_string());
        } else if lookup_env && let Ok(v) = std::env::var(line) {
            out.push(format!("{key}={v}"));
        }
    }
    Ok(out)
}

/// `8000-8010` → (8000, 8010); a single port is its own range.
pub(crate) fn port_range(s: &str) -> Result<(u16, u16), String> {
    let num = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("invalid syntax: {p:?}"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(format!("invalid range specified for port: {s}"));
            }
            Ok((a, b))
        }
        None => {
            let p = num(s)?;
            Ok((p, p))
        }
    }
}

/// nat.ParsePortSpecs: `[ip:][hostPort:]containerPort[/proto]`, ranges allowed.
/// Returns (ExposedPorts, PortBindings).
/// Exposed ports and port bindings, as JSON maps.
pub(crate) type PortMaps = (Map<String, Value>, Map<String, Value>);

pub(crate) fn parse_ports(specs: &[String]) -> Result<PortMaps, String> {
    let mut exposed = Map::new();
    let mut bindings = Map::new();
    for spec in specs {
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, p)) => (r, p.to_lowercase()),
            None => (spec.as_str(), "tcp".to_string()),
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("invalid proto: {proto}"));
        }
        // An IPv6 host address is bracketed: [::1]:80:80.
        let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
            let Some((ip, after)) = r.split_once(']') else {
                return Err(format!("invalid port specification: {spec:?}"));
            };
            (
                ip.to_string(),
                after.strip_prefix(':').unwrap_or(after).to_string(),
            )
        } else {
            (String::new(), rest.to_string())
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, ctr) = match parts.as_slice() {
            [c] => (ip, "", *c),
            [h, c] if ip.is_empty() => (String::new(), *h, *c),
            [h, c] => (ip, *h, *c),
            [i, h, c] => (i.to_string(), *h, *c),
            _ => return Err(format!("invalid port specification: {spec:?}")),
        };
        if ctr.is_empty() {
            return Err(format!("no port specified: {spec}<empty>"));
        }
        let (cs, ce) = port_range(ctr).map_err(|_| format!("invalid containerPort: {ctr}"))?;
        let (hs, he) = if host.is_empty() {
            (0, 0)
        } else {
            port_range(host).map_err(|_| format!("invalid hostPort: {host}"))?
        };
        if !host.is_empty() && (he - hs) != (ce - cs) && he != hs {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {ctr} and {host}"
            ));
        }
        for (i, p) in (cs..=ce).enumerate() {
            let key = format!("{p}/{proto}");
            exposed.insert(key.clone(), json!({}));
            let host_port = if host.is_empty() {
                String::new()
            } else if he != hs {
                (hs + i as u16).to_string()
            } else if ce != cs {
                format!("{hs}-{he}")
            } else {
                hs.to_string()
            };
            let b = json!({"HostIp": ip, "HostPort": host_port});
            match bindings.get_mut(&key) {
                Some(Value::Array(a)) => a.push(b),
                _ => {
                    bindings.insert(key, json!([b]));
                }
            }
        }
    }
    Ok((exposed, bindings))
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `--mount type=bind,source=/x,target=/y,readonly` → a mount.Mount.
pub(crate) fn parse_mount(s: &str) -> Result<Value, String> {
    let mut m = Map::new();
    let mut kind = "volume".to_string();
    let mut source = String::new();
    let mut target = String::new();
    let mut readonly = false;
    let mut bind = Map::new();
    let mut volume: Option<Map<String, Value>> = None;
    let mut tmpfs = Map::new();
    // docker's CLI: empty `Labels` are left out, `DriverConfig` is always there.
    let vol = |v: &mut Option<Map<String, Value>>| {
        v.get_or_insert_with(|| {
            let mut m = Map::new();
            m.insert("DriverConfig".into(), json!({}));
            m
        })
        .clone()
    };
    for field in s.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v)),
            None => (field.to_lowercase(), None),
        };
        match (k.as_str(), v) {
            ("readonly" | "ro", None) => readonly = true,
            ("readonly" | "ro", Some(v)) => {
                readonly = match v {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    _ => return Err(format!("invalid value for {k}: {v}")),
                }
            }
            ("bind-nonrecursive", None) => {
                bind.insert("NonRecursive".into(), json!(true));
            }
            ("volume-nocopy", None) => {
                let mut o = vol(&mut volume);
                o.insert("NoCopy".into(), json!(true));
                volume = Some(o);
            }
            (_, None) => return Err(format!("invalid field '{field}' must be a key=value pair")),
            ("type", Some(v)) => kind = v.to_lowercase(),
            ("source" | "src", Some(v)) => {
                source = if v.starts_with('.') {
                    std::path::absolute(v)
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| v.to_string())
                } else {
                    v.to_string()
                }
            }
            ("target" | "dst" | "destination", Some(v)) => target = v.to_string(),
            ("bind-propagation", Some(v)) => {
                bind.insert("Propagation".into(), json!(v.to_lowercase()));
            }
            ("bind-nonrecursive", Some(v)) => {
                let b = go_bool(v).ok_or_else(|| format!("invalid value for {k}: {v}"))?;
                bind.insert("NonRecursive".into(), json!(b));
            }
            ("bind-recursive", Some(v)) => {
                let mode = match go_bool(v) {
                    Some(true) => "enabled",
                    Some(false) => "disabled",
                    None => v,
                };
                let field = match mode {
                    "enabled" => None,
                    "disabled" => Some("NonRecursive"),
                    "writable" => Some("ReadOnlyNonRecursive"),
                    "readonly" => Some("ReadOnlyForceRecursive"),
                    _ => {
                        return Err(format!(
                            "invalid value for {k}: {v} (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
                        ));
                    }
                };
                if let Some(f) = field {
                    bind.insert(f.into(), json!(true));
                }
            }
            ("volume-driver", Some(v)) => {
                let mut o = vol(&mut volume);
                o.entry("DriverConfig").or_insert_with(|| json!({}))["Name"] = json!(v);
                volume = Some(o);
            }
            ("volume-label", Some(v)) => {
                let mut o = vol(&mut volume);
                let (lk, lv) = v.split_once('=').unwrap_or((v, ""));
                let labels = o.entry("Labels").or_insert_with(|| json!({}));
                labels[lk] = json!(lv);
                volume = Some(o);
            }
            ("volume-opt", Some(v)) => {
                let mut o = vol(&mut volume);
                let (ok, ov) = v.split_once('=').unwrap_or((v, ""));
                let driver = o.entry("DriverConfig").or_insert_with(|| json!({}));
                if driver.get("Options").is_none() {
                    driver["Options"] = json!({});
                }
                driver["Options"][ok] = json!(ov);
                volume = Some(o);
            }
            ("volume-subpath", Some(v)) => {
                let mut o = vol(&mut volume);
                o.insert("Subpath".into(), json!(v));
                volume = Some(o);
            }
            ("tmpfs-size", Some(v)) => {
                let n = mem_bytes(v).map_err(|_| format!("invalid value for {k}: {v}"))?;
                tmpfs.insert("SizeBytes".into(), json!(n));
            }
            ("tmpfs-mode", Some(v)) => {
                let n =
                    u32::from_str_radix(v, 8).map_err(|_| format!("invalid value for {k}: {v}"))?;
                tmpfs.insert("Mode".into(), json!(n));
            }
            _ => return Err(format!("unexpected key '{k}' in '{field}'")),
        }
    }
    if target.is_empty() {
        return Err("target is required".into());
    }
    let set = |k: &str| bind.get(k) == Some(&json!(true));
    if set("ReadOnlyNonRecursive") && !readonly {
        return Err(
            "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
                .into(),
        );
    }
    if set("ReadOnlyForceRecursive") {
        if !readonly {
            return Err("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction".into());
        }
        if bind.get("Propagation") != Some(&json!("rprivate")) {
            return Err("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction".into());
        }
    }
    m.insert("Type".into(), json!(kind));
    if !source.is_empty() {
        m.insert("Source".into(), json!(source));
    }
    m.insert("Target".into(), json!(target));
    if readonly {
        m.insert("ReadOnly".into(), json!(true));
    }
    if !bind.is_empty() {
        m.insert("BindOptions".into(), Value::Object(bind));
    }
    if let Some(v) = volume {
        m.insert("VolumeOptions".into(), Value::Object(v));
    }
    if !tmpfs.is_empty() {
        m.insert("TmpfsOptions".into(), Value::Object(tmpfs));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(mem_bytes("32m"), Ok(33554432));
        assert_eq!(mem_bytes("1g"), Ok(1 << 30));
        assert_eq!(mem_bytes("512"), Ok(512));
        assert_eq!(mem_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(mem_bytes("1.5k"), Ok(1536));
        assert_eq!(mem_bytes("abc"), Err("invalid size: 'abc'".into()));
        assert_eq!(mem_bytes("1x"), Err("invalid suffix: 'x'".into()));
        assert_eq!(mem_bytes("10 MB"), Ok(10 << 20));
        assert_eq!(nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(
            nano_cpus("x"),
            Err("failed to parse x as a rational number".into())
        );
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("500ms"), Ok(500_000_000));
        assert_eq!(
            go_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
    }

    #[test]
    fn ulimits_devices_ports_mounts() {
        let got = [
            parse_ulimit("nofile=100:200").unwrap().to_string(),
            parse_ulimit("nproc=50").unwrap().to_string(),
            parse_device("/dev/fuse").unwrap().to_string(),
            parse_device("/dev/sda:/dev/xvda:r").unwrap().to_string(),
            parse_mount("type=bind,source=/etc,target=/hostetc,readonly")
                .unwrap()
                .to_string(),
            parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m")
                .unwrap()
                .to_string(),
            format!(
                "{:?}",
                parse_ports(&[
                    "127.0.0.1::5000".into(),
                    "8080:80/udp".into(),
                    "9000-9001:90-91".into()
                ])
                .map(|(e, b)| (Value::Object(e).to_string(), Value::Object(b).to_string()))
            ),
        ]
        .join("\n");
        expect![[r#"
            {"Name":"nofile","Hard":200,"Soft":100}
            {"Name":"nproc","Hard":50,"Soft":50}
            {"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}
            {"PathOnHost":"/dev/sda","PathInContainer":"/dev/xvda","CgroupPermissions":"r"}
            {"Type":"bind","Source":"/etc","Target":"/hostetc","ReadOnly":true}
            {"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576}}
            Ok(("{\"5000/tcp\":{},\"80/udp\":{},\"90/tcp\":{},\"91/tcp\":{}}", "{\"5000/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}],\"80/udp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}],\"90/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9000\"}],\"91/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9001\"}]}"))"#]]
        .assert_eq(&got);
    }

    #[test]
    fn env_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("env");
        std::fs::write(
            &p,
            "# c\n\nA=1\n  B=two words\nBERTH_SURELY_UNSET_X\nPATH\n",
        )
        .unwrap();
        let got = parse_kv_file(p.to_str().unwrap(), true).unwrap();
        assert_eq!(got[..2], ["A=1".to_string(), "B=two words".to_string()]);
        assert!(got[2].starts_with("PATH="));
        assert_eq!(got.len(), 3);
        std::fs::write(&p, "A B=1\n").unwrap();
        assert!(
            parse_kv_file(p.to_str().unwrap(), false)
                .unwrap_err()
                .ends_with("variable 'A B' contains whitespaces")
        );
        assert_eq!(
            parse_kv_file("/nonexistent/x", true).unwrap_err(),
            "open /nonexistent/x: no such file or directory"
        );
    }
}
