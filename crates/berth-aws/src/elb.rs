//! Elastic Load Balancing v2: target groups, application load balancers and
//! their listeners.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher,
    ProtocolEnum, Tag, TargetGroup, TargetTypeEnum,
};
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::Value;

use crate::once::send_once;
use crate::util::{
    absent_on, desired_tags, int_field, invalid, live_arn, opt_str, outputs, str_field, str_list, tag_changes, Shape,
};
use crate::{aws_error, Clients};

/// Error codes ELBv2 gives for a load balancer, target group or listener that
/// is not there.
const MISSING: &[&str] = &["LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound"];

pub(crate) async fn read(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    match req.kind {
        Kind::TargetGroup => read_target_group(c, req).await,
        Kind::LoadBalancer => read_load_balancer(c, req).await,
        Kind::Listener => read_listener(c, req).await,
        _ => Err(unsupported(req)),
    }
}

pub(crate) async fn create(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    match req.kind {
        Kind::TargetGroup => create_target_group(c, req).await,
        Kind::LoadBalancer => create_load_balancer(c, req).await,
        Kind::Listener => create_listener(c, req).await,
        _ => Err(unsupported(req)),
    }
}

pub(crate) async fn update(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    let has = |field: &str| changed.iter().any(|f| f == field);
    let arn = live_arn(req, live)?;
    match req.kind {
        Kind::TargetGroup if has("health_check") => {
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
        Kind::LoadBalancer => {
            if has("security_group_ids") {
                let groups = Some(str_list(req, "security_group_ids"));
                c.elb
                    .set_security_groups()
                    .load_balancer_arn(arn)
                    .set_security_groups(groups)
                    .send()
                    .await
                    .map_err(aws_error)?;
            }
            if has("subnet_ids") {
                let subnets = Some(str_list(req, "subnet_ids"));
                c.elb.set_subnets().load_balancer_arn(arn).set_subnets(subnets).send().await.map_err(aws_error)?;
            }
        }
        Kind::Listener if has("protocol") || has("target_group_arn") => {
            // moto's ModifyListener fails without DefaultActions (AWS takes a
            // protocol alone), so both are always sent.
            c.elb
                .modify_listener()
                .listener_arn(arn)
                .protocol(ProtocolEnum::from(str_field(req, "protocol")?))
                .default_actions(forward(str_field(req, "target_group_arn")?))
                .send()
                .await
                .map_err(aws_error)?;
        }
        Kind::TargetGroup | Kind::Listener => {}
        _ => return Err(unsupported(req)),
    }
    if has("tags") {
        retag(c, req, live).await?;
    }
    Ok(live.outputs.clone())
}

pub(crate) async fn delete(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let arn = live_arn(req, live)?;
    // Deleting something already gone is done.
    match req.kind {
        Kind::TargetGroup => {
            let deleted = c.elb.delete_target_group().target_group_arn(arn).send().await;
            absent_on(deleted, MISSING)?;
        }
        Kind::LoadBalancer => {
            let deleted = c.elb.delete_load_balancer().load_balancer_arn(arn).send().await;
            absent_on(deleted, MISSING)?;
        }
        Kind::Listener => {
            let deleted = c.elb.delete_listener().listener_arn(arn).send().await;
            absent_on(deleted, MISSING)?;
        }
        _ => return Err(unsupported(req)),
    }
    Ok(())
}

fn unsupported(req: &NodeRequest<'_>) -> ProviderError {
    ProviderError::new(format!("{}: {} is not an ELBv2 kind", req.address, req.kind))
}

fn port(req: &NodeRequest<'_>) -> ProviderResult<i32> {
    i32::try_from(int_field(req, "port")?).map_err(|e| invalid(req, e))
}

/// The desired health check path and matcher of a target group.
fn health_check(req: &NodeRequest<'_>) -> (Option<String>, Option<Matcher>) {
    let health = req.desired.get("health_check");
    let field = |key: &str| health.and_then(|h| h.get(key)).and_then(Value::as_str);
    (field("path").map(str::to_owned), field("matcher").map(|code| Matcher::builder().http_code(code).build()))
}

fn forward(target_group_arn: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group_arn).build()
}

// ---------------------------------------------------------------- tags

fn elb_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

async fn read_tags(c: &Clients, arn: &str) -> ProviderResult<BTreeMap<String, String>> {
    let out = c.elb.describe_tags().resource_arns(arn).send().await.map_err(aws_error)?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter(|d| d.resource_arn() == Some(arn))
        .flat_map(|d| d.tags())
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect())
}

/// Brings the live resource's tags to the desired ones.
async fn retag(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let arn = live_arn(req, live)?;
    let (upsert, remove) = tag_changes(&live.tags.clone().unwrap_or_default(), &desired_tags(req));
    if !upsert.is_empty() {
        c.elb.add_tags().resource_arns(arn).set_tags(Some(elb_tags(upsert))).send().await.map_err(aws_error)?;
    }
    if !remove.is_empty() {
        c.elb.remove_tags().resource_arns(arn).set_tag_keys(Some(remove)).send().await.map_err(aws_error)?;
    }
    Ok(())
}

/// A live resource, with its tags read from its ARN.
async fn with_tags(c: &Clients, arn: &str, state: Value, outputs: Outputs) -> ProviderResult<Option<Live>> {
    Ok(Some(Live { state, outputs, tags: Some(read_tags(c, arn).await?) }))
}

