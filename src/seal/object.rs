//! Single-request objects: PutObject, GetObject (ranges, preconditions), HeadObject.

use super::body::{Expectations, OpeningStream, PutFailure, sealed_body, take_outcome};
use super::etag::{self, Preconditions};
use super::{Seal, meta, ssec, sub_request};
use crate::format::layout::Layout;
use crate::format::size::{self, ByteRange, RangePlan};
use crate::format::{Dek, Expect, StreamOpener};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};
use std::sync::Arc;

/// Tries at a HEAD-planned ranged read while the object keeps being replaced under it.
const PLAN_ATTEMPTS: usize = 3;

/// Moves the client's plaintext checksum claims out of an upload input (the store would
/// check them against ciphertext) and into the verifier. Works on any input type that has
/// the flexible-checksum fields (PutObject, UploadPart).
macro_rules! take_claims {
    ($input:expr, $expect:expr) => {{
        let claims = s3s::dto::Checksum {
            checksum_crc32: $input.checksum_crc32.take(),
            checksum_crc32c: $input.checksum_crc32c.take(),
            checksum_sha1: $input.checksum_sha1.take(),
            checksum_sha256: $input.checksum_sha256.take(),
            checksum_crc64nvme: $input.checksum_crc64nvme.take(),
            ..Default::default()
        };
        $expect.hasher =
            $crate::seal::object::hasher_for(&claims, $input.checksum_algorithm.take().as_ref())?;
        $expect.checksums = claims;
    }};
}
pub(super) use take_claims;

/// What a ranged GET was planned against.
struct Planned<'a> {
    info: &'a meta::SealInfo,
    up_etag: ETag,
    plan: RangePlan,
    stored: u64,
    customer: Option<&'a ssec::CustomerKey>,
    /// The object version read, to find a committed layout's tags.
    version: Option<String>,
}

impl Seal {
    pub(super) async fn put_object_sealed(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = &mut req.input;
        meta::reject_reserved(input.metadata.as_ref())?;
        meta::stamp_owner(&mut input.metadata, req.credentials.as_ref());
        let length = plaintext_length(input.content_length, &req.headers)?;
        let customer = ssec::take(
            &mut input.sse_customer_algorithm,
            &mut input.sse_customer_key,
            &mut input.sse_customer_key_md5,
        )?;
        let (dek, wrapped) = self
            .keys
            .new_dek(&input.bucket, &input.key, customer.as_ref())
            .await?;
        let seg = self.segment;

        let mut expect = Expectations {
            length,
            ..Default::default()
        };
        if let Some(md5) = input.content_md5.take() {
            expect.md5 = Some(decode_md5(&md5)?);
        }
        take_claims!(input, expect);
        expect.trailers = req.trailing_headers.take();
        expect.declared_trailers = declared_trailers(&req.headers);

        let m = input.metadata.get_or_insert_with(Default::default);
        meta::insert_wrap(m, wrapped, self.keys.binds_bucket());
        m.insert(meta::SEGMENT.into(), seg.to_string());
        if let Some(md5) = expect.md5 {
            m.insert(meta::MD5_SEALED.into(), sealed_md5(&dek, &md5));
        }

        let (body, outcome, stored) = sealed_body(input.body.take(), &dek, 0, seg, expect, false);
        drop(dek);
        input.body = Some(body);
        input.content_length = Some(stored as i64);

        let result = self.up.put_object(req).await;
        let outcome = take_outcome(&outcome);
        if let Some(f) = outcome.failure {
            // Our stream refused to finish, so the upstream saw a broken body and stored
            // nothing; report why in S3's words.
            return Err(put_failure(f));
        }
        let mut resp = result?;
        let (Some(_), Some(sums)) = (outcome.md5, outcome.checksums) else {
            return Err(s3_error!(
                InternalError,
                "upload ended before the body was sealed"
            ));
        };
        let out = &mut resp.output;
        // One ETag per object for its whole life: the one HEAD, GET and LIST show.
        out.e_tag = out.e_tag.as_ref().map(etag::visible);
        if let Some(c) = &customer {
            out.sse_customer_algorithm = Some("AES256".into());
            out.sse_customer_key_md5 = Some(c.md5_b64.clone());
        }
        set_checksums_put(out, sums);
        out.size = Some(length as i64);
        Ok(resp)
    }

