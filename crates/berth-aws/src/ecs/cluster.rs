//! An ECS cluster; its capacity provider association is its child.

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterSetting, ClusterSettingName};
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::cluster_capacity_providers::ClusterCapacityProviders;
use super::{describe_cluster, ecs_tags, tag_map, EcsTags};
use crate::handler::{retag, Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, name_and_arn, opt_str, str_field, Shape};
use crate::{aws_error, Clients};

pub(crate) struct EcsCluster;

#[async_trait]
impl Handler for EcsCluster {
    fn kind(&self) -> Kind {
        Kind::EcsCluster
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&EcsTags)
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let Some(cluster) = describe_cluster(c, name).await? else {
            return Ok(None);
        };
        // Unset in the file, the account's default is not berth's business
        // (AWS reports `disabled` for every cluster).
        let managed_insights = opt_str(req, "container_insights").and(container_insights(&cluster));
        Ok(Some(Live {
            state: Shape::default().set("name", name).opt("container_insights", managed_insights).build(),
            outputs: name_and_arn(name, cluster.cluster_arn()),
            tags: Some(tag_map(cluster.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let call = c
            .ecs
            .create_cluster()
            .cluster_name(name)
            .set_settings(desired_settings(req))
            .set_tags(Some(ecs_tags(desired_tags(req))));
        let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
        Ok(name_and_arn(name, out.cluster().and_then(|cluster| cluster.cluster_arn())))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        if changed.iter().any(|f| f == "container_insights") {
            c.ecs
                .update_cluster_settings()
                .cluster(str_field(req, "name")?)
                .set_settings(desired_settings(req))
                .send()
                .await
                .map_err(aws_error)?;
        }
        if changed.iter().any(|f| f == "tags") {
            retag(&EcsTags, c, req, live).await?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let deleted = c.ecs.delete_cluster().cluster(str_field(req, "name")?).send().await;
        absent_on(deleted, &["ClusterNotFoundException"]).map(drop)
    }

    /// The cluster's capacity provider association, when it has one, so that
    /// one the file no longer declares is removed.
    async fn children(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let part = json!({ "cluster": str_field(req, "name")? });
        let Some(live) = ClusterCapacityProviders.read(c, &NodeRequest { desired: &part, ..req.clone() }).await? else {
            return Ok(Vec::new());
        };
        let empty = |field: &str| live.state.get(field).and_then(Value::as_array).is_none_or(Vec::is_empty);
        if empty("capacity_providers") && empty("default_strategy") {
            return Ok(Vec::new());
        }
        Ok(vec![LiveChild { kind: Kind::ClusterCapacityProviders, label: "capacity_providers".into(), live }])
    }

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        Ok(((arn.service, arn.resource_type) == ("ecs", "cluster")).then(|| json!({ "name": arn.path })))
    }
}

/// The cluster's Container Insights setting (`enabled`, `disabled`, `enhanced`).
fn container_insights(cluster: &Cluster) -> Option<&str> {
    let setting = cluster.settings().iter().find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))?;
    setting.value()
}

fn desired_settings(req: &NodeRequest<'_>) -> Option<Vec<ClusterSetting>> {
    let insights = opt_str(req, "container_insights")?;
    Some(vec![ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(insights).build()])
}
