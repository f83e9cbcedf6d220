//! `Seal`: the encryption layer, an `s3s::S3` middleware over the upstream store.
//!
//! This file is the one place that decides, per S3 operation, "forward unchanged" or
//! "transform": the `impl S3` block below lists the transformed operations (implemented in
//! the sibling modules, one concern each), the ones refused because their semantics cannot
//! hold on ciphertext, and — in the `forward!` list — everything passed through untouched
//! (bucket configuration, ACLs, tagging, deletes...).

mod attributes;
mod body;
pub mod bucket_policy;
mod copy;
mod cors_rules;
mod etag;
mod keyring;
mod layout;
mod list;
pub mod meta;
mod multipart;
mod object;
mod plain_md5;
mod ssec;
mod upload_id;
mod write_cond;

pub use keyring::SealKeys;

use crate::lean::listing::{Listing, Spliced, WantRaw};
use crate::upstream::Upstream;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Counters the metrics endpoint exports.
#[derive(Default)]
pub struct Stats {
    /// GETs aborted because a stored segment failed authentication.
    pub decrypt_failures: AtomicU64,
}

/// The S3 middleware. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct Seal {
    /// The real store; receives only ciphertext and wrapped keys.
    up: Upstream,
    /// Wraps new DEKs and unwraps stored ones (through the DEK cache).
    keys: Arc<SealKeys>,
    /// Plaintext segment size of new objects; also what LIST assumes (docs/FORMAT.md).
    segment: u32,
    pub stats: Arc<Stats>,
    /// Set when the store is the embedded s3s-fs directory, to fix up its error codes.
    local_root: Option<std::path::PathBuf>,
    /// Storage policy per bucket/prefix (mode, size and type limits).
    buckets: Arc<bucket_policy::BucketPolicies>,
    /// Users' access rules, to show each user only the buckets its rules name.
    access: Option<crate::policy::Policy>,
    /// Verified multipart layouts (docs/FORMAT.md §5).
    layouts: Arc<layout::LayoutCache>,
    /// `encryption.commit_layout`: new multipart uploads commit their layout at Complete.
    commit_layout: bool,
    /// Whether clients reach the gateway over TLS: the scheme of the URLs it hands out.
    https: bool,
    /// Serialises each key's store Complete and layout commit (striped by key hash): two
    /// Completes of one key interleaved would put one upload's layout on the other's body.
    completing: Arc<[tokio::sync::Mutex<()>]>,
    /// Buckets' CORS rules, for answering browsers (`cors_rules`).
    cors: Arc<cors_rules::CorsCache>,
    /// `server.domains`, to answer URLs in the client's addressing style.
    domains: Arc<crate::vhost::Domains>,
}

const COMPLETE_STRIPES: usize = 256;

impl Seal {
    /// The lock a Complete of `bucket/key` holds from the store's Complete to its layout.
    fn completing(&self, bucket: &str, key: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one((bucket, key));
        &self.completing[(h % COMPLETE_STRIPES as u64) as usize]
    }