    pub(super) async fn get_object_sealed(
        &self,
        mut req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let pre = take_preconditions_get(&mut req.input);
        let range = req.input.range.take();
        // Plaintext checksums are not stored; GET omits them rather than show ciphertext's.
        req.input.checksum_mode = None;
        let i = &mut req.input;
        let customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;

        let part_number = req.input.part_number;
        let sub = sub_request(&req, ());
        let Some(range) = range else {
            return self
                .get_whole(req, &sub, &pre, customer.as_ref(), part_number)
                .await;
        };

        // Ranged, in one request when the guess holds: objects this gateway writes use its
        // configured segment size, so the covering segments can be fetched before the size is
        // known, and the answer's metadata and Content-Range confirm the guess. Anything else
        // (suffix range, another segment size, a plaintext object, a start past the end, a
        // store error, a failed precondition) takes the HEAD-planned path, which answers it.
        let wanted = to_byte_range(&range);
        if part_number.is_none()
            && let Some((first, last)) = size::covering_stored(wanted, self.segment)
        {
            let mut input = req.input.clone();
            input.range = Some(Range::Int { first, last });
            if let Ok(resp) = self.up.get_object(sub_request(&req, input)).await
                && let Some((mut info, plan, stored)) = self.confirm_guess(&resp.output, wanted)
            {
                self.reveal_md5(&mut info, &bucket, &key, customer.as_ref())
                    .await;
                let up_etag = resp
                    .output
                    .e_tag
                    .clone()
                    .unwrap_or(ETag::Strong(String::new()));
                let visible = etag::visible(&up_etag);
                let last_modified = resp.output.last_modified.as_ref();
                let version = resp.output.version_id.clone();
                if pre
                    .check(&visible, info.md5.as_deref(), last_modified)
                    .is_ok()
                    && self
                        .guess_fits(
                            &sub,
                            (&bucket, &key, version.as_deref()),
                            &info,
                            &plan,
                            customer.as_ref(),
                        )
                        .await
                {
                    let at = Planned {
                        info: &info,
                        up_etag,
                        plan,
                        stored,
                        customer: customer.as_ref(),
                        version,
                    };
                    return self.serve_planned(&sub, resp, at, &bucket, &key).await;
                }
            }
        }

        // Ranged: the layout (segment size, stored length) comes from a HEAD, then only the
        // covering segments are fetched, pinned to the ETag we planned against. An object
        // replaced in between fails that pin: plan again (S3 serves the old or the new
        // object, never a 412 the client did not ask for).
        for _ in 0..PLAN_ATTEMPTS - 1 {
            let again = sub_request(&req, req.input.clone());
            let r = (bucket.as_str(), key.as_str(), &range);
            if let Some(resp) = self
                .get_head_planned(again, &sub, &pre, r, customer.as_ref())
                .await?
            {
                return Ok(resp);
            }
        }
        let r = (bucket.as_str(), key.as_str(), &range);
        self.get_head_planned(req, &sub, &pre, r, customer.as_ref())
            .await?
            .ok_or_else(|| {
                s3_error!(
                    SlowDown,
                    "the object was replaced during each of {PLAN_ATTEMPTS} tries to read this range; retry"
                )
            })
    }

    /// A GET without Range: one upstream request fetches everything; what to do is decided
    /// from the metadata it returns.
    async fn get_whole(
        &self,
        req: S3Request<GetObjectInput>,
        sub: &S3Request<()>,
        pre: &Preconditions,
        customer: Option<&ssec::CustomerKey>,
        part_number: Option<i32>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut resp = self.up.get_object(req).await?;
        let out = &mut resp.output;
        let up_etag = out.e_tag.clone().unwrap_or(ETag::Strong(String::new()));
        let Some(mut info) = meta::parse(out.metadata.as_ref()).map_err(bad_meta)? else {
            self.refuse_plaintext(&bucket, &key)?;
            ssec::plain_object(customer)?;
            pre.check(&up_etag, None, out.last_modified.as_ref())?;
            meta::strip(&mut out.metadata);
            return Ok(resp);
        };
        self.reveal_md5(&mut info, &bucket, &key, customer).await;
        let out = &mut resp.output;
        let visible = etag::visible(&up_etag);
        pre.check(&visible, info.md5.as_deref(), out.last_modified.as_ref())?;
        let stored = out.content_length.unwrap_or(0).max(0) as u64;
        let (opener, plain, content_range) = if info.committed {
            let at = (bucket.as_str(), key.as_str(), out.version_id.as_deref());
            let (dek, layout) = self.committed(sub, at, &info, customer).await?;
            hide_layout_tags(&mut out.tag_count, &layout);
            match part_number {
                Some(n) => {
                    // The layout says where the part sits and what it must hold.
                    let p = layout
                        .part(n as u32, info.segment)
                        .ok_or_else(invalid_part_number)?;
                    let p_stored = size::stored_len(p.plain, info.segment);
                    if out.content_range.is_none() {
                        // A store that ignores partNumber sent everything: fetch the part.
                        let input = GetObjectInput {
                            bucket: bucket.clone(),
                            key: key.clone(),
                            version_id: out.version_id.clone(),
                            range: Some(Range::Int {
                                first: p.stored_at,
                                last: Some(p.stored_at + p_stored - 1),
                            }),
                            if_match: Some(ETagCondition::ETag(up_etag.clone())),
                            ..Default::default()
                        };
                        let again = self.up.get_object(sub_request(sub, input)).await?;
                        out.body = again.output.body;
                        out.content_length = again.output.content_length;
                    }
                    if out.content_length != Some(p_stored as i64) {
                        return Err(self.refused(&bucket, &key, "part size differs from layout"));
                    }
                    out.parts_count = Some(layout.part_count() as i32);
                    let total = layout.plain_len();
                    let (at, len) = (p.plain_at, p.plain);
                    let cr = format!("bytes {at}-{}/{total}", (at + len).max(1) - 1);
                    let o = StreamOpener::with_spans(&dek, info.segment, vec![p.span]);
                    (o, len, Some(cr))
                }
                _ => {
                    self.check_layout_size(&layout, &info, stored, &bucket, &key)?;
                    let spans = layout.full_spans(info.segment);
                    let o = StreamOpener::with_spans(&dek, info.segment, spans);
                    (o, layout.plain_len(), None)
                }
            }
        } else {
            let plain = size::plain_len(stored, info.segment).ok_or_else(corrupt_size)?;
            // With partNumber the store answers with that part's stored bytes: one whole
            // stream of its own, placed by the store's Content-Range.
            let (expect, content_range) = match (part_number, out.content_range.as_deref()) {
                (Some(_), Some(cr)) if info.multipart => (
                    Expect::multipart(true, true, None),
                    Some(part_range(cr, plain, info.segment).ok_or_else(corrupt_size)?),
                ),
                // S3 answers partNumber=1 of a single-PUT object as its one part: 206.
                (Some(_), _) if plain > 0 => (
                    expect_for(&info, &up_etag, 0, true),
                    Some(format!("bytes 0-{}/{plain}", plain - 1)),
                ),
                _ => (expect_for(&info, &up_etag, 0, true), None),
            };
            let opener = self
                .opener(&info, &bucket, &key, expect, customer)
                .await?
                .expect_segments(size::segments_in(stored, info.segment));
            (opener, plain, content_range)
        };
        let mut body = out.body.take().unwrap_or_else(empty_blob);
        if plain == 0 {
            // No body bytes go to the client, so the stream would never be polled: read
            // and authenticate the empty object's one segment before answering.
            body = self.verify_empty(body, opener, &bucket, &key).await?;
        } else {
            body = self.opening(body, opener, 0, plain, &bucket, &key);
            body = first_checked(body).await?;
        }
        out.body = Some(body);
        finish_get(out, info.md5.as_deref(), visible, plain, content_range);
        if let Some(c) = customer {
            out.sse_customer_algorithm = Some("AES256".into());
            out.sse_customer_key_md5 = Some(c.md5_b64.clone());
        }
        Ok(resp)
    }

