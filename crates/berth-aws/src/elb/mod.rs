//! Elastic Load Balancing v2: target groups, application load balancers and
//! their listeners and listener rules; what they share (tagging calls, error codes).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::Tag;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::Value;

use crate::handler::{retag, Tagger};
use crate::util::{int_field, invalid, live_arn, tags_from};
use crate::{aws_error, Clients};

pub(crate) mod listener;
pub(crate) mod listener_rule;
pub(crate) mod load_balancer;
pub(crate) mod target_group;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] =
    &[&target_group::TargetGroup, &load_balancer::LoadBalancer, &listener::Listener, &listener_rule::ListenerRule];

/// Error codes ELBv2 gives for a load balancer, target group or listener that
/// is not there.
const MISSING: &[&str] = &["LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound"];

/// ELBv2 tags a resource by its ARN.
pub(crate) struct ElbTags;

#[async_trait]
impl Tagger for ElbTags {
    fn target<'a>(&self, req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
        live_arn(req, live)
    }

    async fn tag(&self, c: &Clients, arn: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        c.elb.add_tags().resource_arns(arn).set_tags(Some(elb_tags(tags))).send().await.map_err(aws_error)?;
        Ok(())
    }

    async fn untag(&self, c: &Clients, arn: &str, keys: Vec<String>) -> ProviderResult<()> {
        c.elb.remove_tags().resource_arns(arn).set_tag_keys(Some(keys)).send().await.map_err(aws_error)?;
        Ok(())
    }
}

fn elb_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

async fn read_tags(c: &Clients, arn: &str) -> ProviderResult<BTreeMap<String, String>> {
    let out = c.elb.describe_tags().resource_arns(arn).send().await.map_err(aws_error)?;
    let tags = out.tag_descriptions().iter().filter(|d| d.resource_arn() == Some(arn)).flat_map(|d| d.tags());
    Ok(tags_from(tags.map(|t| (t.key(), t.value()))))
}

/// The end of every ELBv2 update: the tags, when they changed. No output
/// changes in place.
async fn retag_if_changed(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    if changed.iter().any(|f| f == "tags") {
        retag(&ElbTags, c, req, live).await?;
    }
    Ok(live.outputs.clone())
}

/// A live resource, with its tags read from its ARN.
async fn with_tags(c: &Clients, arn: &str, state: Value, outputs: Outputs) -> ProviderResult<Option<Live>> {
    Ok(Some(Live { state, outputs, tags: Some(read_tags(c, arn).await?) }))
}

fn port(req: &NodeRequest<'_>) -> ProviderResult<i32> {
    i32::try_from(int_field(req, "port")?).map_err(|e| invalid(req, e))
}
