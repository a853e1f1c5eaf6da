//! berth-registry: an OCI Distribution (v1.1) registry server, `berth registry serve`.
//!
//! Owns the `/v2/` API (pull, push with monolithic, chunked and cross-repository
//! mount uploads, tags, catalog, referrers, deletes), docker's `/v1/search`,
//! htpasswd basic auth with a built-in bearer token endpoint, and TLS.
//!
//! Key decision: blobs live in `berth-image`'s [`berth_image::ContentStore`] (the
//! same verified-ingest store the engine uses), and each repository only *links*
//! blobs and manifests by digest (see `storage`), so a blob pushed to ten
//! repositories, or by ten clients at once, is stored once, and nothing reaches the
//! store before its digest verifies. Bodies stream in both directions; no blob is
//! buffered whole (manifests, at most 4 MiB, are).
//!
//! The client side (`client`): what the daemon pulls, pushes, logs in and searches
//! with (token/basic auth, certs.d TLS trust, insecure registries, mirrors).
//!
//! Code map: `names` (the name grammar, the path-safety gate), `storage`
//! (repository links), `uploads` (upload sessions), `auth`, `config`, `error` (the
//! spec's error codes and the one code → status map), `routes` (dispatch and
//! handlers), `server` (listeners, TLS, the data-root lock), `gc` (sweeping blobs no
//! repository links, safe while serving).

mod auth;
pub mod client;
mod config;
mod error;
mod gc;
mod names;
mod routes;
mod server;
mod storage;
mod uploads;

pub use auth::HtpasswdError;
pub use config::{Config, ConfigError, ConfigFile};
pub use gc::GcReport;
pub use server::{ServeError, Server, garbage_collect, start};