    pub fn new(up: Upstream, keys: SealKeys) -> Self {
        Seal {
            up,
            keys: Arc::new(keys),
            segment: crate::format::size::DEFAULT_SEGMENT,
            stats: Arc::default(),
            local_root: None,
            buckets: Arc::default(),
            access: None,
            layouts: Arc::default(),
            commit_layout: true,
            https: false,
            completing: (0..COMPLETE_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            cors: Arc::default(),
            domains: Arc::default(),
        }
    }

    /// Unwrapped-key cache counters, for metrics.
    pub fn cache_stats(&self) -> crate::keys::CacheStats {
        self.keys.keyring().cache_stats()
    }

    /// Calls the key provider made to a remote service (KMS).
    pub fn key_provider_calls(&self) -> u64 {
        self.keys.keyring().provider().remote_calls()
    }

    /// One cheap call to the store (ListBuckets), for /readyz.
    pub async fn probe_upstream(&self) -> Result<(), String> {
        let req = internal_request(ListBucketsInput::default());
        self.up
            .list_buckets(req)
            .await
            .map(|_| ())
            .map_err(|e| format!("{}: {}", e.code().as_str(), e.message().unwrap_or("")))
    }

    /// ListBuckets then lists, for a restricted user, only the buckets some rule names.
    pub fn with_policy(mut self, p: crate::policy::Policy) -> Self {
        self.access = Some(p);
        self
    }

    pub fn with_https(mut self, on: bool) -> Self {
        self.https = on;
        self
    }

    /// The URL of `bucket/key` at this gateway, as the client addressed it.
    fn location(&self, headers: &http::HeaderMap, bucket: &str, key: &str) -> Option<String> {
        let host = headers.get(http::header::HOST)?.to_str().ok()?;
        let virtual_host = self.domains.bucket_of(host) == Some(bucket);
        Some(object_url(
            self.https,
            host,
            (!virtual_host).then_some(bucket),
            key,
        ))
    }

    pub fn with_domains(mut self, d: crate::vhost::Domains) -> Self {
        self.domains = Arc::new(d);
        self
    }

    pub fn with_commit_layout(mut self, on: bool) -> Self {
        self.commit_layout = on;
        self
    }

    pub fn with_bucket_policies(mut self, p: bucket_policy::BucketPolicies) -> Self {
        self.buckets = Arc::new(p);
        self
    }

    /// Under a `require` policy, objects without s3seal metadata are never served: someone
    /// with write access to the store may have put plaintext there.
    fn refuse_plaintext(&self, bucket: &str, key: &str) -> S3Result<()> {
        if self.buckets.lookup(bucket, key).mode == crate::config::BucketMode::Require {
            tracing::warn!(
                bucket,
                key,
                "unencrypted object refused by a require policy"
            );
            return Err(s3_error!(
                AccessDenied,
                "{bucket}/{key} is not encrypted, and this location's policy requires encryption"
            ));
        }
        Ok(())
    }

    /// Tells the layer the store is an s3s-fs directory at `root` (the embedded default).
    pub fn with_local_root(mut self, root: std::path::PathBuf) -> Self {
        self.local_root = Some(root);
        self
    }

    /// s3s-fs answers a GET or HEAD of a key that is a directory on disk ("photos" when
    /// "photos/a.jpg" exists) with InternalError; S3 says NoSuchKey, and rclone relies on it.
    fn local_dir_is_missing(&self, e: s3s::S3Error, bucket: &str, key: &str) -> s3s::S3Error {
        let is_dir = self
            .local_root
            .as_ref()
            .is_some_and(|r| !key.contains("..") && r.join(bucket).join(key).is_dir());
        if is_dir && *e.code() == s3s::S3ErrorCode::InternalError {
            return s3_error!(NoSuchKey);
        }
        e
    }

    /// Segment size of new objects. Choose once per deployment: LIST infers plaintext
    /// sizes with it (docs/FORMAT.md).
    pub fn with_segment(mut self, segment: u32) -> Self {
        self.segment = segment;
        self
    }
}

/// A request for another operation on behalf of `req`: same caller, same credentials.
/// `partNumber` on GET/HEAD, as S3 validates it (some stores ignore it).
fn check_part_number(n: Option<i32>) -> S3Result<()> {
    match n {
        Some(n) if !(1..=10_000).contains(&n) => Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        )),
        _ => Ok(()),
    }
}

/// A request the gateway itself makes to the store (readiness, rotation, tools).
pub fn internal_request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

pub(crate) fn sub_request<T, U>(req: &S3Request<T>, input: U) -> S3Request<U> {
    S3Request {
        input,
        method: req.method.clone(),
        uri: req.uri.clone(),
        headers: req.headers.clone(),
        extensions: http::Extensions::new(),
        credentials: req.credentials.clone(),
        region: req.region.clone(),
        service: req.service.clone(),
        trailing_headers: None,
    }
}

