//! A bucket's policy.

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use super::NO_POLICY;
use crate::handler::{check_in_place, Handler};
use crate::util::{absent_on, str_field};
use crate::{aws_error, Clients};

pub(crate) struct S3BucketPolicy;

#[async_trait]
impl Handler for S3BucketPolicy {
    fn kind(&self) -> Kind {
        Kind::S3BucketPolicy
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let bucket = str_field(req, "bucket")?;
        let Some(out) = absent_on(c.s3.get_bucket_policy().bucket(bucket).send().await, NO_POLICY)? else {
            return Ok(None);
        };
        let policy: Value = serde_json::from_str(out.policy().unwrap_or_default())
            .map_err(|e| ProviderError::new(format!("{}: the bucket policy is not JSON: {e}", req.address)))?;
        Ok(Some(Live { state: json!({ "bucket": bucket, "policy": policy }), outputs: Outputs::new(), tags: None }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        put_policy(c, req).await
    }

    /// The policy is written whole by the call that creates it.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &["policy"])?;
        put_policy(c, req).await
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let result = c.s3.delete_bucket_policy().bucket(str_field(req, "bucket")?).send().await;
        absent_on(result, NO_POLICY).map(drop)
    }
}

async fn put_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let policy = match req.desired.get("policy") {
        Some(policy @ Value::Object(_)) => policy.to_string(),
        _ => return Err(ProviderError::new(format!("{}: desired state lacks policy object `policy`", req.address))),
    };
    c.s3.put_bucket_policy().bucket(str_field(req, "bucket")?).policy(policy).send().await.map_err(aws_error)?;
    Ok(Outputs::new())
}
