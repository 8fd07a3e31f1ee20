//! S3: buckets, objects, versions, multipart uploads and bucket configurations.
//!
//! The wire protocol (routing, XML, SigV4 in all its S3 forms) is the s3s crate's; this
//! crate is the [`s3s::S3`] implementation over the store (metadata, one transaction per
//! change) and the blob store (bodies). Layout of the state: [`keys`].

pub mod auth;
pub mod body;
pub mod bucket_config;
pub mod buckets;
pub mod cors;
pub mod error;
pub mod gc;
pub mod keys;
pub mod lifecycle;
pub mod listing;
pub mod meta;
pub mod multipart;
pub mod notify;
pub mod object_config;
pub mod objects;
pub mod owners;
pub mod website;
pub mod write;

use std::sync::Arc;

use nimbus_blob::BlobStore;
use nimbus_core::{SharedClock, ROOT_ACCOUNT_ID};
use nimbus_iam::CredentialStore;
use nimbus_store::Db;
use s3s::dto::*;
use s3s::path::S3Path;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Request, S3Response, S3Result, S3};

/// Request extension: the gateway accepted this request as the account root without
/// checking a signature (an unknown access key on a loopback bind, DESIGN.md §7).
#[derive(Debug, Clone, Copy)]
pub struct UnverifiedRoot;

/// Request extension: the region of the credential scope of a request the gateway
/// accepted as [`UnverifiedRoot`] (s3s only knows regions of verified signatures).
#[derive(Debug, Clone)]
pub struct ScopeRegion(pub String);

/// The region a request is for: the verified credential scope's, the gateway's
/// unverified scope's, the virtual host's, else `us-east-1`.
pub fn request_region<T>(req: &S3Request<T>) -> String {
    if let Some(r) = &req.region {
        return r.as_str().to_string();
    }
    if let Some(r) = req.extensions.get::<ScopeRegion>() {
        return r.0.clone();
    }
    nimbus_core::DEFAULT_REGION.to_string()
}

/// Request extension: the file name of a browser POST upload's `file` field, filled in
/// by the gateway as the form streams past (s3s does not pass it on); S3 substitutes it
/// for `${filename}` in the form's key.
#[derive(Debug, Clone, Default)]
pub struct PostFileName(pub Arc<parking_lot::Mutex<Option<String>>>);

/// Request extension: the gateway's request id, for error bodies and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Request extension: trailing headers of an aws-chunked body the gateway decoded
/// itself (the [`UnverifiedRoot`] path, where s3s does not see a signature). Filled
/// once the body has been read to its end.
#[derive(Debug, Clone, Default)]
pub struct UnverifiedTrailers(pub Arc<parking_lot::Mutex<Option<http::HeaderMap>>>);

/// The trailing headers of a request body (checksums sent after the data), once the
/// body has been read: from s3s's verified stream, or from the gateway's decoder.
pub fn trailers<T>(req: &S3Request<T>) -> Option<http::HeaderMap> {
    if let Some(t) = &req.trailing_headers {
        if let Some(h) = t.take() {
            return Some(h);
        }
    }
    req.extensions
        .get::<UnverifiedTrailers>()
        .and_then(|t| t.0.lock().take())
}

/// Operator settings.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Base host names for virtual-host (`{bucket}.s3.{base}`) and website
    /// (`{bucket}.s3-website.{base}`) addressing; `localhost` is always one.
    pub host_names: Vec<String>,
    /// How often the lifecycle job runs.
    pub lifecycle_interval_ms: u64,
    /// How often the blob reaper deletes the files of discarded bodies.
    pub reaper_interval_ms: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            host_names: vec!["localhost".to_string()],
            lifecycle_interval_ms: 60_000,
            reaper_interval_ms: 1_000,
        }
    }
}

/// Everything the S3 handlers share.
pub struct S3State {
    pub db: Db,
    pub blobs: Arc<BlobStore>,
    pub clock: SharedClock,
    pub credentials: Arc<dyn CredentialStore>,
    pub config: S3Config,
    /// What the notification machinery needs from outside S3 (see [`NotificationHooks`]).
    pub notifications: NotificationHooks,
    /// Bucket owners as last read: the early checks of uploads (see [`owners`]).
    pub owners: owners::BucketOwners,
}

