//! `GET /containers/{id}/json`: docker's ContainerJSON shape.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::manager::ContainerManager;
use super::record::{Record, Status};
use crate::error::Result;
use crate::routes::images::rfc3339_nano;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| rfc3339_nano(&t))
        .unwrap_or_else(|| ZERO_TIME.into())
}

/// docker fills every HostConfig field; the client's values win.
fn host_config(r: &Record) -> Value {
    let mut hc = json!({
        "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "bridge", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0],
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "private", "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null, "IpcMode": "private", "Cgroup": "",
        "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
    });
    let more = json!({
        "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": [], "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": null, "PidsLimit": null,
        "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": berth_runtime::spec::MASKED_PATHS,
        "ReadonlyPaths": berth_runtime::spec::READONLY_PATHS,
    });
    if let (Some(m), Value::Object(more)) = (hc.as_object_mut(), more) {
        m.extend(more);
    }
    if let Some(m) = hc.as_object_mut() {
        for (k, v) in &r.host_config {
            if v.is_null() && m.get(k).is_some_and(|d| !d.is_null()) {
                continue;
            }
            m.insert(k.clone(), v.clone());
        }
        if r.hc_bool("Privileged") {
            m.insert("MaskedPaths".into(), json!([]));
            m.insert("ReadonlyPaths".into(), json!([]));
        }
        if m.get("ShmSize").and_then(Value::as_i64) == Some(0) {
            m.insert("ShmSize".into(), json!(67108864));
        }
    }
    hc
}

fn config(r: &Record) -> Value {
    let mut c = json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": [],
        "Cmd": null, "Image": r.image_ref, "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": {},
    });
    if let Some(m) = c.as_object_mut() {
        for (k, v) in &r.config {
            m.insert(k.clone(), v.clone());
        }
    }
    c
}

pub fn inspect(m: &ContainerManager, r: &Record) -> Value {
    let s = &r.state;
    let dir = m.dir(&r.id);
    let lower: Vec<String> = r
        .image_id
        .parse()
        .ok()
        .and_then(|d| m.images.layer_dirs(&d).ok())
        .unwrap_or_default()
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    json!({
        "Id": r.id,
        "Created": rfc3339_nano(&r.created),
        "Path": r.path,
        "Args": r.args,
        "State": {
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused | Status::Restarting),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": time(s.started_at),
            "FinishedAt": time(s.finished_at),
        },
        "Image": r.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": r.log_path,
        "Name": r.name,
        "RestartCount": s.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": m.exec_ids(&r.id),
        "HostConfig": host_config(r),
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "LowerDir": lower.join(":"),
                "MergedDir": dir.join("rootfs"),
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
            }
        },
        "Mounts": super::mounts_run::api_mounts(r),
        "Config": config(r),
        "NetworkSettings": m.network_settings(r)
    })
}

impl ContainerManager {
    pub fn inspect(&self, name: &str) -> Result<Value> {
        let r = self.get(name)?;
        let mut v = inspect(self, &r);
        if let Some(h) = &r.state.health {
            v["State"]["Health"] = h.to_json();
        }
        Ok(v)
    }

    fn exec_ids(&self, id: &str) -> Value {
        let ids: Vec<String> = self
            .lock()
            .execs
            .values()
            .filter(|e| e.container_id == id && e.running)
            .map(|e| e.id.clone())
            .collect();
        if ids.is_empty() {
            Value::Null
        } else {
            json!(ids)
        }
    }
}