    /// The HEAD-planned ranged GET; `None` when the object changed between the HEAD and the
    /// pinned GET.
    async fn get_head_planned(
        &self,
        mut req: S3Request<GetObjectInput>,
        sub: &S3Request<()>,
        pre: &Preconditions,
        (bucket, key, range): (&str, &str, &Range),
        customer: Option<&ssec::CustomerKey>,
    ) -> S3Result<Option<S3Response<GetObjectOutput>>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let head_in = HeadObjectInput {
            bucket: bucket.clone(),
            key: key.clone(),
            version_id: req.input.version_id.clone(),
            ..Default::default()
        };
        let head = match self.up.head_object(sub_request(&req, head_in)).await {
            Ok(h) => h.output,
            Err(e) => {
                let v = req.input.version_id.clone();
                return Err(self
                    .why_missing(&req, (&bucket, &key, v.as_deref()), e)
                    .await);
            }
        };
        let up_etag = head.e_tag.clone().unwrap_or(ETag::Strong(String::new()));
        let Some(mut info) = meta::parse(head.metadata.as_ref()).map_err(bad_meta)? else {
            self.refuse_plaintext(&bucket, &key)?;
            ssec::plain_object(customer)?;
            req.input.range = Some(*range);
            restore_preconditions_get(&mut req.input, pre.clone());
            let mut resp = self.up.get_object(req).await?;
            meta::strip(&mut resp.output.metadata);
            return Ok(Some(resp));
        };
        self.reveal_md5(&mut info, &bucket, &key, customer).await;
        let visible = etag::visible(&up_etag);
        pre.check(&visible, info.md5.as_deref(), head.last_modified.as_ref())?;
        let stored = head.content_length.unwrap_or(0).max(0) as u64;
        let layout = if info.committed {
            let at = (bucket.as_str(), key.as_str(), head.version_id.as_deref());
            let (_, layout) = self.committed(sub, at, &info, customer).await?;
            self.check_layout_size(&layout, &info, stored, &bucket, &key)?;
            Some(layout)
        } else {
            None
        };
        let plain = match &layout {
            Some(l) => l.plain_len(),
            None => size::plain_len(stored, info.segment).ok_or_else(corrupt_size)?,
        };
        // S3 answers a suffix range of an empty object with the whole (empty) object, 200
        // (tail readers such as object_store and Trino ask for one); pinned to the object
        // just planned, as below.
        if plain == 0 && matches!(range, Range::Suffix { length } if *length > 0) {
            req.input.if_match = Some(ETagCondition::ETag(up_etag.clone()));
            return match self.get_whole(req, sub, pre, customer, None).await {
                Err(e) if *e.code() == s3s::S3ErrorCode::PreconditionFailed => Ok(None),
                r => r.map(Some),
            };
        }
        let mut plan = RangePlan::new(plain, info.segment, to_byte_range(range))
            .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
        if let Some(lp) = layout
            .as_ref()
            .and_then(|l| l.plan(plan.plain_first, plan.plain_last, info.segment))
        {
            // Parts that are not whole segments shift everything after them off the grid.
            (plan.stored_first, plan.stored_last, plan.skip) =
                (lp.stored_first, lp.stored_last, lp.skip);
        }
        req.input.range = Some(Range::Int {
            first: plan.stored_first,
            last: Some(plan.stored_last),
        });
        req.input.if_match = Some(ETagCondition::ETag(up_etag.clone()));
        let version = head.version_id.clone();
        if version.is_some() && req.input.version_id.is_none() {
            req.input.version_id = version.clone();
        }
        let resp = match self.up.get_object(req).await {
            Err(e) if *e.code() == s3s::S3ErrorCode::PreconditionFailed => return Ok(None),
            r => r?,
        };
        let at = Planned {
            info: &info,
            up_etag,
            plan,
            stored,
            customer,
            version,
        };
        self.serve_planned(sub, resp, at, &bucket, &key)
            .await
            .map(Some)
    }

    /// Whether the grid-guessed stored range is the one a committed object's layout plans
    /// (always, unless some part is not whole segments); otherwise the HEAD-planned path
    /// fetches the right bytes. Layout errors are left to that path to report.
    async fn guess_fits(
        &self,
        sub: &S3Request<()>,
        at: (&str, &str, Option<&str>),
        info: &meta::SealInfo,
        plan: &RangePlan,
        customer: Option<&ssec::CustomerKey>,
    ) -> bool {
        if !info.committed {
            return true;
        }
        let Ok((_, layout)) = self.committed(sub, at, info, customer).await else {
            return false;
        };
        layout
            .plan(plan.plain_first, plan.plain_last, info.segment)
            .is_some_and(|lp| {
                (lp.stored_first, lp.stored_last, lp.skip)
                    == (plan.stored_first, plan.stored_last, plan.skip)
            })
    }

    /// The layout a ranged GET of stored bytes was planned against, when the store's answer
    /// for the guessed covering segments matches it exactly.
    fn confirm_guess(
        &self,
        out: &GetObjectOutput,
        wanted: ByteRange,
    ) -> Option<(meta::SealInfo, RangePlan, u64)> {
        let info = meta::parse(out.metadata.as_ref()).ok()??;
        if info.segment != self.segment {
            return None;
        }
        let (first, last, stored) = size::parse_content_range(out.content_range.as_deref()?)?;
        let plain = size::plain_len(stored, info.segment)?;
        let plan = RangePlan::new(plain, info.segment, wanted).ok()?;
        ((plan.stored_first, plan.stored_last) == (first, last)).then_some((info, plan, stored))
    }

    /// Turns the store's answer for a plan's covering segments into the client's range.
    async fn serve_planned(
        &self,
        sub: &S3Request<()>,
        mut resp: S3Response<GetObjectOutput>,
        at: Planned<'_>,
        bucket: &str,
        key: &str,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let (info, plan) = (at.info, at.plan);
        let (opener, plain) = if info.committed {
            let v = (bucket, key, at.version.as_deref());
            let (dek, layout) = self.committed(sub, v, info, at.customer).await?;
            self.check_layout_size(&layout, info, at.stored, bucket, key)?;
            // Aligned layouts (all Complete writes) put segments on the global grid, so the
            // bytes fetched for `plan` are exactly the layout's; anything else is refused.
            let lp = layout
                .plan(plan.plain_first, plan.plain_last, info.segment)
                .filter(|lp| {
                    (lp.stored_first, lp.stored_last, lp.skip)
                        == (plan.stored_first, plan.stored_last, plan.skip)
                })
                .ok_or_else(|| self.refused(bucket, key, "range does not fit the layout"))?;
            let o = StreamOpener::with_spans(&dek, info.segment, lp.spans);
            hide_layout_tags(&mut resp.output.tag_count, &layout);
            (o, layout.plain_len())
        } else {
            let reaches_end = plan.stored_last + 1 >= at.stored;
            let expect = expect_for(info, &at.up_etag, plan.first_segment, reaches_end);
            let covered = size::segments_in(plan.stored_last + 1 - plan.stored_first, info.segment);
            let opener = self
                .opener(info, bucket, key, expect, at.customer)
                .await?
                .expect_segments(covered);
            let plain = size::plain_len(at.stored, info.segment).ok_or_else(corrupt_size)?;
            (opener, plain)
        };
        let out = &mut resp.output;
        let body = out.body.take().unwrap_or_else(empty_blob);
        let body = self.opening(body, opener, plan.skip, plan.deliver, bucket, key);
        out.body = Some(first_checked(body).await?);
        let content_range = format!("bytes {}-{}/{plain}", plan.plain_first, plan.plain_last);
        finish_get(
            out,
            info.md5.as_deref(),
            etag::visible(&at.up_etag),
            plan.deliver,
            Some(content_range),
        );
        if let Some(c) = at.customer {
            out.sse_customer_algorithm = Some("AES256".into());
            out.sse_customer_key_md5 = Some(c.md5_b64.clone());
        }
        Ok(resp)
    }

    pub(super) async fn head_object_sealed(
        &self,
        mut req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let i = &mut req.input;
        let pre = Preconditions {
            if_match: i.if_match.take(),
            if_none_match: i.if_none_match.take(),
            if_modified_since: i.if_modified_since.take(),
            if_unmodified_since: i.if_unmodified_since.take(),
        };
        i.checksum_mode = None;
        let range = i.range.take();
        let customer = ssec::take(
            &mut i.sse_customer_algorithm,
            &mut i.sse_customer_key,
            &mut i.sse_customer_key_md5,
        )?;
        let show_owner = req.headers.contains_key(meta::SHOW_OWNER);
        // The whole object's HEAD, even for partNumber: stores answer a part's HEAD without
        // its metadata (moto), which read as a plaintext object and showed ciphertext sizes
        // and the store's part ETag. A sealed part's place comes from its layout.
        let part_number = req.input.part_number.take();
        let whole = req.input.clone();
        let sub = sub_request(&req, ());
        let mut resp = self.up.head_object(req).await?;
        let part_head = |n: i32| {
            let mut i = whole.clone();
            i.part_number = Some(n);
            self.up.head_object(sub_request(&sub, i))
        };
        let parsed = meta::parse(resp.output.metadata.as_ref()).map_err(bad_meta)?;
        let legacy_parts = parsed.as_ref().is_none_or(|i| i.multipart && !i.committed);
        if let (Some(n), true) = (part_number, legacy_parts) {
            // Plaintext and uncommitted multipart objects: the store's own part answer.
            resp = part_head(n).await?;
        }
        let out = &mut resp.output;
        let up_etag = out.e_tag.clone().unwrap_or(ETag::Strong(String::new()));
        let Some(mut info) = meta::parse(out.metadata.as_ref()).map_err(bad_meta)? else {
            self.refuse_plaintext(&bucket, &key)?;
            ssec::plain_object(customer.as_ref())?;
            pre.check(&up_etag, None, out.last_modified.as_ref())?;
            meta::head_view(&mut out.metadata, None, show_owner);
            let full = out.content_length.unwrap_or(0).max(0) as u64;
            head_range(out, range.as_ref(), full)?;
            return Ok(resp);
        };
        self.reveal_md5(&mut info, &bucket, &key, customer.as_ref())
            .await;
        let out = &mut resp.output;
        let visible = etag::visible(&up_etag);
        pre.check(&visible, info.md5.as_deref(), out.last_modified.as_ref())?;
        if info.kek == ssec::SSEC_ID || customer.is_some() {
            // HEAD of a customer-key object proves the key, as S3 does.
            self.keys
                .open(
                    &info.kek,
                    &info.dek_b64,
                    &info.wrap_context(&bucket, &key),
                    customer.as_ref(),
                )
                .await?;
        }
        if let Some(c) = &customer {
            out.sse_customer_algorithm = Some("AES256".into());
            out.sse_customer_key_md5 = Some(c.md5_b64.clone());
        }
        let stored = out.content_length.unwrap_or(0).max(0) as u64;
        let plain = if info.committed {
            let at = (bucket.as_str(), key.as_str(), out.version_id.as_deref());
            let (_, layout) = self.committed(&sub, at, &info, customer.as_ref()).await?;
            hide_layout_tags_header(&mut resp.headers, &layout);
            let out = &mut resp.output;
            match part_number.and_then(|n| layout.part(n as u32, info.segment)) {
                // The part's own size and place, whatever the store made of partNumber.
                Some(p) => {
                    self.check_layout_size(&layout, &info, stored, &bucket, &key)?;
                    let total = layout.plain_len();
                    let last = (p.plain_at + p.plain).max(1) - 1;
                    out.content_range = Some(format!("bytes {}-{last}/{total}", p.plain_at));
                    out.parts_count = Some(layout.part_count() as i32);
                    p.plain
                }
                None if part_number.is_some() => return Err(invalid_part_number()),
                None => {
                    self.check_layout_size(&layout, &info, stored, &bucket, &key)?;
                    layout.plain_len()
                }
            }
        } else {
            size::plain_len(stored, info.segment).ok_or_else(corrupt_size)?
        };
        let out = &mut resp.output;
        out.content_length = Some(plain as i64);
        if let (Some(n), false) = (part_number, info.multipart) {
            // As the GET: partNumber=1 of a single-PUT object is its one part (206).
            if n != 1 {
                return Err(invalid_part_number());
            }
            if plain > 0 {
                out.content_range = Some(format!("bytes 0-{}/{plain}", plain - 1));
            }
        }
        out.e_tag = Some(visible);
        meta::head_view(&mut out.metadata, info.md5.as_deref(), show_owner);
        out.checksum_crc32 = None;
        out.checksum_crc32c = None;
        out.checksum_sha1 = None;
        out.checksum_sha256 = None;
        out.checksum_crc64nvme = None;
        out.checksum_type = None;
        out.accept_ranges = Some("bytes".into());
        if part_number.is_none() {
            head_range(out, range.as_ref(), plain)?;
        }
        Ok(resp)
    }

    /// Unwraps the object's DEK (through the cache) and prepares a verifying reader.
    /// The error to answer for a store HEAD that failed. A HEAD's 404 has no body, so it has
    /// no code (`NotFound`, which clients do not know); S3 names the reason — NoSuchKey,
    /// NoSuchBucket or NoSuchVersion — so a 1-byte GET asks the store for it.
    pub(super) async fn why_missing<T>(
        &self,
        req: &S3Request<T>,
        (bucket, key, version): (&str, &str, Option<&str>),
        e: S3Error,
    ) -> S3Error {
        if e.code().as_str() != "NotFound" {
            return e;
        }
        let get = GetObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version.map(str::to_owned),
            range: Some(Range::Int {
                first: 0,
                last: Some(0),
            }),
            ..Default::default()
        };
        match self.up.get_object(sub_request(req, get)).await {
            Err(named) if named.code().as_str() != "NotFound" => named,
            _ => s3_error!(NoSuchKey, "The specified key does not exist."),
        }
    }

    /// Fills `info.md5` from a sealed MD5, so preconditions and `md5chksum` see it.
    pub(super) async fn reveal_md5(
        &self,
        info: &mut meta::SealInfo,
        bucket: &str,
        key: &str,
        customer: Option<&ssec::CustomerKey>,
    ) {
        if info.md5.is_none() && info.md5_sealed.is_some() {
            info.md5 = self.plain_md5(info, bucket, key, customer).await;
        }
    }

    /// The plaintext MD5 (hex) recorded for the object: in clear on objects older gateways
    /// wrote, else sealed under the DEK (opened through the DEK cache). A sealed MD5 that
    /// fails authentication is not shown.
    async fn plain_md5(
        &self,
        info: &meta::SealInfo,
        bucket: &str,
        key: &str,
        customer: Option<&ssec::CustomerKey>,
    ) -> Option<String> {
        if let Some(m) = &info.md5 {
            return Some(m.clone());
        }
        use base64::Engine;
        let sealed = info.md5_sealed.as_deref()?;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        let context = info.wrap_context(bucket, key);
        let dek = self.keys.open(&info.kek, &info.dek_b64, &context, customer);
        let md5 = crate::format::digest::open_md5(&*dek.await.ok()?, &sealed);
        if md5.is_none() {
            tracing::warn!(bucket = %bucket, key = %key, "the object's sealed MD5 failed authentication; not shown");
        }
        md5.map(hex::encode)
    }

    pub(super) async fn opener(
        &self,
        info: &meta::SealInfo,
        bucket: &str,
        key: &str,
        expect: Expect,
        customer: Option<&ssec::CustomerKey>,
    ) -> S3Result<StreamOpener> {
        let dek = self
            .keys
            .open(
                &info.kek,
                &info.dek_b64,
                &info.wrap_context(bucket, key),
                customer,
            )
            .await?;
        Ok(StreamOpener::new(&dek, info.segment, expect))
    }

    /// Reads an empty object's stored bytes (one empty final segment, 32 bytes) and
    /// authenticates them; on success the client gets an empty body, otherwise an error
    /// status — a forged or flipped empty segment is never a 200.
    async fn verify_empty(
        &self,
        mut body: StreamingBlob,
        opener: StreamOpener,
        bucket: &str,
        key: &str,
    ) -> S3Result<StreamingBlob> {
        use futures::StreamExt;
        let mut opener = opener;
        let mut plain = Vec::new();
        let mut read = 0usize;
        let mut verdict: Result<(), String> = Ok(());
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    verdict = Err(format!("upstream body failed: {e}"));
                    break;
                }
            };
            read += chunk.len();
            if read > 2 * size::SEGMENT_OVERHEAD as usize {
                verdict = Err("the store sent more than an empty object's bytes".into());
                break;
            }
            if let Err(e) = opener.push(chunk, &mut plain) {
                verdict = Err(format!("sealed object failed verification: {e}"));
                break;
            }
        }
        if verdict.is_ok() {
            verdict = opener
                .finish(&mut plain)
                .map_err(|e| format!("sealed object failed verification: {e}"));
        }
        if verdict.is_ok() && plain.iter().any(|b| !b.is_empty()) {
            verdict = Err("an empty object's segment holds data".into());
        }
        match verdict {
            Ok(()) => Ok(empty_blob()),
            Err(why) => {
                self.count_failure(bucket, key, &why);
                Err(tampered())
            }
        }
    }

    /// The DEK and verified layout of a committed multipart object.
    pub(super) async fn committed(
        &self,
        sub: &S3Request<()>,
        at: (&str, &str, Option<&str>),
        info: &meta::SealInfo,
        customer: Option<&ssec::CustomerKey>,
    ) -> S3Result<(Arc<Dek>, Arc<Layout>)> {
        let dek = self
            .keys
            .open(
                &info.kek,
                &info.dek_b64,
                &info.wrap_context(at.0, at.1),
                customer,
            )
            .await?;
        let layout = self.layout_of(sub, at, info, &dek).await?;
        Ok((dek, layout))
    }

    /// The store's length must be the layout's: a dropped or added part changes it.
    fn check_layout_size(
        &self,
        layout: &Layout,
        info: &meta::SealInfo,
        stored: u64,
        bucket: &str,
        key: &str,
    ) -> S3Result<()> {
        if layout.stored_len(info.segment) == stored {
            Ok(())
        } else {
            Err(self.refused(bucket, key, "stored size differs from the committed layout"))
        }
    }

    /// Counts and logs a refused object; the error for the client.
    fn refused(&self, bucket: &str, key: &str, why: &str) -> S3Error {
        self.count_failure(bucket, key, why);
        tampered()
    }

    /// Counts and logs a stored object that failed authentication.
    fn count_failure(&self, bucket: &str, key: &str, why: &str) {
        self.stats
            .decrypt_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::error!(%bucket, %key, reason = why, "refusing GET: stored object failed authentication");
    }

    pub(super) fn opening(
        &self,
        body: StreamingBlob,
        opener: StreamOpener,
        skip: u64,
        deliver: u64,
        bucket: &str,
        key: &str,
    ) -> StreamingBlob {
        let stats = self.stats.clone();
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let on_tamper = Box::new(move |why: &str| {
            stats
                .decrypt_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(%bucket, %key, reason = why, "aborting GET: stored object failed authentication");
        });
        StreamingBlob::new(OpeningStream::new(body, opener, skip, deliver, on_tamper))
    }
}

