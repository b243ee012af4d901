//! `services:`: ECS services.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

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
    /// Where its tasks run when their network mode is `awsvpc` (always on
    /// Fargate): required then, and refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<ServiceNetwork>,
    /// Seconds ECS ignores failing load balancer health checks of a new task
    /// while it starts (only with `load_balancer:`); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<u32>,
    /// Allow `aws ecs execute-command` into the running containers (the task
    /// role then needs the SSM messages permissions). Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub execute_command: bool,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// Rolling update limits, in percent of the desired count, and what ECS does
/// when a deployment fails.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Tasks that must stay running during a deployment, in percent of `desired_count` (default 100).
    #[serde(default = "hundred")]
    pub minimum_healthy_percent: u32,
    /// Tasks that may run during a deployment, old and new together, in percent of `desired_count` (default 200).
    #[serde(default = "two_hundred")]
    pub maximum_percent: u32,
    /// Stop a deployment whose tasks keep failing to start or to become
    /// healthy, instead of retrying forever; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
}

impl Deployment {
    /// ECS's limits when the service sets none.
    pub const DEFAULT: Deployment =
        Deployment { minimum_healthy_percent: 100, maximum_percent: 200, circuit_breaker: None };
}

fn hundred() -> u32 {
    Deployment::DEFAULT.minimum_healthy_percent
}

fn two_hundred() -> u32 {
    Deployment::DEFAULT.maximum_percent
}

/// The deployment circuit breaker.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Roll back to the last deployment that completed when this one fails.
    pub rollback: bool,
}

/// The subnets and security groups of an `awsvpc` service's tasks.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    /// `default` (the stack's subnets, from `network:`) or a list of subnet ids.
    #[serde(default)]
    pub subnets: model::Subnets,
    /// Security groups of this file (by name) or group ids (`sg-...`).
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Give each task a public IP address: needed to pull images from a
    /// public subnet without a NAT gateway. Off by default.
    #[serde(default)]
    pub public_ip: bool,
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

pub(crate) const SECTION: Section = Section {
    name: "services",
    outputs: &["arn", "name"],
    declared: |stack| declared(&stack.services, |r| (r.protect, &r.allow)),
    expand: |x| x.services(),
};

