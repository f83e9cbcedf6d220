//! CopyObject. Every copy is checked against the destination's storage policy (size, type,
//! leading bytes) and the source's (a plaintext object in a `require` location is refused as
//! its GET would be). Then one of three ways:
//!
//! - sealed source, KEK → KEK: segment encryption depends only on the DEK, never on the
//!   object key, so the store copies the ciphertext and we replace the metadata with the DEK
//!   re-wrapped for the new key (cheap, no body through the gateway);
//! - sealed source whose copy changes the trust domain (KEK → SSE-C, SSE-C → KEK, SSE-C →
//!   SSE-C): re-encrypted under a fresh DEK, streaming the source's plaintext through the
//!   gateway's own read path into a sealed PUT (multipart beyond one PUT's limit). Reusing
//!   the DEK would let a holder of the destination's key unwrap it and read the source's
//!   ciphertext, sealed under a key they never had;
//! - plaintext (legacy) source: read and written through the gateway, so the copy is sealed.

use super::write_cond::WriteConditions;
use super::{Seal, etag, layout, meta, object::bad_meta, object::corrupt_size, ssec, sub_request};
use crate::format::size;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// Largest plaintext re-encrypted with one PUT; S3 caps a single PUT at 5 GiB.
const SINGLE_PUT_MAX: u64 = 5 << 30;
/// Part size of re-encrypting multipart copies (a multiple of any segment size in use).
const COPY_PART: u64 = 512 << 20;

/// The source's SSE-C headers as the client sent them, for the gateway's own reads.
#[derive(Clone, Default)]
struct SourceKey {
    algorithm: Option<String>,
    key: Option<String>,
    md5: Option<String>,
}

impl Drop for SourceKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Some(k) = self.key.as_mut() {
            k.zeroize();
        }
    }
}

/// Where the copy reads from.
struct Source {
    bucket: String,
    key: String,
    version: Option<String>,
    sse: SourceKey,
    /// The client-visible ETag the copy is pinned to.
    visible: ETag,
}

