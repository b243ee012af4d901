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
    /// Application Auto Scaling of the desired count, between `min` and
    /// `max`, tracking targets; `desired_count` then only seeds the create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
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

/// Target tracking of a service's desired count: each target given is one
/// policy, and the autoscaler keeps the count between `min` and `max`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    /// Fewest tasks the autoscaler keeps.
    pub min: u32,
    /// Most tasks the autoscaler may run.
    pub max: u32,
    /// Average CPU use of the service's tasks to keep, in percent (`ECSServiceAverageCPUUtilization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Average memory use of the service's tasks to keep, in percent (`ECSServiceAverageMemoryUtilization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    /// Requests per minute per task to keep, counted by the load balancer
    /// that forwards to the service's target group (`ALBRequestCountPerTarget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_target: Option<f64>,
}

impl Autoscaling {
    /// The targets given, as (policy name, predefined metric, target value).
    pub(crate) fn targets(&self) -> impl Iterator<Item = (&'static str, &'static str, f64)> {
        [
            ("cpu", "ECSServiceAverageCPUUtilization", self.cpu),
            ("memory", "ECSServiceAverageMemoryUtilization", self.memory),
            ("requests-per-target", REQUESTS_PER_TARGET, self.requests_per_target),
        ]
        .into_iter()
        .filter_map(|(name, metric, target)| Some((name, metric, target?)))
    }
}

/// The first load balancer of the file (by name) with a listener that
/// forwards to target group `group`, as its default action or in a rule.
pub(crate) fn forwarding_balancer<'a>(stack: &'a model::Stack, group: &str) -> Option<&'a str> {
    let forwards =
        |l: &model::Listener| l.forward.as_deref() == Some(group) || l.rules.iter().any(|r| r.forward == group);
    stack.load_balancers.iter().find(|(_, lb)| lb.listeners.iter().any(forwards)).map(|(name, _)| name.as_str())
}

/// The predefined metric of `requests_per_target`, which needs a resource label.
const REQUESTS_PER_TARGET: &str = "ALBRequestCountPerTarget";

/// The resource label of `ALBRequestCountPerTarget`,
/// `app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>`, from the ARNs of the
/// load balancer and of the target group; `None` for values that are not such ARNs.
pub(crate) fn request_count_label(load_balancer_arn: &str, target_group_arn: &str) -> Option<String> {
    let balancer = load_balancer_arn.split_once(":loadbalancer/")?.1;
    let group = target_group_arn.rsplit_once(':')?.1;
    group.starts_with("targetgroup/").then(|| format!("{balancer}/{group}"))
}

/// A scaling target's policies are a set (sorted by name); a target value is
/// a number however it is written (60 and 60.0 are one target); and the
/// load balancer and target group ARNs a request count policy is declared
/// with are its resource label, as AWS keeps it.
pub(crate) fn normalize_service_autoscaling(fields: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(policies)) = fields.get_mut("policies") else { return };
    for policy in policies.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(target) = policy.get("target").and_then(Value::as_f64) {
            policy.insert("target".into(), whole_number(target));
        }
        let arn = |policy: &mut serde_json::Map<String, Value>, key: &str| match policy.remove(key) {
            Some(Value::String(arn)) => Some(arn),
            _ => None,
        };
        if let (Some(balancer), Some(group)) = (arn(policy, "load_balancer_arn"), arn(policy, "target_group_arn")) {
            let label = request_count_label(&balancer, &group).unwrap_or(format!("{balancer} {group}"));
            policy.insert("resource_label".into(), json!(label));
        }
    }
    policies.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
}

/// `n` as an integer when it is one, so that 60 and 60.0 compare equal.
fn whole_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
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
            let address = format!("services.{name}");
            let node = self.push_tagged(address.clone(), Kind::EcsService, desired, None, &origin);
            node.extra_dependencies = extra;
            if let Some(scaling) = &svc.autoscaling {
                // The autoscaler owns the live count; the file's count seeds the create.
                node.create_only.insert("desired_count".into());
                self.autoscaling(name, svc, scaling, &address);
            }
        }
    }

    /// The scalable target of a service and its target tracking policies,
    /// below the service.
    fn autoscaling(&mut self, name: &str, svc: &Service, scaling: &Autoscaling, service: &str) {
        let mut policies = Vec::new();
        for (policy, metric, target) in scaling.targets() {
            let mut desired = json!({ "name": policy, "metric": metric, "target": target });
            if metric == REQUESTS_PER_TARGET {
                // A service no load balancer of the file forwards to is reported by the checks (BRT055).
                let Some((balancer, group)) = self.request_count_arns(svc) else { continue };
                desired["load_balancer_arn"] = json!(balancer);
                desired["target_group_arn"] = json!(group);
            }
            policies.push(desired);
        }
        let desired = json!({
            "resource_id": format!("service/{}/{name}", svc.cluster),
            "min": scaling.min, "max": scaling.max, "policies": policies,
        });
        let origin = ["services", name, "autoscaling"];
        self.push(format!("{service}.autoscaling"), Kind::ServiceAutoscaling, desired, Some(service), &origin);
    }

    /// References to the ARNs of the load balancer that forwards to the
    /// service's target group (the first of the file's, by name) and of the group.
    fn request_count_arns(&self, svc: &Service) -> Option<(String, String)> {
        let group = &svc.load_balancer.as_ref()?.target_group;
        let balancer = forwarding_balancer(self.stack, group)?;
        let group_arn = match group.starts_with("arn:") {
            true => group.clone(),
            false => reference(&format!("target_groups.{group}"), "arn"),
        };
        Some((reference(&format!("load_balancers.{balancer}"), "arn"), group_arn))
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
