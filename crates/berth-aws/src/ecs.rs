//! ECS: capacity providers, clusters and their capacity provider association,
//! task definitions and services.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProvider, CapacityProviderField, CapacityProviderStatus,
    CapacityProviderStrategyItem, Cluster, ClusterField, Compatibility, ContainerCondition, ContainerDefinition,
    ContainerDependency, DeploymentConfiguration, EnvironmentFile, EnvironmentFileType, KeyValuePair, LaunchType,
    LoadBalancer, LogConfiguration, LogDriver, ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection,
    NetworkMode, PortMapping, PropagateTags, Secret, Service, ServiceField, SortOrder, Tag, TaskDefinition,
    TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use berth_core::kind::Kind;
use berth_core::provider::{
    Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult, ENV_DIGEST_TAG, STACK_TAG,
};
use serde_json::{json, Map, Value};

use crate::once::send_once;
use crate::util::{
    absent_on, client_token, desired_tags, int_field, invalid, live_arn, opt_str, outputs, str_field, str_list,
    tag_changes, Shape,
};
use crate::{aws_error, Clients};

pub(crate) async fn read(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    match req.kind {
        Kind::CapacityProvider => read_capacity_provider(c, req).await,
        Kind::EcsCluster => read_cluster(c, req).await,
        Kind::ClusterCapacityProviders => read_association(c, req).await,
        Kind::TaskDefinition => read_task_definition(c, req).await,
        Kind::EcsService => read_service(c, req).await,
        _ => Err(unsupported(req)),
    }
}

pub(crate) async fn create(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    match req.kind {
        Kind::CapacityProvider => create_capacity_provider(c, req).await,
        Kind::EcsCluster => create_cluster(c, req).await,
        Kind::ClusterCapacityProviders => put_association(c, req).await,
        Kind::TaskDefinition => register_task_definition(c, req).await,
        Kind::EcsService => create_service(c, req).await,
        _ => Err(unsupported(req)),
    }
}

pub(crate) async fn update(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    match req.kind {
        // Everything else about them is a replace field: only tags change in place.
        Kind::CapacityProvider | Kind::EcsCluster => {
            retag(c, req, live).await?;
            Ok(live.outputs.clone())
        }
        Kind::ClusterCapacityProviders => put_association(c, req).await,
        Kind::TaskDefinition if changed.iter().all(|f| f == "tags") => {
            retag(c, req, live).await?;
            Ok(live.outputs.clone())
        }
        // Task definitions are immutable: any other change is a new revision.
        Kind::TaskDefinition => register_task_definition(c, req).await,
        Kind::EcsService => update_service(c, req, live, changed).await,
        _ => Err(unsupported(req)),
    }
}

pub(crate) async fn delete(c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
    match req.kind {
        Kind::CapacityProvider => delete_capacity_provider(c, req).await,
        Kind::EcsCluster => {
            let deleted = c.ecs.delete_cluster().cluster(str_field(req, "name")?).send().await;
            absent_on(deleted, &["ClusterNotFoundException"]).map(drop)
        }
        Kind::ClusterCapacityProviders => {
            let cluster = str_field(req, "cluster")?;
            put_cluster_capacity_providers(c, cluster, Vec::new(), Vec::new()).await.map(drop)
        }
        Kind::TaskDefinition => deregister_task_definitions(c, req).await,
        Kind::EcsService => delete_service(c, req).await,
        _ => Err(unsupported(req)),
    }
}

fn unsupported(req: &NodeRequest<'_>) -> ProviderError {
    ProviderError::new(format!("{}: {} is not an ECS kind", req.address, req.kind))
}

/// Error codes ECS gives for a service (or its cluster) that is not there.
const SERVICE_MISSING: &[&str] = &["ClusterNotFoundException", "ServiceNotFoundException", "ServiceNotActiveException"];

// ---------------------------------------------------------------- tags

fn ecs_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