/// Generates methods that hand the request to the upstream untouched. They are written in
/// the desugared form `async_trait` produces, because a macro inside an `#[async_trait]`
/// impl is expanded after that attribute has run.
macro_rules! forward {
    ($($op:ident: $input:ty => $output:ty;)*) => {
        $(
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.up.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Seal {
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        layout::reject_reserved_header(req.input.tagging.as_deref())?;
        self.judge_conditions(&mut req).await?;
        let ce = req.input.content_encoding.take();
        req.input.content_encoding = crate::s3_ops::stored_content_encoding(ce);
        let i = &req.input;
        let policy = self.buckets.lookup(&i.bucket, &i.key);
        let length = object::plaintext_length(i.content_length, &req.headers)?;
        let ct = i.content_type.clone();
        policy.check_declared(&i.bucket, Some(length), ct.as_deref())?;
        if policy.sniffs()
            && let Some(body) = req.input.body.take()
        {
            let (head, body) = body::peek(body, bucket_policy::SNIFF_LEN)
                .await
                .map_err(|e| s3_error!(IncompleteBody, "reading the request body failed: {e}"))?;
            policy.check_leading_bytes(ct.as_deref(), &head)?;
            req.input.body = Some(body);
        }
        // A customer key asks for encryption; it is honoured even under passthrough.
        if policy.mode == crate::config::BucketMode::Passthrough
            && req.input.sse_customer_key.is_none()
        {
            meta::reject_reserved(req.input.metadata.as_ref())?;
            meta::stamp_owner(&mut req.input.metadata, req.credentials.as_ref());
            // The limit and the declared length hold for the bytes actually stored.
            let bucket = req.input.bucket.clone();
            let (body, outcome) =
                bucket_policy::counted(req.input.body.take(), length, policy.max_size());
            req.input.body = Some(body);
            req.input.content_length = Some(length as i64);
            let r = self.up.put_object(req).await;
            if let Some(f) = bucket_policy::take_failure(&outcome) {
                return Err(f.to_s3(&bucket, length));
            }
            return r;
        }
        self.put_object_sealed(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        check_part_number(req.input.part_number)?;
        let (b, k) = (req.input.bucket.clone(), req.input.key.clone());
        let r = self.get_object_sealed(req).await;
        r.map_err(|e| self.local_dir_is_missing(e, &b, &k))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        check_part_number(req.input.part_number)?;
        let (b, k) = (req.input.bucket.clone(), req.input.key.clone());
        let r = self.head_object_sealed(req).await;
        r.map_err(|e| self.local_dir_is_missing(e, &b, &k))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        layout::reject_reserved_header(req.input.tagging.as_deref())?;
        self.copy_object_sealed(req).await
    }

    async fn create_multipart_upload(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        layout::reject_reserved_header(req.input.tagging.as_deref())?;
        let i = &req.input;
        let policy = self.buckets.lookup(&i.bucket, &i.key);
        policy.check_declared(&i.bucket, None, i.content_type.as_deref())?;
        if policy.mode == crate::config::BucketMode::Passthrough
            && req.input.sse_customer_key.is_none()
        {
            meta::reject_reserved(req.input.metadata.as_ref())?;
            meta::stamp_owner(&mut req.input.metadata, req.credentials.as_ref());
            return self.up.create_multipart_upload(req).await;
        }
        self.create_multipart_sealed(req).await
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let i = &req.input;
        let policy = self.buckets.lookup(&i.bucket, &i.key);
        let length = object::plaintext_length(i.content_length, &req.headers)?;
        policy.check_size(&i.bucket, length)?;
        if policy.mode == crate::config::BucketMode::Passthrough
            && !upload_id::is_ours(&i.upload_id)
        {
            let bucket = i.bucket.clone();
            let (body, outcome) =
                bucket_policy::counted(req.input.body.take(), length, policy.max_size());
            req.input.body = Some(body);
            req.input.content_length = Some(length as i64);
            let r = self.up.upload_part(req).await;
            if let Some(f) = bucket_policy::take_failure(&outcome) {
                return Err(f.to_s3(&bucket, length));
            }
            return r;
        }
        self.upload_part_sealed(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.upload_part_copy_sealed(req).await
    }

    async fn complete_multipart_upload(
        &self,
        mut req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.judge_conditions(&mut req).await?;
        let i = &req.input;
        let location = self.location(&req.headers, &i.bucket, &i.key);
        let policy = self.buckets.lookup(&i.bucket, &i.key);
        let mut resp = if policy.mode == crate::config::BucketMode::Passthrough
            && !upload_id::is_ours(&i.upload_id)
        {
            self.up.complete_multipart_upload(req).await?
        } else {
            // The store's Complete and the layout tags that make the object readable are two
            // calls; a client that gives up between them (a read timeout on a long Complete)
            // would drop this future and leave an object no read accepts. Run to the end.
            let this = self.clone();
            tokio::spawn(async move { this.complete_multipart_sealed(req).await })
                .await
                .map_err(|e| s3_error!(InternalError, "completing the upload failed: {e}"))??
        };
        // The object's URL as the client addressed the gateway; never the store's.
        resp.output.location = location;
        Ok(resp)
    }

    async fn delete_object(
        &self,
        mut req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        if req.input.version_id.is_none() {
            self.judge_conditions(&mut req).await?;
        }
        self.up.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.delete_objects_conditional(req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        self.get_tagging_visible(req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        self.put_tagging_keeping(req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        self.delete_tagging_keeping(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.abort_multipart_sealed(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.list_parts_sealed(req).await
    }

    async fn list_object_versions(
        &self,
        mut req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        list::normalize_delimiter(&mut req.input.delimiter);
        let bucket = req.input.bucket.clone();
        let sub = sub_request(&req, ());
        let mut resp = self.up.list_object_versions(req).await?;
        if let Some(v) = resp.output.versions.as_mut() {
            let stored: Vec<Option<i64>> = v.iter().map(|o| o.size).collect();
            list::translate_versions(v, self.segment);
            self.list_sizes(&sub, &bucket, v, &stored).await;
        }
        Ok(resp)
    }

    async fn list_objects(
        &self,
        mut req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        list::normalize_delimiter(&mut req.input.delimiter);
        // max-keys=0: S3 answers an empty, untruncated page; some stores (moto) answer
        // in a form the upstream client refuses. Ask for one key and show none.
        let zero = req.input.max_keys == Some(0);
        if zero {
            req.input.max_keys = Some(1);
        }
        let bucket = req.input.bucket.clone();
        let sub = sub_request(&req, ());
        let mut resp = self.up.list_objects(req).await?;
        if let Some(c) = resp.output.contents.as_mut() {
            list::fill_missing_etags(&self.up, self.local_root.as_deref(), &sub, &bucket, c).await;
            let stored: Vec<Option<i64>> = c.iter().map(|o| o.size).collect();
            list::translate(c, self.segment);
            self.list_sizes(&sub, &bucket, c, &stored).await;
        }
        if zero {
            list::empty_page(&mut resp.output);
        }
        Ok(resp)
    }

    async fn list_objects_v2(
        &self,
        mut req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        list::normalize_delimiter(&mut req.input.delimiter);
        // max-keys=0: S3 answers an empty, untruncated page; some stores (moto) answer
        // in a form the upstream client refuses. Ask for one key and show none.
        let zero = req.input.max_keys == Some(0);
        if zero {
            req.input.max_keys = Some(1);
        }
        let bucket = req.input.bucket.clone();
        let sub = sub_request(&req, ());
        if !zero {
            req.extensions.insert(WantRaw);
        }
        let mut resp = self.up.list_objects_v2(req).await?;
        // The lean upstream hands over the store's page as it came: rewrite it in place.
        if let Some(mut page) = resp.extensions.remove::<Listing>() {
            self.translate_page(&sub, &bucket, &mut page).await;
            resp.extensions.insert(Spliced(page.splice()));
            return Ok(resp);
        }
        if let Some(c) = resp.output.contents.as_mut() {
            list::fill_missing_etags(&self.up, self.local_root.as_deref(), &sub, &bucket, c).await;
            let stored: Vec<Option<i64>> = c.iter().map(|o| o.size).collect();
            list::translate(c, self.segment);
            self.list_sizes(&sub, &bucket, c, &stored).await;
        }
        if zero {
            list::empty_page(&mut resp.output);
        }
        Ok(resp)
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let user = req.credentials.as_ref().map(|c| c.access_key.clone());
        let mut resp = self.up.list_buckets(req).await?;
        if let (Some(p), Some(user), Some(list)) =
            (&self.access, user, resp.output.buckets.as_mut())
        {
            list.retain(|b| b.name.as_deref().is_some_and(|n| p.touches(&user, n)));
        }
        // S3 lists buckets in name order; s3s-fs answers in directory order.
        if let Some(list) = resp.output.buckets.as_mut() {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(resp)
    }

    // Operations whose semantics cannot be kept honestly on sealed data: refuse clearly
    // rather than hand ciphertext (or ciphertext sizes) to a client as if it were plaintext.
    async fn select_object_content(
        &self,
        _req: S3Request<SelectObjectContentInput>,
    ) -> S3Result<S3Response<SelectObjectContentOutput>> {
        Err(s3_error!(
            NotImplemented,
            "SelectObjectContent cannot run on encrypted objects: the store only holds ciphertext"
        ))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        // A bucket created again after a delete starts without the old one's CORS rules.
        let bucket = req.input.bucket.clone();
        self.forgetting_cors(bucket, self.up.create_bucket(req))
            .await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket.clone();
        self.forgetting_cors(bucket, self.up.delete_bucket(req))
            .await
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let bucket = req.input.bucket.clone();
        self.forgetting_cors(bucket, self.up.put_bucket_cors(req))
            .await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let bucket = req.input.bucket.clone();
        self.forgetting_cors(bucket, self.up.delete_bucket_cors(req))
            .await
    }

    async fn post_object(
        &self,
        _req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        Err(s3_error!(
            NotImplemented,
            "browser POST uploads are not supported by s3seal; use PUT or a presigned PUT URL"
        ))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        self.get_object_attributes_sealed(req).await
    }

    async fn get_object_torrent(
        &self,
        _req: S3Request<GetObjectTorrentInput>,
    ) -> S3Result<S3Response<GetObjectTorrentOutput>> {
        Err(s3_error!(
            NotImplemented,
            "torrents of encrypted objects are not supported"
        ))
    }

    async fn write_get_object_response(
        &self,
        _req: S3Request<WriteGetObjectResponseInput>,
    ) -> S3Result<S3Response<WriteGetObjectResponseOutput>> {
        Err(s3_error!(
            NotImplemented,
            "Object Lambda is not supported by s3seal"
        ))
    }

    forward! {
        create_bucket_metadata_table_configuration: CreateBucketMetadataTableConfigurationInput => CreateBucketMetadataTableConfigurationOutput;
        create_session: CreateSessionInput => CreateSessionOutput;
        delete_bucket_analytics_configuration: DeleteBucketAnalyticsConfigurationInput => DeleteBucketAnalyticsConfigurationOutput;
        delete_bucket_encryption: DeleteBucketEncryptionInput => DeleteBucketEncryptionOutput;
        delete_bucket_intelligent_tiering_configuration: DeleteBucketIntelligentTieringConfigurationInput => DeleteBucketIntelligentTieringConfigurationOutput;
        delete_bucket_inventory_configuration: DeleteBucketInventoryConfigurationInput => DeleteBucketInventoryConfigurationOutput;
        delete_bucket_lifecycle: DeleteBucketLifecycleInput => DeleteBucketLifecycleOutput;
        delete_bucket_metadata_table_configuration: DeleteBucketMetadataTableConfigurationInput => DeleteBucketMetadataTableConfigurationOutput;
        delete_bucket_metrics_configuration: DeleteBucketMetricsConfigurationInput => DeleteBucketMetricsConfigurationOutput;
        delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => DeleteBucketOwnershipControlsOutput;
        delete_bucket_policy: DeleteBucketPolicyInput => DeleteBucketPolicyOutput;
        delete_bucket_replication: DeleteBucketReplicationInput => DeleteBucketReplicationOutput;
        delete_bucket_tagging: DeleteBucketTaggingInput => DeleteBucketTaggingOutput;
        delete_bucket_website: DeleteBucketWebsiteInput => DeleteBucketWebsiteOutput;
        delete_public_access_block: DeletePublicAccessBlockInput => DeletePublicAccessBlockOutput;
        get_bucket_accelerate_configuration: GetBucketAccelerateConfigurationInput => GetBucketAccelerateConfigurationOutput;
        get_bucket_acl: GetBucketAclInput => GetBucketAclOutput;
        get_bucket_analytics_configuration: GetBucketAnalyticsConfigurationInput => GetBucketAnalyticsConfigurationOutput;
        get_bucket_cors: GetBucketCorsInput => GetBucketCorsOutput;
        get_bucket_encryption: GetBucketEncryptionInput => GetBucketEncryptionOutput;
        get_bucket_intelligent_tiering_configuration: GetBucketIntelligentTieringConfigurationInput => GetBucketIntelligentTieringConfigurationOutput;
        get_bucket_inventory_configuration: GetBucketInventoryConfigurationInput => GetBucketInventoryConfigurationOutput;
        get_bucket_lifecycle_configuration: GetBucketLifecycleConfigurationInput => GetBucketLifecycleConfigurationOutput;
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
        get_bucket_logging: GetBucketLoggingInput => GetBucketLoggingOutput;
        get_bucket_metadata_table_configuration: GetBucketMetadataTableConfigurationInput => GetBucketMetadataTableConfigurationOutput;
        get_bucket_metrics_configuration: GetBucketMetricsConfigurationInput => GetBucketMetricsConfigurationOutput;
        get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => GetBucketNotificationConfigurationOutput;
        get_bucket_ownership_controls: GetBucketOwnershipControlsInput => GetBucketOwnershipControlsOutput;
        get_bucket_policy: GetBucketPolicyInput => GetBucketPolicyOutput;
        get_bucket_policy_status: GetBucketPolicyStatusInput => GetBucketPolicyStatusOutput;
        get_bucket_replication: GetBucketReplicationInput => GetBucketReplicationOutput;
        get_bucket_request_payment: GetBucketRequestPaymentInput => GetBucketRequestPaymentOutput;
        get_bucket_tagging: GetBucketTaggingInput => GetBucketTaggingOutput;
        get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput;
        get_bucket_website: GetBucketWebsiteInput => GetBucketWebsiteOutput;
        get_object_acl: GetObjectAclInput => GetObjectAclOutput;
        get_object_legal_hold: GetObjectLegalHoldInput => GetObjectLegalHoldOutput;
        get_object_lock_configuration: GetObjectLockConfigurationInput => GetObjectLockConfigurationOutput;
        get_object_retention: GetObjectRetentionInput => GetObjectRetentionOutput;
        get_public_access_block: GetPublicAccessBlockInput => GetPublicAccessBlockOutput;
        head_bucket: HeadBucketInput => HeadBucketOutput;
        list_bucket_analytics_configurations: ListBucketAnalyticsConfigurationsInput => ListBucketAnalyticsConfigurationsOutput;
        list_bucket_intelligent_tiering_configurations: ListBucketIntelligentTieringConfigurationsInput => ListBucketIntelligentTieringConfigurationsOutput;
        list_bucket_inventory_configurations: ListBucketInventoryConfigurationsInput => ListBucketInventoryConfigurationsOutput;
        list_bucket_metrics_configurations: ListBucketMetricsConfigurationsInput => ListBucketMetricsConfigurationsOutput;
        list_directory_buckets: ListDirectoryBucketsInput => ListDirectoryBucketsOutput;
        list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput;
        put_bucket_accelerate_configuration: PutBucketAccelerateConfigurationInput => PutBucketAccelerateConfigurationOutput;
        put_bucket_acl: PutBucketAclInput => PutBucketAclOutput;
        put_bucket_analytics_configuration: PutBucketAnalyticsConfigurationInput => PutBucketAnalyticsConfigurationOutput;
        put_bucket_encryption: PutBucketEncryptionInput => PutBucketEncryptionOutput;
        put_bucket_intelligent_tiering_configuration: PutBucketIntelligentTieringConfigurationInput => PutBucketIntelligentTieringConfigurationOutput;
        put_bucket_inventory_configuration: PutBucketInventoryConfigurationInput => PutBucketInventoryConfigurationOutput;
        put_bucket_lifecycle_configuration: PutBucketLifecycleConfigurationInput => PutBucketLifecycleConfigurationOutput;
        put_bucket_logging: PutBucketLoggingInput => PutBucketLoggingOutput;
        put_bucket_metrics_configuration: PutBucketMetricsConfigurationInput => PutBucketMetricsConfigurationOutput;
        put_bucket_notification_configuration: PutBucketNotificationConfigurationInput => PutBucketNotificationConfigurationOutput;
        put_bucket_ownership_controls: PutBucketOwnershipControlsInput => PutBucketOwnershipControlsOutput;
        put_bucket_policy: PutBucketPolicyInput => PutBucketPolicyOutput;
        put_bucket_replication: PutBucketReplicationInput => PutBucketReplicationOutput;
        put_bucket_request_payment: PutBucketRequestPaymentInput => PutBucketRequestPaymentOutput;
        put_bucket_tagging: PutBucketTaggingInput => PutBucketTaggingOutput;
        put_bucket_versioning: PutBucketVersioningInput => PutBucketVersioningOutput;
        put_bucket_website: PutBucketWebsiteInput => PutBucketWebsiteOutput;
        put_object_acl: PutObjectAclInput => PutObjectAclOutput;
        put_object_legal_hold: PutObjectLegalHoldInput => PutObjectLegalHoldOutput;
        put_object_lock_configuration: PutObjectLockConfigurationInput => PutObjectLockConfigurationOutput;
        put_object_retention: PutObjectRetentionInput => PutObjectRetentionOutput;
        put_public_access_block: PutPublicAccessBlockInput => PutPublicAccessBlockOutput;
        restore_object: RestoreObjectInput => RestoreObjectOutput;
    }
}

/// `bucket/key`'s URL in the client's addressing style (virtual-hosted when the Host names
/// the bucket). Apps keep CompleteMultipartUpload's `Location` as the object's URL (the AWS
/// SDK v3 `Upload` helper returns it, multer-s3 stores it).
fn object_url(https: bool, host: &str, bucket: Option<&str>, key: &str) -> String {
    let scheme = if https { "https" } else { "http" };
    let mut url = format!("{scheme}://{host}/");
    if let Some(bucket) = bucket {
        crate::lean::encode_into(&mut url, bucket, false);
        url.push('/');
    }
    crate::lean::encode_into(&mut url, key, true);
    url
}

#[cfg(test)]
mod url_tests {
    use super::object_url;

    #[test]
    fn object_urls_follow_the_addressing_style() {
        let u = object_url(false, "127.0.0.1:9000", Some("b"), "dir/a b+c.txt");
        assert_eq!(u, "http://127.0.0.1:9000/b/dir/a%20b%2Bc.txt");
        let u = object_url(true, "b.s3.local", None, "x/y");
        assert_eq!(u, "https://b.s3.local/x/y");
    }
}
