//! s3seal: an S3-compatible gateway that encrypts object bodies before they reach the store.
//!
//! # Layout
//!
//! - [`auth`]: the proxy's own users (SigV4 secrets), separate from upstream credentials.
//! - [`config`]: the typed TOML configuration and the embedded default; every error names
//!   the file, the key and what is allowed.
//! - [`format`]: the object format, pure (no I/O, no S3 types): segment sealing, streaming
//!   encrypt/decrypt, size and range math. Specified in docs/FORMAT.md.
//! - [`keys`]: key-encryption keys (file, environment), DEK wrapping and the DEK cache.
//! - [`seal`]: `Seal`, the `s3s::S3` middleware that encrypts on the way in and decrypts on
//!   the way out; it alone decides which operations are forwarded unchanged.
//! - [`upstream`]: builds the store behind the gateway (s3s-fs directory or remote S3).
//! - [`deadline`]: fails requests whose store stops making progress.
//! - `lean` (private): object reads, writes and listings to a remote `http://` store over
//!   hyper + aws-sigv4 instead of aws-sdk-s3's pipeline; anything it cannot carry goes to the
//!   SDK.
//! - `s3_ops` (private): the one list of operations wrapping layers pass through unchanged.
//! - [`gateway`]: assembles config + upstream + users + `Seal` into a service; used by the
//!   binary and by the tests alike.
//! - [`server`]: listener, `/healthz`, graceful shutdown.
//! - [`logfmt`]: the fields of text log lines (cheap, every control character escaped).
//! - [`policy`]: per-user grants (buckets, prefixes, read/write/delete/list/admin).
//! - [`tls`]: the client listener's certificate, reloaded on SIGHUP.
//! - [`rotate`]: rewrapping every DEK of a bucket under another KEK (`s3seal rotate`).
//! - [`tools`]: `s3seal inspect` and `s3seal decrypt` (no gateway needed).
//! - [`throttle`]: failed-authentication throttling per (source, access key).
//! - [`preauth`]: what the HTTP front refuses from a request's head alone, and the identity
//!   the signature check will use (for the throttle).
//! - [`credentials`]: generated credentials of the embedded default.
//! - [`store`]: the embedded store (index journal + body files), default local upstream.
//! - [`keyrules`]: which keys the store holds faithfully (no path traversal on s3s-fs).
//! - [`console`]: the web console at `/console`, acting only through the S3 service as the
//!   logged-in user.

pub mod auth;
pub mod config;
pub mod console;
pub mod cors;
pub mod cors_http;
pub mod credentials;
pub mod deadline;
pub mod format;
pub mod gateway;
pub mod keyrules;
pub mod keys;
pub(crate) mod lean;
pub mod logfmt;
pub mod metrics;
pub mod policy;
pub mod preauth;
pub mod redact;
pub mod rotate;
pub(crate) mod s3_ops;
pub mod seal;
pub mod server;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod tools;
pub mod upstream;
mod upstream_xml;
pub mod vhost;
