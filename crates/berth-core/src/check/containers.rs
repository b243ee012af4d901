//! BRT009-BRT016: the containers of one task, and how they refer to each
//! other. ECS rejects most of these at registration; a link without a start
//! order (BRT011) it accepts, and the client container then starts before the
//! one it proxies to (the walkthrough's nginx before the app).

use std::collections::BTreeSet;

use super::{codes, network_mode, Checks};
use crate::diag::did_you_mean;
use crate::model::TaskDefinition;

/// The conditions ECS accepts in `depends_on`.
const CONDITIONS: &[&str] = &["START", "COMPLETE", "SUCCESS", "HEALTHY"];

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for (family, task) in &stack.task_definitions {
        references(checks, family, task);
        cycles(checks, family, task);
        memory(checks, family, task);
        if !task.containers.values().any(|c| c.essential.unwrap_or(true)) {
            checks.report(
                codes::NO_ESSENTIAL_CONTAINER,
                &["task_definitions", family, "containers"],
                format!("task `{family}` has no essential container; ECS requires at least one"),
                "remove `essential: false` from the container whose exit should stop the task",
            );
        }
    }
}

/// `links` and `depends_on`: BRT009, BRT010, BRT011, BRT015.
fn references(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    let names = || task.containers.keys().map(String::as_str);
    let unknown = |name: &str| -> (String, String) {
        let help = match did_you_mean(name, names()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("containers of task `{family}`: {}", names().collect::<Vec<_>>().join(", ")),
        };
        (format!("task `{family}` has no container `{name}`"), help)
    };
    let mode = network_mode(task);
    for (name, container) in &task.containers {
        let at = |key: &'static str| ["task_definitions", family, "containers", name.as_str(), key];
        if !container.links.is_empty() && mode != "bridge" {
            checks.report(
                codes::LINKS_NEED_BRIDGE,
                &at("links"),
                format!("container `{name}` uses `links`, which ECS supports only in bridge network mode, not {mode}"),
                if mode == "awsvpc" {
                    "remove `links`: in awsvpc mode containers of a task reach each other on localhost"
                } else {
                    "remove `links`, or set the task's `network_mode: bridge`"
                },
            );
        }
        for (i, link) in container.links.iter().enumerate() {
            let index = i.to_string();
            let path = ["task_definitions", family, "containers", name.as_str(), "links", index.as_str()];
            // A link may give an alias: `name:alias`.
            let target = link.split(':').next().unwrap_or_default();
            if !task.containers.contains_key(target) {
                let (message, help) = unknown(target);
                checks.report(codes::UNKNOWN_CONTAINER, &path, message, help);
            } else if !container.depends_on.contains_key(target) {
                checks.report(
                    codes::LINK_WITHOUT_DEPENDS_ON,
                    &path,
                    format!("container `{name}` links to `{target}` but does not depend on it, so it may start first and fail to reach it"),
                    format!("add `depends_on: {{ {target}: START }}` to `{name}` (or HEALTHY once `{target}` has a health check)"),
                );
            }
        }
        for (dependency, condition) in &container.depends_on {
            let path = ["task_definitions", family, "containers", name.as_str(), "depends_on", dependency.as_str()];
            let Some(target) = task.containers.get(dependency) else {
                let (message, help) = unknown(dependency);
                checks.report(codes::UNKNOWN_CONTAINER, &path, message, help);
                continue;
            };
            if !CONDITIONS.contains(&condition.as_str()) {
                let upper = condition.to_uppercase();
                let help = match did_you_mean(&upper, CONDITIONS.iter().copied()) {
                    Some(near) => format!("did you mean {near}? conditions are {}", CONDITIONS.join(", ")),
                    None => format!("use one of {}", CONDITIONS.join(", ")),
                };
                checks.report(
                    codes::DEPENDS_ON_CONDITION,
                    &path,
                    format!("`{condition}` is not a depends_on condition ECS knows"),
                    help,
                );
            } else if matches!(condition.as_str(), "COMPLETE" | "SUCCESS") && target.essential.unwrap_or(true) {
                checks.report(
                    codes::DEPENDS_ON_CONDITION,
                    &path,
                    format!("container `{name}` waits for essential container `{dependency}` to {condition}, which ECS rejects: an essential container's exit stops the task"),
                    format!("mark `{dependency}` `essential: false`, or wait for START or HEALTHY"),
                );
            }
        }
    }
}

