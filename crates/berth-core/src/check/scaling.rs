//! BRT053-BRT055: service autoscaling that Application Auto Scaling refuses
//! (`min` above `max`), that fights the file (a `desired_count` the
//! autoscaler moves at once), that tracks nothing, or that counts requests
//! no load balancer of the file counts.

use super::{codes, Checks};
use crate::expand::sections::services::forwarding_balancer;

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for (name, service) in &stack.services {
        let Some(scaling) = &service.autoscaling else { continue };
        let at = |key| ["services", name.as_str(), "autoscaling", key];
        let (min, max) = (scaling.min, scaling.max);
        if min > max {
            checks.report(
                codes::SCALING_RANGE,
                &at("min"),
                format!("service `{name}` scales between {min} and {max} tasks, but min {min} is above max {max}"),
                "set `min` at or below `max`",
            );
        } else if !(min..=max).contains(&service.desired_count) {
            checks.report(
                codes::SCALING_RANGE,
                &["services", name, "desired_count"],
                format!(
                    "service `{name}` starts with desired_count {}, outside its autoscaling range {min} to {max}: the autoscaler would move it at once",
                    service.desired_count
                ),
                format!("set `desired_count` between {min} and {max} (it only seeds the create)"),
            );
        }
        let mut targets = scaling.targets().peekable();
        if targets.peek().is_none() {
            checks.report(
                codes::SCALING_TARGET,
                &["services", name, "autoscaling"],
                format!("service `{name}` has `autoscaling:` but no target to track"),
                "add at least one of `cpu: 60`, `memory: 70` (percent) or `requests_per_target: 1000` (per minute)",
            );
        }
        for (policy, _, target) in targets {
            let key = if policy == "requests-per-target" { "requests_per_target" } else { policy };
            let percent = key != "requests_per_target";
            if target <= 0.0 || percent && target > 100.0 {
                let range = if percent { "above 0 and at most 100 (percent)" } else { "above 0" };
                checks.report(
                    codes::SCALING_TARGET,
                    &at(key),
                    format!("service `{name}` tracks {key} at {target}, which no service reaches: the target must be {range}"),
                    format!("set `{key}` {range}"),
                );
            }
        }
        if scaling.requests_per_target.is_none() {
            continue;
        }
        let group = service.load_balancer.as_ref().map(|lb| &lb.target_group);
        let forwarded = group.is_some_and(|group| forwarding_balancer(stack, group).is_some());
        if !forwarded {
            let why = match group {
                None => "has no `load_balancer:`".to_owned(),
                Some(group) => format!(
                    "sends traffic through target group `{group}`, which no load balancer of this file forwards to"
                ),
            };
            checks.report(
                codes::SCALING_REQUESTS_WITHOUT_LOAD_BALANCER,
                &at("requests_per_target"),
                format!("service `{name}` scales on requests per target but {why}: there are no requests to count"),
                "give the service a `load_balancer:` whose target group a listener of this file forwards to, or scale on `cpu` or `memory`",
            );
        }
    }
}
