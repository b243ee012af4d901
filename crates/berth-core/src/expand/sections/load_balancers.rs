//! `load_balancers:`: application load balancers and their listeners.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

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

/// A listener: forwards to a target group, or redirects (HTTP to HTTPS).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// The port the listener accepts connections on.
    pub port: u32,
    /// The listener's protocol: `HTTP` or `HTTPS`.
    pub protocol: String,
    /// The ACM certificate an `HTTPS` listener presents (an ARN; berth does not request certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// A target group of this file (or a target group ARN) it forwards to; or `redirect:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<String>,
    /// Where it redirects every request instead of forwarding (usually HTTP to HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    /// Requests that go elsewhere than `forward:`, by path or host; managed
    /// exactly (a rule removed from the file is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ListenerRule>,
}

/// A listener rule: requests whose path or host matches go to its target group.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenerRule {
    /// Its rank among the listener's rules (lower first), 1 to 50000; unique per listener.
    pub priority: u32,
    /// Path patterns it matches (`/api/*`); with `host`, both must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// Host names it matches (`api.example.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host: Vec<String>,
    /// A target group of this file (or a target group ARN) that matching requests go to.
    pub forward: String,
}

/// A redirect to the same host and path on another protocol or port.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// The protocol redirected to; `HTTPS` by default.
    #[serde(default = "https")]
    pub protocol: String,
    /// The port redirected to; 443 by default.
    #[serde(default = "https_port")]
    pub port: u32,
    /// `true` (default) for a permanent redirect (HTTP 301), `false` for a temporary one (302).
    #[serde(default = "crate::model::yes")]
    pub permanent: bool,
}

/// A rule's patterns are sets: AWS may list them in another order.
pub(crate) fn normalize_listener_rule(fields: &mut serde_json::Map<String, Value>) {
    if let Some(Value::Object(conditions)) = fields.get_mut("conditions") {
        crate::normalize::sort_field(conditions, "path");
        crate::normalize::sort_field(conditions, "host");
    }
}

fn https() -> String {
    "HTTPS".to_owned()
}

fn https_port() -> u32 {
    443
}

fn internet_facing() -> String {
    "internet-facing".to_owned()
}

pub(crate) const SECTION: Section = Section {
    name: "load_balancers",
    outputs: &["arn", "name", "dns_name"],
    declared: |stack| declared(&stack.load_balancers, |r| (r.protect, &r.allow)),
    expand: |x| x.load_balancers(),
};

impl Expander<'_> {
    /// A rule of the listener at `listener`, below it.
    fn listener_rule(&mut self, listener: &str, rule: &ListenerRule, path: &[&str]) {
        if rule.path.is_empty() && rule.host.is_empty() {
            self.error(
                path,
                format!("rule {} matches nothing: it has neither `path:` nor `host:`", rule.priority),
                Some(
                    "add `path: [\"/api/*\"]` or `host: [api.example.com]`; the listener's `forward:` takes the rest"
                        .into(),
                ),
            );
            return;
        }
        let at: Vec<&str> = path.iter().copied().chain(["forward"]).collect();
        let is_arn = |s: &str| s.starts_with("arn:");
        let Some(target_group) = self.name_or_external("target_groups", &rule.forward, "arn", is_arn, &at) else {
            return;
        };
        let mut conditions = serde_json::Map::new();
        for (field, values) in [("path", &rule.path), ("host", &rule.host)] {
            if !values.is_empty() {
                let values: Vec<String> = values.iter().map(|v| self.interpolate(v, path)).collect();
                conditions.insert(field.into(), json!(values));
            }
        }
        let desired = json!({
            "listener_arn": reference(listener, "arn"), "priority": rule.priority,
            "conditions": conditions, "target_group_arn": target_group,
        });
        self.push(format!("{listener}.rules[{}]", rule.priority), Kind::ListenerRule, desired, Some(listener), path);
    }

    pub(in crate::expand) fn load_balancers(&mut self) {
        for (name, lb) in &self.stack.load_balancers {
            let address = format!("load_balancers.{name}");
            let groups: Vec<String> = lb
                .security_groups
                .iter()
                .filter_map(|g| {
                    self.name_or_external(
                        "security_groups",
                        g,
                        "id",
                        |s| s.starts_with("sg-"),
                        &["load_balancers", name, "security_groups"],
                    )
                })
                .collect();
            let desired = json!({
                "name": name, "scheme": lb.scheme, "type": "application",
                "subnet_ids": reference(NETWORK, "subnet_ids"), "security_group_ids": groups,
            });
            self.push_tagged(address.clone(), Kind::LoadBalancer, desired, None, &["load_balancers", name]);
            for (i, listener) in lb.listeners.iter().enumerate() {
                let index = i.to_string();
                let path = ["load_balancers", name.as_str(), "listeners", index.as_str()];
                let mut desired = json!({
                    "load_balancer_arn": reference(&address, "arn"), "port": listener.port,
                    "protocol": listener.protocol,
                });
                match (&listener.forward, &listener.redirect) {
                    (Some(forward), None) => {
                        let is_arn = |s: &str| s.starts_with("arn:");
                        let Some(tg) = self.name_or_external("target_groups", forward, "arn", is_arn, &path) else {
                            continue;
                        };
                        desired["target_group_arn"] = json!(tg);
                    }
                    (None, Some(redirect)) => {
                        let status = if redirect.permanent { "HTTP_301" } else { "HTTP_302" };
                        desired["redirect"] = json!({
                            "protocol": redirect.protocol, "port": redirect.port.to_string(), "status_code": status,
                        });
                    }
                    (forward, _) => {
                        let what = if forward.is_some() {
                            "both `forward:` and `redirect:`"
                        } else {
                            "neither `forward:` nor `redirect:`"
                        };
                        self.error(
                            &path,
                            format!("listener on port {} has {what}", listener.port),
                            Some(
                                "give it one: `forward: TARGET_GROUP`, or `redirect: { protocol: HTTPS, port: 443 }`"
                                    .into(),
                            ),
                        );
                        continue;
                    }
                }
                if let Some(certificate) = &listener.certificate {
                    let at: Vec<&str> = path.iter().copied().chain(["certificate"]).collect();
                    desired["certificate_arn"] = json!(self.interpolate(certificate, &at));
                }
                let listener_address = format!("{address}.listeners[{}]", listener.port);
                self.push_tagged(listener_address.clone(), Kind::Listener, desired, Some(&address), &path);
                for (j, rule) in listener.rules.iter().enumerate() {
                    let index = j.to_string();
                    let rule_path: Vec<&str> = path.iter().copied().chain(["rules", index.as_str()]).collect();
                    self.listener_rule(&listener_address, rule, &rule_path);
                }
            }
        }
    }
}