/// BRT012: containers that wait for each other never start.
fn cycles(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    let mut done = BTreeSet::new();
    let mut found = BTreeSet::new();
    for name in task.containers.keys() {
        visit(task, name, &mut Vec::new(), &mut done, &mut found);
    }
    for cycle in found {
        let next = *cycle.get(1).unwrap_or(&cycle[0]);
        let shown: Vec<&str> = cycle.iter().chain(&cycle[..1]).copied().collect();
        checks.report(
            codes::DEPENDS_ON_CYCLE,
            &["task_definitions", family, "containers", cycle[0], "depends_on", next],
            format!(
                "containers of task `{family}` wait for each other in a cycle ({}), so none of them starts",
                shown.join(" -> ")
            ),
            "remove one of the depends_on entries of the cycle",
        );
    }
}

/// Depth-first search along `depends_on`, recording each cycle once,
/// rotated to start at its first name.
fn visit<'a>(
    task: &'a TaskDefinition,
    name: &'a str,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
    found: &mut BTreeSet<Vec<&'a str>>,
) {
    if let Some(at) = path.iter().position(|n| *n == name) {
        let mut cycle = path[at..].to_vec();
        let first = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map_or(0, |(i, _)| i);
        cycle.rotate_left(first);
        found.insert(cycle);
        return;
    }
    if done.contains(name) {
        return;
    }
    path.push(name);
    let dependencies = task.containers.get(name).into_iter().flat_map(|c| c.depends_on.keys());
    // Unknown names are BRT009's business, not a cycle.
    for dependency in dependencies.filter(|d| task.containers.contains_key(*d)) {
        visit(task, dependency, path, done, found);
    }
    path.pop();
    done.insert(name);
}

/// BRT014, BRT016: container memory limits.
fn memory(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    for (name, container) in &task.containers {
        let at = |key: &'static str| ["task_definitions", family, "containers", name.as_str(), key];
        let limits = [("memory", container.memory), ("memory_reservation", container.memory_reservation)];
        if let Some(task_memory) = task.memory {
            for (key, value) in limits {
                if let Some(value) = value.filter(|&v| v > task_memory) {
                    checks.report(
                        codes::CONTAINER_MEMORY,
                        &at(key),
                        format!("container `{name}` sets {key} {value} MiB, above its task's memory of {task_memory} MiB ({value} > {task_memory})"),
                        format!("lower {key} to at most {task_memory}, or raise the task's `memory`"),
                    );
                }
            }
        }
        if let (Some(hard), Some(soft)) = (container.memory, container.memory_reservation) {
            if soft > hard {
                checks.report(
                    codes::CONTAINER_MEMORY,
                    &at("memory_reservation"),
                    format!("container `{name}` reserves {soft} MiB, above its own hard limit `memory` of {hard} MiB ({soft} > {hard})"),
                    "make memory_reservation at most `memory`",
                );
            }
        }
        if task.memory.is_none() && container.memory.is_none() && container.memory_reservation.is_none() {
            checks.report(
                codes::CONTAINER_WITHOUT_MEMORY,
                &["task_definitions", family, "containers", name],
                format!("container `{name}` sets neither `memory` nor `memory_reservation`, and task `{family}` sets no `memory`, which ECS rejects"),
                "add `memory_reservation:` (MiB) to the container, or `memory:` to the task",
            );
        }
    }
}
