//! `task_definitions:`: task definition families and their containers.
//! The module holds the section's YAML types and its expansion.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

/// An ECS task definition family.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinition {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Launch types: `EC2`, `FARGATE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// `bridge` (default), `host`, `awsvpc` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Task memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Task CPU units (1024 = one vCPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// The role ECS uses to pull images, read env files and secrets and send logs: a role of this file or an ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role: Option<String>,
    /// The role the containers' own AWS calls use: a role of this file or an ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role: Option<String>,
    /// The CPU architecture and operating system the task needs (Fargate:
    /// `{ cpu_architecture: ARM64, os: LINUX }` for Graviton); unset, x86-64 Linux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatform>,
    /// Volumes the containers may mount (`mounts:`): a name (storage of the
    /// task's own, gone when it stops) or `{ name, host_path }` (a folder of
    /// the container instance; not on Fargate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Containers, by name.
    pub containers: BTreeMap<String, Container>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// One container of a task.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The image to run (`nginx:1.27`, an ECR image URI).
    pub image: String,
    /// Hard memory limit, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Soft memory reservation, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u32>,
    /// CPU units reserved for the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Whether the task stops when this container stops (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// Container ports: `3000`, or `{ container: 80, host: 0 }` (0 = dynamic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// Environment variables, by name, written as values (secret values belong in `secrets`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// `<bucket key in this file>/<object key>` or an S3 object ARN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_files: Vec<String>,
    /// Secrets, by variable name: `{ secret: NAME, key: JSON_KEY }` for a secret of this
    /// file, or a Secrets Manager or Parameter Store ARN (or a parameter name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, ContainerSecret>,
    /// Containers of this task it reaches by name (bridge network mode only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Containers that must reach a condition first: `START`, `COMPLETE`, `SUCCESS`, `HEALTHY`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, String>,
    /// A log group of this file: the awslogs driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// Overrides the image's `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<Vec<String>>,
    /// A command ECS runs in the container to tell whether it is healthy
    /// (what `depends_on: { x: HEALTHY }` waits for); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<ContainerHealthCheck>,
    /// Volumes of the task mounted into the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Resource limits by name (`nofile`, `nproc`, ...): one number for both
    /// limits, or `{ soft, hard }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Seconds between the stop signal and a forced kill (ECS's default 30; at most 120 on Fargate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u32>,
}

/// The platform a task runs on.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimePlatform {
    /// `X86_64` or `ARM64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    /// The operating system family: `LINUX` or a Windows Server family (`WINDOWS_SERVER_2022_CORE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
}

/// A volume of a task.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Volume {
    /// Storage of the task's own: `scratch`.
    Named(String),
    /// A volume with more said about it.
    Spec(VolumeSpec),
}

/// A volume with its source.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    /// The name mounts refer to.
    pub name: String,
    /// A folder of the container instance (EC2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
}

impl Volume {
    /// The name mounts refer to.
    pub fn name(&self) -> &str {
        match self {
            Volume::Named(name) => name,
            Volume::Spec(spec) => &spec.name,
        }
    }
}

/// A container health check; unset fields take ECS's defaults.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerHealthCheck {
    /// `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]` or `["CMD", "program", "arg"]`.
    pub command: Vec<String>,
    /// Seconds between checks, 5-300 (default 30).
    #[serde(default = "health_interval")]
    pub interval: u32,
    /// Seconds a check may take before it fails, 2-120 (default 5).
    #[serde(default = "health_timeout")]
    pub timeout: u32,
    /// Failures in a row that make the container unhealthy, 1-10 (default 3).
    #[serde(default = "health_retries")]
    pub retries: u32,
    /// Seconds after the start during which failures do not count, 0-300 (default 0).
    #[serde(default)]
    pub start_period: u32,
}

fn health_interval() -> u32 {
    30
}

fn health_timeout() -> u32 {
    5
}

fn health_retries() -> u32 {
    3
}

/// A volume mounted into a container.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// A volume of the task (`volumes:`).
    pub volume: String,
    /// Where it appears in the container.
    pub path: String,
    /// Mount it read-only (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// A resource limit.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Ulimit {
    /// The same soft and hard limit.
    Both(i64),
    /// Separate limits.
    Limits(UlimitSpec),
}

/// Separate soft and hard limits.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UlimitSpec {
    /// The limit a process starts with.
    pub soft: i64,
    /// The most a process may raise it to.
    pub hard: i64,
}

/// Where a container's secret comes from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ContainerSecret {
    /// A Secrets Manager secret ARN (`:json-key::` may follow), a Parameter Store ARN or parameter name.
    From(String),
    /// A secret of this file's `secrets:`.
    Managed(SecretReference),
}

