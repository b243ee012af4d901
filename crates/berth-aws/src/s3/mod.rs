//! S3: buckets with their public access block and policy, and the objects
//! berth writes into them (object content may be secret: it never appears in
//! an error message).

use std::collections::BTreeMap;

use aws_sdk_s3::types::Tag;
use berth_core::provider::{ProviderError, ProviderResult};

pub(crate) mod bucket;
pub(crate) mod bucket_policy;
pub(crate) mod object;
pub(crate) mod public_access_block;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] =
    &[&bucket::S3Bucket, &public_access_block::S3PublicAccessBlock, &bucket_policy::S3BucketPolicy, &object::S3Object];

/// HeadBucket answers a missing bucket with a bare 404, which the SDK names `NotFound`.
const NO_BUCKET: &[&str] = &["NoSuchBucket", "NotFound"];

const NO_OBJECT: &[&str] = &["NoSuchBucket", "NoSuchKey"];

const NO_POLICY: &[&str] = &["NoSuchBucket", "NoSuchBucketPolicy"];

const NO_ACCESS_BLOCK: &[&str] = &["NoSuchBucket", "NoSuchPublicAccessBlockConfiguration"];

fn sdk_tags(tags: &BTreeMap<String, String>) -> ProviderResult<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid_tags)).collect()
}

fn invalid_tags(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("invalid bucket tags: {e}"))
}
