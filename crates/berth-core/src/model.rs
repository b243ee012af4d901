//! The stack file format, as typed Rust structs. `schemas/stack.schema.json`
//! is generated from these types (`berth schema`), and a test keeps it fresh.
//!
//! Strings may hold `${var.NAME}`, `${aws.account_id}`, `${aws.region}` and
//! `${<section>.<name>.<attr>}`; they are resolved by [`crate::expand`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    Detailed {
        /// The variable's value.
        value: String,
        /// Never shown in plans or logs.
        #[serde(default)]
        sensitive: bool,
    },
}

impl Var {
    /// The variable's value.
    pub fn value(&self) -> &str {
        match self {
            Var::Plain(value) | Var::Detailed { value, .. } => value,
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

/// An EC2 key pair imported from a public key file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPair {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Path of the OpenSSH public key, relative to the stack file.
    pub public_key: String,
}

/// A security group in the stack's VPC.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The group's description in AWS.
    pub description: String,
    /// Inbound rules. berth makes the group's rules exactly these: a rule
    /// in AWS that is not listed here is deleted (unless `unmanaged_rules`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<IngressRule>,
    /// Leave rules that are not in the file alone (another tool adds rules
    /// to this group). Default false: the rules in AWS are exactly `ingress`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmanaged_rules: bool,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// One inbound rule: from a CIDR block or from another group of the stack.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: String,
    /// A port (`80`) or a range (`32768-65535`).
    pub ports: Ports,
    /// Source CIDR block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Source security group: a name in this file or a `sg-` id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The rule's description in AWS; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A port or a range of ports.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Ports {
    /// One port: `80`.
    One(u32),
    /// A range written `FROM-TO`: `32768-65535`.
    Range(String),
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

/// A customer managed IAM policy.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The policy document.
    pub document: Value,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Services that may assume the role (`ecs-tasks.amazonaws.com`).
    pub trust: Vec<String>,
    /// For `ecs-tasks.amazonaws.com`, only tasks of this account may assume
    /// the role: an `aws:SourceAccount` condition against the confused
    /// deputy problem. Default true; false leaves the condition out.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub limit_to_account: bool,
    /// ARNs of managed policies to attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Names of policies of this file to attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Inline policies, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inline_policies: BTreeMap<String, Value>,
    /// Also create an instance profile of the same name.
    #[serde(default)]
    pub instance_profile: bool,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// An S3 bucket and the objects berth manages in it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The bucket's global name (defaults to the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Block all public access (default true).
    #[serde(default = "yes")]
    pub block_public_access: bool,
    /// Roles of this file (or role ARNs) that may read objects: the bucket policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<String>,
    /// Objects uploaded from files, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, BucketObject>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// An object uploaded from a local file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketObject {
    /// Path relative to the stack file.
    pub file: String,
    /// Plans show which keys changed, never values.
    #[serde(default)]
    pub sensitive: bool,
    /// The object's `Content-Type` (default `text/plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// A CloudWatch log group.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogGroup {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Days CloudWatch Logs keeps the events, one of the values it accepts; unset, they never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

/// An ECS cluster, optionally with EC2 capacity.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// EC2 container instances berth runs for the cluster; none by default (Fargate, or instances from elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// EC2 container instances: launch template, auto scaling group and capacity provider.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// EC2 instance type of the container instances (`t3.small`).
    pub instance_type: String,
    /// `ecs-optimized` (the current ECS-optimized AMI) or an AMI id.
    #[serde(default = "ecs_optimized")]
    pub ami: String,
    /// Fewest instances the auto scaling group keeps.
    pub min: u32,
    /// Most instances the auto scaling group may run.
    pub max: u32,
    /// Instances to run, between `min` and `max`.
    pub desired: u32,
    /// A key pair of this file, for SSH to the instances; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    /// Security groups of the instances: names in this file or `sg-` ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// A role of this file with `instance_profile: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_role: Option<String>,
}

fn ecs_optimized() -> String {
    "ecs-optimized".to_owned()
}

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
    /// Secrets Manager secrets, by variable name: secret name or ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
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

/// An ELBv2 target group.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The protocol the load balancer reaches targets with (`HTTP`).
    pub protocol: String,
    /// The port targets receive traffic on.
    pub port: u32,
    /// `instance` (default), `ip` or `lambda`.
    #[serde(default = "instance_target")]
    pub target_type: String,
    /// How the load balancer checks targets; by default path `/`, healthy on `200`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn instance_target() -> String {
    "instance".to_owned()
}

/// A target group health check.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// The path requested (default `/`).
    #[serde(default = "slash")]
    pub path: String,
    /// HTTP codes counted healthy (`"200"`, `"200-299"`).
    #[serde(default = "ok_code")]
    pub matcher: String,
}

fn slash() -> String {
    "/".to_owned()
}

fn ok_code() -> String {
    "200".to_owned()
}

/// An application load balancer.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// `internet-facing` (default) or `internal`.
    #[serde(default = "internet_facing")]
    pub scheme: String,
    /// Security groups of the load balancer: names in this file or `sg-` ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// The ports it listens on, each forwarding to a target group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Listener>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn internet_facing() -> String {
    "internet-facing".to_owned()
}

/// A listener forwarding to a target group.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// The port the listener accepts connections on.
    pub port: u32,
    /// The listener's protocol (`HTTP`).
    pub protocol: String,
    /// A target group of this file.
    pub forward: String,
}

/// An ECS service.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The cluster of this file the service runs in.
    pub cluster: String,
    /// What its tasks run: a task definition family of this file or a task definition ARN.
    pub task_definition: String,
    /// How many tasks to keep running.
    pub desired_count: u32,
    /// `EC2` (default when the task requires EC2) or `FARGATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// Rolling update limits; by default 100% minimum healthy and 200% maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    /// The target group its tasks are registered with; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<ServiceLoadBalancer>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// Rolling update limits, in percent of the desired count.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Tasks that must stay running during a deployment, in percent of `desired_count`.
    pub minimum_healthy_percent: u32,
    /// Tasks that may run during a deployment, old and new together, in percent of `desired_count`.
    pub maximum_percent: u32,
}

/// Which container and port the target group sends traffic to.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadBalancer {
    /// A target group of this file, or a target group ARN.
    pub target_group: String,
    /// The container of the task that receives the traffic.
    pub container: String,
    /// The container port the traffic goes to.
    pub port: u32,
}

/// The JSON Schema of the stack format, as committed in `schemas/stack.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Stack);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes") + "\n"
}
