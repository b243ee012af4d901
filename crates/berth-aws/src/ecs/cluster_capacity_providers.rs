//! A cluster's capacity providers and default strategy, written whole.

use async_trait::async_trait;
use aws_sdk_ecs::types::CapacityProviderStrategyItem;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::Value;

use super::{describe_cluster, get_i32, get_items, get_str, strings};
use crate::handler::Handler;
use crate::util::{absent_on, invalid, str_field, str_list, Shape};
use crate::Clients;

pub(crate) struct ClusterCapacityProviders;

#[async_trait]
impl Handler for ClusterCapacityProviders {
    fn kind(&self) -> Kind {
        Kind::ClusterCapacityProviders
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "cluster")?;
        let Some(cluster) = describe_cluster(c, name).await? else {
            return Ok(None);
        };
        let strategy: Vec<Value> = cluster
            .default_capacity_provider_strategy()
            .iter()
            .map(|item| {
                Shape::default()
                    .set("capacity_provider", item.capacity_provider())
                    .set("weight", item.weight())
                    .set("base", item.base())
                    .build()
            })
            .collect();
        // No association is still a state (empty lists), so that the engine
        // updates rather than creates it.
        let state = Shape::default()
            .set("cluster", name)
            .set("capacity_providers", strings(cluster.capacity_providers()).collect::<Vec<_>>())
            .set("default_strategy", strategy)
            .build();
        Ok(Some(Live { state, outputs: Outputs::new(), tags: None }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        put_association(c, req).await
    }

    /// The association is written whole, whichever of its fields changed.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        _changed: &[String],
    ) -> ProviderResult<Outputs> {
        put_association(c, req).await
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let cluster = str_field(req, "cluster")?;
        put_cluster_capacity_providers(c, cluster, Vec::new(), Vec::new()).await.map(drop)
    }
}

async fn put_association(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let strategy = get_items(req.desired, "default_strategy")
        .iter()
        .map(|item| {
            CapacityProviderStrategyItem::builder()
                .set_capacity_provider(get_str(item, "capacity_provider").map(str::to_owned))
                .set_weight(get_i32(item, "weight"))
                .set_base(get_i32(item, "base"))
                .build()
                .map_err(|e| invalid(req, e))
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    let cluster = str_field(req, "cluster")?;
    put_cluster_capacity_providers(c, cluster, str_list(req, "capacity_providers"), strategy)
        .await?
        .ok_or_else(|| invalid(req, format!("cluster `{cluster}` does not exist")))?;
    Ok(Outputs::new())
}

/// Replaces the cluster's whole association; `None` when there is no cluster.
async fn put_cluster_capacity_providers(
    c: &Clients,
    cluster: &str,
    providers: Vec<String>,
    strategy: Vec<CapacityProviderStrategyItem>,
) -> ProviderResult<Option<()>> {
    // Both lists are required, even empty.
    let put = c
        .ecs
        .put_cluster_capacity_providers()
        .cluster(cluster)
        .set_capacity_providers(Some(providers))
        .set_default_capacity_provider_strategy(Some(strategy))
        .send()
        .await;
    Ok(absent_on(put, &["ClusterNotFoundException"])?.map(drop))
}