/// A string or a map, told apart by what is written, so that a mistake in
/// the map (`kee:`) is reported as itself rather than as matching neither.
impl<'de> Deserialize<'de> for ContainerSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = ContainerSecret;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an ARN or parameter name, or `{ secret: NAME, key: JSON_KEY }`")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<ContainerSecret, E> {
                Ok(ContainerSecret::From(value.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ContainerSecret, A::Error> {
                let map = serde::de::value::MapAccessDeserializer::new(map);
                SecretReference::deserialize(map).map(ContainerSecret::Managed)
            }
        }
        deserializer.deserialize_any(Either)
    }
}

/// A secret of this file, whole or one key of its JSON value.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretReference {
    /// The secret's key under `secrets:`.
    pub secret: String,
    /// The key of the JSON value to pass (ECS reads `<arn>:KEY::`); the whole value without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A port mapping.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PortMapping {
    /// The container port alone: `3000`.
    Port(u32),
    /// A map with a host port or protocol: `{ container: 80, host: 0 }`.
    Mapping(PortMappingSpec),
}

/// A port mapping with a host port or protocol.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortMappingSpec {
    /// The port the container listens on.
    pub container: u32,
    /// Host port; 0 picks a dynamic port (bridge mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<u32>,
    /// `tcp` (default) or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

pub(crate) const SECTION: Section = Section {
    name: "task_definitions",
    outputs: &["arn", "family", "revision"],
    declared: |stack| declared(&stack.task_definitions, |r| (r.protect, &r.allow)),
    expand: |x| x.task_definitions(),
};

