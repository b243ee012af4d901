//! A target group: its health check and deregistration delay change in place.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{self, Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::{elb_tags, port, retag_if_changed, with_tags, ElbTags, MISSING};
use crate::handler::{Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, get_i32, invalid, live_arn, outputs, str_field, Shape};
use crate::{aws_error, Clients};

pub(crate) struct TargetGroup;

#[async_trait]
impl Handler for TargetGroup {
    fn kind(&self) -> Kind {
        Kind::TargetGroup
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&ElbTags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["DuplicateTargetGroupName"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        // A group replaced create-first carries its replacement's name
        // (berth_core::kind::Kind::replacement); the engine takes it for the file's.
        let name = str_field(req, "name")?;
        let replacement = Kind::TargetGroup.replacement(req.desired, Some(name));
        let mut found = None;
        for name in [Some(name), replacement["name"].as_str()].into_iter().flatten() {
            let described = c.elb.describe_target_groups().names(name).send().await;
            found = absent_on(described, MISSING)?.and_then(|out| out.target_groups?.into_iter().next());
            if found.is_some() {
                break;
            }
        }
        let Some(tg) = found else {
            return Ok(None);
        };
        let Some(arn) = tg.target_group_arn() else {
            return Ok(None);
        };
        let desired_health = req.desired.get("health_check");
        let health = Shape::default()
            .opt("path", tg.health_check_path())
            .opt("matcher", tg.matcher().and_then(Matcher::http_code))
            .opt("interval", tg.health_check_interval_seconds())
            .opt("healthy_threshold", tg.healthy_threshold_count())
            .opt("unhealthy_threshold", tg.unhealthy_threshold_count())
            // Unset in the file, AWS's default for the target type is not a change.
            .opt(
                "timeout",
                tg.health_check_timeout_seconds()
                    .filter(|_| desired_health.is_some_and(|h| h.get("timeout").is_some())),
            )
            .build();
        let mut state = Shape::default()
            .opt("name", tg.target_group_name())
            .opt("protocol", tg.protocol().map(ProtocolEnum::as_str))
            .opt("port", tg.port())
            .opt("vpc_id", tg.vpc_id())
            .opt("target_type", tg.target_type().map(TargetTypeEnum::as_str))
            .set("health_check", health)
            .build();
        if req.desired.get("deregistration_delay").is_some() {
            state["deregistration_delay"] = json!(deregistration_delay(c, arn).await?);
        }
        with_tags(c, arn, state, target_group_outputs(&tg)).await
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let health = HealthCheck::desired(req);
        let call = c
            .elb
            .create_target_group()
            .name(str_field(req, "name")?)
            .protocol(ProtocolEnum::from(str_field(req, "protocol")?))
            .port(port(req)?)
            .vpc_id(str_field(req, "vpc_id")?)
            .target_type(TargetTypeEnum::from(str_field(req, "target_type")?))
            .set_health_check_path(health.path)
            .set_matcher(health.matcher)
            .set_health_check_interval_seconds(health.interval)
            .set_health_check_timeout_seconds(health.timeout)
            .set_healthy_threshold_count(health.healthy_threshold)
            .set_unhealthy_threshold_count(health.unhealthy_threshold)
            .set_tags(Some(elb_tags(desired_tags(req))));
        let out = send_once!(aws_sdk_elasticloadbalancingv2, call).map_err(aws_error)?;
        let tg =
            out.target_groups().first().ok_or_else(|| invalid(req, "CreateTargetGroup returned no target group"))?;
        if let Some(arn) = tg.target_group_arn() {
            set_deregistration_delay(c, req, arn).await?;
        }
        Ok(target_group_outputs(tg))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        let has = |field: &str| changed.iter().any(|f| f == field);
        let arn = live_arn(req, live)?;
        if has("health_check") {
            let health = HealthCheck::desired(req);
            c.elb
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_path(health.path)
                .set_matcher(health.matcher)
                .set_health_check_interval_seconds(health.interval)
                .set_health_check_timeout_seconds(health.timeout)
                .set_healthy_threshold_count(health.healthy_threshold)
                .set_unhealthy_threshold_count(health.unhealthy_threshold)
                .send()
                .await
                .map_err(aws_error)?;
        }
        if has("deregistration_delay") {
            set_deregistration_delay(c, req, arn).await?;
        }
        retag_if_changed(c, req, live, changed).await
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let deleted = c.elb.delete_target_group().target_group_arn(live_arn(req, live)?).send().await;
        absent_on(deleted, MISSING).map(drop)
    }

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if (arn.service, arn.resource_type) != ("elasticloadbalancing", "targetgroup") {
            return Ok(None);
        }
        let name = arn.path.split('/').next().unwrap_or_default();
        Ok(Some(json!({ "name": name })))
    }
}

/// The desired health check of a target group, as the SDK takes it.
struct HealthCheck {
    path: Option<String>,
    matcher: Option<Matcher>,
    interval: Option<i32>,
    timeout: Option<i32>,
    healthy_threshold: Option<i32>,
    unhealthy_threshold: Option<i32>,
}

impl HealthCheck {
    fn desired(req: &NodeRequest<'_>) -> HealthCheck {
        let health = req.desired.get("health_check");
        let text = |key: &str| health.and_then(|h| h.get(key)).and_then(Value::as_str);
        let number = |key: &str| health.and_then(|h| get_i32(h, key));
        HealthCheck {
            path: text("path").map(str::to_owned),
            matcher: text("matcher").map(|code| Matcher::builder().http_code(code).build()),
            interval: number("interval"),
            timeout: number("timeout"),
            healthy_threshold: number("healthy_threshold"),
            unhealthy_threshold: number("unhealthy_threshold"),
        }
    }
}

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

async fn deregistration_delay(c: &Clients, arn: &str) -> ProviderResult<Option<u32>> {
    let out = c.elb.describe_target_group_attributes().target_group_arn(arn).send().await.map_err(aws_error)?;
    let value = out.attributes().iter().find(|a| a.key() == Some(DEREGISTRATION_DELAY)).and_then(|a| a.value());
    Ok(value.and_then(|v| v.parse().ok()))
}

/// Sets the desired deregistration delay, when the file gives one.
async fn set_deregistration_delay(c: &Clients, req: &NodeRequest<'_>, arn: &str) -> ProviderResult<()> {
    let Some(delay) = req.desired.get("deregistration_delay").and_then(Value::as_u64) else { return Ok(()) };
    let attribute = TargetGroupAttribute::builder().key(DEREGISTRATION_DELAY).value(delay.to_string()).build();
    c.elb
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(attribute)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}

fn target_group_outputs(tg: &types::TargetGroup) -> Outputs {
    outputs([("arn", tg.target_group_arn().into()), ("name", tg.target_group_name().into())])
}