impl Source {
    fn get(&self, range: Option<Range>) -> GetObjectInput {
        GetObjectInput {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version.clone(),
            range,
            if_match: Some(ETagCondition::ETag(self.visible.clone())),
            sse_customer_algorithm: self.sse.algorithm.clone(),
            sse_customer_key: self.sse.key.clone(),
            sse_customer_key_md5: self.sse.md5.clone(),
            ..Default::default()
        }
    }
}

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
        let i = &req.input;
        let known = |d: Option<&str>| d.is_none_or(|d| d == "COPY" || d == "REPLACE");
        if !known(i.metadata_directive.as_ref().map(|d| d.as_str()))
            || !known(i.tagging_directive.as_ref().map(|d| d.as_str()))
        {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-metadata-directive and x-amz-tagging-directive take COPY or REPLACE"
            ));
        }
        if changes_nothing(&req.input, &src_bucket, &src_key, src_version.is_some()) {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let i = &mut req.input;
        let src_sse = SourceKey {
            algorithm: i.copy_source_sse_customer_algorithm.clone(),
            key: i.copy_source_sse_customer_key.clone(),
            md5: i.copy_source_sse_customer_key_md5.clone(),
        };
        let src_customer = ssec::take(
            &mut i.copy_source_sse_customer_algorithm,
            &mut i.copy_source_sse_customer_key,
            &mut i.copy_source_sse_customer_key_md5,
        )?;
        let head_in = HeadObjectInput {
            bucket: src_bucket.clone(),
            key: src_key.clone(),
            version_id: src_version.clone(),
            ..Default::default()
        };
        let head = match self.up.head_object(sub_request(&req, head_in)).await {
            Ok(h) => h.output,
            // A version id naming a delete marker: the store's HEAD says 405.
            Err(e) if e.status_code() == Some(http::StatusCode::METHOD_NOT_ALLOWED) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id."
                ));
            }
            Err(e) => {
                let at = (
                    src_bucket.as_str(),
                    src_key.as_str(),
                    src_version.as_deref(),
                );
                return Err(self.why_missing(&req, at, e).await);
            }
        };
        let mut info = meta::parse(head.metadata.as_ref()).map_err(bad_meta)?;
        if let Some(info) = info.as_mut() {
            let customer = src_customer.as_ref();
            self.reveal_md5(info, &src_bucket, &src_key, customer).await;
        }
        let stored = head.content_length.unwrap_or(0).max(0) as u64;
        // Whether the source lies on the segment grid, so a server-side copy keeps a size
        // LIST can read from the stored length (the store gives a copy a plain ETag).
        let mut on_grid = true;
        let plain = match &info {
            Some(info) if info.committed => {
                let at = (
                    src_bucket.as_str(),
                    src_key.as_str(),
                    src_version.as_deref(),
                );
                let sub = sub_request(&req, ());
                let (_, layout) = self
                    .committed(&sub, at, info, src_customer.as_ref())
                    .await?;
                on_grid = layout.aligned(info.segment);
                layout.plain_len()
            }
            Some(info) => size::plain_len(stored, info.segment).ok_or_else(corrupt_size)?,
            None => {
                // Plaintext in a `require` location is never served, copies included.
                self.refuse_plaintext(&src_bucket, &src_key)?;
                if src_customer.is_some() {
                    return Err(ssec::not_applicable());
                }
                stored
            }
        };
        let up_etag = head.e_tag.clone().unwrap_or(ETag::Strong(String::new()));
        let visible = if info.is_some() {
            etag::visible(&up_etag)
        } else {
            up_etag
        };
        if let Some(info) = &info {
            // Preconditions on the source refer to what clients see.
            let i = &mut req.input;
            let pre = etag::Preconditions {
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
        }
        let src = Source {
            bucket: src_bucket,
            key: src_key,
            version: src_version,
            sse: src_sse,
            visible,
        };
        self.check_destination(&req, &head, &src, plain).await?;
        // The destination's If-Match / If-None-Match, in the store's terms from here on: the
        // embedded store judges them again as it writes; every write path below carries them.
        let asked = WriteConditions::from_headers(&req.headers)?;
        if !asked.is_empty() {
            let (b, k) = (req.input.bucket.clone(), req.input.key.clone());
            let c = self.store_conditions(&req, (&b, &k), asked, true).await?;
            c.set_headers(&mut req.headers);
        }

        let Some(info) = info else {
            return self.copy_plain_source(req, &head).await;
        };
        let i = &req.input;
        let dst_ssec = i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some();
        if info.kek == ssec::SSEC_ID || src_customer.is_some() || dst_ssec || !on_grid {
            drop(src_customer);
            return self.copy_reencrypt(req, &head, &info, &src, plain).await;
        }

        let i = &mut req.input;
        let dst_customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;
        // Pin the copy to the version we read the key of.
        i.copy_source_if_match = head.e_tag.clone().map(ETagCondition::ETag);

        let dek = self
            .keys
            .open(
                &info.kek,
                &info.dek_b64,
                &info.wrap_context(&src.bucket, &src.key),
                src_customer.as_ref(),
            )
            .await?;
        let wrapped = self
            .keys
            .rewrap(&dek, &i.bucket, &i.key, dst_customer.as_ref())
            .await?;
        let mut m = if replaces(i) {
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
        // Sealed under the DEK, which the copy keeps: carried as is; a clear one (from an
        // older gateway) is sealed on the way.
        let clear = info.md5.as_deref().and_then(|h| hex::decode(h).ok());
        match (
            &info.md5_sealed,
            clear.and_then(|c| <[u8; 16]>::try_from(c).ok()),
        ) {
            (Some(sealed), _) => {
                m.insert(meta::MD5_SEALED.into(), sealed.clone());
            }
            (None, Some(md5)) => {
                m.insert(
                    meta::MD5_SEALED.into(),
                    super::object::sealed_md5(&dek, &md5),
                );
            }
            (None, None) => {}
        }
        if info.multipart {
            let flag = if info.committed { "2" } else { "1" };
            m.insert(meta::MULTIPART.into(), flag.into());
        }
        i.metadata = Some(m);
        // The committed layout travels as tags: copied with them, or added to new ones.
        let replace_tags = i
            .tagging_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
        if info.committed && replace_tags {
            let v = (
                src.bucket.as_str(),
                src.key.as_str(),
                src.version.as_deref(),
            );
            let ours = self.reserved_tags_of(&req, v).await?;
            let i = &mut req.input;
            layout::check_tag_room(layout::header_tag_count(i.tagging.as_deref()), ours.len())?;
            i.tagging = Some(layout::append_to_header(i.tagging.as_deref(), &ours));
        }
        let i = &mut req.input;
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
                r.e_tag = Some(etag::visible(e));
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

    /// The destination's storage policy, applied to what the copy would store: the content
    /// type after the metadata directive, the source's plaintext size and leading bytes.
    async fn check_destination(
        &self,
        req: &S3Request<CopyObjectInput>,
        head: &HeadObjectOutput,
        src: &Source,
        plain: u64,
    ) -> S3Result<()> {
        let i = &req.input;
        let dst = self.buckets.lookup(&i.bucket, &i.key);
        let ct = if replaces(i) {
            i.content_type.clone()
        } else {
            head.content_type.clone()
        };
        dst.check_declared(&i.bucket, Some(plain), ct.as_deref())?;
        if dst.sniffs() {
            let lead = self.leading_bytes(req, src, plain).await?;
            dst.check_leading_bytes(ct.as_deref(), &lead)?;
        }
        Ok(())
    }

    /// The first bytes of the source's plaintext, read through the gateway.
    async fn leading_bytes<T>(
        &self,
        req: &S3Request<T>,
        src: &Source,
        plain: u64,
    ) -> S3Result<bytes::Bytes> {
        use futures::StreamExt;
        let n = plain.min(super::bucket_policy::SNIFF_LEN as u64);
        if n == 0 {
            return Ok(bytes::Bytes::new());
        }
        let range = Range::Int {
            first: 0,
            last: Some(n - 1),
        };
        let out = self
            .get_object_sealed(sub_request(req, src.get(Some(range))))
            .await?
            .output;
        let mut lead = Vec::new();
        if let Some(mut body) = out.body {
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| s3_error!(InternalError, "reading the source failed: {e}"))?;
                lead.extend_from_slice(&chunk);
                if lead.len() as u64 >= n {
                    break;
                }
            }
        }
        lead.truncate(n as usize);
        Ok(lead.into())
    }

    /// Copies a plaintext source by reading it and writing a sealed destination.
    async fn copy_plain_source(
        &self,
        req: S3Request<CopyObjectInput>,
        head: &HeadObjectOutput,
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
        let mut put_in = put_input(&req.input, head, src.body, src.content_length);
        put_in.sse_customer_algorithm = req.input.sse_customer_algorithm.clone();
        put_in.sse_customer_key = req.input.sse_customer_key.clone();
        put_in.sse_customer_key_md5 = req.input.sse_customer_key_md5.clone();
        self.put_copy(&req, put_in).await
    }

    /// Re-encrypts a sealed source under a fresh DEK for a copy that changes trust domain.
    async fn copy_reencrypt(
        &self,
        req: S3Request<CopyObjectInput>,
        head: &HeadObjectOutput,
        info: &meta::SealInfo,
        src: &Source,
        plain: u64,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        if plain > SINGLE_PUT_MAX {
            return self.copy_reencrypt_multipart(req, head, src, plain).await;
        }
        let body = self
            .get_object_sealed(sub_request(&req, src.get(None)))
            .await?
            .output
            .body;
        let tagging = self.copied_tagging(&req, src).await?;
        let i = &req.input;
        let mut put_in = put_input(i, head, body, Some(plain as i64));
        put_in.tagging = tagging;
        // The plaintext MD5, when recorded, is verified again on the way in.
        if let Some(md5) = info.md5.as_deref().and_then(|h| hex::decode(h).ok()) {
            use base64::Engine;
            put_in.content_md5 = Some(base64::engine::general_purpose::STANDARD.encode(md5));
        }
        put_in.sse_customer_algorithm = i.sse_customer_algorithm.clone();
        put_in.sse_customer_key = i.sse_customer_key.clone();
        put_in.sse_customer_key_md5 = i.sse_customer_key_md5.clone();
        self.put_copy(&req, put_in).await
    }

    /// Sources larger than one PUT: a multipart upload through the gateway's own sealing,
    /// one ranged read of the source per part; aborted on any failure.
    async fn copy_reencrypt_multipart(
        &self,
        req: S3Request<CopyObjectInput>,
        head: &HeadObjectOutput,
        src: &Source,
        plain: u64,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let tagging = self.copied_tagging(&req, src).await?;
        let i = &req.input;
        let p = put_input(i, head, None, None);
        let create = CreateMultipartUploadInput {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            metadata: p.metadata,
            content_type: p.content_type,
            cache_control: p.cache_control,
            content_disposition: p.content_disposition,
            content_encoding: p.content_encoding,
            content_language: p.content_language,
            expires: p.expires,
            tagging,
            sse_customer_algorithm: i.sse_customer_algorithm.clone(),
            sse_customer_key: i.sse_customer_key.clone(),
            sse_customer_key_md5: i.sse_customer_key_md5.clone(),
            ..Default::default()
        };
        let created = self
            .create_multipart_sealed(sub_request(&req, create))
            .await?
            .output;
        let upload_id = created
            .upload_id
            .ok_or_else(|| s3_error!(InternalError, "no upload id for the copy"))?;
        let seg = u64::from(self.segment);
        let part = COPY_PART.max(plain.div_ceil(10_000)).div_ceil(seg) * seg;
        let c = WriteConditions::from_headers(&req.headers)?;
        let result = self
            .copy_parts(&req, src, &upload_id, plain, part)
            .await
            .map(|parts| CompleteMultipartUploadInput {
                if_match: c.if_match,
                if_none_match: c.if_none_match,
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                upload_id: upload_id.clone(),
                multipart_upload: Some(CompletedMultipartUpload { parts: Some(parts) }),
                sse_customer_algorithm: i.sse_customer_algorithm.clone(),
                sse_customer_key: i.sse_customer_key.clone(),
                sse_customer_key_md5: i.sse_customer_key_md5.clone(),
                ..Default::default()
            });
        let done = match result {
            Ok(complete) => {
                self.complete_multipart_sealed(sub_request(&req, complete))
                    .await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(out) => Ok(S3Response::new(CopyObjectOutput {
                copy_object_result: Some(CopyObjectResult {
                    e_tag: out.output.e_tag,
                    last_modified: Some(std::time::SystemTime::now().into()),
                    ..Default::default()
                }),
                sse_customer_algorithm: created.sse_customer_algorithm,
                sse_customer_key_md5: created.sse_customer_key_md5,
                ..Default::default()
            })),
            Err(e) => {
                let abort = AbortMultipartUploadInput {
                    bucket: i.bucket.clone(),
                    key: i.key.clone(),
                    upload_id,
                    ..Default::default()
                };
                if let Err(a) = self.abort_multipart_sealed(sub_request(&req, abort)).await {
                    tracing::warn!(code = %a.code().as_str(), "aborting a failed copy upload failed");
                }
                Err(e)
            }
        }
    }

    async fn copy_parts(
        &self,
        req: &S3Request<CopyObjectInput>,
        src: &Source,
        upload_id: &str,
        plain: u64,
        part: u64,
    ) -> S3Result<Vec<CompletedPart>> {
        let i = &req.input;
        let mut parts = Vec::new();
        let mut first = 0u64;
        while first < plain {
            let last = (first + part).min(plain) - 1;
            let n = parts.len() as i32 + 1;
            let range = Range::Int {
                first,
                last: Some(last),
            };
            let body = self
                .get_object_sealed(sub_request(req, src.get(Some(range))))
                .await?
                .output
                .body;
            let part_in = UploadPartInput {
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                upload_id: upload_id.to_owned(),
                part_number: n,
                content_length: Some((last + 1 - first) as i64),
                body,
                sse_customer_algorithm: i.sse_customer_algorithm.clone(),
                sse_customer_key: i.sse_customer_key.clone(),
                sse_customer_key_md5: i.sse_customer_key_md5.clone(),
                ..Default::default()
            };
            let mut part_req = sub_request(req, part_in);
            part_req.headers.remove("x-amz-decoded-content-length");
            let out = self.upload_part_sealed(part_req).await?.output;
            parts.push(CompletedPart {
                part_number: Some(n),
                e_tag: out.e_tag,
                ..Default::default()
            });
            first = last + 1;
        }
        Ok(parts)
    }

    /// The tags a re-sealed copy is written with: the client's under `REPLACE`, else the
    /// source's own (S3's default directive is `COPY`), the gateway's reserved tags left out.
    async fn copied_tagging(
        &self,
        req: &S3Request<CopyObjectInput>,
        src: &Source,
    ) -> S3Result<Option<String>> {
        let i = &req.input;
        if i.tagging_directive.as_ref().map(|d| d.as_str()) == Some(TaggingDirective::REPLACE) {
            return Ok(i.tagging.clone());
        }
        let at = (
            src.bucket.as_str(),
            src.key.as_str(),
            src.version.as_deref(),
        );
        let tags = match self.client_tags_of(req, at).await {
            Ok(tags) => tags,
            // A store without tagging has no tags to copy.
            Err(e) if e.code() == &s3s::S3ErrorCode::NotImplemented => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok((!tags.is_empty()).then(|| layout::append_to_header(None, &tags)))
    }

    /// Writes a copy's body with a sealed PUT (fresh DEK) and answers as CopyObject.
    async fn put_copy(
        &self,
        req: &S3Request<CopyObjectInput>,
        mut put_in: PutObjectInput,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let c = WriteConditions::from_headers(&req.headers)?;
        (put_in.if_match, put_in.if_none_match) = (c.if_match, c.if_none_match);
        let mut put_req = sub_request(req, put_in);
        put_req.headers.remove("x-amz-decoded-content-length");
        let put = self.put_object_sealed(put_req).await?.output;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: put.e_tag,
                last_modified: Some(std::time::SystemTime::now().into()),
                ..Default::default()
            }),
            sse_customer_algorithm: put.sse_customer_algorithm,
            sse_customer_key_md5: put.sse_customer_key_md5,
            ..Default::default()
        }))
    }
}

