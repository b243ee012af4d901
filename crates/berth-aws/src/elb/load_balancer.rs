//! An application load balancer: its subnets and security groups change in place.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{self, LoadBalancerSchemeEnum, LoadBalancerTypeEnum};
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::{elb_tags, retag_if_changed, with_tags, ElbTags, MISSING};
use crate::handler::{Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, invalid, live_arn, opt_str, outputs, str_field, str_list, Shape};
use crate::{aws_error, Clients};

pub(crate) struct LoadBalancer;

#[async_trait]
impl Handler for LoadBalancer {
    fn kind(&self) -> Kind {
        Kind::LoadBalancer
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&ElbTags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["DuplicateLoadBalancerName"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
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

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        let has = |field: &str| changed.iter().any(|f| f == field);
        let arn = live_arn(req, live)?;
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
        retag_if_changed(c, req, live, changed).await
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let deleted = c.elb.delete_load_balancer().load_balancer_arn(live_arn(req, live)?).send().await;
        absent_on(deleted, MISSING).map(drop)
    }

    /// The identity names the ARN too: several balancers may share a name on
    /// moto (see `read`).
    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if (arn.service, arn.resource_type) != ("elasticloadbalancing", "loadbalancer") {
            return Ok(None);
        }
        let name = arn.path.split('/').nth(1).unwrap_or_default();
        Ok(Some(json!({ "name": name, "arn": arn.full })))
    }
}

fn load_balancer_outputs(lb: &types::LoadBalancer) -> Outputs {
    outputs([
        ("arn", lb.load_balancer_arn().into()),
        ("name", lb.load_balancer_name().into()),
        ("dns_name", lb.dns_name().into()),
    ])
}
