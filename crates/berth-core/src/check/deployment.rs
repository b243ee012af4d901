//! BRT006-BRT008: rolling updates that cannot finish. ECS replaces tasks
//! within two limits: at least `minimum_healthy_percent` of the desired count
//! stays running (rounded up) and at most `maximum_percent` runs (rounded
//! down). When neither limit leaves room, or the only room is a new task that
//! cannot be placed, the deployment waits forever.

use super::{codes, network_mode, port_mappings, Checks, Placement};
use crate::model::{Deployment, TaskDefinition};

/// How many old tasks ECS may stop before starting new ones, and how many
/// new ones it may start before stopping old ones.
fn room(desired: u32, deployment: &Deployment) -> (u64, u64) {
    let desired = u64::from(desired);
    let keep = (desired * u64::from(deployment.minimum_healthy_percent)).div_ceil(100);
    let at_most = desired * u64::from(deployment.maximum_percent) / 100;
    (desired.saturating_sub(keep), at_most.saturating_sub(desired))
}

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for (name, service) in &stack.services {
        let deployment = service.deployment.as_ref().unwrap_or(&Deployment::DEFAULT);
        let (minimum, maximum) = (deployment.minimum_healthy_percent, deployment.maximum_percent);
        let at = |key| ["services", name.as_str(), "deployment", key];
        if minimum > maximum {
            checks.report(
                codes::DEPLOYMENT_MINIMUM_ABOVE_MAXIMUM,
                &at("minimum_healthy_percent"),
                format!("service `{name}` keeps at least {minimum}% of its tasks running but allows at most {maximum}% ({minimum} > {maximum}), so ECS can neither stop an old task nor start a new one"),
                "set minimum_healthy_percent at or below maximum_percent, for example 0 and 100 (stop, then start) or 100 and 200 (start, then stop)",
            );
            continue;
        }
        let desired = service.desired_count;
        if desired > 0 && room(desired, deployment) == (0, 0) {
            checks.report(
                codes::DEPLOYMENT_STUCK,
                &["services", name, "deployment"],
                format!("with {desired} task(s), minimum_healthy_percent {minimum} (rounded up) and maximum_percent {maximum} (rounded down) let ECS neither stop an old task nor start a new one, so service `{name}` never updates"),
                "lower minimum_healthy_percent (for example to 0) or raise maximum_percent (for example to 200)",
            );
        }
    }
    for placement in checks.placements() {
        static_port_deadlock(checks, &placement);
    }
}

/// The first (container port, host port) a task pins on its instance, if
/// any: a `host:` above 0 in bridge mode, or any port in host mode. awsvpc
/// tasks get their own network interface and never conflict.
fn static_host_port(task: &TaskDefinition) -> Option<(u32, u32)> {
    let mut mappings = task.containers.values().flat_map(port_mappings);
    match network_mode(task) {
        "host" => mappings.next().map(|(container, host)| (container, host.unwrap_or(container))),
        "bridge" => mappings.find_map(|(container, host)| Some((container, host.filter(|&h| h > 0)?))),
        _ => None,
    }
}

/// BRT008: a new task needs an instance without the old task's host port;
/// when every instance the cluster may have runs one, and no old task may
/// stop first, it is never placed.
fn static_port_deadlock(checks: &mut Checks, placement: &Placement) {
    let (name, service) = (placement.name, placement.service);
    let Some(capacity) = placement.capacity.filter(|_| placement.on_ec2()) else { return };
    let Some((container_port, port)) = static_host_port(placement.task) else { return };
    let deployment = service.deployment.as_ref().unwrap_or(&Deployment::DEFAULT);
    let (may_stop, may_start) = room(service.desired_count, deployment);
    let desired = service.desired_count;
    if desired == 0 || desired < capacity.max || may_stop > 0 || may_start == 0 {
        return;
    }
    let (minimum, maximum) = (deployment.minimum_healthy_percent, deployment.maximum_percent);
    checks.report(
        codes::STATIC_PORT_DEADLOCK,
        &["services", name, "deployment", "maximum_percent"],
        format!(
            "service `{name}` runs {desired} task(s) holding host port {port} on at most {} instance(s) of cluster `{}`: with maximum_percent {maximum} and minimum_healthy_percent {minimum} a new task has no instance to start on and no old task may stop, so the rolling update deadlocks",
            capacity.max, service.cluster
        ),
        format!("map the port as `{{ container: {container_port}, host: 0 }}` in bridge mode (a dynamic host port), or set `deployment: {{ minimum_healthy_percent: 0, maximum_percent: 100 }}`, or raise the cluster's capacity.max above {desired}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(minimum_healthy_percent: u32, maximum_percent: u32) -> Deployment {
        Deployment { minimum_healthy_percent, maximum_percent, circuit_breaker: None }
    }

    #[test]
    fn room_rounds_like_ecs() {
        assert_eq!(room(1, &limits(100, 200)), (0, 1));
        assert_eq!(room(1, &limits(0, 100)), (1, 0));
        assert_eq!(room(1, &limits(50, 150)), (0, 0));
        assert_eq!(room(4, &limits(50, 150)), (2, 2));
        assert_eq!(room(2, &limits(100, 100)), (0, 0));
    }
}
