//! `/_ping`, `/version`, `/info`, `/system/df`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderValue, header};

use berth_api::{
    ApiVersion, Commit, ComponentVersion, IndexInfo, PlatformInfo, PluginsInfo,
    RegistryServiceConfig, RuntimeInfo, SwarmInfo, SystemDataUsageResponse, SystemInfo,
    SystemVersion,
};

use super::images::summary_of;
use crate::error::Error;
use crate::host::HostFacts;
use crate::server::{AppState, api_version, blocking, compat};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn ping_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert("Swarm", HeaderValue::from_static("inactive"));
    h
}

pub async fn ping() -> Response {
    (ping_headers(), "OK").into_response()
}

pub async fn ping_head() -> Response {
    (ping_headers(), "").into_response()
}

pub async fn version() -> Json<SystemVersion> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let arch = crate::host::goarch().to_string();
    let details: BTreeMap<String, String> = [
        ("ApiVersion", ApiVersion::CURRENT.to_string()),
        ("Arch", arch.clone()),
        ("BuildTime", String::new()),
        ("Experimental", "false".to_string()),
        ("GitCommit", String::new()),
        ("GoVersion", String::new()),
        ("KernelVersion", kernel.clone()),
        ("MinAPIVersion", ApiVersion::MIN.to_string()),
        ("Os", "linux".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Json(SystemVersion {
        platform: PlatformInfo {
            name: "Berth Engine".into(),
        },
        components: vec![ComponentVersion {
            name: "Engine".into(),
            version: VERSION.into(),
            details: Some(details),
        }],
        version: VERSION.into(),
        api_version: ApiVersion::CURRENT.to_string(),
        min_api_version: ApiVersion::MIN.to_string(),
        git_commit: String::new(),
        go_version: String::new(),
        os: "linux".into(),
        arch,
        kernel_version: kernel,
        experimental: false,
        build_time: String::new(),
    })
}

pub async fn info(State(st): State<AppState>) -> Result<Json<SystemInfo>, Error> {
    let images = st.images.clone();
    let data_root = st.info.data_root.clone();
    let (facts, count) =
        blocking(move || Ok((HostFacts::gather(&data_root), images.count()))).await?;
    let mut index_configs = BTreeMap::new();
    index_configs.insert(
        "docker.io".to_string(),
        IndexInfo {
            name: "docker.io".into(),
            mirrors: vec![],
            secure: true,
            official: true,
        },
    );
    let mut runtimes = BTreeMap::new();
    runtimes.insert(
        "runc".to_string(),
        RuntimeInfo {
            path: "runc".into(),
            runtime_args: None,
        },
    );
    let cgroup_v2 = facts.cgroup_version == "2";
    let mut security = vec!["name=seccomp,profile=builtin".to_string()];
    if cgroup_v2 {
        security.push("name=cgroupns".into());
    }
    let mut warnings = Vec::new();
    if !facts.bridge_nf_iptables {
        warnings.push("WARNING: bridge-nf-call-iptables is disabled".to_string());
    }
    if !facts.bridge_nf_ip6tables {
        warnings.push("WARNING: bridge-nf-call-ip6tables is disabled".to_string());
    }
    Ok(Json(SystemInfo {
        id: st.info.id.clone(),
        containers: 0,
        containers_running: 0,
        containers_paused: 0,
        containers_stopped: 0,
        images: count as i64,
        driver: "overlay2".into(),
        driver_status: vec![
            ["Backing Filesystem".into(), facts.backing_fs.clone()],
            ["Supports d_type".into(), "true".into()],
            ["Using metacopy".into(), "false".into()],
            ["Native Overlay Diff".into(), "true".into()],
            ["userxattr".into(), "false".into()],
        ],
        plugins: PluginsInfo {
            volume: vec!["local".into()],
            network: vec!["bridge".into(), "host".into(), "null".into()],
            authorization: None,
            log: vec!["json-file".into(), "local".into()],
        },
        memory_limit: true,
        swap_limit: true,
        cpu_cfs_period: true,
        cpu_cfs_quota: true,
        cpu_shares: true,
        cpu_set: true,
        pids_limit: true,
        ipv4_forwarding: facts.ipv4_forwarding,
        bridge_nf_iptables: facts.bridge_nf_iptables,
        bridge_nf_ip6tables: facts.bridge_nf_ip6tables,
        debug: st.info.debug,
        nfd: facts.open_fds,
        oom_kill_disable: !cgroup_v2,
        ngoroutines: 0,
        system_time: super::images::rfc3339_nano_local(&chrono::Local::now()),
        logging_driver: "json-file".into(),
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: facts.cgroup_version.clone(),
        nevents_listener: st.events.listeners() as i64,
        kernel_version: facts.kernel_version.clone(),
        operating_system: facts.operating_system.clone(),
        os_version: facts.os_version.clone(),
        os_type: "linux".into(),
        architecture: facts.machine.clone(),
        index_server_address: "https://index.docker.io/v1/".into(),
        registry_config: RegistryServiceConfig {
            allow_nondistributable_artifacts_cidrs: vec![],
            allow_nondistributable_artifacts_hostnames: vec![],
            insecure_registry_cidrs: vec!["::1/128".into(), "127.0.0.0/8".into()],
            index_configs,
            mirrors: vec![],
        },
        ncpu: facts.ncpu,
        mem_total: facts.mem_total,
        generic_resources: None,
        docker_root_dir: st.info.data_root.display().to_string(),
        http_proxy: std::env::var("HTTP_PROXY").unwrap_or_default(),
        https_proxy: std::env::var("HTTPS_PROXY").unwrap_or_default(),
        no_proxy: std::env::var("NO_PROXY").unwrap_or_default(),
        name: facts.hostname.clone(),
        labels: vec![],
        experimental_build: false,
        server_version: VERSION.into(),
        runtimes,
        default_runtime: "runc".into(),
        swarm: SwarmInfo {
            local_node_state: "inactive".into(),
            ..Default::default()
        },
        live_restore_enabled: st.info.live_restore,
        isolation: String::new(),
        init_binary: "docker-init".into(),
        containerd_commit: Commit::default(),
        runc_commit: Commit::default(),
        init_commit: Commit::default(),
        security_options: security,
        cdi_spec_dirs: vec![],
        warnings: (!warnings.is_empty()).then_some(warnings),
    }))
}

pub async fn df(
    State(st): State<AppState>,
    ext: Extensions,
) -> Result<Json<SystemDataUsageResponse>, Error> {
    let v = api_version(&ext);
    let images = st.images.clone();
    let (listed, usage) = blocking(move || {
        let listed = images.list(true, &Default::default(), false)?;
        let usage = images.usage()?;
        Ok((listed, usage))
    })
    .await?;
    let containers = {
        let mgr = st.restore.clone();
        blocking(move || df_containers(&mgr)).await?
    };
    let rows = listed
        .iter()
        .map(|li| {
            let u = usage.images.iter().find(|u| u.id == li.image.id);
            let mut s = summary_of(li);
            let id = li.image.id.to_string();
            s.containers = containers.iter().filter(|c| c["ImageID"] == id).count() as i64;
            s.shared_size = u.map(|u| u.shared_size as i64).unwrap_or(0);
            compat::image_summary(v, &mut s);
            s
        })
        .collect();
    Ok(Json(SystemDataUsageResponse {
        layers_size: usage.layers_size as i64,
        images: rows,
        containers,
        volumes: {
            let mgr = st.restore.clone();
            blocking(move || mgr.volumes_usage()).await?
        },
        build_cache: {
            let st = st.clone();
            blocking(move || Ok(crate::routes::build::df_records(&st))).await?
        },
    }))
}

/// `/system/df` containers: every container's summary with the size of its
/// writable layer (what `docker system df` adds up).
fn df_containers(
    mgr: &crate::containers::ContainerManager,
) -> Result<Vec<serde_json::Value>, Error> {
    let mut rows = mgr.list(true, &Default::default(), -1)?;
    for r in &mut rows {
        let id = r["Id"].as_str().unwrap_or_default().to_string();
        if let Ok((rw, _)) = mgr.sizes(&id) {
            r["SizeRw"] = serde_json::json!(rw);
        }
    }
    Ok(rows)
}
