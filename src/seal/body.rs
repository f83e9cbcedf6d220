//! Body streams: the sealing stream that PUT and UploadPart send upstream, and the opening
//! stream that GET returns. Both are constant-memory adapters over `Bytes` chunks.

use super::plain_md5::PlainMd5;
use crate::format::{Dek, StreamOpener, StreamSealer};
use bytes::Bytes;
use futures::Stream;
use s3s::StdError;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, StreamingBlob};
use s3s::stream::{ByteStream, RemainingLength};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// What the client promised about the plaintext, checked before the final segment is sealed,
/// so a mismatch aborts the upstream write instead of completing it with a bad body.
#[derive(Default)]
pub struct Expectations {
    /// Declared plaintext length (Content-Length or x-amz-decoded-content-length).
    pub length: u64,
    /// Content-MD5, raw 16 bytes.
    pub md5: Option<[u8; 16]>,
    /// Flexible checksums sent as headers.
    pub checksums: Checksum,
    /// Hashers for the algorithms the client declared (header or trailer).
    pub hasher: ChecksumHasher,
    /// The aws-chunked trailer, readable once the body has been consumed.
    pub trailers: Option<s3s::TrailingHeaders>,
    /// The trailer fields `x-amz-trailer` declared (lowercase); each must arrive.
    pub declared_trailers: Vec<String>,
    /// The caller needs the plaintext MD5 even without Content-MD5 (the part ETag of an
    /// upload begun before ETags stopped being MD5s). Otherwise MD5 — the costliest step of
    /// sealing — is skipped.
    pub need_md5: bool,
}

/// Why a sealed upload failed on our side; read by the caller after the upstream call fails,
/// so the client gets the precise S3 error rather than the upstream's view of a cut body.
#[derive(Debug, Clone)]
pub enum PutFailure {
    BadDigest(String),
    ChecksumMismatch(String),
    Incomplete(String),
    TooLong,
    Client(String),
    /// A trailer `x-amz-trailer` declared never came: the checksum went unchecked.
    MissingTrailer(String),
}

/// Shared between the stream and the handler that awaits the upstream.
#[derive(Default)]
pub struct PutOutcome {
    pub md5: Option<[u8; 16]>,
    pub checksums: Option<Checksum>,
    pub failure: Option<PutFailure>,
}

pub type SharedOutcome = Arc<Mutex<PutOutcome>>;

/// Wraps a plaintext body as the sealed stream of `part` (0 for a single PUT); returns the
/// upstream body, the outcome the handler reads afterwards, and the stored length.
pub fn sealed_body(
    body: Option<StreamingBlob>,
    dek: &Dek,
    part: u32,
    segment: u32,
    expect: Expectations,
    committed: bool,
) -> (StreamingBlob, SharedOutcome, u64) {
    let stored = crate::format::size::stored_len(expect.length, segment);
    let outcome = Arc::new(Mutex::new(PutOutcome::default()));
    let sealer = if committed {
        StreamSealer::committed_part(dek, part, segment)
    } else {
        StreamSealer::with_random_salt(dek, part, segment)
    };
    let stream = SealingStream::new(body, sealer, stored, expect, outcome.clone());
    (StreamingBlob::new(stream), outcome, stored)
}

/// Takes the outcome once the upstream call has returned.
pub fn take_outcome(o: &SharedOutcome) -> PutOutcome {
    std::mem::take(&mut *o.lock().expect("outcome lock"))
}

/// Plaintext in, sealed segments out.
pub struct SealingStream {
    input: Option<StreamingBlob>,
    sealer: Option<StreamSealer>,
    out: VecDeque<Bytes>,
    seen: u64,
    stored_len: u64,
    sent: u64,
    md5: PlainMd5,
    expect: Option<Expectations>,
    outcome: SharedOutcome,
}

impl SealingStream {
    pub fn new(
        input: Option<StreamingBlob>,
        sealer: StreamSealer,
        stored_len: u64,
        expect: Expectations,
        outcome: SharedOutcome,
    ) -> Self {
        SealingStream {
            input,
            sealer: Some(sealer),
            out: VecDeque::new(),
            seen: 0,
            stored_len,
            sent: 0,
            md5: if expect.md5.is_some() || expect.need_md5 {
                PlainMd5::for_len(expect.length)
            } else {
                PlainMd5::Off
            },
            expect: Some(expect),
            outcome,
        }
    }

    fn fail(&mut self, f: PutFailure) -> Poll<Option<Result<Bytes, StdError>>> {
        let msg = format!("{f:?}");
        self.outcome.lock().expect("outcome lock").failure = Some(f);
        self.input = None;
        self.sealer = None;
        Poll::Ready(Some(Err(msg.into())))
    }