/// Why a Lambda destination of a notification configuration cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationProblem {
    NoSuchFunction,
    /// The function's resource policy does not let `s3.amazonaws.com` invoke it for
    /// this bucket.
    NotAuthorized,
}

/// `(function ARN, bucket, bucket owner account)` → whether S3 may invoke it.
pub type LambdaDestinationCheck =
    Arc<dyn Fn(&str, &str, &str) -> Result<(), DestinationProblem> + Send + Sync>;

/// Set once by whoever delivers notifications (the binary, which has Lambda and the
/// event bus); unset, configurations are stored without checks and delivery waits for the
/// bus's idle poll.
#[derive(Default)]
pub struct NotificationHooks {
    wake: std::sync::OnceLock<Arc<dyn Fn() + Send + Sync>>,
    lambda_check: std::sync::OnceLock<LambdaDestinationCheck>,
}

impl NotificationHooks {
    /// Sets what wakes the consumer of [`notify::TOPIC`] (once; later calls are ignored).
    pub fn set_wake(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        let _ = self.wake.set(wake);
    }

    /// Sets the check of Lambda destinations (once; later calls are ignored).
    pub fn set_lambda_check(&self, check: LambdaDestinationCheck) {
        let _ = self.lambda_check.set(check);
    }

    /// Whether anybody delivers notifications: without a consumer, none are written
    /// (they would only pile up in the topic).
    pub fn delivers(&self) -> bool {
        self.wake.get().is_some()
    }

    /// Wakes the consumer when `written` notifications were committed.
    pub fn after_commit(&self, written: usize) {
        if written > 0 {
            if let Some(wake) = self.wake.get() {
                wake();
            }
        }
    }

    /// Checks a Lambda destination; `Ok` when no check is set.
    pub fn check_lambda(
        &self,
        function_arn: &str,
        bucket: &str,
        owner_account: &str,
    ) -> Result<(), DestinationProblem> {
        match self.lambda_check.get() {
            Some(check) => check(function_arn, bucket, owner_account),
            None => Ok(()),
        }
    }
}

impl S3State {
    /// A state over in-memory engines with a manual clock, for tests.
    pub fn for_tests(clock: Arc<nimbus_core::ManualClock>) -> Arc<S3State> {
        Arc::new(S3State {
            db: Db::in_memory(),
            blobs: Arc::new(BlobStore::in_memory()),
            clock,
            credentials: Arc::new(nimbus_iam::StaticCredentials::default()),
            config: S3Config::default(),
            notifications: NotificationHooks::default(),
            owners: Default::default(),
        })
    }
}

/// Starts S3's background work (blob reaper, lifecycle job); each loop ends when `stop`
/// turns true. Call [`startup_recovery`] first.
pub fn start_background(
    state: &Arc<S3State>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(gc::run_reaper(state.clone(), stop.clone())),
        tokio::spawn(lifecycle::run(state.clone(), stop)),
    ]
}

/// Crash recovery before serving: blobs written but never committed are deleted,
/// committed ones not yet published are published.
pub async fn startup_recovery(state: &S3State) -> Result<(), error::Error> {
    gc::recover(state).await
}

/// Who is calling, as far as S3 cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
}

impl S3State {
    /// Who made a change, for its notifications.
    pub fn origin<T>(&self, req: &S3Request<T>, caller: &Option<Caller>) -> notify::Origin {
        notify::Origin {
            delivered: self.notifications.delivers(),
            account_id: Self::account_or_root(caller),
            request_id: req
                .extensions
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
        }
    }

    /// The calling account: from the verified access key, the gateway's loopback root,
    /// or `None` for anonymous requests.
    pub fn caller<T>(&self, req: &S3Request<T>) -> Option<Caller> {
        if let Some(c) = &req.credentials {
            if let Some(cred) = self.credentials.lookup(&c.access_key) {
                return Some(Caller {
                    account_id: cred.account_id.clone(),
                });
            }
        }
        if req.credentials.is_some() || req.extensions.get::<UnverifiedRoot>().is_some() {
            return Some(Caller {
                account_id: ROOT_ACCOUNT_ID.to_string(),
            });
        }
        None
    }

