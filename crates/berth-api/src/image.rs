//! Image endpoints: `/images/json`, `/images/{name}/json`, history, delete, prune.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A map whose values are always `{}` on the wire (`ExposedPorts`, `Volumes`).
pub type EmptyObjectMap = BTreeMap<String, serde_json::Map<String, serde_json::Value>>;

/// One row of `GET /images/json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    #[serde(rename = "Containers")]
    pub containers: i64,
    /// Unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    /// -1 unless the client asked for shared sizes.
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    #[serde(rename = "Size")]
    pub size: i64,
    /// Only for API < 1.44 (set by the daemon's compat layer).
    #[serde(
        rename = "VirtualSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_size: Option<i64>,
}

/// Healthcheck of an image or container config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    #[serde(rename = "Test", default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The `Config` object of image inspect (docker's `container.Config`), field order as dockerd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    #[serde(rename = "Hostname", default)]
    pub hostname: String,
    #[serde(rename = "Domainname", default)]
    pub domainname: String,
    #[serde(rename = "User", default)]
    pub user: String,
    #[serde(rename = "AttachStdin", default)]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout", default)]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr", default)]
    pub attach_stderr: bool,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exposed_ports: Option<EmptyObjectMap>,
    #[serde(rename = "Tty", default)]
    pub tty: bool,
    #[serde(rename = "OpenStdin", default)]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce", default)]
    pub stdin_once: bool,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<HealthConfig>,
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    #[serde(rename = "Image", default)]
    pub image: String,
    #[serde(rename = "Volumes", default)]
    pub volumes: Option<EmptyObjectMap>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: String,
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "OnBuild", default)]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_signal: Option<String>,
    #[serde(rename = "Shell", default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// Storage driver description in image inspect (`Data` before `Name`, as dockerd).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphDriverData {
    #[serde(rename = "Data")]
    pub data: BTreeMap<String, String>,
    #[serde(rename = "Name")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRootFs {
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Layers", default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMetadata {
    /// RFC 3339 with nanoseconds; absent when never tagged locally.
    #[serde(
        rename = "LastTagTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_tag_time: Option<String>,
}

/// `GET /images/{name}/json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "Parent")]
    pub parent: String,
    #[serde(rename = "Comment")]
    pub comment: String,
    /// RFC 3339 with nanoseconds; absent when the config has no `created`.
    #[serde(rename = "Created", default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Only for API < 1.45 (compat layer).
    #[serde(rename = "Container", default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Only for API < 1.45 (compat layer).
    #[serde(
        rename = "ContainerConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub container_config: Option<ContainerConfig>,
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    #[serde(rename = "Author")]
    pub author: String,
    #[serde(rename = "Config")]
    pub config: ContainerConfig,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "Variant", default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "OsVersion", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "Size")]
    pub size: i64,
    /// Only for API < 1.44 (compat layer).
    #[serde(
        rename = "VirtualSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_size: Option<i64>,
    #[serde(rename = "GraphDriver")]
    pub graph_driver: GraphDriverData,
    #[serde(rename = "RootFS")]
    pub root_fs: ImageRootFs,
    #[serde(rename = "Metadata")]
    pub metadata: ImageMetadata,
}

/// One row of `GET /images/{name}/history` (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResponseItem {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "Comment")]
    pub comment: String,
}

/// One entry of `DELETE /images/{name}` and of prune's `ImagesDeleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDeleteResponseItem {
    #[serde(rename = "Untagged", default, skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    #[serde(rename = "Deleted", default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

impl ImageDeleteResponseItem {
    pub fn untagged(r: impl Into<String>) -> Self {
        ImageDeleteResponseItem {
            untagged: Some(r.into()),
            deleted: None,
        }
    }
    pub fn deleted(id: impl Into<String>) -> Self {
        ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(id.into()),
        }
    }
}

/// `POST /images/prune`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePruneResponse {
    #[serde(rename = "ImagesDeleted")]
    pub images_deleted: Option<Vec<ImageDeleteResponseItem>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn summary_shape() {
        let s = ImageSummary {
            containers: -1,
            created: 1_700_000_000,
            id: "sha256:aa".into(),
            labels: None,
            parent_id: String::new(),
            repo_digests: vec![],
            repo_tags: vec!["busybox:latest".into()],
            shared_size: -1,
            size: 4_261_550,
            virtual_size: None,
        };
        expect![[r#"{"Containers":-1,"Created":1700000000,"Id":"sha256:aa","Labels":null,"ParentId":"","RepoDigests":[],"RepoTags":["busybox:latest"],"SharedSize":-1,"Size":4261550}"#]]
            .assert_eq(&serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn inspect_shape() {
        let i = ImageInspect {
            id: "sha256:aa".into(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: vec![],
            parent: String::new(),
            comment: "imported".into(),
            created: Some("2023-11-14T22:13:20.5Z".into()),
            container: None,
            container_config: None,
            docker_version: String::new(),
            author: String::new(),
            config: ContainerConfig {
                env: Some(vec!["PATH=/bin".into()]),
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
            architecture: "amd64".into(),
            variant: None,
            os: "linux".into(),
            os_version: None,
            size: 10,
            virtual_size: None,
            graph_driver: GraphDriverData {
                name: "overlay2".into(),
                data: BTreeMap::from([("MergedDir".to_string(), "/x".to_string())]),
            },
            root_fs: ImageRootFs {
                typ: "layers".into(),
                layers: vec!["sha256:bb".into()],
            },
            metadata: ImageMetadata::default(),
        };
        expect![[r#"{"Id":"sha256:aa","RepoTags":["busybox:latest"],"RepoDigests":[],"Parent":"","Comment":"imported","Created":"2023-11-14T22:13:20.5Z","DockerVersion":"","Author":"","Config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/bin"],"Cmd":["sh"],"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"Architecture":"amd64","Os":"linux","Size":10,"GraphDriver":{"Data":{"MergedDir":"/x"},"Name":"overlay2"},"RootFS":{"Type":"layers","Layers":["sha256:bb"]},"Metadata":{}}"#]]
            .assert_eq(&serde_json::to_string(&i).unwrap());
    }

    #[test]
    fn delete_and_prune_shapes() {
        let items = vec![
            ImageDeleteResponseItem::untagged("busybox:latest"),
            ImageDeleteResponseItem::deleted("sha256:aa"),
        ];
        expect![[r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:aa"}]"#]]
            .assert_eq(&serde_json::to_string(&items).unwrap());
        let p = ImagePruneResponse {
            images_deleted: None,
            space_reclaimed: 0,
        };
        expect![[r#"{"ImagesDeleted":null,"SpaceReclaimed":0}"#]]
            .assert_eq(&serde_json::to_string(&p).unwrap());
    }

    #[test]
    fn history_shape() {
        let h = HistoryResponseItem {
            id: "<missing>".into(),
            created: 1,
            created_by: "/bin/sh -c #(nop) CMD [\"sh\"]".into(),
            tags: None,
            size: 0,
            comment: String::new(),
        };
        expect![[r##"{"Id":"<missing>","Created":1,"CreatedBy":"/bin/sh -c #(nop) CMD [\"sh\"]","Tags":null,"Size":0,"Comment":""}"##]]
            .assert_eq(&serde_json::to_string(&h).unwrap());
    }
}