// ---------------------------------------------------------------- target groups

fn target_group_outputs(tg: &TargetGroup) -> Outputs {
    outputs([("arn", tg.target_group_arn().into()), ("name", tg.target_group_name().into())])
}

async fn read_target_group(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let described = c.elb.describe_target_groups().names(str_field(req, "name")?).send().await;
    let Some(tg) = absent_on(described, MISSING)?.and_then(|out| out.target_groups?.into_iter().next()) else {
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

async fn create_target_group(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
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
    let tg = out.target_groups().first().ok_or_else(|| invalid(req, "CreateTargetGroup returned no target group"))?;
    Ok(target_group_outputs(tg))
}

// ---------------------------------------------------------------- load balancers

fn load_balancer_outputs(lb: &LoadBalancer) -> Outputs {
    outputs([
        ("arn", lb.load_balancer_arn().into()),
        ("name", lb.load_balancer_name().into()),
        ("dns_name", lb.dns_name().into()),
    ])
}

async fn read_load_balancer(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let described = c.elb.describe_load_balancers().names(str_field(req, "name")?).send().await;
    // A resource found by its tags names its ARN: several balancers may share
    // a name on moto (a repeated CreateLoadBalancer makes a second one).
    let wanted = opt_str(req, "arn");
    let found = absent_on(described, MISSING)?.and_then(|out| {
        out.load_balancers?.into_iter().find(|lb| wanted.is_none_or(|arn| lb.load_balancer_arn() == Some(arn)))
    });
    let Some(lb) = found else { return Ok(None) };
    let Some(arn) = lb.load_balancer_arn() else {
        return Ok(None);
    };
    let mut subnets: Vec<&str> = lb.availability_zones().iter().filter_map(|az| az.subnet_id()).collect();
    subnets.sort_unstable();
    let mut groups: Vec<&str> = lb.security_groups().iter().map(String::as_str).collect();
    groups.sort_unstable();
    let state = Shape::default()
        .opt("name", lb.load_balancer_name())
        .opt("scheme", lb.scheme().map(LoadBalancerSchemeEnum::as_str))
        .opt("type", lb.r#type().map(LoadBalancerTypeEnum::as_str))
        .set("subnet_ids", subnets)
        .set("security_group_ids", groups)
        .build();
    with_tags(c, arn, state, load_balancer_outputs(&lb)).await
}

async fn create_load_balancer(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    // AWS answers a repeated CreateLoadBalancer with the first one's balancer;
    // moto makes a second balancer of the same name.
    let call = c
        .elb
        .create_load_balancer()
        .name(str_field(req, "name")?)
        .set_subnets(Some(str_list(req, "subnet_ids")))
        .set_security_groups(Some(str_list(req, "security_group_ids")))
        .set_scheme(opt_str(req, "scheme").map(LoadBalancerSchemeEnum::from))
        .r#type(LoadBalancerTypeEnum::from(opt_str(req, "type").unwrap_or("application")))
        .set_tags(Some(elb_tags(desired_tags(req))));
    let out = send_once!(aws_sdk_elasticloadbalancingv2, call).map_err(aws_error)?;
    let lb =
        out.load_balancers().first().ok_or_else(|| invalid(req, "CreateLoadBalancer returned no load balancer"))?;
    Ok(load_balancer_outputs(lb))
}

// ---------------------------------------------------------------- listeners

fn listener_outputs(listener: &Listener) -> Outputs {
    outputs([("arn", listener.listener_arn().into())])
}

/// The target group a listener forwards to by default.
fn forwarded_target_group(listener: &Listener) -> Option<&str> {
    let action = listener.default_actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    // AWS fills in both the plain ARN and the forward config; either may be
    // the only one present depending on how the listener was made.
    action.target_group_arn().or_else(|| action.forward_config()?.target_groups().first()?.target_group_arn())
}

async fn read_listener(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let balancer = str_field(req, "load_balancer_arn")?;
    let port = port(req)?;
    // A listener goes with its load balancer: a missing balancer is a missing listener.
    let described = c.elb.describe_listeners().load_balancer_arn(balancer).send().await;
    let found =
        absent_on(described, MISSING)?.and_then(|out| out.listeners?.into_iter().find(|l| l.port() == Some(port)));
    let Some(listener) = found else {
        return Ok(None);
    };
    let Some(arn) = listener.listener_arn() else {
        return Ok(None);
    };
    let state = Shape::default()
        .set("load_balancer_arn", listener.load_balancer_arn().unwrap_or(balancer))
        .set("port", port)
        .opt("protocol", listener.protocol().map(ProtocolEnum::as_str))
        .opt("target_group_arn", forwarded_target_group(&listener))
        .build();
    with_tags(c, arn, state, listener_outputs(&listener)).await
}

async fn create_listener(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    // moto accepts a second listener on the same port.
    let call = c
        .elb
        .create_listener()
        .load_balancer_arn(str_field(req, "load_balancer_arn")?)
        .port(port(req)?)
        .protocol(ProtocolEnum::from(str_field(req, "protocol")?))
        .default_actions(forward(str_field(req, "target_group_arn")?))
        .set_tags(Some(elb_tags(desired_tags(req))));
    let out = send_once!(aws_sdk_elasticloadbalancingv2, call).map_err(aws_error)?;
    let listener = out.listeners().first().ok_or_else(|| invalid(req, "CreateListener returned no listener"))?;
    Ok(listener_outputs(listener))
}
