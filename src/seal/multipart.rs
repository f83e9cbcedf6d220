//! Multipart uploads, stateless: each part is its own sealed stream (its part number and a
//! fresh salt select the key), and the upload id carries the wrapped DEK (see `upload_id`).
//!
//! Completed objects must lie on the format's global segment grid so that LIST, HEAD and
//! ranged GET need no per-object lookups: every part but the last must hold a multiple of
//! the segment size. aws cli, boto3, rclone, s3cmd and minio-go all use MiB-multiple part
//! sizes; an upload with other part sizes is refused at CompleteMultipartUpload with a
//! message that says so (see docs/FORMAT.md, "multipart alignment").

use super::body::{Expectations, sealed_body, take_outcome};
use super::object::{decode_md5, plaintext_length, put_failure, take_claims};
use super::{Seal, etag, layout, meta, ssec, sub_request, upload_id};
use crate::format::Dek;
use crate::format::layout::Layout;
use crate::format::size;
use crate::store::{TagsAtComplete, TagsCommitted};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

/// S3's smallest part but the last (5 MiB).
const MIN_PART: u64 = 5 << 20;

impl Seal {
    pub(super) async fn create_multipart_sealed(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = &mut req.input;
        meta::reject_reserved(i.metadata.as_ref())?;
        meta::stamp_owner(&mut i.metadata, req.credentials.as_ref());
        let customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;
        let (dek, wrapped) = self
            .keys
            .new_dek(&i.bucket, &i.key, customer.as_ref())
            .await?;
        let m = i.metadata.get_or_insert_with(Default::default);
        meta::insert_wrap(m, wrapped.clone(), self.keys.binds_bucket());
        m.insert(meta::SEGMENT.into(), self.segment.to_string());
        // "2": the layout is committed at Complete (docs/FORMAT.md §5); "1" without.
        let flag = if self.commit_layout { "2" } else { "1" };
        m.insert(meta::MULTIPART.into(), flag.into());
        // Part checksums are verified here, on plaintext; the store must not expect any.
        i.checksum_algorithm = None;
        i.checksum_type = None;
        // The layout takes at least one tag at Complete; Complete checks the exact count.
        let client_tags = layout::header_tag_count(i.tagging.as_deref());
        if self.commit_layout {
            layout::check_tag_room(client_tags, 1)?;
        }
        let (bucket, key) = (i.bucket.clone(), i.key.clone());
        let mut resp = self.up.create_multipart_upload(req).await?;
        let up_id = resp
            .output
            .upload_id
            .take()
            .ok_or_else(|| s3_error!(InternalError, "the store returned no upload id"))?;
        resp.output.upload_id = Some(upload_id::encode(
            &up_id,
            &wrapped.0,
            &wrapped.1,
            &dek,
            (&bucket, &key),
            self.commit_layout,
            client_tags.min(usize::from(u8::MAX)) as u8,
        ));
        resp.output.checksum_algorithm = None;
        resp.output.checksum_type = None;
        if let Some(c) = &customer {
            resp.output.sse_customer_algorithm = Some("AES256".into());
            resp.output.sse_customer_key_md5 = Some(c.md5_b64.clone());
        }
        Ok(resp)
    }

