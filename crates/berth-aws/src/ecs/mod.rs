//! ECS: capacity providers, clusters and their capacity provider association,
//! task definitions, services and their autoscaling; what they share (tagging calls, clusters,
//! reading nested desired-state values).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, Tag};
use berth_core::provider::{Live, NodeRequest, ProviderResult};
use serde_json::Value;

use crate::handler::Tagger;
use crate::util::{get_i32, get_items, get_str, get_strings, live_arn, tags_from};
use crate::{aws_error, Clients};

pub(crate) mod capacity_provider;
pub(crate) mod cluster;
pub(crate) mod cluster_capacity_providers;
pub(crate) mod service;
pub(crate) mod service_autoscaling;
pub(crate) mod task_definition;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[
    &capacity_provider::CapacityProvider,
    &cluster::EcsCluster,
    &cluster_capacity_providers::ClusterCapacityProviders,
    &task_definition::TaskDefinition,
    &service::EcsService,
    &service_autoscaling::ServiceAutoscaling,
];

/// ECS tags a resource by its ARN.
pub(crate) struct EcsTags;

#[async_trait]
impl Tagger for EcsTags {
    fn target<'a>(&self, req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
        live_arn(req, live)
    }

    async fn tag(&self, c: &Clients, arn: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        c.ecs.tag_resource().resource_arn(arn).set_tags(Some(ecs_tags(tags))).send().await.map_err(aws_error)?;
        Ok(())
    }

    async fn untag(&self, c: &Clients, arn: &str, keys: Vec<String>) -> ProviderResult<()> {
        c.ecs.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map_err(aws_error)?;
        Ok(())
    }
}

fn ecs_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags_from(tags.iter().map(|t| (t.key(), t.value())))
}

/// The ACTIVE cluster of that name, with its tags.
async fn describe_cluster(c: &Clients, name: &str) -> ProviderResult<Option<Cluster>> {
    let out = c
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(aws_error)?;
    // A missing cluster is a MISSING failure; a deleted one stays listed as
    // INACTIVE (for a while on AWS, for good on moto).
    Ok(out
        .clusters
        .unwrap_or_default()
        .into_iter()
        .find(|cluster| cluster.cluster_name() == Some(name) && cluster.status() != Some("INACTIVE")))
}

// ---------------------------------------------------------------- JSON shape

fn strings(items: &[String]) -> impl Iterator<Item = Value> + '_ {
    items.iter().map(|s| Value::from(s.as_str()))
}
