//! S3: buckets with their public access block and policy, and the objects
//! berth writes into them (object content may be secret: it never appears in
//! an error message).

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration, Tag, Tagging,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use crate::once::send_once;
use crate::util::{absent_on, desired_tags, opt_str, str_field};
use crate::{aws_error, Clients};

/// HeadBucket answers a missing bucket with a bare 404, which the SDK names `NotFound`.
const NO_BUCKET: &[&str] = &["NoSuchBucket", "NotFound"];
const NO_OBJECT: &[&str] = &["NoSuchBucket", "NoSuchKey"];
/// HeadObject has no body, so a missing object is a bare 404.
const NO_OBJECT_HEAD: &[&str] = &["NoSuchBucket", "NoSuchKey", "NotFound"];
const NO_POLICY: &[&str] = &["NoSuchBucket", "NoSuchBucketPolicy"];
const NO_ACCESS_BLOCK: &[&str] = &["NoSuchBucket", "NoSuchPublicAccessBlockConfiguration"];

/// The public access block's settings, by their desired-state field names.
const ACCESS_BLOCK_FIELDS: [&str; 4] =
    ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"];

pub(crate) async fn read(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    match req.kind {
        Kind::S3Bucket => read_bucket(c, req).await,
        Kind::S3PublicAccessBlock => read_access_block(c, req).await,
        Kind::S3BucketPolicy => read_policy(c, req).await,
        Kind::S3Object => read_object(c, req).await,
        other => Err(not_s3(other)),
    }
}

pub(crate) async fn create(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    match req.kind {
        Kind::S3Bucket => {
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
        Kind::S3PublicAccessBlock => put_access_block(c, req).await,
        Kind::S3BucketPolicy => put_policy(c, req).await,
        Kind::S3Object => put_object(c, req).await,
        other => Err(not_s3(other)),
    }
}

pub(crate) async fn update(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    if let Some(field) = changed.iter().find(|f| !updatable(req.kind, f)) {
        return Err(ProviderError::new(format!(
            "{}: `{field}` of a {} cannot be changed in place",
            req.address, req.kind
        )));
    }
    // Every updatable field is written whole by the call that creates it.
    match req.kind {
        Kind::S3Bucket => {
            put_bucket_tags(c, req).await?;
            Ok(live.outputs.clone())
        }
        Kind::S3PublicAccessBlock => put_access_block(c, req).await,
        Kind::S3BucketPolicy => put_policy(c, req).await,
        Kind::S3Object => put_object(c, req).await,
        other => Err(not_s3(other)),
    }
}

pub(crate) async fn delete(c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
    match req.kind {
        Kind::S3Bucket => {
            let name = str_field(req, "name")?;
            if c.empty_buckets.load(std::sync::atomic::Ordering::SeqCst) {
                empty_bucket(c, name).await?;
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
        Kind::S3PublicAccessBlock => {
            let result = c.s3.delete_public_access_block().bucket(str_field(req, "bucket")?).send().await;
            absent_on(result, NO_ACCESS_BLOCK).map(drop)
        }
        Kind::S3BucketPolicy => {
            let result = c.s3.delete_bucket_policy().bucket(str_field(req, "bucket")?).send().await;
            absent_on(result, NO_POLICY).map(drop)
        }
        Kind::S3Object => {
            let (bucket, key) = (str_field(req, "bucket")?, str_field(req, "key")?);
            absent_on(c.s3.delete_object().bucket(bucket).key(key).send().await, NO_OBJECT).map(drop)
        }
        other => Err(not_s3(other)),
    }
}

fn updatable(kind: Kind, field: &str) -> bool {
    match kind {
        Kind::S3Bucket => field == "tags",
        Kind::S3PublicAccessBlock => ACCESS_BLOCK_FIELDS.contains(&field),
        Kind::S3BucketPolicy => field == "policy",
        Kind::S3Object => matches!(field, "content" | "content_type"),
        _ => false,
    }
}

// ---------------------------------------------------------------- buckets

async fn read_bucket(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

fn sdk_tags(tags: &BTreeMap<String, String>) -> ProviderResult<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid_tags)).collect()
}

fn invalid_tags(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("invalid bucket tags: {e}"))
}

