//! A target group: its health check changes in place.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{self, Matcher, ProtocolEnum, TargetTypeEnum};
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::{elb_tags, port, retag_if_changed, with_tags, ElbTags, MISSING};
use crate::handler::{Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, invalid, live_arn, outputs, str_field, Shape};
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
        let health = Shape::default()
            .opt("path", tg.health_check_path())
            .opt("matcher", tg.matcher().and_then(Matcher::http_code))
            .build();
        let state = Shape::default()
            .opt("name", tg.target_group_name())
            .opt("protocol", tg.protocol().map(ProtocolEnum::as_str))
            .opt("port", tg.port())
            .opt("vpc_id", tg.vpc_id())
            .opt("target_type", tg.target_type().map(TargetTypeEnum::as_str))
            .set("health_check", health)
            .build();
        with_tags(c, arn, state, target_group_outputs(&tg)).await
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let (path, matcher) = health_check(req);
        let call = c
            .elb
            .create_target_group()
            .name(str_field(req, "name")?)
            .protocol(ProtocolEnum::from(str_field(req, "protocol")?))
            .port(port(req)?)
            .vpc_id(str_field(req, "vpc_id")?)
            .target_type(TargetTypeEnum::from(str_field(req, "target_type")?))
            .set_health_check_path(path)
            .set_matcher(matcher)
            .set_tags(Some(elb_tags(desired_tags(req))));
        let out = send_once!(aws_sdk_elasticloadbalancingv2, call).map_err(aws_error)?;
        let tg =
            out.target_groups().first().ok_or_else(|| invalid(req, "CreateTargetGroup returned no target group"))?;
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
            let (path, matcher) = health_check(req);
            c.elb
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_path(path)
                .set_matcher(matcher)
                .send()
                .await
                .map_err(aws_error)?;
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

/// The desired health check path and matcher of a target group.
fn health_check(req: &NodeRequest<'_>) -> (Option<String>, Option<Matcher>) {
    let health = req.desired.get("health_check");
    let field = |key: &str| health.and_then(|h| h.get(key)).and_then(Value::as_str);
    (field("path").map(str::to_owned), field("matcher").map(|code| Matcher::builder().http_code(code).build()))
}

fn target_group_outputs(tg: &types::TargetGroup) -> Outputs {
    outputs([("arn", tg.target_group_arn().into()), ("name", tg.target_group_name().into())])
}
