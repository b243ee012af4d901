//! A listener of a load balancer: forwards to a target group or redirects,
//! with a certificate when it speaks HTTPS.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    self, Action, ActionTypeEnum, Certificate, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, LiveChild, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::listener_rule::{listener_rules, rule_child};
use super::{elb_tags, port, retag_if_changed, with_tags, ElbTags, MISSING};
use crate::discover::{discovered, id_tag};
use crate::handler::{Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, invalid, live_arn, outputs, str_field, Shape};
use crate::{aws_error, Clients};

pub(crate) struct Listener;

#[async_trait]
impl Handler for Listener {
    fn kind(&self) -> Kind {
        Kind::Listener
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&ElbTags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["DuplicateListener"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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
        let certificate = listener.certificates().first().and_then(|c| c.certificate_arn());
        let state = Shape::default()
            .set("load_balancer_arn", listener.load_balancer_arn().unwrap_or(balancer))
            .set("port", port)
            .opt("protocol", listener.protocol().map(ProtocolEnum::as_str))
            .opt("target_group_arn", forwarded_target_group(&listener))
            .opt("redirect", redirect_state(&listener))
            .opt("certificate_arn", certificate)
            .build();
        with_tags(c, arn, state, listener_outputs(&listener)).await
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        // moto accepts a second listener on the same port.
        let call = c
            .elb
            .create_listener()
            .load_balancer_arn(str_field(req, "load_balancer_arn")?)
            .port(port(req)?)
            .protocol(ProtocolEnum::from(str_field(req, "protocol")?))
            .default_actions(default_action(req)?)
            .set_certificates(certificates(req))
            .set_tags(Some(elb_tags(desired_tags(req))));
        let out = send_once!(aws_sdk_elasticloadbalancingv2, call).map_err(aws_error)?;
        let listener = out.listeners().first().ok_or_else(|| invalid(req, "CreateListener returned no listener"))?;
        Ok(listener_outputs(listener))
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
        if ["protocol", "target_group_arn", "redirect", "certificate_arn"].into_iter().any(has) {
            // moto's ModifyListener fails without DefaultActions (AWS takes a
            // protocol alone), so all of them are always sent.
            c.elb
                .modify_listener()
                .listener_arn(arn)
                .protocol(ProtocolEnum::from(str_field(req, "protocol")?))
                .default_actions(default_action(req)?)
                .set_certificates(certificates(req))
                .send()
                .await
                .map_err(aws_error)?;
        }
        retag_if_changed(c, req, live, changed).await
    }

    /// Its rules, so that those the file does not declare are removed.
    async fn children(
        &self,
        c: &Clients,
        _parent: &NodeRequest<'_>,
        live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let arn = live.outputs.get("arn").and_then(Value::as_str).unwrap_or_default();
        let rules = listener_rules(c, arn).await?.unwrap_or_default();
        Ok(rules.iter().map(|rule| rule_child(arn, rule)).collect())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let deleted = c.elb.delete_listener().listener_arn(live_arn(req, live)?).send().await;
        absent_on(deleted, MISSING).map(drop)
    }

    /// The tagging API does not cover listeners: they are listed per load
    /// balancer, of the balancers found before (by the tagging API).
    async fn discover(&self, c: &Clients, _stack: &str, found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let balancers = found
            .iter()
            .filter(|d| d.kind == Kind::LoadBalancer)
            .filter_map(|d| d.identity.get("arn").and_then(Value::as_str));
        let mut listed = Vec::new();
        for balancer in balancers {
            let listeners = c.elb.describe_listeners().load_balancer_arn(balancer).send().await.map_err(aws_error)?;
            let arns: Vec<String> =
                listeners.listeners().iter().filter_map(|l| l.listener_arn().map(str::to_owned)).collect();
            if arns.is_empty() {
                continue;
            }
            let tags = c.elb.describe_tags().set_resource_arns(Some(arns)).send().await.map_err(aws_error)?;
            for description in tags.tag_descriptions() {
                let address = id_tag(description.tags().iter().map(|t| (t.key(), t.value())));
                let port = listeners
                    .listeners()
                    .iter()
                    .find(|l| l.listener_arn() == description.resource_arn())
                    .and_then(|l| l.port());
                let identity = json!({ "load_balancer_arn": balancer, "port": port });
                listed.extend(discovered(address, Kind::Listener, identity));
            }
        }
        Ok(listed)
    }
}

/// What the listener does with every request: forward it, or redirect it.
fn default_action(req: &NodeRequest<'_>) -> ProviderResult<Action> {
    let Some(redirect) = req.desired.get("redirect") else {
        let target_group = str_field(req, "target_group_arn")?;
        return Ok(Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group).build());
    };
    let field = |key: &str| redirect.get(key).and_then(Value::as_str).map(str::to_owned);
    let status = RedirectActionStatusCodeEnum::from(field("status_code").as_deref().unwrap_or("HTTP_301"));
    let config = RedirectActionConfig::builder()
        .set_protocol(field("protocol"))
        .set_port(field("port"))
        .status_code(status)
        .build();
    Ok(Action::builder().r#type(ActionTypeEnum::Redirect).redirect_config(config).build())
}

fn certificates(req: &NodeRequest<'_>) -> Option<Vec<Certificate>> {
    let arn = req.desired.get("certificate_arn").and_then(Value::as_str)?;
    Some(vec![Certificate::builder().certificate_arn(arn).build()])
}

/// The redirect of a listener that redirects, in the desired state's shape.
fn redirect_state(listener: &types::Listener) -> Option<Value> {
    let action = listener.default_actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Redirect))?;
    let config = action.redirect_config()?;
    Some(
        Shape::default()
            .opt("protocol", config.protocol())
            .opt("port", config.port())
            .opt("status_code", config.status_code().map(RedirectActionStatusCodeEnum::as_str))
            .build(),
    )
}

fn listener_outputs(listener: &types::Listener) -> Outputs {
    outputs([("arn", listener.listener_arn().into())])
}

/// The target group a listener forwards to by default.
fn forwarded_target_group(listener: &types::Listener) -> Option<&str> {
    let action = listener.default_actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    // AWS fills in both the plain ARN and the forward config; either may be
    // the only one present depending on how the listener was made.
    action.target_group_arn().or_else(|| action.forward_config()?.target_groups().first()?.target_group_arn())
}
