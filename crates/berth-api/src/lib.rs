//! berth-api: the Docker Engine API wire format (v1.45), and nothing else.
//!
//! Owns the JSON types exactly as dockerd emits them (PascalCase, docker's quirks
//! such as lowercase `status`/`id` in events), the error body, the `filters` query
//! grammar, API version parsing and docker's timestamp syntax.
//!
//! Key decision: no I/O and no knowledge of berth's stores. Only this crate and the
//! daemon's route modules know Docker's JSON; subsystems have their own types and the
//! routes convert, so a wire quirk never leaks into a store.

mod error;
mod events;
mod filters;
mod image;
mod progress;
mod system;
mod timestamp;
mod version;

pub use error::ErrorResponse;
pub use events::{EventActor, EventMessage};
pub use filters::{FilterError, Filters};
pub use image::{
    ContainerConfig, GraphDriverData, HealthConfig, HistoryResponseItem, ImageDeleteResponseItem,
    ImageInspect, ImageMetadata, ImagePruneResponse, ImageRootFs, ImageSummary,
};
pub use progress::{JsonError, JsonMessage};
pub use system::{
    Commit, ComponentVersion, IndexInfo, PlatformInfo, PluginsInfo, RegistryServiceConfig,
    RuntimeInfo, SwarmInfo, SystemDataUsageResponse, SystemInfo, SystemVersion,
};
pub use timestamp::{ParseTimestampError, parse_go_duration, parse_timestamp};
pub use version::{ApiVersion, ParseVersionError};