    /// End of plaintext: verify everything the client promised, then seal the final segment.
    fn finish(&mut self, md5: [u8; 16]) -> Result<(), PutFailure> {
        let mut expect = self.expect.take().expect("finish once");
        if self.seen != expect.length {
            return Err(PutFailure::Incomplete(format!(
                "body had {} bytes, Content-Length said {}",
                self.seen, expect.length
            )));
        }
        if let Some(want) = expect.md5
            && want != md5
        {
            return Err(PutFailure::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            ));
        }
        let mut claimed = std::mem::take(&mut expect.checksums);
        let trailers = expect.trailers.take().and_then(|t| t.take());
        for name in &expect.declared_trailers {
            if !trailers
                .as_ref()
                .is_some_and(|t| t.contains_key(name.as_str()))
            {
                return Err(PutFailure::MissingTrailer(format!(
                    "The request declared the trailer {name} in x-amz-trailer but did not send it."
                )));
            }
        }
        if let Some(t) = trailers {
            for (name, slot) in [
                ("x-amz-checksum-crc32", &mut claimed.checksum_crc32),
                ("x-amz-checksum-crc32c", &mut claimed.checksum_crc32c),
                ("x-amz-checksum-sha1", &mut claimed.checksum_sha1),
                ("x-amz-checksum-sha256", &mut claimed.checksum_sha256),
                ("x-amz-checksum-crc64nvme", &mut claimed.checksum_crc64nvme),
            ] {
                if let Some(v) = t.get(name) {
                    *slot = v.to_str().ok().map(str::to_owned);
                }
            }
        }
        let computed = std::mem::take(&mut expect.hasher).finalize();
        for (name, want, got) in [
            ("CRC32", &claimed.checksum_crc32, &computed.checksum_crc32),
            (
                "CRC32C",
                &claimed.checksum_crc32c,
                &computed.checksum_crc32c,
            ),
            ("SHA1", &claimed.checksum_sha1, &computed.checksum_sha1),
            (
                "SHA256",
                &claimed.checksum_sha256,
                &computed.checksum_sha256,
            ),
            (
                "CRC64NVME",
                &claimed.checksum_crc64nvme,
                &computed.checksum_crc64nvme,
            ),
        ] {
            if want.is_some() && want != got {
                return Err(PutFailure::ChecksumMismatch(format!(
                    "The {name} you specified did not match the calculated checksum."
                )));
            }
        }
        let mut o = self.outcome.lock().expect("outcome lock");
        o.md5 = Some(md5);
        o.checksums = Some(computed);
        drop(o);
        let mut segs = Vec::new();
        self.sealer
            .take()
            .expect("sealer present")
            .finish(&mut segs);
        self.out.extend(segs);
        Ok(())
    }
}

impl Stream for SealingStream {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.out.pop_front() {
                this.sent += b.len() as u64;
                return Poll::Ready(Some(Ok(b)));
            }
            if this.sealer.is_none() {
                return Poll::Ready(None);
            }
            let next = match this.input.as_mut() {
                Some(input) => {
                    if this.md5.poll_room(cx).is_pending() {
                        return Poll::Pending;
                    }
                    match Pin::new(input).poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(n) => n,
                    }
                }
                None => None,
            };
            match next {
                Some(Ok(chunk)) => {
                    this.seen += chunk.len() as u64;
                    let limit = this.expect.as_ref().map_or(0, |e| e.length);
                    if this.seen > limit {
                        return this.fail(PutFailure::TooLong);
                    }
                    this.md5.update(&chunk);
                    if let Some(e) = this.expect.as_mut() {
                        e.hasher.update(&chunk);
                    }
                    let mut segs = Vec::new();
                    this.sealer
                        .as_mut()
                        .expect("sealer present")
                        .push(chunk, &mut segs);
                    this.out.extend(segs);
                }
                Some(Err(e)) => return this.fail(PutFailure::Client(e.to_string())),
                None => {
                    this.input = None;
                    let md5 = match this.md5.poll_result(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(md5)) => md5,
                        Poll::Ready(None) => {
                            return this
                                .fail(PutFailure::Client("plaintext hasher stopped".into()));
                        }
                    };
                    if let Err(f) = this.finish(md5) {
                        return this.fail(f);
                    }
                }
            }
        }
    }
}

impl ByteStream for SealingStream {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact((self.stored_len - self.sent) as usize)
    }
}