/// S3 refuses a copy of the current version onto itself that changes nothing; the store would
/// accept the gateway's copy (it carries a fresh wrap), so the gateway refuses it itself.
/// Any customer-key header counts as a change of encryption attributes.
fn changes_nothing(i: &CopyObjectInput, src_bucket: &str, src_key: &str, versioned: bool) -> bool {
    src_bucket == i.bucket
        && src_key == i.key
        && !versioned
        && !replaces(i)
        && i.storage_class.is_none()
        && i.website_redirect_location.is_none()
        && i.server_side_encryption.is_none()
        && i.sse_customer_key.is_none()
        && i.copy_source_sse_customer_key.is_none()
}

fn replaces(i: &CopyObjectInput) -> bool {
    i.metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE)
}

/// The PUT that writes a copy: the client's or the source's metadata, by directive (the
/// source's without s3seal's keys). No SSE-C fields; callers add the destination's.
fn put_input(
    i: &CopyObjectInput,
    head: &HeadObjectOutput,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
) -> PutObjectInput {
    let replace = replaces(i);
    let pick = |mine: &Option<String>, theirs: &Option<String>| {
        if replace {
            mine.clone()
        } else {
            theirs.clone()
        }
    };
    let metadata = if replace {
        i.metadata.clone()
    } else {
        let mut m = head.metadata.clone();
        meta::strip(&mut m);
        m
    };
    PutObjectInput {
        bucket: i.bucket.clone(),
        key: i.key.clone(),
        body,
        content_length,
        metadata,
        content_type: pick(&i.content_type, &head.content_type),
        cache_control: pick(&i.cache_control, &head.cache_control),
        content_disposition: pick(&i.content_disposition, &head.content_disposition),
        content_encoding: pick(&i.content_encoding, &head.content_encoding),
        content_language: pick(&i.content_language, &head.content_language),
        expires: if replace {
            i.expires.clone()
        } else {
            head.expires.clone()
        },
        tagging: i.tagging.clone(),
        ..Default::default()
    }
}