impl Expander<'_> {
    pub(in crate::expand) fn services(&mut self) {
        for (name, svc) in &self.stack.services {
            let origin = ["services", name.as_str()];
            let mut extra = BTreeSet::new();
            if let Some(cluster) = self.lookup("clusters", &svc.cluster, &["services", name, "cluster"]) {
                if self.stack.clusters.get(&svc.cluster).is_some_and(|c| c.capacity.is_some()) {
                    // Tasks need container instances to be placed on.
                    extra.insert(format!("{cluster}.capacity_providers"));
                }
                extra.insert(cluster);
            }
            let Some(task_definition) = self.name_or_external(
                "task_definitions",
                &svc.task_definition,
                "arn",
                |s| s.starts_with("arn:"),
                &["services", name, "task_definition"],
            ) else {
                continue;
            };
            let requires_ec2 = self
                .stack
                .task_definitions
                .get(&svc.task_definition)
                .is_some_and(|t| t.requires.iter().any(|r| r == "EC2"));
            let launch_type = svc.launch_type.clone().or(requires_ec2.then(|| "EC2".to_owned()));
            let deployment = svc.deployment.as_ref().unwrap_or(&Deployment::DEFAULT);
            let mut desired = json!({
                "name": name, "cluster": svc.cluster, "task_definition": task_definition,
                "desired_count": svc.desired_count,
                "deployment": { "minimum_healthy_percent": deployment.minimum_healthy_percent, "maximum_percent": deployment.maximum_percent },
            });
            if let Some(breaker) = &deployment.circuit_breaker {
                desired["deployment"]["circuit_breaker"] = json!({ "enable": true, "rollback": breaker.rollback });
            }
            if let Some(seconds) = svc.health_check_grace_period {
                desired["health_check_grace_period_seconds"] = json!(seconds);
            }
            if svc.execute_command {
                desired["enable_execute_command"] = json!(true);
            }
            if let Some(launch_type) = launch_type {
                desired["launch_type"] = json!(launch_type);
            }
            if let Some(lb) = &svc.load_balancer {
                let path = ["services", name.as_str(), "load_balancer", "target_group"];
                if let Some(tg) =
                    self.name_or_external("target_groups", &lb.target_group, "arn", |s| s.starts_with("arn:"), &path)
                {
                    desired["load_balancers"] =
                        json!([{ "target_group_arn": tg, "container_name": lb.container, "container_port": lb.port }]);
                    // ECS refuses a target group that no load balancer uses yet.
                    for (lb_name, balancer) in &self.stack.load_balancers {
                        for listener in &balancer.listeners {
                            let at = format!("load_balancers.{lb_name}.listeners[{}]", listener.port);
                            if listener.forward.as_ref() == Some(&lb.target_group) {
                                extra.insert(at.clone());
                            }
                            for rule in listener.rules.iter().filter(|r| r.forward == lb.target_group) {
                                extra.insert(format!("{at}.rules[{}]", rule.priority));
                            }
                        }
                    }
                }
            }
            if let Some(network) = &svc.network {
                if let Some(configuration) = self.network_configuration(name, network) {
                    desired["network_configuration"] = configuration;
                }
            }
            if let Some(digest) = self.environment_digest(&extra_env_objects(&self.nodes, &svc.task_definition)) {
                desired["tags"] = json!({ ENV_DIGEST_TAG: digest });
            }
            let node = self.push_tagged(format!("services.{name}"), Kind::EcsService, desired, None, &origin);
            node.extra_dependencies = extra;
        }
    }

    /// The desired `network_configuration` of an awsvpc service.
    fn network_configuration(&mut self, service: &str, network: &ServiceNetwork) -> Option<Value> {
        let subnets = match &network.subnets {
            model::Subnets::Named(name) if name == "default" => json!(reference(NETWORK, "subnet_ids")),
            model::Subnets::Named(other) => {
                self.error(
                    &["services", service, "network", "subnets"],
                    format!("`{other}` is not a list of subnet ids"),
                    Some("write `default` (the stack's subnets) or a list such as [subnet-0abc, subnet-0def]".into()),
                );
                return None;
            }
            model::Subnets::Ids(ids) => json!(ids),
        };
        let path = ["services", service, "network", "security_groups"];
        let groups: Vec<String> = network
            .security_groups
            .iter()
            .filter_map(|group| self.name_or_external("security_groups", group, "id", |s| s.starts_with("sg-"), &path))
            .collect();
        Some(json!({ "subnets": subnets, "security_groups": groups, "assign_public_ip": network.public_ip }))
    }

    /// A short digest of the contents of `objects`, or `None` when there are none.
    fn environment_digest(&self, objects: &[String]) -> Option<String> {
        use sha2::{Digest, Sha256};
        if objects.is_empty() {
            return None;
        }
        let mut hasher = Sha256::new();
        for node in self.nodes.iter().filter(|n| objects.contains(&n.address)) {
            hasher.update(node.address.as_bytes());
            hasher.update(node.desired["content"].as_str().unwrap_or_default().as_bytes());
        }
        Some(format!("{:x}", hasher.finalize())[..16].to_owned())
    }
}

/// The env-file objects a task definition family loads (its extra dependencies).
fn extra_env_objects(nodes: &[Node], family: &str) -> Vec<String> {
    let address = format!("task_definitions.{family}");
    nodes
        .iter()
        .find(|n| n.address == address)
        .map(|n| n.extra_dependencies.iter().filter(|d| d.contains(".objects[")).cloned().collect())
        .unwrap_or_default()
}
