//! A task definition family: each change registers a new revision, and only
//! the revisions this stack registered are read and deregistered as its own.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    self, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture,
    EnvironmentFile, EnvironmentFileType, HealthCheck, HostVolumeProperties, KeyValuePair, LogConfiguration, LogDriver,
    MountPoint, NetworkMode, OsFamily, PortMapping, RuntimePlatform, Secret, SortOrder, TaskDefinitionField,
    TaskDefinitionStatus, TransportProtocol, Ulimit, UlimitName, Volume,
};
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult, STACK_TAG};
use serde_json::{json, Map, Value};

use super::{ecs_tags, get_i32, get_items, get_str, get_strings, strings, tag_map, EcsTags};
use crate::handler::{retag, Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, invalid, opt_str, outputs, str_field, str_list, Shape};
use crate::{aws_error, Clients};

pub(crate) struct TaskDefinition;

#[async_trait]
impl Handler for TaskDefinition {
    fn kind(&self) -> Kind {
        Kind::TaskDefinition
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&EcsTags)
    }

    /// The newest ACTIVE revision this stack registered. A revision registered
    /// by hand or by CI is not berth's: it is neither read as the stack's nor
    /// deregistered, and a family that has only such revisions gets a new one
    /// of berth's. A family whose newest revision another stack registered is
    /// read as that one, which the engine refuses to touch.
    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        register_task_definition(c, req).await
    }

    /// Task definitions are immutable: any change but the tags is a new revision.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        if changed.iter().all(|f| f == "tags") {
            retag(&EcsTags, c, req, live).await?;
            return Ok(live.outputs.clone());
        }
        register_task_definition(c, req).await
    }

    /// Deregisters the family's ACTIVE revisions that this stack registered (its
    /// tags say so); a revision registered by hand or by another tool stays.
    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
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

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if (arn.service, arn.resource_type) != ("ecs", "task-definition") {
            return Ok(None);
        }
        let family = arn.path.split(':').next().unwrap_or(arn.path);
        Ok(Some(json!({ "family": family })))
    }
}

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

fn task_definition_outputs(td: &types::TaskDefinition) -> Outputs {
    outputs([
        ("arn", td.task_definition_arn().into()),
        ("family", td.family().into()),
        ("revision", td.revision().into()),
    ])
}

/// How many revisions, newest first, are looked at for one this stack registered.
const REVISIONS_SEARCHED: usize = 10;

fn task_definition_state(td: &types::TaskDefinition) -> Value {
    let compatibilities = td.requires_compatibilities().iter().map(|c| c.as_str());
    Shape::default()
        .opt("family", td.family())
        .opt("network_mode", td.network_mode().map(NetworkMode::as_str))
        .list("requires_compatibilities", compatibilities)
        .opt("cpu", td.cpu())
        .opt("memory", td.memory())
        .opt("execution_role_arn", td.execution_role_arn())
        .opt("task_role_arn", td.task_role_arn())
        .opt("runtime_platform", td.runtime_platform().map(runtime_platform_state))
        .list("volumes", td.volumes().iter().map(volume_state))
        .list("container_definitions", td.container_definitions().iter().map(container_state))
        .build()
}

fn runtime_platform_state(platform: &RuntimePlatform) -> Value {
    Shape::default()
        .opt("cpu_architecture", platform.cpu_architecture().map(CpuArchitecture::as_str))
        .opt("operating_system_family", platform.operating_system_family().map(OsFamily::as_str))
        .build()
}

fn volume_state(volume: &Volume) -> Value {
    Shape::default()
        .opt("name", volume.name())
        .opt("host_path", volume.host().and_then(HostVolumeProperties::source_path))
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
    let health_check = c.health_check().map(|h| {
        Shape::default()
            .set("command", h.command())
            .opt("interval", h.interval())
            .opt("timeout", h.timeout())
            .opt("retries", h.retries())
            .opt("start_period", h.start_period())
            .build()
    });
    let mounts = c.mount_points().iter().map(|m| {
        Shape::default()
            .opt("source_volume", m.source_volume())
            .opt("container_path", m.container_path())
            .opt("read_only", m.read_only())
            .build()
    });
    let ulimits = c.ulimits().iter().map(|u| {
        Shape::default()
            .set("name", u.name().as_str())
            .set("soft_limit", u.soft_limit())
            .set("hard_limit", u.hard_limit())
            .build()
    });
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
        .opt("health_check", health_check)
        .list("mount_points", mounts)
        .list("ulimits", ulimits)
        .opt("stop_timeout", c.stop_timeout())
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
        .set_runtime_platform(runtime_platform(req.desired))
        .set_volumes(Some(get_items(req.desired, "volumes").iter().map(volume).collect()))
        .set_container_definitions(Some(containers))
        .set_tags(Some(ecs_tags(desired_tags(req))));
    let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
    let td = out.task_definition().ok_or_else(|| invalid(req, "RegisterTaskDefinition returned no task definition"))?;
    Ok(task_definition_outputs(td))
}

fn runtime_platform(desired: &Value) -> Option<RuntimePlatform> {
    let platform = desired.get("runtime_platform")?;
    Some(
        RuntimePlatform::builder()
            .set_cpu_architecture(get_str(platform, "cpu_architecture").map(CpuArchitecture::from))
            .set_operating_system_family(get_str(platform, "operating_system_family").map(OsFamily::from))
            .build(),
    )
}

fn volume(desired: &Value) -> Volume {
    let host = get_str(desired, "host_path").map(|path| HostVolumeProperties::builder().source_path(path).build());
    Volume::builder().set_name(get_str(desired, "name").map(str::to_owned)).set_host(host).build()
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
    let health_check = def
        .get("health_check")
        .map(|h| {
            HealthCheck::builder()
                .set_command(get_strings(h, "command"))
                .set_interval(get_i32(h, "interval"))
                .set_timeout(get_i32(h, "timeout"))
                .set_retries(get_i32(h, "retries"))
                .set_start_period(get_i32(h, "start_period"))
                .build()
        })
        .transpose()
        .map_err(|e| invalid(req, e))?;
    let mount_points = get_items(def, "mount_points")
        .iter()
        .map(|m| {
            MountPoint::builder()
                .set_source_volume(get_str(m, "source_volume").map(str::to_owned))
                .set_container_path(get_str(m, "container_path").map(str::to_owned))
                .set_read_only(m.get("read_only").and_then(Value::as_bool))
                .build()
        })
        .collect();
    let ulimits = get_items(def, "ulimits")
        .iter()
        .map(|u| {
            Ulimit::builder()
                .set_name(get_str(u, "name").map(UlimitName::from))
                .set_soft_limit(get_i32(u, "soft_limit"))
                .set_hard_limit(get_i32(u, "hard_limit"))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
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
        .set_health_check(health_check)
        .set_mount_points(Some(mount_points))
        .set_ulimits(Some(ulimits))
        .set_stop_timeout(get_i32(def, "stop_timeout"))
        .build())
}