/// Brings the live resource's tags to the desired ones.
async fn retag(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let arn = live_arn(req, live)?;
    let (upsert, remove) = tag_changes(&live.tags.clone().unwrap_or_default(), &desired_tags(req));
    if !upsert.is_empty() {
        c.ecs.tag_resource().resource_arn(arn).set_tags(Some(ecs_tags(upsert))).send().await.map_err(aws_error)?;
    }
    if !remove.is_empty() {
        c.ecs.untag_resource().resource_arn(arn).set_tag_keys(Some(remove)).send().await.map_err(aws_error)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- JSON shape

fn strings(items: &[String]) -> impl Iterator<Item = Value> + '_ {
    items.iter().map(|s| Value::from(s.as_str()))
}

/// Nested desired-state values (inside containers, strategies, ...).
fn get_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn get_i32(value: &Value, key: &str) -> Option<i32> {
    value.get(key).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn get_strings(value: &Value, key: &str) -> Option<Vec<String>> {
    let items = value.get(key)?.as_array()?;
    Some(items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

fn get_items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

// ---------------------------------------------------------------- capacity providers

async fn describe_capacity_provider(c: &Clients, name: &str) -> ProviderResult<Option<CapacityProvider>> {
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

fn capacity_provider_outputs(name: &str, arn: Option<&str>) -> Outputs {
    outputs([("name", name.into()), ("arn", arn.into())])
}

async fn read_capacity_provider(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let Some(provider) = describe_capacity_provider(c, name).await? else {
        return Ok(None);
    };
    let asg = provider.auto_scaling_group_provider().map(|p| p.auto_scaling_group_arn());
    Ok(Some(Live {
        state: Shape::default().set("name", name).opt("autoscaling_group_arn", asg).build(),
        outputs: capacity_provider_outputs(name, provider.capacity_provider_arn()),
        tags: Some(tag_map(provider.tags())),
    }))
}

async fn create_capacity_provider(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
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
    Ok(capacity_provider_outputs(name, out.capacity_provider().and_then(|p| p.capacity_provider_arn())))
}

async fn delete_capacity_provider(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
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

// ---------------------------------------------------------------- clusters

/// The ACTIVE cluster of that name, with its tags.
async fn describe_cluster(c: &Clients, name: &str) -> ProviderResult<Option<Cluster>> {
    let out = c.ecs.describe_clusters().clusters(name).include(ClusterField::Tags).send().await.map_err(aws_error)?;
    // A missing cluster is a MISSING failure; a deleted one stays listed as
    // INACTIVE (for a while on AWS, for good on moto).
    Ok(out
        .clusters
        .unwrap_or_default()
        .into_iter()
        .find(|cluster| cluster.cluster_name() == Some(name) && cluster.status() != Some("INACTIVE")))
}

fn cluster_outputs(name: &str, arn: Option<&str>) -> Outputs {
    outputs([("name", name.into()), ("arn", arn.into())])
}

async fn read_cluster(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let Some(cluster) = describe_cluster(c, name).await? else {
        return Ok(None);
    };
    Ok(Some(Live {
        state: Shape::default().set("name", name).build(),
        outputs: cluster_outputs(name, cluster.cluster_arn()),
        tags: Some(tag_map(cluster.tags())),
    }))
}

async fn create_cluster(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let name = str_field(req, "name")?;
    let call = c.ecs.create_cluster().cluster_name(name).set_tags(Some(ecs_tags(desired_tags(req))));
    let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
    Ok(cluster_outputs(name, out.cluster().and_then(|cluster| cluster.cluster_arn())))
}

// ---------------------------------------------------------------- cluster capacity providers

async fn read_association(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

/// The cluster's capacity provider association, when it has one, so that
/// one the file no longer declares is removed.
pub(crate) async fn cluster_children(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Vec<LiveChild>> {
    let part = json!({ "cluster": str_field(req, "name")? });
    let Some(live) = read_association(c, &NodeRequest { desired: &part, ..req.clone() }).await? else {
        return Ok(Vec::new());
    };
    let empty = |field: &str| live.state.get(field).and_then(Value::as_array).is_none_or(Vec::is_empty);
    if empty("capacity_providers") && empty("default_strategy") {
        return Ok(Vec::new());
    }
    Ok(vec![LiveChild { kind: Kind::ClusterCapacityProviders, label: "capacity_providers".into(), live }])
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

// ---------------------------------------------------------------- task definitions

/// `family:revision` from a task definition ARN.
pub(crate) fn family_revision(arn: &str) -> Option<(&str, i32)> {
    let (family, revision) = arn.rsplit('/').next()?.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

/// ARNs of the family's ACTIVE revisions, newest first. The family prefix
/// filter is a prefix on some implementations, so the family is matched exactly.
pub(crate) async fn active_revisions(c: &Clients, family: &str) -> ProviderResult<Vec<String>> {
    let mut found = Vec::new();
    let mut pages = c
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .sort(SortOrder::Desc)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_error)?;
        for arn in page.task_definition_arns() {
            if let Some((f, revision)) = family_revision(arn) {
                if f == family {
                    found.push((revision, arn.clone()));
                }
            }
        }
    }
    // moto ignores `sort`: order here rather than trust the listing.
    found.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
    Ok(found.into_iter().map(|(_, arn)| arn).collect())
}

fn task_definition_outputs(td: &TaskDefinition) -> Outputs {
    outputs([
        ("arn", td.task_definition_arn().into()),
        ("family", td.family().into()),
        ("revision", td.revision().into()),
    ])
}

/// How many revisions, newest first, are looked at for one this stack registered.
const REVISIONS_SEARCHED: usize = 10;

/// The newest ACTIVE revision this stack registered. A revision registered
/// by hand or by CI is not berth's: it is neither read as the stack's nor
/// deregistered, and a family that has only such revisions gets a new one
/// of berth's. A family whose newest revision another stack registered is
/// read as that one, which the engine refuses to touch.
async fn read_task_definition(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let family = str_field(req, "family")?;
    // Not DescribeTaskDefinition(family): moto answers it with the highest
    // revision even when that one is INACTIVE (AWS: the newest ACTIVE one).
    let mut other_stacks = None;
    for arn in active_revisions(c, family).await?.into_iter().take(REVISIONS_SEARCHED) {
        let described =
            c.ecs.describe_task_definition().task_definition(&arn).include(TaskDefinitionField::Tags).send().await;
        // Deregistered between the listing and now.
        let Some(out) = absent_on(described, &["ClientException"])? else { continue };
        let Some(td) = out.task_definition() else { continue };
        let live = Live {
            state: task_definition_state(td),
            outputs: task_definition_outputs(td),
            tags: Some(tag_map(out.tags())),
        };
        match live.tags.as_ref().and_then(|t| t.get(STACK_TAG)) {
            Some(owner) if owner == req.stack => return Ok(Some(live)),
            Some(_) => {
                other_stacks.get_or_insert(live);
            }
            None => {}
        }
    }
    Ok(other_stacks)
}

fn task_definition_state(td: &TaskDefinition) -> Value {
    let compatibilities = td.requires_compatibilities().iter().map(|c| c.as_str());
    Shape::default()
        .opt("family", td.family())
        .opt("network_mode", td.network_mode().map(NetworkMode::as_str))
        .list("requires_compatibilities", compatibilities)
        .opt("cpu", td.cpu())
        .opt("memory", td.memory())
        .opt("execution_role_arn", td.execution_role_arn())
        .opt("task_role_arn", td.task_role_arn())
        .list("container_definitions", td.container_definitions().iter().map(container_state))
        .build()
}

fn container_state(c: &ContainerDefinition) -> Value {
    let ports = c.port_mappings().iter().map(|m| {
        Shape::default()
            .opt("container_port", m.container_port())
            .opt("host_port", m.host_port())
            .opt("protocol", m.protocol().map(TransportProtocol::as_str))
            .build()
    });
    let depends_on = c.depends_on().iter().map(|d| {
        Shape::default().set("container_name", d.container_name()).set("condition", d.condition().as_str()).build()
    });
    let environment =
        c.environment().iter().map(|e| Shape::default().opt("name", e.name()).opt("value", e.value()).build());
    let environment_files = c
        .environment_files()
        .iter()
        .map(|f| Shape::default().set("type", f.r#type().as_str()).set("value", f.value()).build());
    let secrets =
        c.secrets().iter().map(|s| Shape::default().set("name", s.name()).set("value_from", s.value_from()).build());
    Shape::default()
        .opt("name", c.name())
        .opt("image", c.image())
        .opt("essential", c.essential())
        .opt("memory", c.memory())
        .opt("memory_reservation", c.memory_reservation())
        // AWS reports an unset container cpu as 0; normalization treats them alike.
        .set("cpu", c.cpu())
        .list("port_mappings", ports)
        .list("links", strings(c.links()))
        .list("depends_on", depends_on)
        .list("environment", environment)
        .list("environment_files", environment_files)
        .list("secrets", secrets)
        .opt("log_configuration", c.log_configuration().map(log_configuration_state))
        .list("command", strings(c.command()))
        .list("entry_point", strings(c.entry_point()))
        .build()
}

fn log_configuration_state(log: &LogConfiguration) -> Value {
    // Sorted, so the same options always print the same way.
    let options: BTreeMap<&str, &str> =
        log.options().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let options: Map<String, Value> = options.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    Shape::default()
        .set("log_driver", log.log_driver().as_str())
        .opt("options", (!options.is_empty()).then_some(Value::Object(options)))
        .build()
}

async fn register_task_definition(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let containers = get_items(req.desired, "container_definitions")
        .iter()
        .map(|def| container_definition(req, def))
        .collect::<ProviderResult<Vec<_>>>()?;
    let compatibilities =
        str_list(req, "requires_compatibilities").iter().map(|c| Compatibility::from(c.as_str())).collect();
    // Every RegisterTaskDefinition makes a revision: a lost answer must not
    // be followed by a blind second one (an update then fails, and the next
    // plan sees whether the revision was made).
    let call = c
        .ecs
        .register_task_definition()
        .family(str_field(req, "family")?)
        .set_network_mode(opt_str(req, "network_mode").map(NetworkMode::from))
        .set_requires_compatibilities(Some(compatibilities))
        .set_cpu(opt_str(req, "cpu").map(str::to_owned))
        .set_memory(opt_str(req, "memory").map(str::to_owned))
        .set_execution_role_arn(opt_str(req, "execution_role_arn").map(str::to_owned))
        .set_task_role_arn(opt_str(req, "task_role_arn").map(str::to_owned))
        .set_container_definitions(Some(containers))
        .set_tags(Some(ecs_tags(desired_tags(req))));
    let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
    let td = out.task_definition().ok_or_else(|| invalid(req, "RegisterTaskDefinition returned no task definition"))?;
    Ok(task_definition_outputs(td))
}

/// A desired container (docs/resources.md shape) as the SDK type.
fn container_definition(req: &NodeRequest<'_>, def: &Value) -> ProviderResult<ContainerDefinition> {
    let port_mappings = get_items(def, "port_mappings")
        .iter()
        .map(|m| {
            PortMapping::builder()
                .set_container_port(get_i32(m, "container_port"))
                .set_host_port(get_i32(m, "host_port"))
                .set_protocol(get_str(m, "protocol").map(TransportProtocol::from))
                .build()
        })
        .collect();
    let depends_on = get_items(def, "depends_on")
        .iter()
        .map(|d| {
            ContainerDependency::builder()
                .set_container_name(get_str(d, "container_name").map(str::to_owned))
                .set_condition(get_str(d, "condition").map(ContainerCondition::from))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(req, e))?;
    let environment = get_items(def, "environment")
        .iter()
        .map(|e| {
            KeyValuePair::builder()
                .set_name(get_str(e, "name").map(str::to_owned))
                .set_value(get_str(e, "value").map(str::to_owned))
                .build()
        })
        .collect();
    let environment_files = get_items(def, "environment_files")
        .iter()
        .map(|f| {
            EnvironmentFile::builder()
                .set_type(get_str(f, "type").map(EnvironmentFileType::from))
                .set_value(get_str(f, "value").map(str::to_owned))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(req, e))?;
    let secrets = get_items(def, "secrets")
        .iter()
        .map(|s| {
            Secret::builder()
                .set_name(get_str(s, "name").map(str::to_owned))
                .set_value_from(get_str(s, "value_from").map(str::to_owned))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(req, e))?;
    let log_configuration =
        def.get("log_configuration")
            .map(|log| {
                let options = log.get("options").and_then(Value::as_object).map(|options| {
                    options.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()
                });
                LogConfiguration::builder()
                    .set_log_driver(get_str(log, "log_driver").map(LogDriver::from))
                    .set_options(options)
                    .build()
            })
            .transpose()
            .map_err(|e| invalid(req, e))?;
    Ok(ContainerDefinition::builder()
        .set_name(get_str(def, "name").map(str::to_owned))
        .set_image(get_str(def, "image").map(str::to_owned))
        .set_essential(def.get("essential").and_then(Value::as_bool))
        .set_memory(get_i32(def, "memory"))
        .set_memory_reservation(get_i32(def, "memory_reservation"))
        .set_cpu(get_i32(def, "cpu"))
        .set_port_mappings(Some(port_mappings))
        .set_links(get_strings(def, "links"))
        .set_depends_on(Some(depends_on))
        .set_environment(Some(environment))
        .set_environment_files(Some(environment_files))
        .set_secrets(Some(secrets))
        .set_log_configuration(log_configuration)
        .set_command(get_strings(def, "command"))
        .set_entry_point(get_strings(def, "entry_point"))
        .build())
}

/// Deregisters the family's ACTIVE revisions that this stack registered (its
/// tags say so); a revision registered by hand or by another tool stays.
async fn deregister_task_definitions(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
    for arn in active_revisions(c, str_field(req, "family")?).await? {
        let tags = c.ecs.list_tags_for_resource().resource_arn(&arn).send().await.map_err(aws_error)?;
        let owner = tags.tags().iter().find(|t| t.key() == Some(STACK_TAG)).and_then(|t| t.value());
        if owner != Some(req.stack) {
            continue;
        }
        c.ecs.deregister_task_definition().task_definition(&arn).send().await.map_err(aws_error)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- services

async fn read_service(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let cluster = str_field(req, "cluster")?;
    let described = c.ecs.describe_services().cluster(cluster).services(name).include(ServiceField::Tags).send().await;
    let Some(out) = absent_on(described, SERVICE_MISSING)? else {
        return Ok(None);
    };
    // A missing service is a MISSING failure; a deleted one stays listed as INACTIVE.
    let Some(service) =
        out.services().iter().find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
    else {
        return Ok(None);
    };
    Ok(Some(Live {
        state: service_state(service, cluster),
        outputs: service_outputs(service),
        tags: Some(tag_map(service.tags())),
    }))
}

fn service_state(service: &Service, cluster: &str) -> Value {
    let cluster = service.cluster_arn().and_then(|arn| arn.rsplit('/').next()).unwrap_or(cluster);
    let deployment = service.deployment_configuration().map(|d| {
        Shape::default()
            .opt("minimum_healthy_percent", d.minimum_healthy_percent())
            .opt("maximum_percent", d.maximum_percent())
            .build()
    });
    let load_balancers = service.load_balancers().iter().map(|lb| {
        Shape::default()
            .opt("target_group_arn", lb.target_group_arn())
            .opt("container_name", lb.container_name())
            .opt("container_port", lb.container_port())
            .build()
    });
    Shape::default()
        .opt("name", service.service_name())
        .set("cluster", cluster)
        .opt("task_definition", service.task_definition())
        .set("desired_count", service.desired_count())
        .opt("launch_type", service.launch_type().map(LaunchType::as_str))
        .opt("deployment", deployment)
        .list("load_balancers", load_balancers)
        .build()
}

fn service_outputs(service: &Service) -> Outputs {
    outputs([("arn", service.service_arn().into()), ("name", service.service_name().into())])
}

fn desired_deployment(req: &NodeRequest<'_>) -> Option<DeploymentConfiguration> {
    let deployment = req.desired.get("deployment")?;
    Some(
        DeploymentConfiguration::builder()
            .set_minimum_healthy_percent(get_i32(deployment, "minimum_healthy_percent"))
            .set_maximum_percent(get_i32(deployment, "maximum_percent"))
            .build(),
    )
}

fn desired_load_balancers(req: &NodeRequest<'_>) -> Vec<LoadBalancer> {
    get_items(req.desired, "load_balancers")
        .iter()
        .map(|lb| {
            LoadBalancer::builder()
                .set_target_group_arn(get_str(lb, "target_group_arn").map(str::to_owned))
                .set_container_name(get_str(lb, "container_name").map(str::to_owned))
                .set_container_port(get_i32(lb, "container_port"))
                .build()
        })
        .collect()
}

fn desired_count(req: &NodeRequest<'_>) -> ProviderResult<i32> {
    i32::try_from(int_field(req, "desired_count")?).map_err(|e| invalid(req, e))
}

async fn create_service(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let name = str_field(req, "name")?;
    let cluster = str_field(req, "cluster")?;
    let deployment = desired_deployment(req);
    // The client token makes a repeated CreateService return the first one's
    // service on AWS; moto ignores it and replaces the service.
    let call = c
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(str_field(req, "task_definition")?)
        .desired_count(desired_count(req)?)
        .set_launch_type(opt_str(req, "launch_type").map(LaunchType::from))
        .set_load_balancers(Some(desired_load_balancers(req)))
        .set_deployment_configuration(deployment.clone())
        .set_tags(Some(ecs_tags(desired_tags(req))))
        .propagate_tags(PropagateTags::None)
        .client_token(client_token(req));
    let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
    let service = out.service().ok_or_else(|| invalid(req, "CreateService returned no service"))?;
    // moto drops deploymentConfiguration from CreateService (AWS keeps it) but
    // stores it from UpdateService; setting it again is a no-op on AWS.
    if let Some(deployment) = deployment {
        c.ecs
            .update_service()
            .cluster(cluster)
            .service(name)
            .deployment_configuration(deployment)
            .send()
            .await
            .map_err(aws_error)?;
    }
    Ok(service_outputs(service))
}

async fn update_service(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    let has = |field: &str| changed.iter().any(|f| f == field);
    let mut outputs = live.outputs.clone();
    let in_place = ["task_definition", "desired_count", "deployment", "load_balancers"];
    // New environment file contents reach running tasks only through a new deployment.
    let env_digest =
        |tags: Option<&std::collections::BTreeMap<String, String>>| tags.and_then(|t| t.get(ENV_DIGEST_TAG)).cloned();
    let redeploy = has("tags") && env_digest(Some(&desired_tags(req))) != env_digest(live.tags.as_ref());
    if redeploy || in_place.into_iter().any(has) {
        let mut call = c
            .ecs
            .update_service()
            .cluster(str_field(req, "cluster")?)
            .service(str_field(req, "name")?)
            .force_new_deployment(redeploy);
        if has("task_definition") {
            call = call.task_definition(str_field(req, "task_definition")?);
        }
        if has("desired_count") {
            call = call.desired_count(desired_count(req)?);
        }
        if has("deployment") {
            call = call.set_deployment_configuration(desired_deployment(req));
        }
        if has("load_balancers") {
            // An empty list detaches the service from its target groups.
            call = call.set_load_balancers(Some(desired_load_balancers(req)));
        }
        let out = call.send().await.map_err(aws_error)?;
        if let Some(service) = out.service() {
            outputs = service_outputs(service);
        }
    }
    if has("tags") {
        retag(c, req, live).await?;
    }
    Ok(outputs)
}

async fn delete_service(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
    let name = str_field(req, "name")?;
    let cluster = str_field(req, "cluster")?;
    // Scale in first so tasks drain from their target groups before the
    // service goes; force covers a rollout still in progress.
    let scaled = c.ecs.update_service().cluster(cluster).service(name).desired_count(0).send().await;
    if absent_on(scaled, SERVICE_MISSING)?.is_none() {
        return Ok(());
    }
    let deleted = c.ecs.delete_service().cluster(cluster).service(name).force(true).send().await;
    absent_on(deleted, SERVICE_MISSING).map(drop)
}
