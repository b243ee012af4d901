//! A CloudWatch Logs group, with its retention and tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use super::LogsTags;
use crate::handler::{fixed_field, retag, Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, name_and_arn, str_field};
use crate::{aws_error, Clients};

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

pub(crate) struct LogGroup;

#[async_trait]
impl Handler for LogGroup {
    fn kind(&self) -> Kind {
        Kind::LogGroup
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&LogsTags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["ResourceAlreadyExistsException"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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
        Ok(Some(Live { state, outputs: name_and_arn(name, arn.as_str()), tags: Some(tags) }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let tags = desired_tags(req);
        let tags = (!tags.is_empty()).then(|| tags.into_iter().collect());
        send_once!(aws_sdk_cloudwatchlogs, c.logs.create_log_group().log_group_name(name).set_tags(tags))
            .map_err(aws_error)?;
        if let Some(days) = retention_days(req)? {
            c.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(aws_error)?;
        }
        // CreateLogGroup returns nothing, not even the ARN.
        let group = find_group(c, name).await?.ok_or_else(|| {
            ProviderError::new(format!("{}: log group {name} is not listed after creating it", req.address))
        })?;
        Ok(name_and_arn(name, group_arn(req, &group)?.as_str()))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
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
                "tags" => retag(&LogsTags, c, req, live).await?,
                other => return Err(fixed_field(req, other)),
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let result = c.logs.delete_log_group().log_group_name(str_field(req, "name")?).send().await;
        absent_on(result, NOT_FOUND).map(drop)
    }

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if arn.service != "logs" {
            return Ok(None);
        }
        let name = arn.resource.trim_start_matches("log-group:").trim_end_matches(":*");
        Ok(Some(json!({ "name": name })))
    }
}

/// The group named exactly `name`: DescribeLogGroups only filters by prefix.
async fn find_group(c: &Clients, name: &str) -> ProviderResult<Option<types::LogGroup>> {
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
fn group_arn(req: &NodeRequest<'_>, group: &types::LogGroup) -> ProviderResult<String> {
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