/// Opens the first plaintext chunk before answering: a stored object that fails at its
/// first segment gets a clear 403 (or a 503 when the store's answer broke off) instead of a
/// connection closed before the status line, or a 206 cut at byte 0.
async fn first_checked(body: StreamingBlob) -> S3Result<StreamingBlob> {
    match super::body::peek(body, 1).await {
        Ok((_, body)) => Ok(body),
        Err(e) if e.to_string().starts_with("upstream body failed") => Err(S3Error::with_message(
            s3s::S3ErrorCode::ServiceUnavailable,
            "the store's answer broke off before any byte was sent; retry",
        )),
        // Counted and logged by the opening stream.
        Err(_) => Err(tampered()),
    }
}

/// What the reader must see: single-PUT objects are one stream (part 0) on the global grid;
/// multipart objects are checked by the part chain rule, and on a full read against the
/// part count of the store's ETag (`…-N`) when it has one.
pub(super) fn expect_for(
    info: &meta::SealInfo,
    up_etag: &ETag,
    first_segment: u64,
    reaches_end: bool,
) -> Expect {
    if info.multipart {
        let parts = up_etag
            .value()
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse::<u32>().ok());
        Expect::multipart(first_segment == 0, reaches_end, parts)
    } else {
        Expect::single(first_segment, reaches_end)
    }
}

