//! BRT017-BRT019: a service's load balancer must point at a container and
//! port of its task, and the target group must register targets the way the
//! task's network mode exposes them. (That the target group and the
//! instances share a VPC needs AWS: not checked here.)
//! BRT047-BRT049: listeners AWS refuses (HTTPS without a certificate, a
//! certificate on HTTP, two rules of one priority) or that never converge
//! (two on one port).

use super::{codes, network_mode, port_mappings, Checks, Placement};
use crate::diag::did_you_mean;

pub(super) fn check(checks: &mut Checks) {
    for placement in checks.placements() {
        container_and_port(checks, &placement);
        target_type(checks, &placement);
    }
    listeners(checks);
}

fn listeners(checks: &mut Checks) {
    let stack = checks.stack;
    for (balancer, lb) in &stack.load_balancers {
        let mut ports = std::collections::BTreeMap::new();
        for (i, listener) in lb.listeners.iter().enumerate() {
            let index = i.to_string();
            let at = ["load_balancers", balancer.as_str(), "listeners", index.as_str()];
            let port = listener.port;
            if let Some(first) = ports.insert(port, i) {
                checks.report(
                    codes::LISTENER_PORT_TAKEN,
                    &at,
                    format!("load balancer `{balancer}` has two listeners on port {port} (entries {first} and {i}); one address cannot serve both"),
                    "give each listener its own port, or merge them (with `rules:` for paths and hosts)",
                );
            }
            let mut priorities = std::collections::BTreeSet::new();
            for (j, rule) in listener.rules.iter().enumerate() {
                if !priorities.insert(rule.priority) {
                    let index = j.to_string();
                    checks.report(
                        codes::RULE_PRIORITY_TAKEN,
                        &[&at[..], &["rules", index.as_str(), "priority"]].concat(),
                        format!(
                            "two rules of the listener on port {port} of `{balancer}` have priority {}",
                            rule.priority
                        ),
                        "give each rule of a listener its own priority (lower is matched first)",
                    );
                }
            }
            match (listener.protocol.as_str(), &listener.certificate) {
                ("HTTPS", None) => checks.report(
                    codes::LISTENER_CERTIFICATE,
                    &at,
                    format!("the HTTPS listener on port {port} of `{balancer}` has no certificate; AWS refuses it"),
                    "add `certificate: arn:aws:acm:...` (an issued ACM certificate of the stack's region)",
                ),
                ("HTTPS", Some(_)) => {}
                (protocol, Some(_)) => checks.report(
                    codes::LISTENER_CERTIFICATE,
                    &[&at[..], &["certificate"]].concat(),
                    format!(
                        "the {protocol} listener on port {port} of `{balancer}` takes no certificate; AWS refuses one"
                    ),
                    "remove `certificate:`, or set `protocol: HTTPS`",
                ),
                _ => {}
            }
        }
    }
}

fn container_and_port(checks: &mut Checks, placement: &Placement) {
    let (name, family, task) = (placement.name, placement.family, placement.task);
    let Some(lb) = &placement.service.load_balancer else { return };
    let at = |key| ["services", name, "load_balancer", key];
    let Some(container) = task.containers.get(&lb.container) else {
        let names = task.containers.keys().map(String::as_str);
        let help = match did_you_mean(&lb.container, names.clone()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("containers of task `{family}`: {}", names.collect::<Vec<_>>().join(", ")),
        };
        checks.report(
            codes::LOAD_BALANCER_CONTAINER,
            &at("container"),
            format!(
                "service `{name}` sends traffic to container `{}`, which task `{family}` does not have",
                lb.container
            ),
            help,
        );
        return;
    };
    let ports: Vec<u32> = port_mappings(container).map(|(container_port, _)| container_port).collect();
    if !ports.contains(&lb.port) {
        let mapped = match ports.as_slice() {
            [] => "maps no port".to_owned(),
            ports => format!("maps {}", ports.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")),
        };
        checks.report(
            codes::LOAD_BALANCER_PORT,
            &at("port"),
            format!(
                "service `{name}` sends traffic to port {} of container `{}`, which {mapped} but not {}",
                lb.port, lb.container, lb.port
            ),
            format!("set `port` to a container port of `{}`, or add `{}` to its `ports`", lb.container, lb.port),
        );
    }
}

fn target_type(checks: &mut Checks, placement: &Placement) {
    let Some(lb) = &placement.service.load_balancer else { return };
    let Some(group) = checks.stack.target_groups.get(&lb.target_group) else { return };
    let mode = network_mode(placement.task);
    let kind = group.target_type.as_str();
    let fix = match (kind, mode) {
        ("instance", "bridge" | "host") | ("ip", "awsvpc") => return,
        ("instance", "awsvpc") => "set `target_type: ip` on the target group (awsvpc tasks register by IP address)",
        ("ip", "bridge" | "host") => {
            "set `target_type: instance` on the target group (bridge and host tasks register as instance and port)"
        }
        _ => "use target type `instance` with bridge or host network mode, or `ip` with awsvpc",
    };
    checks.report(
        codes::TARGET_TYPE_NETWORK_MODE,
        &["services", placement.name, "load_balancer", "target_group"],
        format!(
            "target group `{}` has target type {kind}, which ECS cannot register tasks of `{}` with (network mode {mode})",
            lb.target_group, placement.family
        ),
        fix,
    );
}
