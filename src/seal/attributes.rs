//! GetObjectAttributes, answered from the gateway's own HEAD: the same ETag and plaintext
//! size as every other read, and for committed multipart objects the parts from the layout.
//! Plaintext checksums are not recorded, so `Checksum` is never returned.

use super::{Seal, meta, sub_request};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

impl Seal {
    pub(super) async fn get_object_attributes_sealed(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = &req.input;
        // The header is one comma-separated list, which may arrive as a single element.
        let wants = |a: &str| {
            i.object_attributes
                .iter()
                .flat_map(|x| x.as_str().split(','))
                .any(|x| x.trim() == a)
        };
        let head_in = HeadObjectInput {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            version_id: i.version_id.clone(),
            sse_customer_algorithm: i.sse_customer_algorithm.clone(),
            sse_customer_key: i.sse_customer_key.clone(),
            sse_customer_key_md5: i.sse_customer_key_md5.clone(),
            ..Default::default()
        };
        // A HEAD's 404 has no body to name the error; this operation's has one.
        let head = match self.head_object_sealed(sub_request(&req, head_in)).await {
            Ok(h) => h.output,
            Err(e) => {
                let i = &req.input;
                let at = (i.bucket.as_str(), i.key.as_str(), i.version_id.as_deref());
                return Err(self.why_missing(&req, at, e).await);
            }
        };
        let mut out = GetObjectAttributesOutput {
            last_modified: head.last_modified.clone(),
            version_id: head.version_id.clone(),
            ..Default::default()
        };
        if wants(ObjectAttributes::ETAG) {
            out.e_tag = head.e_tag.clone();
        }
        if wants(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = head.content_length;
        }
        if wants(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(
                head.storage_class
                    .clone()
                    .unwrap_or_else(|| StorageClass::from_static(StorageClass::STANDARD)),
            );
        }
        if wants(ObjectAttributes::OBJECT_PARTS) {
            out.object_parts = self.object_parts(&req, &head).await?;
        }
        Ok(S3Response::new(out))
    }

    /// Parts of a multipart object: the committed layout's, paged like S3 (a part count
    /// only for older multipart objects; nothing for single PUTs).
    async fn object_parts(
        &self,
        req: &S3Request<GetObjectAttributesInput>,
        head: &HeadObjectOutput,
    ) -> S3Result<Option<GetObjectAttributesParts>> {
        let i = &req.input;
        let count = head
            .e_tag
            .as_ref()
            .and_then(|e| e.value().rsplit_once('-')?.1.parse::<i32>().ok());
        // HEAD hid the gateway's metadata; read the object's again for its kind and key.
        let raw_in = HeadObjectInput {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            version_id: head.version_id.clone().or_else(|| i.version_id.clone()),
            ..Default::default()
        };
        let raw = self.up.head_object(sub_request(req, raw_in)).await?.output;
        let info = meta::parse(raw.metadata.as_ref()).ok().flatten();
        let Some(info) = info.filter(|i| i.multipart) else {
            return Ok(count.map(|n| GetObjectAttributesParts {
                total_parts_count: Some(n),
                ..Default::default()
            }));
        };
        if !info.committed {
            return Ok(Some(GetObjectAttributesParts {
                total_parts_count: count,
                ..Default::default()
            }));
        }
        let (mut alg, mut k, mut md5) = (
            i.sse_customer_algorithm.clone(),
            i.sse_customer_key.clone(),
            i.sse_customer_key_md5.clone(),
        );
        let customer = super::ssec::take(&mut alg, &mut k, &mut md5)?;
        let at = (i.bucket.as_str(), i.key.as_str(), raw.version_id.as_deref());
        let sub = sub_request(req, ());
        let (_, layout) = self.committed(&sub, at, &info, customer.as_ref()).await?;
        let marker = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after: Vec<(u32, u64)> = layout.parts().filter(|(n, _)| *n > marker).collect();
        let page: Vec<ObjectPart> = after
            .iter()
            .take(max)
            .map(|&(n, size)| ObjectPart {
                part_number: Some(n as i32),
                size: Some(size as i64),
                ..Default::default()
            })
            .collect();
        let truncated = after.len() > page.len();
        Ok(Some(GetObjectAttributesParts {
            total_parts_count: Some(layout.part_count() as i32),
            part_number_marker: Some(marker as i32),
            next_part_number_marker: page.last().and_then(|p| p.part_number),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            parts: Some(page),
        }))
    }
}
