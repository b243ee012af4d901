//! Auto Scaling: groups, and the service's tagging calls.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::Tag;
use berth_core::provider::{Live, NodeRequest, ProviderResult};

use crate::handler::Tagger;
use crate::util::str_field;
use crate::{aws_error, Clients};

pub(crate) mod group;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[&group::AutoscalingGroup];

/// Auto Scaling tags a group by its name.
pub(crate) struct AutoscalingTags;

#[async_trait]
impl Tagger for AutoscalingTags {
    fn target<'a>(&self, req: &'a NodeRequest<'_>, _live: &'a Live) -> ProviderResult<&'a str> {
        str_field(req, "name")
    }

    async fn tag(&self, c: &Clients, name: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        c.autoscaling.create_or_update_tags().set_tags(Some(group_tags(name, tags))).send().await.map_err(aws_error)?;
        Ok(())
    }

    async fn untag(&self, c: &Clients, name: &str, keys: Vec<String>) -> ProviderResult<()> {
        let tags = keys.into_iter().map(|key| group_tag(name, key).build()).collect();
        c.autoscaling.delete_tags().set_tags(Some(tags)).send().await.map_err(aws_error)?;
        Ok(())
    }
}

/// The group's tags, copied to the instances it launches so they show which
/// stack they belong to.
pub(crate) fn group_tags(name: &str, tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(key, value)| group_tag(name, key).value(value).propagate_at_launch(true).build()).collect()
}

fn group_tag(name: &str, key: String) -> aws_sdk_autoscaling::types::builders::TagBuilder {
    Tag::builder().resource_id(name).resource_type("auto-scaling-group").key(key)
}
