//! BRT029-BRT031, BRT050: what works but exposes more than the stack needs. Warnings:
//! a deliberate choice can be listed under the resource's `allow:`.

use serde_json::Value;

use super::{codes, policy, Checks};
use crate::model::Ports;

pub(super) fn check(checks: &mut Checks) {
    ingress(checks);
    policies(checks);
    buckets(checks);
    secrets(checks);
}

/// (from, to) of a port spec; `None` when malformed, which expansion reports.
fn port_range(ports: &Ports) -> Option<(u32, u32)> {
    let parse = |s: &str| s.trim().parse::<u32>().ok();
    match ports {
        Ports::One(port) => Some((*port, *port)),
        Ports::Range(text) => match text.split_once('-') {
            Some((from, to)) => Some((parse(from)?, parse(to)?)),
            None => parse(text).map(|port| (port, port)),
        },
    }
}

/// BRT029: every TCP port of a group open to the whole internet.
fn ingress(checks: &mut Checks) {
    let stack = checks.stack;
    for (group, spec) in &stack.security_groups {
        // The group a load balancer of the file uses: the usual right source.
        let balancer_group = stack
            .load_balancers
            .values()
            .flat_map(|lb| &lb.security_groups)
            .find(|g| *g != group && stack.security_groups.contains_key(*g));
        let source = match balancer_group {
            Some(g) => format!("`source: {g}`"),
            None => "`source:` the load balancer's security group".to_owned(),
        };
        for (i, rule) in spec.ingress.iter().enumerate() {
            let Some(cidr) = rule.cidr.as_deref().filter(|c| ["0.0.0.0/0", "::/0"].contains(c)) else { continue };
            let opened = match rule.protocol.as_str() {
                "all" | "-1" => "every port of every protocol",
                "tcp" if port_range(&rule.ports).is_some_and(|(from, to)| from <= 1 && to >= 65535) => {
                    "every TCP port (0-65535)"
                }
                _ => continue,
            };
            let index = i.to_string();
            checks.report(
                codes::INGRESS_OPEN_TO_WORLD,
                &["security_groups", group, "ingress", &index],
                format!("security group `{group}` opens {opened} to the whole internet ({cidr})"),
                format!("allow only the load balancer ({source}) on the ephemeral range 32768-65535 that dynamic host ports use"),
            );
        }
    }
}

/// BRT030: an Allow statement granting every action of a service (or of
/// all) on every resource.
fn policies(checks: &mut Checks) {
    let stack = checks.stack;
    let policies =
        stack.iam.policies.iter().map(|(name, p)| {
            (format!("policy `{name}`"), vec!["iam", "policies", name.as_str(), "document"], &p.document)
        });
    let inline = stack.iam.roles.iter().flat_map(|(role, r)| {
        r.inline_policies.iter().map(move |(name, document)| {
            (
                format!("inline policy `{name}` of role `{role}`"),
                vec!["iam", "roles", role.as_str(), "inline_policies", name.as_str()],
                document,
            )
        })
    });
    let documents: Vec<(String, Vec<&str>, &Value)> = policies.chain(inline).collect();
    for (what, path, document) in documents {
        for statement in policy::statements(document, &|s| Some(s.to_owned())) {
            if !statement.allow || statement.actions.negated || statement.resources.negated {
                continue;
            }
            let broad: Vec<&str> = statement
                .actions
                .values
                .iter()
                .map(String::as_str)
                .filter(|a| *a == "*" || a.ends_with(":*"))
                .collect();
            if broad.is_empty() || !statement.resources.values.iter().any(|r| r == "*") {
                continue;
            }
            let index = statement.index.map(|i| i.to_string());
            let mut at = path.clone();
            at.push("Statement");
            at.extend(index.as_deref());
            checks.report(
                codes::POLICY_WILDCARD,
                &at,
                format!("{what} allows {} on every resource (`*`)", broad.join(", ")),
                "list the actions the role needs (for example s3:GetObject) and the ARNs it needs them on",
            );
        }
    }
}

/// BRT031: objects marked sensitive in a bucket that may be made public.
fn buckets(checks: &mut Checks) {
    let stack = checks.stack;
    for (key, bucket) in stack.buckets.iter().filter(|(_, b)| !b.block_public_access) {
        let Some((object, _)) = bucket.objects.iter().find(|(_, o)| o.sensitive) else { continue };
        checks.report(
            codes::SENSITIVE_BUCKET_PUBLIC,
            &["buckets", key, "block_public_access"],
            format!("bucket `{key}` holds sensitive object `{object}` but does not block public access"),
            "set `block_public_access: true` (the default), so no policy or ACL can expose the object",
        );
    }
}

/// BRT050: a secret without `readers:` has no resource policy naming who reads it.
fn secrets(checks: &mut Checks) {
    let stack = checks.stack;
    for (key, _) in stack.secrets.iter().filter(|(_, s)| s.readers.is_empty()) {
        checks.report(
            codes::SECRET_WITHOUT_READERS,
            &["secrets", key],
            format!("secret `{key}` has no `readers:`: no resource policy says which roles may read it"),
            "list the roles that read it (the execution role of the tasks using it) under `readers:`",
        );
    }
}
