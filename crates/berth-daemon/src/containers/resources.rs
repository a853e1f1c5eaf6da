//! Resource endpoints: `stats`, `top`, `update` and `prune`. All of them work on the
//! container's cgroup, whose path is the spec's `linux.cgroupsPath`
//! (`<CgroupParent or /berth>/<id>`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use berth_api::Filters;
use berth_runtime::cgroups::CgroupLayout;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::manager::ContainerManager;
use super::record::Record;
use crate::error::{Error, Result};

/// One stats sample: what docker's JSON needs for `cpu_stats` and the rest.
#[derive(Clone, Default)]
pub struct Sample {
    pub read: Option<DateTime<Utc>>,
    pub stats: berth_runtime::stats::Stats,
    pub system_ns: u64,
    pub online_cpus: u64,
    /// User and kernel CPU time in nanoseconds.
    pub user_ns: u64,
    pub kernel_ns: u64,
}

/// `/proc/stat`'s total CPU time in nanoseconds and the number of CPUs.
fn proc_stat() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut total = 0;
    let mut cpus = 0;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        match it.next() {
            Some("cpu") => {
                // The first 7 fields (user..softirq) are what docker sums; in USER_HZ.
                let ticks: u64 = it.take(7).filter_map(|v| v.parse::<u64>().ok()).sum();
                // SAFETY: sysconf has no memory effects.
                let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
                total = ticks * (1_000_000_000 / hz);
            }
            Some(c) if c.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus.max(1))
}

fn host_mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let rest = l.strip_prefix("MemTotal:")?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
        })
        .map_or(0, |kb| kb * 1024)
}

