//! EC2: the network the stack runs in (data), key pairs, security groups and
//! their ingress rules, and launch templates; what they share (tagging calls,
//! filters, error codes).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::provider::{Live, NodeRequest, ProviderError, ProviderResult, STACK_TAG};
use serde_json::Value;

use crate::handler::Tagger;
use crate::util::{desired_tags, tags_from};
use crate::{aws_error, Clients};

pub(crate) mod ingress;
pub(crate) mod key_pair;
pub(crate) mod launch_template;
pub(crate) mod network;
pub(crate) mod security_group;

use crate::handler::ReadOnly;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[
    &ReadOnly(network::Network),
    &key_pair::KeyPair,
    &security_group::SecurityGroup,
    &ingress::SecurityGroupIngress,
    &launch_template::LaunchTemplate,
];

/// EC2 tags a resource by its id.
pub(crate) struct Ec2Tags;

#[async_trait]
impl Tagger for Ec2Tags {
    fn target<'a>(&self, _req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
        output(live, "id")
    }

    async fn tag(&self, c: &Clients, id: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        c.ec2.create_tags().resources(id).set_tags(Some(ec2_tags(tags))).send().await.map_err(aws_error)?;
        Ok(())
    }

    async fn untag(&self, c: &Clients, id: &str, keys: Vec<String>) -> ProviderResult<()> {
        let tags = keys.into_iter().map(|k| Tag::builder().key(k).build()).collect();
        c.ec2.delete_tags().resources(id).set_tags(Some(tags)).send().await.map_err(aws_error)?;
        Ok(())
    }
}

fn has_code<E: ProvideErrorMetadata>(err: &E, codes: &[&str]) -> bool {
    err.code().is_some_and(|code| codes.contains(&code))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// A string output of the live resource (its id), needed to act on it.
fn output<'a>(live: &'a Live, key: &str) -> ProviderResult<&'a str> {
    live.outputs
        .get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ProviderError::new(format!("the live resource has no `{key}`")))
}

/// The filter for what `stack` owns, for the listings that filter by tag.
fn owned_filter(stack: &str) -> Filter {
    Filter::builder().name(format!("tag:{STACK_TAG}")).values(stack).build()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags_from(tags.iter().map(|t| (t.key(), t.value())))
}

fn tag_specification(resource_type: ResourceType, req: &NodeRequest<'_>) -> TagSpecification {
    TagSpecification::builder().resource_type(resource_type).set_tags(Some(ec2_tags(desired_tags(req)))).build()
}

fn ec2_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}
