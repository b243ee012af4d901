//! `security_groups:`: groups and their ingress rules, named by content.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

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

pub(crate) const SECTION: Section = Section {
    name: "security_groups",
    outputs: &["id", "name"],
    declared: |stack| declared(&stack.security_groups, |r| (r.protect, &r.allow)),
    expand: |x| x.security_groups(),
};

impl Expander<'_> {
    pub(in crate::expand) fn security_groups(&mut self) {
        for (name, sg) in &self.stack.security_groups {
            let address = format!("security_groups.{name}");
            let desired =
                json!({ "name": name, "description": sg.description, "vpc_id": reference(NETWORK, "vpc_id") });
            self.push_tagged(address.clone(), Kind::SecurityGroup, desired, None, &["security_groups", name])
                .exact_children = !sg.unmanaged_rules;
            for (i, rule) in sg.ingress.iter().enumerate() {
                let index = i.to_string();
                let path = ["security_groups", name.as_str(), "ingress", index.as_str()];
                let protocol = match rule.protocol.as_str() {
                    "tcp" | "udp" | "icmp" => rule.protocol.clone(),
                    "all" | "-1" => "-1".to_owned(),
                    other => {
                        let help =
                            did_you_mean(other, ["tcp", "udp", "icmp", "all"]).map(|p| format!("did you mean `{p}`?"));
                        self.error(
                            &path,
                            format!("unknown protocol `{other}`"),
                            help.or(Some("use tcp, udp, icmp or all".into())),
                        );
                        continue;
                    }
                };
                let (from, to) = match parse_ports(&rule.ports) {
                    Ok(range) => range,
                    Err(message) => {
                        self.error(&path, message, Some("ports are 0-65535, written `80` or `32768-65535`".into()));
                        continue;
                    }
                };
                let mut desired = json!({ "group_id": reference(&address, "id"), "protocol": protocol, "from_port": from, "to_port": to });
                let source_label = match (&rule.cidr, &rule.source) {
                    (Some(cidr), None) => {
                        if !valid_cidr(cidr) {
                            self.error(
                                &path,
                                format!("`{cidr}` is not an IPv4 CIDR block"),
                                Some("write it like 10.0.0.0/16 or 0.0.0.0/0".into()),
                            );
                            continue;
                        }
                        desired["cidr"] = json!(cidr);
                        cidr.clone()
                    }
                    (None, Some(source)) => {
                        let Some(group) =
                            self.name_or_external("security_groups", source, "id", |s| s.starts_with("sg-"), &path)
                        else {
                            continue;
                        };
                        desired["source_group_id"] = json!(group);
                        source.clone()
                    }
                    _ => {
                        self.error(
                            &path,
                            "an ingress rule needs exactly one of `cidr` or `source`",
                            Some("for example `cidr: 0.0.0.0/0` or `source: <security group>`".into()),
                        );
                        continue;
                    }
                };
                if let Some(description) = &rule.description {
                    desired["description"] = json!(description);
                }
                let rule_address =
                    format!("{address}.{}", ingress_label(&protocol, from.into(), to.into(), &source_label));
                self.push(rule_address, Kind::SecurityGroupIngress, desired, Some(&address), &path);
            }
        }
    }
}

/// Splits a port spec into (from, to), or says why it is not one.
fn parse_ports(ports: &Ports) -> Result<(u32, u32), String> {
    let (from, to) = match ports {
        Ports::One(p) => (*p, *p),
        Ports::Range(text) => {
            let parse = |s: &str| {
                s.trim().parse::<u32>().map_err(|_| format!("`{text}` is not a port or a range like 32768-65535"))
            };
            match text.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => {
                    let p = parse(text)?;
                    (p, p)
                }
            }
        }
    };
    if from > 65535 || to > 65535 {
        return Err(format!("port {} is above 65535", from.max(to)));
    }
    if from > to {
        return Err(format!("port range {from}-{to} is reversed"));
    }
    Ok((from, to))
}

/// How an ingress rule is named below its group, from its content (so that
/// the order of rules in the file does not matter): `ingress[tcp 22 0.0.0.0/0]`,
/// `ingress[all 10.0.0.0/8]`. Rules read from AWS are named the same way.
pub fn ingress_label(protocol: &str, from: i64, to: i64, source: &str) -> String {
    match protocol {
        "-1" => format!("ingress[all {source}]"),
        _ if from == to => format!("ingress[{protocol} {from} {source}]"),
        _ => format!("ingress[{protocol} {from}-{to} {source}]"),
    }
}

/// Whether `cidr` is an IPv4 CIDR block such as `10.0.0.0/16`.
fn valid_cidr(cidr: &str) -> bool {
    let Some((ip, bits)) = cidr.split_once('/') else { return false };
    ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
}
