//! The stack file format, as typed Rust structs. `schemas/stack.schema.json`
//! is generated from these types (`berth schema`), and a test keeps it fresh.
//!
//! Strings may hold `${var.NAME}`, `${aws.account_id}`, `${aws.region}` and
//! `${<section>.<name>.<attr>}`; they are resolved by [`crate::expand`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// Each section's own types live with its expansion, in `expand/sections/`.
pub use crate::expand::sections::buckets::{Bucket, BucketObject};
pub use crate::expand::sections::clusters::{Capacity, Cluster};
pub use crate::expand::sections::key_pairs::KeyPair;
pub use crate::expand::sections::load_balancers::{Listener, LoadBalancer, Redirect};
pub use crate::expand::sections::log_groups::LogGroup;
pub use crate::expand::sections::policies::Policy;
pub use crate::expand::sections::roles::Role;
pub use crate::expand::sections::secrets::{Generate, Secret};
pub use crate::expand::sections::security_groups::{IngressRule, Ports, SecurityGroup};
pub use crate::expand::sections::services::{CircuitBreaker, Deployment, Service, ServiceLoadBalancer};
pub use crate::expand::sections::target_groups::{HealthCheck, TargetGroup};
pub use crate::expand::sections::task_definitions::{
    Container, ContainerHealthCheck, Mount, PortMapping, PortMappingSpec, RuntimePlatform, TaskDefinition, Ulimit,
    UlimitSpec, Volume, VolumeSpec,
};
pub use crate::expand::sections::task_definitions::{ContainerSecret, SecretReference};

/// A berth stack: every AWS resource of one ECS application.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// The stack's name; every resource berth creates is tagged `berth:stack=<name>`.
    #[serde(deserialize_with = "written_as_string")]
    pub stack: String,
    /// AWS region (overridden by `--region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Variables, used as `${var.NAME}`; `--var NAME=VALUE` overrides them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, Var>,
    /// Where apply and destroy hold the stack's lock: `s3://bucket/key` (`--lock` overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// Tags added to every taggable resource.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Where the stack runs.
    #[serde(default)]
    pub network: Network,
    /// EC2 key pairs imported from public key files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_pairs: BTreeMap<String, KeyPair>,
    /// VPC security groups, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub security_groups: BTreeMap<String, SecurityGroup>,
    /// IAM managed policies and roles.
    #[serde(default)]
    pub iam: Iam,
    /// S3 buckets, by key in this file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<String, Bucket>,
    /// Secrets Manager secrets berth manages, by key in this file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, Secret>,
    /// CloudWatch log groups, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_groups: BTreeMap<String, LogGroup>,
    /// ECS clusters, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clusters: BTreeMap<String, Cluster>,
    /// ECS task definitions, by family.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub task_definitions: BTreeMap<String, TaskDefinition>,
    /// ELBv2 target groups, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_groups: BTreeMap<String, TargetGroup>,
    /// Application load balancers, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    /// ECS services, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
}

/// A string that must be written as one: YAML reads `stack: 42` as a number
/// and an empty `stack:` as null, and taking either as a name would hide the
/// mistake.
fn written_as_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a name written as text (quote it if it looks like a number)")
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<String, E> {
            Ok(value.to_owned())
        }
    }
    deserializer.deserialize_any(Text)
}

/// A variable: a plain string, or a value marked sensitive.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Var {
    /// Written as the value itself: `NAME: value`.
    Plain(String),
    /// Written as a map, to mark the value sensitive: `NAME: { value: ..., sensitive: true }`.
    /// Without `value` the variable is required: `--var NAME=VALUE` or the
    /// environment variable `BERTH_VAR_NAME` gives it (a CI secret, say).
    Detailed {
        /// The variable's value; none makes the variable required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        /// Never shown in plans or logs.
        #[serde(default)]
        sensitive: bool,
    },
}

impl Var {
    /// The variable's value in the file, if it has one.
    pub fn value(&self) -> Option<&str> {
        match self {
            Var::Plain(value) => Some(value),
            Var::Detailed { value, .. } => value.as_deref(),
        }
    }
    /// Whether the value must be masked.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, Var::Detailed { sensitive: true, .. })
    }
}

/// The VPC and subnets.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// `default` or a VPC id.
    #[serde(default = "default_word")]
    pub vpc: String,
    /// `default` (the VPC's default subnets) or a list of subnet ids.
    #[serde(default)]
    pub subnets: Subnets,
}

impl Default for Network {
    fn default() -> Self {
        Network { vpc: default_word(), subnets: Subnets::default() }
    }
}

fn default_word() -> String {
    "default".to_owned()
}

/// `default` or a list of subnet ids.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Subnets {
    /// `default`: the VPC's default subnets.
    Named(String),
    /// These subnet ids.
    Ids(Vec<String>),
}

impl Default for Subnets {
    fn default() -> Self {
        Subnets::Named(default_word())
    }
}

/// IAM policies and roles.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    /// Customer managed policies, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Policy>,
    /// Roles, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, Role>,
}

pub(crate) fn yes() -> bool {
    true
}

/// The JSON Schema of the stack format, as committed in `schemas/stack.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Stack);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes") + "\n"
}