/// Translates the store's `bytes a-b/T` for one part of an aligned object into plaintext
/// coordinates: every earlier part is whole segments, so offsets scale by S/(S+32).
fn part_range(store_range: &str, part_plain: u64, segment: u32) -> Option<String> {
    let (first, _, total) = size::parse_content_range(store_range)?;
    let full = u64::from(segment) + size::SEGMENT_OVERHEAD;
    if !first.is_multiple_of(full) {
        return None;
    }
    let p_first = first / full * u64::from(segment);
    let p_total = size::plain_len(total, segment)?;
    let p_last = (p_first + part_plain).checked_sub(1)?;
    Some(format!("bytes {p_first}-{p_last}/{p_total}"))
}

/// S3's answer to a partNumber the object does not have.
fn invalid_part_number() -> S3Error {
    let mut e = S3Error::with_message(
        s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    e
}

/// HEAD carries the tag count as a plain header (s3s's output has no field for it).
fn hide_layout_tags_header(headers: &mut http::HeaderMap, layout: &Layout) {
    let Some(n) = headers
        .get("x-amz-tagging-count")
        .and_then(|v| v.to_str().ok()?.parse::<i32>().ok())
    else {
        return;
    };
    let mut count = Some(n);
    hide_layout_tags(&mut count, layout);
    match count {
        Some(c) => {
            headers.insert("x-amz-tagging-count", http::HeaderValue::from(c));
        }
        None => {
            headers.remove("x-amz-tagging-count");
        }
    }
}

/// The tag count clients see leaves out the layout's tags, as GetObjectTagging does.
fn hide_layout_tags(count: &mut Option<i32>, layout: &Layout) {
    let ours = layout.tag_count() as i32;
    *count = count.map(|n| n - ours).filter(|n| *n > 0);
}

fn finish_get(
    out: &mut GetObjectOutput,
    md5_hex: Option<&str>,
    visible: ETag,
    len: u64,
    range: Option<String>,
) {
    out.content_length = Some(len as i64);
    out.content_range = range;
    out.e_tag = Some(visible);
    meta::client_view(&mut out.metadata, md5_hex);
    out.checksum_crc32 = None;
    out.checksum_crc32c = None;
    out.checksum_sha1 = None;
    out.checksum_sha256 = None;
    out.checksum_crc64nvme = None;
    out.checksum_type = None;
    out.accept_ranges = Some("bytes".into());
}

fn set_checksums_put(out: &mut PutObjectOutput, sums: Checksum) {
    out.checksum_crc32 = sums.checksum_crc32;
    out.checksum_crc32c = sums.checksum_crc32c;
    out.checksum_sha1 = sums.checksum_sha1;
    out.checksum_sha256 = sums.checksum_sha256;
    out.checksum_crc64nvme = sums.checksum_crc64nvme;
    out.checksum_type = None;
}

fn take_preconditions_get(i: &mut GetObjectInput) -> Preconditions {
    Preconditions {
        if_match: i.if_match.take(),
        if_none_match: i.if_none_match.take(),
        if_modified_since: i.if_modified_since.take(),
        if_unmodified_since: i.if_unmodified_since.take(),
    }
}

fn restore_preconditions_get(i: &mut GetObjectInput, p: Preconditions) {
    i.if_match = p.if_match;
    i.if_none_match = p.if_none_match;
    i.if_modified_since = p.if_modified_since;
    i.if_unmodified_since = p.if_unmodified_since;
}

fn to_byte_range(r: &Range) -> ByteRange {
    match *r {
        Range::Int {
            first,
            last: Some(last),
        } => ByteRange::FromTo(first, last),
        Range::Int { first, last: None } => ByteRange::From(first),
        Range::Suffix { length } => ByteRange::Suffix(length),
    }
}

/// The plaintext length the client declared. aws-chunked bodies carry it in
/// x-amz-decoded-content-length; S3 refuses uploads of unknown length, and so do we.
pub(super) fn plaintext_length(
    content_length: Option<i64>,
    headers: &http::HeaderMap,
) -> S3Result<u64> {
    if let Some(v) = headers.get("x-amz-decoded-content-length") {
        return v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| {
                s3_error!(
                    InvalidArgument,
                    "x-amz-decoded-content-length is not a number"
                )
            });
    }
    match content_length {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(s3_error!(
            MissingContentLength,
            "You must provide the Content-Length HTTP header."
        )),
    }
}

