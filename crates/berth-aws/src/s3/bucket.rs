//! An S3 bucket: created with its ownership tags, deleted only when empty of
//! anything berth does not manage.

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tagging};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::engine::EMPTY_FIRST;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use super::bucket_policy::S3BucketPolicy;
use super::object::{object_outputs, OWNER_METADATA};
use super::public_access_block::S3PublicAccessBlock;
use super::{invalid_tags, sdk_tags, NO_BUCKET};
use crate::handler::{check_in_place, Arn, Handler};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, invalid, name_and_arn, str_field};
use crate::{aws_error, Clients};

/// HeadObject has no body, so a missing object is a bare 404.
const NO_OBJECT_HEAD: &[&str] = &["NoSuchBucket", "NoSuchKey", "NotFound"];

pub(crate) struct S3Bucket;

#[async_trait]
impl Handler for S3Bucket {
    fn kind(&self) -> Kind {
        Kind::S3Bucket
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["BucketAlreadyOwnedByYou"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        if absent_on(c.s3.head_bucket().bucket(name).send().await, NO_BUCKET)?.is_none() {
            return Ok(None);
        }
        let tags = absent_on(c.s3.get_bucket_tagging().bucket(name).send().await, &["NoSuchTagSet"])?;
        let tags = tags.map(|out| out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect());
        Ok(Some(Live {
            state: json!({ "name": name }),
            outputs: bucket_outputs(name),
            tags: Some(tags.unwrap_or_default()),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        create_bucket(c, req, name).await?;
        // Again, for an endpoint that ignores the tags sent with CreateBucket
        // (moto does) or refused them.
        if let Err(error) = put_bucket_tags(c, req).await {
            // Without its ownership tags the bucket is one the next plan
            // refuses to touch: take the (empty) bucket back so that the
            // next apply starts over.
            let _ = c.s3.delete_bucket().bucket(name).send().await;
            return Err(error);
        }
        Ok(bucket_outputs(name))
    }

    /// PutBucketTagging replaces the whole set, so the tags are not changed
    /// through a tagger's adds and removes.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &["tags"])?;
        put_bucket_tags(c, req).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let name = str_field(req, "name")?;
        // Only the objects the plan listed (`destroy --force-delete-buckets`).
        for key in req.desired.get(EMPTY_FIRST).and_then(Value::as_array).into_iter().flatten() {
            let key = key.as_str().ok_or_else(|| invalid(req, "an object key to empty first is not a string"))?;
            absent_on(c.s3.delete_object().bucket(name).key(key).send().await, NO_BUCKET)?;
        }
        match c.s3.delete_bucket().bucket(name).send().await {
            // berth deletes only the objects it manages; anything else in
            // the bucket is someone's data.
            Err(e) if e.code() == Some("BucketNotEmpty") => Err(ProviderError {
                code: Some("BucketNotEmpty".into()),
                message: format!(
                    "bucket {name} is not empty: it holds objects berth does not manage; \
                     empty it yourself if they can go, then run again"
                ),
            }),
            result => absent_on(result, NO_BUCKET).map(drop),
        }
    }

    /// The bucket's public access block, policy and the objects this stack
    /// wrote, so that those the file no longer declares are removed. Objects
    /// the file declares are not looked at here (they are read as nodes).
    async fn children(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let bucket = str_field(req, "name")?;
        let part = json!({ "bucket": bucket });
        let part_req = NodeRequest { desired: &part, ..req.clone() };
        let mut children = Vec::new();
        if let Some(live) = S3PublicAccessBlock.read(c, &part_req).await? {
            children.push(LiveChild { kind: Kind::S3PublicAccessBlock, label: "public_access_block".into(), live });
        }
        if let Some(live) = S3BucketPolicy.read(c, &part_req).await? {
            children.push(LiveChild { kind: Kind::S3BucketPolicy, label: "policy".into(), live });
        }
        let declared_keys: Vec<&str> = declared.iter().filter_map(|d| d.get("key").and_then(Value::as_str)).collect();
        let keys: Result<Vec<_>, _> = c.s3.list_objects_v2().bucket(bucket).into_paginator().send().collect().await;
        let keys: Vec<String> = absent_on(keys, NO_BUCKET)?
            .unwrap_or_default()
            .iter()
            .flat_map(|page| page.contents())
            .filter_map(|o| o.key().map(str::to_owned))
            .filter(|k| !declared_keys.contains(&k.as_str()))
            .collect();
        for key in keys {
            let head = absent_on(c.s3.head_object().bucket(bucket).key(&key).send().await, NO_OBJECT_HEAD)?;
            let owner = head.as_ref().and_then(|h| h.metadata()).and_then(|m| m.get(OWNER_METADATA));
            if owner.map(String::as_str) != Some(req.stack) {
                continue;
            }
            let state = json!({ "bucket": bucket, "key": key });
            let live = Live { state, outputs: object_outputs(bucket, &key, None), tags: None };
            children.push(LiveChild { kind: Kind::S3Object, label: format!("objects[{key}]"), live });
        }
        Ok(children)
    }

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        Ok((arn.service == "s3").then(|| json!({ "name": arn.resource })))
    }
}

/// Errors of a CreateBucket whose tags were refused: they need
/// s3:TagResource, and older S3-compatible endpoints do not know them.
const TAGS_REFUSED: &[&str] = &["AccessDenied", "InvalidArgument", "InvalidRequest", "MalformedXML", "NotImplemented"];

/// Creates the bucket with its tags, so that it is never seen without its
/// ownership tags (a run that dies right after CreateBucket leaves a bucket
/// that is already this stack's), or without them when they are refused.
async fn create_bucket(c: &Clients, req: &NodeRequest<'_>, name: &str) -> ProviderResult<()> {
    let configuration = |with_tags: bool| -> ProviderResult<Option<CreateBucketConfiguration>> {
        // us-east-1 is the default location and AWS rejects it as an explicit constraint.
        let location = (c.region != "us-east-1").then(|| BucketLocationConstraint::from(c.region.as_str()));
        let tags = if with_tags { Some(sdk_tags(&desired_tags(req))?).filter(|t| !t.is_empty()) } else { None };
        Ok((location.is_some() || tags.is_some())
            .then(|| CreateBucketConfiguration::builder().set_location_constraint(location).set_tags(tags).build()))
    };
    let call = c.s3.create_bucket().bucket(name).set_create_bucket_configuration(configuration(true)?);
    match send_once!(aws_sdk_s3, call) {
        Ok(_) => Ok(()),
        Err(e) if e.code().is_some_and(|code| TAGS_REFUSED.contains(&code)) => {
            let call = c.s3.create_bucket().bucket(name).set_create_bucket_configuration(configuration(false)?);
            send_once!(aws_sdk_s3, call).map(drop).map_err(aws_error)
        }
        Err(e) => Err(aws_error(e)),
    }
}

/// Sets the bucket's tags to the desired ones. PutBucketTagging replaces the
/// whole set, so there is no add/remove to compute.
async fn put_bucket_tags(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
    let name = str_field(req, "name")?;
    let tags = desired_tags(req);
    if tags.is_empty() {
        c.s3.delete_bucket_tagging().bucket(name).send().await.map_err(aws_error)?;
        return Ok(());
    }
    let tagging = Tagging::builder().set_tag_set(Some(sdk_tags(&tags)?)).build().map_err(invalid_tags)?;
    c.s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await.map_err(aws_error)?;
    Ok(())
}

fn bucket_outputs(name: &str) -> Outputs {
    name_and_arn(name, format!("arn:aws:s3:::{name}"))
}