    /// The account that owns anonymous writes and reads: the bucket owner (S3 bills and
    /// owns them there). Falls back to the root account.
    pub fn account_or_root(caller: &Option<Caller>) -> String {
        caller
            .as_ref()
            .map_or_else(|| ROOT_ACCOUNT_ID.to_string(), |c| c.account_id.clone())
    }

    /// Whether an anonymous request on `path` is allowed by public ACLs.
    pub async fn anonymous_allowed(&self, path: &S3Path, write: bool) -> bool {
        let Ok(snap) = self.db.snapshot() else {
            return false;
        };
        // The public access block (on by default for new buckets, as AWS since 2023)
        // makes public ACLs count for nothing.
        let bucket_name = match path {
            S3Path::Root => return false,
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => bucket,
        };
        let pab: Option<PublicAccessBlockConfiguration> =
            bucket_config::load(snap.as_ref(), bucket_name, bucket_config::KIND_PAB)
                .ok()
                .flatten();
        if pab.is_some_and(|p| p.ignore_public_acls == Some(true)) {
            return false;
        }
        let public = |acl: &Option<meta::Acl>| {
            acl.as_ref().is_some_and(|a| {
                a.grants.iter().any(|g| {
                    g.grantee == ALL_USERS
                        && (g.permission == "FULL_CONTROL"
                            || (!write && g.permission == "READ")
                            || (write && g.permission == "WRITE"))
                })
            })
        };
        match path {
            S3Path::Root => false,
            S3Path::Bucket { bucket } => write::load_bucket(snap.as_ref(), bucket)
                .ok()
                .flatten()
                .is_some_and(|b| public(&b.acl)),
            S3Path::Object { bucket, key } => {
                let Ok(Some(b)) = write::load_bucket(snap.as_ref(), bucket) else {
                    return false;
                };
                if write {
                    return public(&b.acl);
                }
                public(&b.acl)
                    || write::latest_version(snap.as_ref(), bucket, key)
                        .ok()
                        .flatten()
                        .is_some_and(|v| public(&v.acl))
            }
        }
    }
}

/// The `AllUsers` group grantee URI.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The `AuthenticatedUsers` group grantee URI.
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The s3s service over `state`.
pub fn service(state: Arc<S3State>) -> S3Service {
    let clock = state.clock.clone();
    let mut b = S3ServiceBuilder::new(NimbusS3 {
        state: state.clone(),
    });
    b.set_auth(auth::StoreAuth {
        credentials: state.credentials.clone(),
        now_ms: Arc::new(move || clock.now_millis()),
    });
    b.set_access(auth::Access {
        state: state.clone(),
    });
    b.set_host(auth::Hosts {
        bases: state.config.host_names.clone(),
    });
    b.build()
}

/// The [`S3`] implementation: each operation lives in the module for its area.
#[derive(Clone)]
pub struct NimbusS3 {
    pub state: Arc<S3State>,
}

