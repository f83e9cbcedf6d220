//! CopyObject: a server-side copy that re-binds the wrapped DEK to the destination key.
//!
//! Segment encryption depends only on the DEK, never on the object key, so a copy needs no
//! re-encryption: the store copies the ciphertext and we replace the metadata with the DEK
//! re-wrapped for the new key (plus the source's or the client's metadata, by directive).

use super::{Seal, meta, object::bad_meta, ssec, sub_request};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

impl Seal {
    pub(super) async fn copy_object_sealed(
        &self,
        mut req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (src_bucket, src_key, src_version) = match &req.input.copy_source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => (
                bucket.to_string(),
                key.to_string(),
                version_id.as_ref().map(|v| v.to_string()),
            ),
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => {
                return Err(s3_error!(
                    NotImplemented,
                    "copy from access points is not supported"
                ));
            }
        };
        meta::reject_reserved(req.input.metadata.as_ref())?;
        let i = &mut req.input;
        let src_customer = ssec::take(
            &mut i.copy_source_sse_customer_algorithm,
            &mut i.copy_source_sse_customer_key,
            &mut i.copy_source_sse_customer_key_md5,
        )?;
        let head_in = HeadObjectInput {
            bucket: src_bucket.clone(),
            key: src_key.clone(),
            version_id: src_version,
            ..Default::default()
        };
        let head = self
            .up
            .head_object(sub_request(&req, head_in))
            .await?
            .output;
        let Some(info) = meta::parse(head.metadata.as_ref()).map_err(bad_meta)? else {
            // A plaintext (legacy) source: copy through the gateway so the destination is
            // sealed like every other new object.
            if src_customer.is_some() {
                return Err(ssec::not_applicable());
            }
            return self.copy_plain_source(req).await;
        };
        let i = &mut req.input;
        let dst_customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;
        // Preconditions on the source refer to what clients see.
        let visible =
            super::etag::visible(head.e_tag.as_ref().unwrap_or(&ETag::Strong(String::new())));
        let pre = super::etag::Preconditions {
            if_match: i.copy_source_if_match.take(),
            if_none_match: i.copy_source_if_none_match.take(),
            if_modified_since: i.copy_source_if_modified_since.take(),
            if_unmodified_since: i.copy_source_if_unmodified_since.take(),
        };
        pre.check(&visible, info.md5.as_deref(), head.last_modified.as_ref())
            .map_err(|e| match e.code() {
                s3s::S3ErrorCode::NotModified => s3_error!(PreconditionFailed),
                _ => e,
            })?;
        // Pin the copy to the version we read the key of.
        i.copy_source_if_match = head.e_tag.clone().map(ETagCondition::ETag);

        let dek = self
            .keys
            .open(
                &info.kek,
                &info.dek_b64,
                &info.wrap_context(&src_bucket, &src_key),
                src_customer.as_ref(),
            )
            .await?;
        let wrapped = self
            .keys
            .rewrap(&dek, &i.bucket, &i.key, dst_customer.as_ref())
            .await?;
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let mut m = if replace {
            i.metadata.take().unwrap_or_default()
        } else {
            let mut src = head.metadata.clone();
            meta::strip(&mut src);
            i.content_type = head.content_type.clone();
            i.cache_control = head.cache_control.clone();
            i.content_disposition = head.content_disposition.clone();
            i.content_encoding = head.content_encoding.clone();
            i.content_language = head.content_language.clone();
            i.expires = head.expires.clone();
            src.unwrap_or_default()
        };
        meta::insert_wrap(&mut m, wrapped, self.keys.binds_bucket());
        m.insert(meta::SEGMENT.into(), info.segment.to_string());
        if let Some(md5) = &info.md5 {
            m.insert(meta::MD5.into(), md5.clone());
        }
        if info.multipart {
            m.insert(meta::MULTIPART.into(), "1".into());
        }
        i.metadata = Some(m);
        meta::stamp_owner(&mut i.metadata, req.credentials.as_ref());
        i.metadata_directive = Some(MetadataDirective::from_static(MetadataDirective::REPLACE));
        i.checksum_algorithm = None;
        let mut resp = self.up.copy_object(req).await?;
        if let Some(c) = &dst_customer {
            resp.output.sse_customer_algorithm = Some("AES256".into());
            resp.output.sse_customer_key_md5 = Some(c.md5_b64.clone());
        }
        if let Some(r) = resp.output.copy_object_result.as_mut() {
            if let Some(e) = &r.e_tag {
                r.e_tag = Some(super::etag::visible(e));
            }
            r.checksum_crc32 = None;
            r.checksum_crc32c = None;
            r.checksum_sha1 = None;
            r.checksum_sha256 = None;
            r.checksum_crc64nvme = None;
            r.checksum_type = None;
        }
        Ok(resp)
    }

    /// Copies a plaintext source by reading it and writing a sealed destination.
    async fn copy_plain_source(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = &req.input.copy_source
        else {
            return Err(s3_error!(NotImplemented));
        };
        let get_in = GetObjectInput {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: version_id.as_ref().map(|v| v.to_string()),
            if_match: req.input.copy_source_if_match.clone(),
            if_none_match: req.input.copy_source_if_none_match.clone(),
            if_modified_since: req.input.copy_source_if_modified_since.clone(),
            if_unmodified_since: req.input.copy_source_if_unmodified_since.clone(),
            ..Default::default()
        };
        let src = self.up.get_object(sub_request(&req, get_in)).await?.output;
        let i = &req.input;
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let put_in = PutObjectInput {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            body: src.body,
            content_length: src.content_length,
            metadata: if replace {
                i.metadata.clone()
            } else {
                src.metadata
            },
            content_type: if replace {
                i.content_type.clone()
            } else {
                src.content_type
            },
            cache_control: if replace {
                i.cache_control.clone()
            } else {
                src.cache_control
            },
            content_disposition: if replace {
                i.content_disposition.clone()
            } else {
                src.content_disposition
            },
            content_encoding: if replace {
                i.content_encoding.clone()
            } else {
                src.content_encoding
            },
            content_language: if replace {
                i.content_language.clone()
            } else {
                src.content_language
            },
            tagging: i.tagging.clone(),
            sse_customer_algorithm: i.sse_customer_algorithm.clone(),
            sse_customer_key: i.sse_customer_key.clone(),
            sse_customer_key_md5: i.sse_customer_key_md5.clone(),
            ..Default::default()
        };
        let mut put_req = sub_request(&req, put_in);
        put_req.headers.remove("x-amz-decoded-content-length");
        let put = self.put_object_sealed(put_req).await?.output;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: put.e_tag,
                last_modified: Some(std::time::SystemTime::now().into()),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}
