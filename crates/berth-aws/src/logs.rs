//! CloudWatch Logs groups, with their retention and tags.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use crate::once::send_once;
use crate::util::{absent_on, desired_tags, str_field, tag_changes};
use crate::{aws_error, Clients};

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

pub(crate) async fn read(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    expect_log_group(req)?;
    let name = str_field(req, "name")?;
    let Some(group) = find_group(c, name).await? else {
        return Ok(None);
    };
    let arn = group_arn(req, &group)?;
    let mut state = json!({ "name": name });
    if let Some(days) = group.retention_in_days() {
        state["retention_days"] = json!(days);
    }
    let tags = c.logs.list_tags_for_resource().resource_arn(&arn).send().await.map_err(aws_error)?;
    let tags: BTreeMap<String, String> =
        tags.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(Some(Live { state, outputs: outputs(name, &arn), tags: Some(tags) }))
}

pub(crate) async fn create(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    expect_log_group(req)?;
    let name = str_field(req, "name")?;
    let tags = desired_tags(req);
    let tags = (!tags.is_empty()).then(|| tags.into_iter().collect());
    send_once!(aws_sdk_cloudwatchlogs, c.logs.create_log_group().log_group_name(name).set_tags(tags))
        .map_err(aws_error)?;
    if let Some(days) = retention_days(req)? {
        c.logs.put_retention_policy().log_group_name(name).retention_in_days(days).send().await.map_err(aws_error)?;
    }
    // CreateLogGroup returns nothing, not even the ARN.
    let group = find_group(c, name).await?.ok_or_else(|| {
        ProviderError::new(format!("{}: log group {name} is not listed after creating it", req.address))
    })?;
    Ok(outputs(name, &group_arn(req, &group)?))
}

pub(crate) async fn update(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    expect_log_group(req)?;
    let name = str_field(req, "name")?;
    for field in changed {
        match field.as_str() {
            "retention_days" => match retention_days(req)? {
                Some(days) => {
                    let call = c.logs.put_retention_policy().log_group_name(name).retention_in_days(days);
                    call.send().await.map_err(aws_error)?;
                }
                None => {
                    c.logs.delete_retention_policy().log_group_name(name).send().await.map_err(aws_error)?;
                }
            },
            "tags" => {
                let arn = live.outputs.get("arn").and_then(Value::as_str).ok_or_else(|| {
                    ProviderError::new(format!("{}: the live log group has no ARN output", req.address))
                })?;
                let (upsert, remove) = tag_changes(live.tags.as_ref().unwrap_or(&BTreeMap::new()), &desired_tags(req));
                if !upsert.is_empty() {
                    let call = c.logs.tag_resource().resource_arn(arn).set_tags(Some(upsert.into_iter().collect()));
                    call.send().await.map_err(aws_error)?;
                }
                if !remove.is_empty() {
                    c.logs
                        .untag_resource()
                        .resource_arn(arn)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(aws_error)?;
                }
            }
            other => {
                return Err(ProviderError::new(format!(
                    "{}: `{other}` of a log group cannot be changed in place",
                    req.address
                )))
            }
        }
    }
    Ok(live.outputs.clone())
}

pub(crate) async fn delete(c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
    expect_log_group(req)?;
    let result = c.logs.delete_log_group().log_group_name(str_field(req, "name")?).send().await;
    absent_on(result, NOT_FOUND).map(drop)
}

fn expect_log_group(req: &NodeRequest<'_>) -> ProviderResult<()> {
    match req.kind {
        Kind::LogGroup => Ok(()),
        other => Err(ProviderError::new(format!("{other} is not a CloudWatch Logs resource"))),
    }
}

/// The group named exactly `name`: DescribeLogGroups only filters by prefix.
async fn find_group(c: &Clients, name: &str) -> ProviderResult<Option<LogGroup>> {
    let mut groups = c.logs.describe_log_groups().log_group_name_prefix(name).into_paginator().items().send();
    while let Some(group) = groups.next().await {
        let group = group.map_err(aws_error)?;
        if group.log_group_name() == Some(name) {
            return Ok(Some(group));
        }
    }
    Ok(None)
}

/// The group's ARN without the `:*` that DescribeLogGroups' `arn` ends with;
/// `logGroupArn` lacks it but is a newer field, so `arn` is the fallback.
fn group_arn(req: &NodeRequest<'_>, group: &LogGroup) -> ProviderResult<String> {
    group
        .log_group_arn()
        .or(group.arn())
        .map(|arn| arn.trim_end_matches(":*").to_owned())
        .ok_or_else(|| ProviderError::new(format!("{}: CloudWatch Logs returned no ARN for the group", req.address)))
}

fn retention_days(req: &NodeRequest<'_>) -> ProviderResult<Option<i32>> {
    let Some(days) = req.desired.get("retention_days") else {
        return Ok(None);
    };
    days.as_i64()
        .and_then(|days| i32::try_from(days).ok())
        .map(Some)
        .ok_or_else(|| ProviderError::new(format!("{}: `retention_days` must be a whole number of days", req.address)))
}

fn outputs(name: &str, arn: &str) -> Outputs {
    Outputs::from([("name".to_owned(), json!(name)), ("arn".to_owned(), json!(arn))])
}