fn bucket_outputs(name: &str) -> Outputs {
    Outputs::from([("name".to_owned(), json!(name)), ("arn".to_owned(), json!(format!("arn:aws:s3:::{name}")))])
}

// ---------------------------------------------------------------- children

/// Object metadata naming the stack that wrote the object: objects have no
/// tags berth reads, and this tells berth's objects from the bucket's data.
const OWNER_METADATA: &str = "berth-stack";
/// Object metadata holding the address of the object in its stack.
const ID_METADATA: &str = "berth-id";

/// The bucket's public access block, policy and the objects this stack
/// wrote, so that those the file no longer declares are removed. Objects
/// the file declares are not looked at here (they are read as nodes).
pub(crate) async fn bucket_children(
    c: &Clients,
    req: &NodeRequest<'_>,
    declared: &[Value],
) -> ProviderResult<Vec<LiveChild>> {
    let bucket = str_field(req, "name")?;
    let part = json!({ "bucket": bucket });
    let part_req = NodeRequest { desired: &part, ..req.clone() };
    let mut children = Vec::new();
    if let Some(live) = read_access_block(c, &part_req).await? {
        children.push(LiveChild { kind: Kind::S3PublicAccessBlock, label: "public_access_block".into(), live });
    }
    if let Some(live) = read_policy(c, &part_req).await? {
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

// ---------------------------------------------------------------- public access block

async fn read_access_block(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

// ---------------------------------------------------------------- bucket policy

async fn read_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let bucket = str_field(req, "bucket")?;
    let Some(out) = absent_on(c.s3.get_bucket_policy().bucket(bucket).send().await, NO_POLICY)? else {
        return Ok(None);
    };
    let policy: Value = serde_json::from_str(out.policy().unwrap_or_default())
        .map_err(|e| ProviderError::new(format!("{}: the bucket policy is not JSON: {e}", req.address)))?;
    Ok(Some(Live { state: json!({ "bucket": bucket, "policy": policy }), outputs: Outputs::new(), tags: None }))
}

async fn put_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let policy = match req.desired.get("policy") {
        Some(policy @ Value::Object(_)) => policy.to_string(),
        _ => return Err(ProviderError::new(format!("{}: desired state lacks policy object `policy`", req.address))),
    };
    c.s3.put_bucket_policy().bucket(str_field(req, "bucket")?).policy(policy).send().await.map_err(aws_error)?;
    Ok(Outputs::new())
}

// ---------------------------------------------------------------- objects

async fn read_object(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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
fn object_outputs(bucket: &str, key: &str, etag: Option<&str>) -> Outputs {
    let mut outputs = Outputs::from([("arn".to_owned(), json!(format!("arn:aws:s3:::{bucket}/{key}")))]);
    if let Some(etag) = etag {
        outputs.insert("etag".to_owned(), json!(etag.trim_matches('"')));
    }
    outputs
}

fn not_s3(kind: Kind) -> ProviderError {
    ProviderError::new(format!("{kind} is not an S3 resource"))
}

/// Deletes every object of the bucket (only with `destroy --force-delete-buckets`).
async fn empty_bucket(c: &Clients, bucket: &str) -> ProviderResult<()> {
    loop {
        let listed = c.s3.list_objects_v2().bucket(bucket).send().await;
        let Some(listed) = absent_on(listed, NO_BUCKET)? else { return Ok(()) };
        if listed.contents().is_empty() {
            return Ok(());
        }
        for key in listed.contents().iter().filter_map(|o| o.key()) {
            c.s3.delete_object().bucket(bucket).key(key).send().await.map_err(aws_error)?;
        }
    }
}
