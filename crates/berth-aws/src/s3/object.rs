//! An object berth writes into a bucket (an env file). Its content may be
//! secret: it never appears in an error message.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::json;

use super::NO_OBJECT;
use crate::handler::{check_in_place, Handler};
use crate::util::{absent_on, opt_str, str_field};
use crate::{aws_error, Clients};

/// Object metadata naming the stack that wrote the object: objects have no
/// tags berth reads, and this tells berth's objects from the bucket's data.
pub(super) const OWNER_METADATA: &str = "berth-stack";

/// Object metadata holding the address of the object in its stack.
pub(super) const ID_METADATA: &str = "berth-id";

pub(crate) struct S3Object;

#[async_trait]
impl Handler for S3Object {
    fn kind(&self) -> Kind {
        Kind::S3Object
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let (bucket, key) = (str_field(req, "bucket")?, str_field(req, "key")?);
        let Some(out) = absent_on(c.s3.get_object().bucket(bucket).key(key).send().await, NO_OBJECT)? else {
            return Ok(None);
        };
        let outputs = object_outputs(bucket, key, out.e_tag());
        let mut state = json!({ "bucket": bucket, "key": key });
        if let Some(content_type) = out.content_type() {
            state["content_type"] = json!(content_type);
        }
        // The error is about the transfer, never the content, so it is safe to show.
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| ProviderError::new(format!("{}: reading s3://{bucket}/{key} failed: {e}", req.address)))?;
        // Bytes that are not UTF-8 read as different content, so the engine
        // overwrites them with the desired text.
        state["content"] = json!(String::from_utf8_lossy(&body.into_bytes()));
        Ok(Some(Live { state, outputs, tags: None }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        put_object(c, req).await
    }

    /// Content and type are written whole by the call that creates the object.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &["content", "content_type"])?;
        put_object(c, req).await
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let (bucket, key) = (str_field(req, "bucket")?, str_field(req, "key")?);
        absent_on(c.s3.delete_object().bucket(bucket).key(key).send().await, NO_OBJECT).map(drop)
    }
}

async fn put_object(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let (bucket, key) = (str_field(req, "bucket")?, str_field(req, "key")?);
    let content = str_field(req, "content")?;
    let out =
        c.s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(content.as_bytes().to_vec()))
            .set_content_type(opt_str(req, "content_type").map(str::to_owned))
            .metadata(OWNER_METADATA, req.stack)
            .metadata(ID_METADATA, req.address)
            .send()
            .await
            .map_err(aws_error)?;
    Ok(object_outputs(bucket, key, out.e_tag()))
}

/// The ETag without the quotes S3 wraps it in.
pub(super) fn object_outputs(bucket: &str, key: &str, etag: Option<&str>) -> Outputs {
    let mut outputs = Outputs::from([("arn".to_owned(), json!(format!("arn:aws:s3:::{bucket}/{key}")))]);
    if let Some(etag) = etag {
        outputs.insert("etag".to_owned(), json!(etag.trim_matches('"')));
    }
    outputs
}