    /// Resolves a client upload id to the store's, checking it belongs to this bucket/key.
    /// Raw store ids (as ListMultipartUploads shows them) are accepted where no key is needed.
    async fn resolve_upload(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        need_key: bool,
        customer: Option<&ssec::CustomerKey>,
    ) -> S3Result<Resolved> {
        let no_such = || s3_error!(NoSuchUpload, "The specified upload does not exist.");
        match upload_id::decode(id).map_err(|_| no_such())? {
            // Abort and ListParts carry no customer key (as in S3) and need no DEK; the id of
            // a customer-key upload cannot be checked without it.
            Some(t) if t.kek == ssec::SSEC_ID && customer.is_none() && !need_key => Ok(Resolved {
                upstream: t.upstream,
                dek: None,
                committed: t.committed,
                dek_b64: t.dek_b64,
            }),
            Some(t) if t.kek == ssec::SSEC_ID && customer.is_none() => Err(S3Error::with_message(
                s3s::S3ErrorCode::InvalidRequest,
                "this upload was created with a customer key (SSE-C); send the same key on this request (s3seal needs it on CompleteMultipartUpload too, to commit the object's layout; boto3 and aws cli send it)",
            )),
            Some(t) => {
                // The id's wrapped DEK is the one CreateMultipartUpload wrote (format v2,
                // bound to the bucket unless this deployment binds none).
                let ctx = self.keys.new_context(bucket, key);
                let dek = match self.keys.open(&t.kek, &t.dek_b64, &ctx, customer).await {
                    Ok(d) => d,
                    // Key problems of a customer-key upload are the client's to fix.
                    Err(e) if t.kek == ssec::SSEC_ID || customer.is_some() => return Err(e),
                    Err(_) => return Err(no_such()),
                };
                if !t.verify(&dek, bucket, key) {
                    return Err(no_such());
                }
                Ok(Resolved {
                    upstream: t.upstream,
                    dek: Some(dek),
                    committed: t.committed,
                    dek_b64: t.dek_b64,
                })
            }
            None if need_key => Err(S3Error::with_message(
                s3s::S3ErrorCode::NoSuchUpload,
                "this upload id was not issued by s3seal (it carries no key); parts can only be added through the id CreateMultipartUpload returned",
            )),
            None => Ok(Resolved {
                upstream: id.to_owned(),
                dek: None,
                committed: false,
                dek_b64: String::new(),
            }),
        }
    }