/// Stored bytes in, verified plaintext out. Skips and truncates to the requested range;
/// any authentication failure ends the stream with an error, which aborts the response.
///
/// The plaintext that completes the response (its last bytes) is held back until the store's
/// answer has ended and the opener's end checks passed: the client's Content-Length is only
/// ever reached by a read that is verified in full, so every failure (truncation, data
/// after the end, a store answer that ends early) is a cut transfer, never a clean short body.
pub struct OpeningStream {
    input: Option<StreamingBlob>,
    opener: Option<StreamOpener>,
    out: VecDeque<Bytes>,
    /// The last plaintext of the response, released only after the end checks.
    tail: Option<Bytes>,
    skip: u64,
    remaining: u64,
    on_tamper: Option<OnTamper>,
}

/// Called once when a stored segment fails to open: counts and logs it.
pub type OnTamper = Box<dyn FnOnce(&str) + Send + Sync>;

impl OpeningStream {
    pub fn new(
        input: StreamingBlob,
        opener: StreamOpener,
        skip: u64,
        deliver: u64,
        on_tamper: OnTamper,
    ) -> Self {
        OpeningStream {
            input: Some(input),
            opener: Some(opener),
            out: VecDeque::new(),
            tail: None,
            skip,
            remaining: deliver,
            on_tamper: Some(on_tamper),
        }
    }

    fn take_plain(&mut self, segs: Vec<Bytes>) {
        for mut b in segs {
            if self.skip > 0 {
                let n = self.skip.min(b.len() as u64);
                let _ = b.split_to(n as usize);
                self.skip -= n;
            }
            if b.len() as u64 > self.remaining {
                b.truncate(self.remaining as usize);
            }
            if !b.is_empty() {
                self.remaining -= b.len() as u64;
                if self.remaining == 0 {
                    self.tail = Some(b);
                } else {
                    self.out.push_back(b);
                }
            }
        }
    }

    fn fail(&mut self, msg: String) -> Poll<Option<Result<Bytes, StdError>>> {
        if let Some(f) = self.on_tamper.take() {
            f(&msg);
        }
        self.input = None;
        self.opener = None;
        self.out.clear();
        self.tail = None;
        Poll::Ready(Some(Err(msg.into())))
    }
}

impl Stream for OpeningStream {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(b)));
            }
            let Some(opener) = this.opener.as_mut() else {
                return Poll::Ready(None);
            };
            let next = match this.input.as_mut() {
                Some(input) => match Pin::new(input).poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(n) => n,
                },
                None => None,
            };
            match next {
                Some(Ok(chunk)) => {
                    let mut segs = Vec::new();
                    if let Err(e) = opener.push(chunk, &mut segs) {
                        return this.fail(format!("sealed object failed verification: {e}"));
                    }
                    this.take_plain(segs);
                }
                Some(Err(e)) => return this.fail(format!("upstream body failed: {e}")),
                None => {
                    this.input = None;
                    let opener = this.opener.take().expect("opener present");
                    let mut segs = Vec::new();
                    if let Err(e) = opener.finish(&mut segs) {
                        return this.fail(format!("sealed object failed verification: {e}"));
                    }
                    this.take_plain(segs);
                    if this.remaining != 0 {
                        return this.fail("sealed object is shorter than its size".into());
                    }
                    this.out.extend(this.tail.take());
                }
            }
        }
    }
}

impl ByteStream for OpeningStream {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(
            self.remaining as usize
                + self.out.iter().map(Bytes::len).sum::<usize>()
                + self.tail.as_ref().map_or(0, Bytes::len),
        )
    }
}

/// Reads at least `n` leading bytes of `body` (fewer only if it is shorter) and returns them
/// with a body that still yields every byte, so a policy can look before anything is sent.
pub async fn peek(body: StreamingBlob, n: usize) -> Result<(Bytes, StreamingBlob), StdError> {
    use futures::StreamExt;
    let mut rest = body;
    let mut head = bytes::BytesMut::new();
    while head.len() < n {
        match rest.next().await {
            Some(chunk) => head.extend_from_slice(&chunk?),
            None => break,
        }
    }
    let head = head.freeze();
    let body = Prefixed {
        head: (!head.is_empty()).then(|| head.clone()),
        rest,
    };
    Ok((head, StreamingBlob::new(body)))
}

/// A body whose first bytes were already read.
struct Prefixed {
    head: Option<Bytes>,
    rest: StreamingBlob,
}

impl Stream for Prefixed {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(h)));
        }
        Pin::new(&mut self.rest).poll_next(cx)
    }
}

impl ByteStream for Prefixed {
    fn remaining_length(&self) -> RemainingLength {
        let h = self.head.as_ref().map_or(0, Bytes::len);
        let r = self.rest.remaining_length();
        match r.exact() {
            Some(e) => RemainingLength::new_exact(e + h),
            None => RemainingLength::unknown(),
        }
    }
}
