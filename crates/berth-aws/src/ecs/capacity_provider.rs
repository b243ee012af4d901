//! An ECS capacity provider over an Auto Scaling group (berth scales the
//! group itself).

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    self, AutoScalingGroupProvider, CapacityProviderField, CapacityProviderStatus, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, NodeRequest, Outputs, ProviderResult, STACK_TAG};
use serde_json::json;

use super::{ecs_tags, tag_map, EcsTags};
use crate::discover::{discovered, id_tag};
use crate::handler::{Handler, Tagger};
use crate::once::send_once;
use crate::util::{desired_tags, invalid, name_and_arn, str_field, Shape};
use crate::{aws_error, Clients};

pub(crate) struct CapacityProvider;

#[async_trait]
impl Handler for CapacityProvider {
    fn kind(&self) -> Kind {
        Kind::CapacityProvider
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&EcsTags)
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let Some(provider) = describe_capacity_provider(c, name).await? else {
            return Ok(None);
        };
        let asg = provider.auto_scaling_group_provider().map(|p| p.auto_scaling_group_arn());
        Ok(Some(Live {
            state: Shape::default().set("name", name).opt("autoscaling_group_arn", asg).build(),
            outputs: name_and_arn(name, provider.capacity_provider_arn()),
            tags: Some(tag_map(provider.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let group = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(str_field(req, "autoscaling_group_arn")?)
            // berth scales the group itself; managed termination protection also
            // blocks teardown of the group.
            .managed_scaling(ManagedScaling::builder().status(ManagedScalingStatus::Disabled).build())
            .managed_termination_protection(ManagedTerminationProtection::Disabled)
            .build()
            .map_err(|e| invalid(req, e))?;
        let call = c
            .ecs
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(group)
            .set_tags(Some(ecs_tags(desired_tags(req))));
        let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
        Ok(name_and_arn(name, out.capacity_provider().and_then(|p| p.capacity_provider_arn())))
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let name = str_field(req, "name")?;
        // moto answers DeleteCapacityProvider on a missing provider with a 500
        // (AWS: ClientException), so look first.
        if describe_capacity_provider(c, name).await?.is_none() {
            return Ok(());
        }
        match c.ecs.delete_capacity_provider().capacity_provider(name).send().await {
            Ok(_) => Ok(()),
            // A retry whose first attempt's answer was lost finds the provider
            // gone (moto: a 500 again); it is deleted all the same.
            Err(e) => match describe_capacity_provider(c, name).await? {
                None => Ok(()),
                Some(_) => Err(aws_error(e)),
            },
        }
    }

    /// The tagging API does not cover capacity providers.
    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let describe = || c.ecs.describe_capacity_providers().include(CapacityProviderField::Tags);
        // moto answers this (without names) with a 500 every time, handled below:
        // retrying it would only cost the whole backoff. Throttles and transport
        // failures are still retried.
        let all = describe().customize().config_override(
            aws_sdk_ecs::config::Builder::default().retry_classifier(crate::retry::NoRetryOnServerError),
        );
        let providers = match all.send().await {
            Ok(providers) => providers,
            // moto answers DescribeCapacityProviders without names with a 500; name
            // the providers attached to the account's clusters instead.
            Err(e) if e.raw_response().is_some_and(|r| r.status().is_server_error()) => {
                let names = attached_capacity_providers(c).await?;
                if names.is_empty() {
                    return Ok(Vec::new());
                }
                describe().set_capacity_providers(Some(names)).send().await.map_err(aws_error)?
            }
            Err(e) => return Err(aws_error(e)),
        };
        Ok(providers
            .capacity_providers()
            .iter()
            .filter(|p| p.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(stack)))
            .filter_map(|p| {
                let address = id_tag(p.tags().iter().map(|t| (t.key(), t.value())));
                discovered(address, Kind::CapacityProvider, json!({ "name": p.name() }))
            })
            .collect())
    }
}

async fn describe_capacity_provider(c: &Clients, name: &str) -> ProviderResult<Option<types::CapacityProvider>> {
    let out = c
        .ecs
        .describe_capacity_providers()
        .capacity_providers(name)
        .include(CapacityProviderField::Tags)
        .send()
        .await
        .map_err(aws_error)?;
    // A missing provider comes back as a MISSING failure; a deleted one may
    // linger as INACTIVE.
    Ok(out
        .capacity_providers
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.name() == Some(name) && p.status() != Some(&CapacityProviderStatus::Inactive)))
}

async fn attached_capacity_providers(c: &Clients) -> ProviderResult<Vec<String>> {
    let clusters = c.ecs.list_clusters().send().await.map_err(aws_error)?;
    if clusters.cluster_arns().is_empty() {
        return Ok(Vec::new());
    }
    let described = c
        .ecs
        .describe_clusters()
        .set_clusters(Some(clusters.cluster_arns().to_vec()))
        .send()
        .await
        .map_err(aws_error)?;
    let mut names: Vec<String> =
        described.clusters().iter().flat_map(|cl| cl.capacity_providers().iter().cloned()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}