pub(super) fn decode_md5(b64: &str) -> S3Result<[u8; 16]> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|v| <[u8; 16]>::try_from(v).ok())
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))
}

pub(super) fn hasher_for(
    claims: &Checksum,
    alg: Option<&ChecksumAlgorithm>,
) -> S3Result<s3s::checksum::ChecksumHasher> {
    use s3s::crypto::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
    let mut h = s3s::checksum::ChecksumHasher::default();
    let want = |name: &str| alg.is_some_and(|a| a.as_str().eq_ignore_ascii_case(name));
    if claims.checksum_crc32.is_some() || want("CRC32") {
        h.crc32 = Some(Crc32::default());
    }
    if claims.checksum_crc32c.is_some() || want("CRC32C") {
        h.crc32c = Some(Crc32c::default());
    }
    if claims.checksum_sha1.is_some() || want("SHA1") {
        h.sha1 = Some(Sha1::default());
    }
    if claims.checksum_sha256.is_some() || want("SHA256") {
        h.sha256 = Some(Sha256::default());
    }
    if claims.checksum_crc64nvme.is_some() || want("CRC64NVME") {
        h.crc64nvme = Some(Crc64Nvme::default());
    }
    if let Some(a) = alg
        && !["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]
            .iter()
            .any(|n| a.as_str().eq_ignore_ascii_case(n))
    {
        return Err(s3_error!(InvalidArgument, "Unsupported checksum algorithm"));
    }
    Ok(h)
}

/// The trailer fields a request's `x-amz-trailer` header promises (lowercase).
pub(super) fn declared_trailers(h: &http::HeaderMap) -> Vec<String> {
    h.get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

pub(super) fn put_failure(f: PutFailure) -> S3Error {
    match f {
        PutFailure::BadDigest(m) => S3Error::with_message(s3s::S3ErrorCode::BadDigest, m),
        PutFailure::ChecksumMismatch(m) => S3Error::with_message(s3s::S3ErrorCode::BadDigest, m),
        PutFailure::Incomplete(m) => S3Error::with_message(s3s::S3ErrorCode::IncompleteBody, m),
        PutFailure::TooLong => s3_error!(
            InvalidRequest,
            "The request body is longer than its declared Content-Length."
        ),
        PutFailure::MissingTrailer(m) => {
            let code = s3s::S3ErrorCode::Custom("MalformedTrailerError".into());
            let mut e = S3Error::with_message(code, m);
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            e
        }
        PutFailure::Client(m) => S3Error::with_message(
            s3s::S3ErrorCode::IncompleteBody,
            format!("the request body could not be read: {m}"),
        ),
    }
}

pub(super) fn bad_meta(e: meta::BadMeta) -> S3Error {
    S3Error::with_message(s3s::S3ErrorCode::InvalidObjectState, e.to_string())
}

pub(super) fn corrupt_size() -> S3Error {
    s3_error!(
        InvalidObjectState,
        "the stored object's size does not fit its s3seal layout (truncated or not aligned)"
    )
}

/// A stored object that failed authentication before anything was sent.
pub(super) fn tampered() -> S3Error {
    s3_error!(
        InvalidObjectState,
        "the stored object failed authentication (modified, truncated or forged in the store); nothing was served"
    )
}

pub(super) fn empty_blob() -> StreamingBlob {
    StreamingBlob::from(s3s::Body::empty())
}

/// A HEAD with Range answers as the GET would: the range's length and Content-Range (the
/// HTTP layer makes it a 206), or 416 when it lies past the end.
fn head_range(out: &mut HeadObjectOutput, range: Option<&Range>, full: u64) -> S3Result<()> {
    let Some(r) = range else {
        return Ok(());
    };
    // As the GET answers: a suffix range of an empty object is the whole (empty) object, 200;
    // no other range of it is satisfiable (s3s gives the suffix the empty span 0..0, and
    // `end - 1` would wrap to 2^64 - 1).
    if full == 0 && matches!(r, Range::Suffix { length } if *length > 0) {
        return Ok(());
    }
    let span = r
        .check(full)
        .ok()
        .filter(|s| s.end > s.start)
        .ok_or_else(|| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
    out.content_length = Some((span.end - span.start) as i64);
    out.content_range = Some(format!("bytes {}-{}/{full}", span.start, span.end - 1));
    Ok(())
}

/// The `s3seal-md5s` value for a plaintext MD5 under the object's DEK.
pub(super) fn sealed_md5(dek: &crate::format::Dek, md5: &[u8; 16]) -> String {
    use base64::Engine;
    let sealed = crate::format::digest::seal_md5(dek, md5);
    base64::engine::general_purpose::STANDARD.encode(sealed)
}