    pub(super) async fn upload_part_sealed(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let i = &mut req.input;
        if !(1..=10_000).contains(&i.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;
        let r = self
            .resolve_upload(&i.upload_id, &i.bucket, &i.key, true, customer.as_ref())
            .await?;
        let (up_id, committed) = (r.upstream, r.committed);
        let dek = r.dek.expect("resolved with key");
        let length = plaintext_length(i.content_length, &req.headers)?;
        let mut expect = Expectations {
            length,
            need_md5: !committed,
            ..Default::default()
        };
        if let Some(md5) = i.content_md5.take() {
            expect.md5 = Some(decode_md5(&md5)?);
        }
        take_claims!(i, expect);
        expect.trailers = req.trailing_headers.take();
        expect.declared_trailers = super::object::declared_trailers(&req.headers);
        let (body, outcome, stored) = sealed_body(
            i.body.take(),
            &dek,
            i.part_number as u32,
            self.segment,
            expect,
            committed,
        );
        drop(dek);
        i.body = Some(body);
        i.content_length = Some(stored as i64);
        i.upload_id = up_id;

        let result = self.up.upload_part(req).await;
        let outcome = take_outcome(&outcome);
        if let Some(f) = outcome.failure {
            return Err(put_failure(f));
        }
        let mut resp = result?;
        let (Some(md5), Some(sums)) = (outcome.md5, outcome.checksums) else {
            return Err(s3_error!(InternalError, "part ended before it was sealed"));
        };
        let o = &mut resp.output;
        // Committed uploads answer the store's part ETag in the visible form, so that
        // Complete can check the client's list (InvalidPart) and ListParts agrees; older
        // uploads keep the plaintext MD5 their clients already hold.
        o.e_tag = match (&o.e_tag, committed) {
            (Some(e), true) => Some(etag::visible(e)),
            _ => Some(ETag::Strong(hex::encode(md5))),
        };
        o.checksum_crc32 = sums.checksum_crc32;
        o.checksum_crc32c = sums.checksum_crc32c;
        o.checksum_sha1 = sums.checksum_sha1;
        o.checksum_sha256 = sums.checksum_sha256;
        o.checksum_crc64nvme = sums.checksum_crc64nvme;
        Ok(resp)
    }

    pub(super) async fn complete_multipart_sealed(
        &self,
        mut req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let i = &mut req.input;
        let customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;
        // A committed upload needs its DEK here, to authenticate the layout.
        let token = upload_id::decode(&i.upload_id).ok().flatten();
        let committed = token.as_ref().is_some_and(|t| t.committed);
        let client_tags = token.and_then(|t| t.client_tags);
        let r = self
            .resolve_upload(&i.upload_id, &bucket, &key, committed, customer.as_ref())
            .await?;
        let up_id = r.upstream.clone();
        let stored_parts = match self.list_all_parts(&req, &up_id).await {
            Ok(p) => p,
            Err(e) if e.code() == &s3s::S3ErrorCode::NoSuchUpload && committed => {
                // A retry of a Complete that succeeded (its answer was lost): S3 answers 200.
                return self.already_completed(&req, &r, &bucket, &key, e).await;
            }
            Err(e) => return Err(e),
        };
        let wanted: Vec<(i32, Option<ETag>)> = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| Some((p.part_number?, p.e_tag.clone())))
                    .collect()
            })
            .unwrap_or_default();
        if wanted.is_empty() {
            return Err(s3_error!(
                InvalidRequest,
                "You must specify at least one part"
            ));
        }
        if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order."
            ));
        }
        let mut parts = Vec::with_capacity(wanted.len());
        let mut sizes = Vec::with_capacity(wanted.len());
        let mut total = 0u64;
        for (idx, (n, client_etag)) in wanted.iter().enumerate() {
            let found = stored_parts.iter().find(|p| p.part_number == Some(*n));
            // As S3: a part that is missing, or whose ETag differs from the one its upload
            // answered (a stale or mixed-up list), is InvalidPart.
            let etag_ok = |p: &Part| match (client_etag, &p.e_tag) {
                (Some(c), Some(e)) if committed => {
                    c.value().trim_matches('"') == etag::visible(e).value()
                }
                _ => true,
            };
            let Some(p) = found.filter(|p| etag_ok(p)) else {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
                ));
            };
            let stored = p.size.unwrap_or(0).max(0) as u64;
            let plain = size::plain_len(stored, self.segment)
                .filter(|&pl| size::stored_len(pl, self.segment) == stored)
                .ok_or_else(|| {
                    s3_error!(
                        InvalidPart,
                        "a stored part does not have a valid sealed size"
                    )
                })?;
            total += plain;
            let last = idx + 1 == wanted.len();
            // Parts that are not whole segments need the committed layout to be read (and
            // LIST then looks their size up); older uploads cannot have them.
            if !last && plain < MIN_PART && plain % u64::from(self.segment) != 0 {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size."
                ));
            }
            if !last && !committed && plain % u64::from(self.segment) != 0 {
                return Err(S3Error::with_message(
                    s3s::S3ErrorCode::InvalidPart,
                    format!(
                        "part {n} holds {plain} bytes; s3seal needs every part but the last to be a multiple of {} bytes (use MiB-sized parts)",
                        self.segment
                    ),
                ));
            }
            sizes.push((*n as u32, plain));
            parts.push(CompletedPart {
                part_number: Some(*n),
                e_tag: p.e_tag.clone(),
                ..Default::default()
            });
        }
        // A size limit can only be judged on the whole object; the parts stay until aborted.
        self.buckets
            .lookup(&req.input.bucket, &req.input.key)
            .check_size(&req.input.bucket, total)?;
        let layout = if committed {
            Some(
                Layout::from_parts(&sizes)
                    .map_err(|_| s3_error!(InvalidPart, "the parts do not form a valid object"))?,
            )
        } else {
            None
        };
        // Before the store replaces the key's object: the layout must fit beside the
        // client's tags (ids issued before the count was recorded cannot be checked).
        if let (Some(l), Some(n)) = (&layout, client_tags) {
            layout::check_tag_room(usize::from(n), l.tag_count())?;
        }
        let i = &mut req.input;
        i.multipart_upload = Some(CompletedMultipartUpload { parts: Some(parts) });
        i.upload_id = up_id;
        i.checksum_crc32 = None;
        i.checksum_crc32c = None;
        i.checksum_sha1 = None;
        i.checksum_sha256 = None;
        i.checksum_crc64nvme = None;
        i.checksum_type = None;
        i.mpu_object_size = None;
        let sub = sub_request(&req, ());
        // The embedded store writes the layout with the object, in one journal record; other
        // stores get it as tags right after their Complete (below).
        if let (Some(layout), Some(dek)) = (&layout, &r.dek) {
            let tags = layout::tags_for(&layout.seal(dek, self.segment))
                .into_iter()
                .filter_map(|t| Some((t.key?, t.value?)))
                .collect();
            req.extensions.insert(TagsAtComplete(tags));
        }
        let _one_at_a_time = self.completing(&bucket, &key).lock().await;
        let _listed_as = layout.as_ref().map(|l| {
            let stored = l.stored_len(self.segment);
            self.layouts
                .completing(&bucket, &key, stored, l.plain_len())
        });
        let mut resp = self.up.complete_multipart_upload(req).await?;
        let committed_with_object = resp.extensions.get::<TagsCommitted>().is_some();
        if let Some(fut) = resp.output.future.take() {
            resp.output = fut.await?;
        }
        if let (Some(layout), Some(dek)) = (&layout, &r.dek) {
            // The null version (a versioning-suspended bucket) is replaced by the next write
            // like an unversioned key, so it gets the same check.
            let version = resp.output.version_id.clone().filter(|v| v != "null");
            let at = (bucket.as_str(), key.as_str(), version.as_deref());
            // Without a version id the tags go to whatever object the key holds now: if
            // another writer (another gateway) replaced ours already, our layout is moot and
            // would break theirs. (The check leaves a short window; docs/FORMAT.md §5.)
            let ours = match (&version, &resp.output.e_tag) {
                _ if committed_with_object => true,
                (None, Some(e)) => self.still_current(&sub, at, e).await?,
                _ => true,
            };
            if !ours {
                tracing::info!(
                    bucket = %bucket,
                    key = %key,
                    "a completed upload was replaced before its layout was written; not written"
                );
            } else if !committed_with_object {
                self.commit_layout(&sub, at, dek, layout).await?;
            }
            if let Some(e) = &resp.output.e_tag {
                let stored = layout.stored_len(self.segment);
                self.layouts
                    .remember_size(&bucket, &key, e.value(), stored, layout.plain_len());
            }
        }
        let o = &mut resp.output;
        if let Some(e) = &o.e_tag {
            o.e_tag = Some(etag::visible(e));
        }
        o.checksum_crc32 = None;
        o.checksum_crc32c = None;
        o.checksum_sha1 = None;
        o.checksum_sha256 = None;
        o.checksum_crc64nvme = None;
        o.checksum_type = None;
        Ok(resp)
    }

    /// Whether the key's current object is the one with the store ETag `etag`.
    async fn still_current<T>(
        &self,
        req: &S3Request<T>,
        (bucket, key, _): (&str, &str, Option<&str>),
        etag: &ETag,
    ) -> S3Result<bool> {
        let head_in = HeadObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            ..Default::default()
        };
        match self.up.head_object(sub_request(req, head_in)).await {
            Ok(h) => Ok(h.output.e_tag.is_none_or(|e| e.value() == etag.value())),
            Err(e) if e.status_code() == Some(http::StatusCode::NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Answers a repeated Complete of an upload that is gone: if the object at the key is the
    /// one this upload wrote (same wrapped DEK) and its layout is committed, the first
    /// Complete succeeded and the retry gets the same answer; anything else is `not_found`.
    async fn already_completed(
        &self,
        req: &S3Request<CompleteMultipartUploadInput>,
        r: &Resolved,
        bucket: &str,
        key: &str,
        not_found: S3Error,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let Some(dek) = &r.dek else {
            return Err(not_found);
        };
        let head_in = HeadObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            ..Default::default()
        };
        let Ok(head) = self.up.head_object(sub_request(req, head_in)).await else {
            return Err(not_found);
        };
        let head = head.output;
        let info = match meta::parse(head.metadata.as_ref()) {
            Ok(Some(info)) if info.committed && info.dek_b64 == r.dek_b64 => info,
            _ => return Err(not_found),
        };
        let version = head.version_id.clone();
        let at = (bucket, key, version.as_deref());
        if self.has_no_layout(req, at).await {
            self.recommit_layout(req, at, &head, &info, dek).await?;
        }
        self.layout_of(req, at, &info, dek).await?;
        let up_etag = head.e_tag.unwrap_or(ETag::Strong(String::new()));
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            e_tag: Some(etag::visible(&up_etag)),
            version_id: version,
            ..Default::default()
        }))
    }

    /// A Complete whose store write landed but whose layout commit did not (the gateway was
    /// killed between the two) left an object every read refuses. Its retry, which names the
    /// same parts, commits the layout again — only when the stored object is exactly those
    /// parts in that order (its ETag is the composite of theirs), with sizes from the store's
    /// per-part HEADs. A store lying about a size gains nothing: each segment is bound to its
    /// part, position and final flag, so a wrong layout fails reads, never passes wrong bytes.
    async fn recommit_layout(
        &self,
        req: &S3Request<CompleteMultipartUploadInput>,
        at: (&str, &str, Option<&str>),
        head: &HeadObjectOutput,
        info: &meta::SealInfo,
        dek: &Dek,
    ) -> S3Result<()> {
        use md5::{Digest, Md5};
        let refuse = || {
            s3_error!(
                NoSuchUpload,
                "the upload is gone and its object cannot be confirmed"
            )
        };
        let listed: Vec<(i32, String)> = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .into_iter()
            .flatten()
            .map(|p| {
                Some((
                    p.part_number?,
                    p.e_tag.as_ref()?.value().trim_matches('"').to_owned(),
                ))
            })
            .collect::<Option<_>>()
            .ok_or_else(refuse)?;
        let mut md5s = Vec::new();
        for (_, e) in &listed {
            let stored = e.strip_suffix("-1").and_then(|h| hex::decode(h).ok());
            md5s.extend(stored.ok_or_else(refuse)?);
        }
        let composite = format!("{}-{}", hex::encode(Md5::digest(&md5s)), listed.len());
        let stored_etag = head.e_tag.as_ref().map(|e| e.value().to_owned());
        if info.segment != self.segment || stored_etag.as_deref() != Some(composite.as_str()) {
            return Err(refuse());
        }
        let (bucket, key, version) = at;
        let mut sizes = Vec::with_capacity(listed.len());
        for (idx, (n, _)) in listed.iter().enumerate() {
            let part = HeadObjectInput {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: version.map(str::to_owned),
                part_number: Some(idx as i32 + 1),
                ..Default::default()
            };
            let out = self.up.head_object(sub_request(req, part)).await?.output;
            let stored = out.content_length.unwrap_or(0).max(0) as u64;
            let plain = size::plain_len(stored, self.segment)
                .filter(|&p| size::stored_len(p, self.segment) == stored)
                .ok_or_else(refuse)?;
            sizes.push((*n as u32, plain));
        }
        let layout = Layout::from_parts(&sizes).map_err(|_| refuse())?;
        if Some(layout.stored_len(self.segment) as i64) != head.content_length {
            return Err(refuse());
        }
        tracing::warn!(%bucket, %key, "committing the layout a completed upload was missing (a retried Complete)");
        self.commit_layout(req, at, dek, &layout).await
    }

    async fn list_all_parts<T>(&self, req: &S3Request<T>, up_id: &str) -> S3Result<Vec<Part>>
    where
        T: HasObject,
    {
        let mut all = Vec::new();
        let mut marker = None;
        loop {
            let input = ListPartsInput {
                bucket: req.input.bucket().to_owned(),
                key: req.input.key().to_owned(),
                upload_id: up_id.to_owned(),
                part_number_marker: marker,
                ..Default::default()
            };
            let out = self.up.list_parts(sub_request(req, input)).await?.output;
            all.extend(out.parts.unwrap_or_default());
            if out.is_truncated == Some(true) {
                marker = out.next_part_number_marker;
                if marker.is_none() {
                    break;
                }
            } else {
                break;
            }
        }
        Ok(all)
    }

    pub(super) async fn abort_multipart_sealed(
        &self,
        mut req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = &mut req.input;
        let r = self
            .resolve_upload(&i.upload_id, &i.bucket, &i.key, false, None)
            .await?;
        i.upload_id = r.upstream;
        self.up.abort_multipart_upload(req).await
    }

    pub(super) async fn list_parts_sealed(
        &self,
        mut req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let client_id = req.input.upload_id.clone();
        let i = &mut req.input;
        // Only passthrough locations hand out raw store ids. Elsewhere a raw id is someone
        // else's upload seen in ListMultipartUploads (the store does not bind ids to keys).
        if !upload_id::is_ours(&i.upload_id)
            && self.buckets.lookup(&i.bucket, &i.key).mode != crate::config::BucketMode::Passthrough
        {
            return Err(S3Error::with_message(
                s3s::S3ErrorCode::NoSuchUpload,
                "this upload id was not issued by s3seal for this key; use the id CreateMultipartUpload returned",
            ));
        }
        let r = self
            .resolve_upload(&i.upload_id, &i.bucket, &i.key, false, None)
            .await?;
        i.upload_id = r.upstream;
        let mut resp = self.up.list_parts(req).await?;
        resp.output.upload_id = Some(client_id);
        for p in resp.output.parts.iter_mut().flatten() {
            if r.committed
                && let Some(e) = &p.e_tag
            {
                p.e_tag = Some(etag::visible(e));
            }
            if let Some(plain) = p
                .size
                .and_then(|s| size::plain_len(s.max(0) as u64, self.segment))
            {
                p.size = Some(plain as i64);
            }
            p.checksum_crc32 = None;
            p.checksum_crc32c = None;
            p.checksum_sha1 = None;
            p.checksum_sha256 = None;
            p.checksum_crc64nvme = None;
        }
        Ok(resp)
    }

    /// UploadPartCopy: reads the source range through the gateway (decrypting it) and seals
    /// it as this upload's part, so the destination is encrypted under its own DEK.
    pub(super) async fn upload_part_copy_sealed(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = &req.input;
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = &i.copy_source
        else {
            return Err(s3_error!(
                NotImplemented,
                "copy from access points is not supported"
            ));
        };
        let get_in = GetObjectInput {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: version_id.as_ref().map(|v| v.to_string()),
            range: copy_range(i.copy_source_range.as_deref())?,
            if_match: i.copy_source_if_match.clone(),
            if_none_match: i.copy_source_if_none_match.clone(),
            if_modified_since: i.copy_source_if_modified_since.clone(),
            if_unmodified_since: i.copy_source_if_unmodified_since.clone(),
            sse_customer_algorithm: i.copy_source_sse_customer_algorithm.clone(),
            sse_customer_key: i.copy_source_sse_customer_key.clone(),
            sse_customer_key_md5: i.copy_source_sse_customer_key_md5.clone(),
            ..Default::default()
        };
        let get_in_range = get_in.range;
        let src = self
            .get_object_sealed(sub_request(&req, get_in))
            .await
            .map_err(|e| match e.code() {
                s3s::S3ErrorCode::NotModified => s3_error!(PreconditionFailed),
                _ => e,
            })?
            .output;
        // S3 copies a range only when all of it exists (it does not clip one that runs past
        // the end, as a GET does).
        if let Some(Range::Int {
            last: Some(last), ..
        }) = &get_in_range
            && src
                .content_range
                .as_deref()
                .and_then(size::parse_content_range)
                .is_none_or(|(_, _, total)| *last >= total)
        {
            return Err(s3_error!(
                InvalidRange,
                "The x-amz-copy-source-range runs past the end of the source object"
            ));
        }
        // The destination's size limit holds for copied parts as for uploaded ones.
        let len = src.content_length.unwrap_or(0).max(0) as u64;
        self.buckets
            .lookup(&i.bucket, &i.key)
            .check_size(&i.bucket, len)?;
        let part_in = UploadPartInput {
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            upload_id: i.upload_id.clone(),
            part_number: i.part_number,
            content_length: src.content_length,
            body: src.body,
            sse_customer_algorithm: i.sse_customer_algorithm.clone(),
            sse_customer_key: i.sse_customer_key.clone(),
            sse_customer_key_md5: i.sse_customer_key_md5.clone(),
            ..Default::default()
        };
        let mut part_req = sub_request(&req, part_in);
        part_req.headers.remove("x-amz-decoded-content-length");
        let part = self.upload_part_sealed(part_req).await?.output;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: part.e_tag,
                last_modified: Some(std::time::SystemTime::now().into()),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

/// `x-amz-copy-source-range`: S3 takes only `bytes=first-last`.
fn copy_range(v: Option<&str>) -> S3Result<Option<Range>> {
    let Some(v) = v else { return Ok(None) };
    match Range::parse(v) {
        Ok(r @ Range::Int { last: Some(_), .. }) => Ok(Some(r)),
        _ => Err(s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )),
    }
}

/// A client upload id resolved: the store's id and, when the request could open it, the DEK.
struct Resolved {
    upstream: String,
    dek: Option<std::sync::Arc<crate::format::Dek>>,
    /// Parts are sealed for a committed layout, which Complete must write.
    committed: bool,
    /// The wrapped DEK the id carries (empty for raw store ids).
    dek_b64: String,
}

/// Inputs that name one object; lets helpers build sub-requests from any of them.
pub(super) trait HasObject {
    fn bucket(&self) -> &str;
    fn key(&self) -> &str;
}

impl HasObject for CompleteMultipartUploadInput {
    fn bucket(&self) -> &str {
        &self.bucket
    }
    fn key(&self) -> &str {
        &self.key
    }
}