#[async_trait::async_trait]
impl S3 for NimbusS3 {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put_object(&self.state, req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get_object(&self.state, req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head_object(&self.state, req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_object(&self.state, req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_objects(&self.state, req).await
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        objects::copy_object(&self.state, req).await
    }
    async fn post_object(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        objects::post_object(&self.state, req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create_multipart_upload(&self.state, req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(&self.state, req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        multipart::upload_part_copy(&self.state, req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        multipart::complete_multipart_upload(&self.state, req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort_multipart_upload(&self.state, req).await
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(&self.state, req).await
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_multipart_uploads(&self.state, req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        listing::list_objects(&self.state, req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        listing::list_objects_v2(&self.state, req).await
    }
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        listing::list_object_versions(&self.state, req).await
    }
    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        object_config::get_object_tagging(&self.state, req).await
    }
    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        object_config::put_object_tagging(&self.state, req).await
    }
    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        object_config::delete_object_tagging(&self.state, req).await
    }
    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        object_config::get_object_acl(&self.state, req).await
    }
    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        object_config::put_object_acl(&self.state, req).await
    }
    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        object_config::get_object_attributes(&self.state, req).await
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        buckets::create_bucket(&self.state, req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head_bucket(&self.state, req).await
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete_bucket(&self.state, req).await
    }
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list_buckets(&self.state, req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        buckets::get_bucket_location(&self.state, req).await
    }
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        buckets::get_bucket_versioning(&self.state, req).await
    }
    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        buckets::put_bucket_versioning(&self.state, req).await
    }
    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        buckets::get_bucket_tagging(&self.state, req).await
    }
    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        buckets::put_bucket_tagging(&self.state, req).await
    }
    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        buckets::delete_bucket_tagging(&self.state, req).await
    }
    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        buckets::get_bucket_acl(&self.state, req).await
    }
    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        buckets::put_bucket_acl(&self.state, req).await
    }
    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        bucket_config::get_bucket_cors(&self.state, req).await
    }
    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        bucket_config::put_bucket_cors(&self.state, req).await
    }
    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        bucket_config::delete_bucket_cors(&self.state, req).await
    }
    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        bucket_config::get_bucket_policy(&self.state, req).await
    }
    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        bucket_config::put_bucket_policy(&self.state, req).await
    }
    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        bucket_config::delete_bucket_policy(&self.state, req).await
    }
    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        bucket_config::get_bucket_policy_status(&self.state, req).await
    }
    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        bucket_config::get_public_access_block(&self.state, req).await
    }
    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        bucket_config::put_public_access_block(&self.state, req).await
    }
    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        bucket_config::delete_public_access_block(&self.state, req).await
    }
    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        bucket_config::get_bucket_encryption(&self.state, req).await
    }
    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        bucket_config::put_bucket_encryption(&self.state, req).await
    }
    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        bucket_config::delete_bucket_encryption(&self.state, req).await
    }
    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        bucket_config::get_bucket_lifecycle_configuration(&self.state, req).await
    }
    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        bucket_config::put_bucket_lifecycle_configuration(&self.state, req).await
    }
    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        bucket_config::delete_bucket_lifecycle(&self.state, req).await
    }
    async fn get_bucket_website(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
        bucket_config::get_bucket_website(&self.state, req).await
    }
    async fn put_bucket_website(
        &self,
        req: S3Request<PutBucketWebsiteInput>,
    ) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
        bucket_config::put_bucket_website(&self.state, req).await
    }
    async fn delete_bucket_website(
        &self,
        req: S3Request<DeleteBucketWebsiteInput>,
    ) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
        bucket_config::delete_bucket_website(&self.state, req).await
    }
    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        bucket_config::get_bucket_notification_configuration(&self.state, req).await
    }
    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        bucket_config::put_bucket_notification_configuration(&self.state, req).await
    }
    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        bucket_config::get_bucket_ownership_controls(&self.state, req).await
    }
    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        bucket_config::put_bucket_ownership_controls(&self.state, req).await
    }
    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        bucket_config::delete_bucket_ownership_controls(&self.state, req).await
    }
    async fn get_bucket_accelerate_configuration(
        &self,
        req: S3Request<GetBucketAccelerateConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
        bucket_config::get_bucket_accelerate_configuration(&self.state, req).await
    }
    async fn put_bucket_accelerate_configuration(
        &self,
        req: S3Request<PutBucketAccelerateConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketAccelerateConfigurationOutput>> {
        bucket_config::put_bucket_accelerate_configuration(&self.state, req).await
    }
    async fn get_bucket_request_payment(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
        bucket_config::get_bucket_request_payment(&self.state, req).await
    }
    async fn put_bucket_request_payment(
        &self,
        req: S3Request<PutBucketRequestPaymentInput>,
    ) -> S3Result<S3Response<PutBucketRequestPaymentOutput>> {
        bucket_config::put_bucket_request_payment(&self.state, req).await
    }
    async fn get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> S3Result<S3Response<GetBucketLoggingOutput>> {
        bucket_config::get_bucket_logging(&self.state, req).await
    }
    async fn put_bucket_logging(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> S3Result<S3Response<PutBucketLoggingOutput>> {
        bucket_config::put_bucket_logging(&self.state, req).await
    }
}