impl Expander<'_> {
    pub(in crate::expand) fn task_definitions(&mut self) {
        for (family, td) in &self.stack.task_definitions {
            let origin = ["task_definitions", family.as_str()];
            let address = format!("task_definitions.{family}");
            let network_mode = td.network_mode.clone().unwrap_or_else(|| "bridge".into());
            let mut desired =
                json!({ "family": family, "network_mode": network_mode, "requires_compatibilities": td.requires });
            if let Some(cpu) = td.cpu {
                desired["cpu"] = json!(cpu.to_string());
            }
            if let Some(memory) = td.memory {
                desired["memory"] = json!(memory.to_string());
            }
            if let Some(platform) = &td.runtime_platform {
                desired["runtime_platform"] =
                    json!({ "cpu_architecture": platform.cpu_architecture, "operating_system_family": platform.os });
            }
            if !td.volumes.is_empty() {
                let volumes: Vec<Value> = td
                    .volumes
                    .iter()
                    .map(|v| match v {
                        model::Volume::Named(name) => json!({ "name": name }),
                        model::Volume::Spec(spec) => json!({ "name": spec.name, "host_path": spec.host_path }),
                    })
                    .collect();
                desired["volumes"] = json!(volumes);
            }
            let is_arn = |s: &str| s.starts_with("arn:");
            for (field, role) in [("execution_role_arn", &td.execution_role), ("task_role_arn", &td.task_role)] {
                let Some(role) = role else { continue };
                let key = field.trim_end_matches("_arn");
                if let Some(arn) =
                    self.name_or_external("iam.roles", role, "arn", is_arn, &["task_definitions", family, key])
                {
                    desired[field] = json!(arn);
                }
            }
            let mut extra = BTreeSet::new();
            let containers: Vec<Value> =
                td.containers.iter().map(|(name, c)| self.container(family, name, c, &mut extra)).collect();
            desired["container_definitions"] = json!(containers);
            self.push_tagged(address, Kind::TaskDefinition, desired, None, &origin).extra_dependencies = extra;
        }
    }

    fn container(&mut self, family: &str, name: &str, c: &model::Container, extra: &mut BTreeSet<String>) -> Value {
        let at = |key: &str| -> [String; 5] {
            ["task_definitions".into(), family.into(), "containers".into(), name.into(), key.into()]
        };
        let image_at = at("image");
        let image = self.interpolate(&c.image, &as_path(&image_at));
        let mut def = json!({ "name": name, "image": image, "essential": c.essential.unwrap_or(true) });
        for (field, value) in [("memory", c.memory), ("memory_reservation", c.memory_reservation), ("cpu", c.cpu)] {
            if let Some(v) = value {
                def[field] = json!(v);
            }
        }
        let ports_at = at("ports");
        let mut mappings = Vec::new();
        for port in &c.ports {
            let (container, host, protocol) = match port {
                model::PortMapping::Port(p) => (*p, None, None),
                model::PortMapping::Mapping(m) => (m.container, m.host, m.protocol.clone()),
            };
            if container == 0 || container > 65535 || host.is_some_and(|h| h > 65535) {
                self.error(
                    &as_path(&ports_at),
                    format!(
                        "port {} is outside 1-65535",
                        if container == 0 || container > 65535 { container } else { host.unwrap_or(0) }
                    ),
                    None,
                );
            }
            let mut mapping =
                json!({ "container_port": container, "protocol": protocol.unwrap_or_else(|| "tcp".into()) });
            if let Some(host) = host {
                mapping["host_port"] = json!(host);
            }
            mappings.push(mapping);
        }
        if !mappings.is_empty() {
            def["port_mappings"] = json!(mappings);
        }
        if !c.links.is_empty() {
            def["links"] = json!(c.links);
        }
        if !c.depends_on.is_empty() {
            let deps: Vec<Value> =
                c.depends_on.iter().map(|(n, cond)| json!({ "container_name": n, "condition": cond })).collect();
            def["depends_on"] = json!(deps);
        }
        if !c.environment.is_empty() {
            let env_at = at("environment");
            let env: Vec<Value> = c
                .environment
                .iter()
                .map(|(k, v)| json!({ "name": k, "value": self.interpolate(v, &as_path(&env_at)) }))
                .collect();
            def["environment"] = json!(env);
        }
        if !c.secrets.is_empty() {
            let mut secrets = Vec::new();
            for (variable, from) in &c.secrets {
                let path = [&at("secrets")[..], std::slice::from_ref(variable)].concat();
                let value_from = match from {
                    model::ContainerSecret::From(text) => Some(self.interpolate(text, &as_path(&path))),
                    model::ContainerSecret::Managed(r) => {
                        self.managed_secret_arn(&r.secret, r.key.as_deref(), &as_path(&path))
                    }
                };
                if let Some(value_from) = value_from {
                    secrets.push(json!({ "name": variable, "value_from": value_from }));
                }
            }
            def["secrets"] = json!(secrets);
        }
        let files_at = at("environment_files");
        let mut files = Vec::new();
        for file in &c.environment_files {
            let file = &self.interpolate(file, &as_path(&files_at));
            if file.starts_with("arn:aws:s3:::") {
                files.push(json!({ "type": "s3", "value": file }));
                continue;
            }
            let Some((bucket_key, object_key)) = file.split_once('/') else {
                self.error(
                    &as_path(&files_at),
                    format!("`{file}` is not `<bucket>/<key>` or an S3 object ARN"),
                    Some("for example `my-bucket/prod.env`".into()),
                );
                continue;
            };
            let Some(bucket_address) = self.lookup("buckets", bucket_key, &as_path(&files_at)) else { continue };
            let managed = self.stack.buckets.get(bucket_key).is_some_and(|b| b.objects.contains_key(object_key));
            if managed {
                // The object must be uploaded before a task can start with it.
                extra.insert(format!("{bucket_address}.objects[{object_key}]"));
            }
            files.push(json!({ "type": "s3", "value": format!("{}/{object_key}", reference(&bucket_address, "arn")) }));
        }
        if !files.is_empty() {
            def["environment_files"] = json!(files);
        }
        if let Some(group) = &c.logs {
            let logs_at = at("logs");
            if let Some(address) = self.lookup("log_groups", group, &as_path(&logs_at)) {
                def["log_configuration"] = json!({
                    "log_driver": "awslogs",
                    "options": {
                        "awslogs-group": reference(&address, "name"),
                        "awslogs-region": self.options.region,
                        "awslogs-stream-prefix": family,
                    },
                });
            }
        }
        for (field, words) in [("command", &c.command), ("entry_point", &c.entry_point)] {
            if let Some(words) = words {
                let words_at = at(field);
                def[field] = json!(self.interpolate_all(words, &as_path(&words_at)));
            }
        }
        if let Some(check) = &c.health_check {
            let check_at = at("health_check");
            def["health_check"] = json!({
                "command": self.interpolate_all(&check.command, &as_path(&check_at)),
                "interval": check.interval, "timeout": check.timeout, "retries": check.retries,
                "start_period": check.start_period,
            });
        }
        if !c.mounts.is_empty() {
            let mounts: Vec<Value> = c
                .mounts
                .iter()
                .map(|m| json!({ "source_volume": m.volume, "container_path": m.path, "read_only": m.read_only }))
                .collect();
            def["mount_points"] = json!(mounts);
        }
        if !c.ulimits.is_empty() {
            let ulimits: Vec<Value> = c
                .ulimits
                .iter()
                .map(|(limit, value)| {
                    let (soft, hard) = match value {
                        model::Ulimit::Both(both) => (*both, *both),
                        model::Ulimit::Limits(l) => (l.soft, l.hard),
                    };
                    json!({ "name": limit, "soft_limit": soft, "hard_limit": hard })
                })
                .collect();
            def["ulimits"] = json!(ulimits);
        }
        if let Some(seconds) = c.stop_timeout {
            def["stop_timeout"] = json!(seconds);
        }
        def
    }
}
