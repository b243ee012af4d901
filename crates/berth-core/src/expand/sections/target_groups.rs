//! `target_groups:`: ELB target groups.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

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
    /// Seconds the load balancer keeps sending a deregistered target its
    /// in-flight requests (AWS's default 300); unset, berth leaves it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistration_delay: Option<u32>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
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
    /// Seconds between checks of one target (AWS's default 30).
    #[serde(default = "thirty")]
    pub interval: u32,
    /// Seconds without an answer that fail a check; unset, AWS's default for the
    /// target type applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Checks in a row that make an unhealthy target healthy (AWS's default 5).
    #[serde(default = "five")]
    pub healthy_threshold: u32,
    /// Checks in a row that make a healthy target unhealthy (AWS's default 2).
    #[serde(default = "two")]
    pub unhealthy_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: slash(),
            matcher: ok_code(),
            interval: thirty(),
            timeout: None,
            healthy_threshold: five(),
            unhealthy_threshold: two(),
        }
    }
}

fn thirty() -> u32 {
    30
}

fn five() -> u32 {
    5
}

fn two() -> u32 {
    2
}

fn instance_target() -> String {
    "instance".to_owned()
}

fn slash() -> String {
    "/".to_owned()
}

fn ok_code() -> String {
    "200".to_owned()
}

pub(crate) const SECTION: Section = Section {
    name: "target_groups",
    outputs: &["arn", "name"],
    declared: |stack| declared(&stack.target_groups, |r| (r.protect, &r.allow)),
    expand: |x| x.target_groups(),
};

impl Expander<'_> {
    pub(in crate::expand) fn target_groups(&mut self) {
        for (name, tg) in &self.stack.target_groups {
            let health = tg.health_check.clone().unwrap_or_default();
            let mut check = json!({
                "path": health.path, "matcher": health.matcher, "interval": health.interval,
                "healthy_threshold": health.healthy_threshold, "unhealthy_threshold": health.unhealthy_threshold,
            });
            if let Some(timeout) = health.timeout {
                check["timeout"] = json!(timeout);
            }
            let mut desired = json!({
                "name": name, "protocol": tg.protocol, "port": tg.port, "vpc_id": reference(NETWORK, "vpc_id"),
                "target_type": tg.target_type, "health_check": check,
            });
            if let Some(delay) = tg.deregistration_delay {
                desired["deregistration_delay"] = json!(delay);
            }
            self.push_tagged(
                format!("target_groups.{name}"),
                Kind::TargetGroup,
                desired,
                None,
                &["target_groups", name],
            );
        }
    }
}
