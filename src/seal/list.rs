//! ListObjects v1/v2: plaintext sizes and client-visible ETags without a request per object.
//!
//! A LIST entry carries only key, stored size and store ETag. Sizes are inverted with the
//! format's size formula (exact for single PUTs and segment-aligned multipart objects, which
//! are all the gateway stores; see docs/FORMAT.md). Entries whose size cannot be a sealed
//! object are shown as stored: they are plaintext objects written before the gateway.

use super::etag;
use crate::format::size;
use s3s::dto::Object;

pub(super) fn translate(objects: &mut [Object], segment: u32) {
    for o in objects {
        let Some(stored) = o.size.filter(|s| *s >= 0) else {
            continue;
        };
        if let Some(plain) = size::plain_len(stored as u64, segment) {
            o.size = Some(plain as i64);
            if let Some(e) = &o.e_tag {
                o.e_tag = Some(etag::visible(e));
            }
            o.checksum_algorithm = None;
            o.checksum_type = None;
        }
    }
}