fn ts(t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn cpu_json(s: &Sample) -> Value {
    json!({
        "cpu_usage": {
            "total_usage": s.stats.cpu_usage_ns,
            "usage_in_kernelmode": s.kernel_ns,
            "usage_in_usermode": s.user_ns,
        },
        "system_cpu_usage": s.system_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

/// Docker's stats JSON for `cur` (with `pre` as `precpu_stats`).
pub fn stats_json(rec: &Record, cur: &Sample, pre: &Sample) -> Value {
    let s = &cur.stats;
    let mut pids = json!({"current": s.pids_current});
    if let Some(l) = s.pids_limit {
        pids["limit"] = json!(l);
    }
    let mut v = json!({
        "name": rec.name,
        "id": rec.id,
        "read": ts(cur.read),
        "preread": ts(pre.read),
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": [],
            "io_serviced_recursive": [],
            "io_queue_recursive": [],
            "io_service_time_recursive": [],
            "io_wait_time_recursive": [],
            "io_merged_recursive": [],
            "io_time_recursive": [],
            "sectors_recursive": [],
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(cur),
        "precpu_stats": cpu_json(pre),
        "memory_stats": {},
    });
    if cur.read.is_some() {
        v["memory_stats"] = json!({
            "usage": s.memory_usage,
            "limit": s.memory_limit.unwrap_or_else(host_mem_total),
            "stats": {
                "inactive_file": s.memory_inactive_file,
                "total_inactive_file": s.memory_inactive_file,
            },
        });
    }
    // Networks: berth's containers have no interfaces of their own yet (`none`),
    // which docker reports by leaving `networks` out.
    v
}

/// The container's cgroup path (the spec's `linux.cgroupsPath`).
pub fn cgroup_path(rec: &Record) -> String {
    let parent = match rec.hc_str("CgroupParent") {
        "" => "/berth",
        p => p,
    };
    format!("{}/{}", parent.trim_end_matches('/'), rec.id)
}

fn under(base: &std::path::Path, cgroup: &str) -> PathBuf {
    base.join(cgroup.trim_start_matches('/'))
}

impl ContainerManager {
    fn cgroups(&self) -> &CgroupLayout {
        &self.host.cgroups
    }

    /// One sample of a container; a stopped one gives an empty sample.
    pub fn stats_sample(&self, rec: &Record) -> Sample {
        if !rec.state.status.is_active() {
            return Sample::default();
        }
        let (system_ns, online_cpus) = proc_stat();
        let cg = cgroup_path(rec);
        let (user_ns, kernel_ns) = self.cpu_split(&cg);
        Sample {
            read: Some(Utc::now()),
            stats: berth_runtime::stats::read(self.cgroups(), &cg),
            system_ns,
            online_cpus,
            user_ns,
            kernel_ns,
        }
    }

    /// User and kernel CPU time: v2's `cpu.stat` (µs), v1's `cpuacct.stat` (USER_HZ).
    fn cpu_split(&self, cg: &str) -> (u64, u64) {
        let (file, user, system, scale) = match self.cgroups() {
            CgroupLayout::Unified { root } => (
                Some(under(root, cg).join("cpu.stat")),
                "user_usec",
                "system_usec",
                1000,
            ),
            l @ CgroupLayout::Legacy { .. } => {
                // SAFETY: sysconf has no memory effects.
                let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
                (
                    l.v1_controller("cpuacct")
                        .map(|b| under(b, cg).join("cpuacct.stat")),
                    "user",
                    "system",
                    1_000_000_000 / hz,
                )
            }
        };
        let text = file
            .and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default();
        let get = |key: &str| {
            text.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    (k == key).then(|| v.trim().parse::<u64>().ok())?
                })
                .unwrap_or(0)
                * scale
        };
        (get(user), get(system))
    }

    /// The PIDs in the container's cgroup.
    fn cgroup_pids(&self, rec: &Record) -> BTreeSet<u32> {
        let cg = cgroup_path(rec);
        let dir = match self.cgroups() {
            CgroupLayout::Unified { root } => Some(under(root, &cg)),
            l @ CgroupLayout::Legacy { .. } => l
                .v1_controller("pids")
                .or_else(|| l.v1_controller("memory"))
                .map(|b| under(b, &cg)),
        };
        dir.and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// `GET /containers/{id}/top`: the host's `ps` rows whose PID is in the cgroup.
    pub async fn top(&self, name: &str, ps_args: &str) -> Result<Value> {
        let rec = self.get(name)?;
        if !rec.state.status.is_active() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let pids = self.cgroup_pids(&rec);
        let args: Vec<&str> = match ps_args.split_whitespace().collect::<Vec<_>>() {
            a if a.is_empty() => vec!["-ef"],
            a => a,
        };
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| Error::internal(format!("Error running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::internal(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }

    /// `POST /containers/prune`.
    pub async fn prune(self: &Arc<Self>, filters: &Filters) -> Result<Value> {
        filters
            .validate(&["until", "label", "label!"])
            .map_err(|e| Error::invalid(e.to_string()))?;
        let until = match filters.get("until").first() {
            Some(u) => Some(parse_until(u)?),
            None => None,
        };
        let candidates: Vec<Record> = {
            let idx = self.lock();
            idx.by_id
                .values()
                .map(|e| e.rec.clone())
                .filter(|r| {
                    !r.state.status.is_active() && r.state.status != super::Status::Removing
                })
                .filter(|r| until.is_none_or(|u| r.created.timestamp() < u))
                .filter(|r| filters.match_labels("label", &r.labels()))
                .filter(|r| {
                    let neg = filters.get("label!");
                    neg.is_empty() || !filters_match_any(&neg, &r.labels())
                })
                .collect()
        };
        let mut deleted = Vec::new();
        for r in candidates {
            if self.remove(&r.id, false).await.is_ok() {
                deleted.push(r.id);
            }
        }
        // Docker announces the prune itself after the `destroy` events.
        let attrs = std::collections::BTreeMap::from([("reclaimed".to_string(), "0".to_string())]);
        self.events.publish("container", "prune", "", attrs);
        Ok(json!({"ContainersDeleted": deleted, "SpaceReclaimed": 0}))
    }

    /// `POST /containers/{id}/update`: stores the new resources and restart policy,
    /// and writes the limits into a running container's cgroup.
    pub fn update_resources(&self, name: &str, body: &Map<String, Value>) -> Result<Value> {
        const KEYS: &[&str] = &[
            "Memory",
            "MemorySwap",
            "MemoryReservation",
            "NanoCpus",
            "CpuShares",
            "CpuQuota",
            "CpuPeriod",
            "CpusetCpus",
            "CpusetMems",
            "PidsLimit",
            "RestartPolicy",
        ];
        let rec = self.get(name)?;
        let mut changes = Map::new();
        for k in KEYS {
            match body.get(*k) {
                None | Some(Value::Null) => {}
                // Docker leaves unset (zero) values as they were.
                Some(Value::Number(n)) if n.as_i64() == Some(0) => {}
                Some(Value::String(s)) if s.is_empty() => {}
                Some(Value::Object(o)) if o.get("Name").and_then(Value::as_str) == Some("") => {}
                Some(v) => {
                    changes.insert(k.to_string(), v.clone());
                }
            }
        }
        if let (Some(m), None) = (
            changes.get("Memory").and_then(Value::as_i64),
            changes.get("MemorySwap"),
        ) {
            // Like docker: without --memory-swap, swap is set to twice the memory.
            let old_swap = rec.hc_i64("MemorySwap");
            if old_swap > 0 && old_swap < m {
                return Err(Error::invalid(
                    "Cannot update container: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
                ));
            }
        }
        let rec = self.update(&rec.id, |e| {
            for (k, v) in &changes {
                e.rec.host_config.insert(k.clone(), v.clone());
            }
        })?;
        if rec.state.status.is_active() {
            self.apply_limits(&rec, &changes)
                .map_err(|e| Error::internal(format!("Cannot update container {}: {e}", rec.id)))?;
        }
        self.event(&rec, "update", &[]);
        Ok(json!({"Warnings": []}))
    }

    fn apply_limits(&self, rec: &Record, changes: &Map<String, Value>) -> std::io::Result<()> {
        let cg = cgroup_path(rec);
        let num = |k: &str| changes.get(k).and_then(Value::as_i64);
        let write = |dir: Option<PathBuf>, file: &str, val: String| -> std::io::Result<()> {
            match dir {
                Some(d) => std::fs::write(d.join(file), val),
                None => Ok(()),
            }
        };
        let (period, quota) = match (num("NanoCpus"), num("CpuQuota"), num("CpuPeriod")) {
            (Some(n), _, p) => {
                let p = p.unwrap_or(100_000);
                (Some(p), Some(n * p / 1_000_000_000))
            }
            (None, q, p) => (p, q),
        };
        match self.cgroups() {
            CgroupLayout::Unified { root } => {
                let d = Some(under(root, &cg));
                if let Some(m) = num("Memory") {
                    write(d.clone(), "memory.max", m.to_string())?;
                }
                if let Some(s) = num("MemorySwap") {
                    let m = num("Memory").unwrap_or(rec.hc_i64("Memory"));
                    let v = if s < 0 {
                        "max".into()
                    } else {
                        (s - m).max(0).to_string()
                    };
                    write(d.clone(), "memory.swap.max", v)?;
                }
                if let Some(p) = num("PidsLimit") {
                    let v = if p <= 0 { "max".into() } else { p.to_string() };
                    write(d.clone(), "pids.max", v)?;
                }
                if let Some(s) = num("CpuShares") {
                    // runc's conversion of shares to cgroup v2 weight.
                    let w = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
                    write(d.clone(), "cpu.weight", w.to_string())?;
                }
                if quota.is_some() || period.is_some() {
                    let q = match quota {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".into(),
                    };
                    write(
                        d.clone(),
                        "cpu.max",
                        format!("{q} {}", period.unwrap_or(100_000)),
                    )?;
                }
                if let Some(c) = changes.get("CpusetCpus").and_then(Value::as_str) {
                    write(d, "cpuset.cpus", c.to_string())?;
                }
            }
            l @ CgroupLayout::Legacy { .. } => {
                let ctl = |n: &str| l.v1_controller(n).map(|b| under(b, &cg));
                if let Some(m) = num("Memory") {
                    // The swap limit must stay >= the memory limit: raise it first.
                    let swap = num("MemorySwap").unwrap_or(-1);
                    if swap < 0 {
                        let _ = write(ctl("memory"), "memory.memsw.limit_in_bytes", "-1".into());
                    }
                    write(ctl("memory"), "memory.limit_in_bytes", m.to_string())?;
                }
                if let Some(s) = num("MemorySwap") {
                    write(ctl("memory"), "memory.memsw.limit_in_bytes", s.to_string())?;
                }
                if let Some(p) = num("PidsLimit") {
                    let v = if p <= 0 { "max".into() } else { p.to_string() };
                    write(ctl("pids"), "pids.max", v)?;
                }
                if let Some(s) = num("CpuShares") {
                    write(ctl("cpu"), "cpu.shares", s.to_string())?;
                }
                if let Some(p) = period {
                    write(ctl("cpu"), "cpu.cfs_period_us", p.to_string())?;
                }
                if let Some(q) = quota {
                    write(ctl("cpu"), "cpu.cfs_quota_us", q.to_string())?;
                }
                if let Some(c) = changes.get("CpusetCpus").and_then(Value::as_str) {
                    write(ctl("cpuset"), "cpuset.cpus", c.to_string())?;
                }
            }
        }
        Ok(())
    }
}

fn filters_match_any(wanted: &[&str], labels: &std::collections::BTreeMap<String, String>) -> bool {
    wanted.iter().any(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(*w),
    })
}

/// `until`: unix seconds (with optional fraction), RFC 3339, or a Go duration ago.
fn parse_until(s: &str) -> Result<i64> {
    // `parse_unix_opt` answers nanoseconds.
    if let Some(t) = super::parse_unix_opt(s).ok().flatten() {
        return Ok(t / 1_000_000_000);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| Error::invalid(format!("invalid filter 'until={s}'")))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(Error::invalid(format!("invalid filter 'until={s}'"))),
    };
    Ok(Utc::now().timestamp() - secs)
}

/// Keeps the `ps` rows whose PID column is in `pids`.
fn parse_ps(out: &str, pids: &BTreeSet<u32>) -> Result<Value> {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or_else(|| Error::internal("Couldn't find PID field in ps output"))?;
    let mut procs = Vec::new();
    for l in lines {
        let fields: Vec<&str> = l.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<u32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) keeps its spaces.
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        procs.push(row);
    }
    Ok(json!({"Titles": titles, "Processes": procs}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_filtered_by_pid() {
        let out = "UID   PID  PPID  C STIME TTY TIME CMD\n\
                   root    1     0  0 10:00 ?   00:00:01 /sbin/init\n\
                   root   42     1  0 10:00 ?   00:00:00 sleep 1000\n";
        let v = parse_ps(out, &BTreeSet::from([42])).unwrap();
        assert_eq!(v["Titles"][1], "PID");
        assert_eq!(v["Processes"].as_array().unwrap().len(), 1);
        assert_eq!(v["Processes"][0][7], "sleep 1000");
    }

    #[test]
    fn until_forms() {
        assert_eq!(parse_until("100").unwrap(), 100);
        assert_eq!(parse_until("1970-01-01T00:01:40Z").unwrap(), 100);
        assert!(parse_until("1h").unwrap() < Utc::now().timestamp());
        assert!(parse_until("bogus").is_err());
    }
}
