//! A bucket's public access block.

use async_trait::async_trait;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::NO_ACCESS_BLOCK;
use crate::handler::{check_in_place, Handler};
use crate::util::{absent_on, str_field};
use crate::{aws_error, Clients};

/// The public access block's settings, by their desired-state field names.
const ACCESS_BLOCK_FIELDS: [&str; 4] =
    ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"];

pub(crate) struct S3PublicAccessBlock;

#[async_trait]
impl Handler for S3PublicAccessBlock {
    fn kind(&self) -> Kind {
        Kind::S3PublicAccessBlock
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let bucket = str_field(req, "bucket")?;
        let result = c.s3.get_public_access_block().bucket(bucket).send().await;
        let Some(out) = absent_on(result, NO_ACCESS_BLOCK)? else {
            return Ok(None);
        };
        let config = out.public_access_block_configuration();
        // A setting AWS leaves out is off.
        let settings = [
            config.and_then(|c| c.block_public_acls()),
            config.and_then(|c| c.ignore_public_acls()),
            config.and_then(|c| c.block_public_policy()),
            config.and_then(|c| c.restrict_public_buckets()),
        ];
        let mut state = json!({ "bucket": bucket });
        for (field, on) in ACCESS_BLOCK_FIELDS.iter().zip(settings) {
            state[*field] = json!(on.unwrap_or(false));
        }
        Ok(Some(Live { state, outputs: Outputs::new(), tags: None }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        put_access_block(c, req).await
    }

    /// Every setting is written whole by the call that creates the block.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &ACCESS_BLOCK_FIELDS)?;
        put_access_block(c, req).await
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let result = c.s3.delete_public_access_block().bucket(str_field(req, "bucket")?).send().await;
        absent_on(result, NO_ACCESS_BLOCK).map(drop)
    }
}

async fn put_access_block(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let [acls, ignore, policy, restrict] =
        ACCESS_BLOCK_FIELDS.map(|field| req.desired.get(field).and_then(Value::as_bool));
    let config = PublicAccessBlockConfiguration::builder()
        .set_block_public_acls(acls)
        .set_ignore_public_acls(ignore)
        .set_block_public_policy(policy)
        .set_restrict_public_buckets(restrict)
        .build();
    let call =
        c.s3.put_public_access_block().bucket(str_field(req, "bucket")?).public_access_block_configuration(config);
    call.send().await.map_err(aws_error)?;
    Ok(Outputs::new())
}
