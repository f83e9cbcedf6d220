//! Object format v1, pure: no I/O, no S3 types, so it can be tested, fuzzed and
//! re-implemented from docs/FORMAT.md alone.
//!
//! An object body is one *stream* (single PUT, part 0) or a concatenation of streams (one per
//! multipart part, parts 1..=10000). A stream is a run of segments; each segment is
//! `header(16) || AES-256-GCM(ciphertext) || tag(16)`; the header binds part, index, final flag
//! and the stream's random salt, and the per-stream key is HKDF(DEK, part, salt).

mod dek;
pub mod digest;
pub mod layout;
mod segment;
pub mod size;
mod stream;

pub use dek::{DEK_LEN, Dek};
pub use segment::{HEADER_LEN, KeyDomain, SegmentHeader, TAG_LEN};
pub use stream::{Expect, OpenError, StreamOpener, StreamSealer};
