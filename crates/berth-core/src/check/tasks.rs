//! BRT056-BRT059, BRT061: what RegisterTaskDefinition and CreateService
//! refuse, or silently ignore, in the production fields of tasks and
//! services: mounts of volumes the task lacks, host ports awsvpc and host
//! mode cannot remap, what Fargate does not offer, health-check limits, and a
//! grace period with no load balancer health check to delay.

use super::{codes, network_mode, port_mappings, requires, Checks};
use crate::model::{ContainerHealthCheck, TaskDefinition, Volume};

/// The longest stop timeout Fargate accepts, in seconds.
const FARGATE_MAX_STOP_TIMEOUT: u32 = 120;

/// ECS's limits on a container health check: (field, lowest, highest).
const HEALTH_CHECK_LIMITS: &[(&str, u32, u32)] =
    &[("interval", 5, 300), ("timeout", 2, 120), ("retries", 1, 10), ("start_period", 0, 300)];

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for (family, task) in &stack.task_definitions {
        mounts(checks, family, task);
        host_ports(checks, family, task);
        if requires(task, "FARGATE") {
            fargate(checks, family, task);
        }
        for (name, container) in &task.containers {
            if let Some(health) = &container.health_check {
                health_check(checks, family, name, health);
            }
        }
    }
    for (name, service) in &stack.services {
        if service.health_check_grace_period.is_some() && service.load_balancer.is_none() {
            checks.report(
                codes::GRACE_PERIOD_WITHOUT_LOAD_BALANCER,
                &["services", name, "health_check_grace_period"],
                format!("service `{name}` has a health-check grace period but no load balancer: the grace period delays the load balancer's health checks, so it does nothing here"),
                "remove `health_check_grace_period` (a container health check's `start_period` gives a slow container time to start), or add `load_balancer:`",
            );
        }
    }
}

fn mounts(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    let volumes: Vec<&str> = task.volumes.iter().map(Volume::name).collect();
    for (name, container) in &task.containers {
        for mount in container.mounts.iter().filter(|m| !volumes.contains(&m.volume.as_str())) {
            let help = match crate::diag::did_you_mean(&mount.volume, volumes.iter().copied()) {
                Some(similar) => format!("did you mean `{similar}`? Or add `{}` to the task's `volumes`", mount.volume),
                None => format!("add `volumes: [{}]` to task `{family}`", mount.volume),
            };
            checks.report(
                codes::MOUNT_UNKNOWN_VOLUME,
                &["task_definitions", family, "containers", name, "mounts"],
                format!("container `{name}` mounts volume `{}`, which task `{family}` does not declare", mount.volume),
                help,
            );
        }
    }
}

fn host_ports(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    let mode = network_mode(task);
    if mode != "awsvpc" && mode != "host" {
        return;
    }
    for (name, container) in &task.containers {
        for (container_port, host) in port_mappings(container) {
            let Some(host) = host.filter(|&h| h != container_port) else { continue };
            checks.report(
                codes::HOST_PORT_NOT_CONTAINER_PORT,
                &["task_definitions", family, "containers", name, "ports"],
                format!("container `{name}` maps host port {host} to container port {container_port}, but in {mode} network mode the host port is the container port"),
                format!("write the port as `{container_port}` (or `{{ container: {container_port}, host: {container_port} }}`)"),
            );
        }
    }
}

fn fargate(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    for volume in &task.volumes {
        if let Volume::Spec(spec) = volume {
            if spec.host_path.is_some() {
                checks.report(
                    codes::FARGATE_UNSUPPORTED,
                    &["task_definitions", family, "volumes"],
                    format!(
                        "volume `{}` of Fargate task `{family}` names a host path, but Fargate tasks have no host",
                        spec.name
                    ),
                    format!("write the volume as `{}` (storage of the task's own)", spec.name),
                );
            }
        }
    }
    for (name, container) in &task.containers {
        if let Some(seconds) = container.stop_timeout.filter(|&s| s > FARGATE_MAX_STOP_TIMEOUT) {
            checks.report(
                codes::FARGATE_UNSUPPORTED,
                &["task_definitions", family, "containers", name, "stop_timeout"],
                format!("container `{name}` of Fargate task `{family}` has a stop timeout of {seconds} s; Fargate allows at most {FARGATE_MAX_STOP_TIMEOUT}"),
                format!("set `stop_timeout` to {FARGATE_MAX_STOP_TIMEOUT} or less"),
            );
        }
    }
    let Some(platform) = &task.runtime_platform else { return };
    let os = platform.os.as_deref().unwrap_or("LINUX");
    let windows = os.starts_with("WINDOWS");
    if windows && platform.cpu_architecture.as_deref() == Some("ARM64") {
        checks.report(
            codes::FARGATE_UNSUPPORTED,
            &["task_definitions", family, "runtime_platform"],
            format!("Fargate runs {os} tasks on X86_64 only, not ARM64 (task `{family}`)"),
            "set `cpu_architecture: X86_64`, or `os: LINUX` for ARM64",
        );
    }
    if windows && task.cpu.is_some_and(|cpu| cpu < 1024) {
        checks.report(
            codes::FARGATE_UNSUPPORTED,
            &["task_definitions", family, "cpu"],
            format!(
                "Fargate runs Windows tasks with at least 1024 CPU units, not {} (task `{family}`)",
                task.cpu.unwrap_or(0)
            ),
            "set `cpu: 1024` or more (and a memory Fargate accepts with it)",
        );
    }
}

fn health_check(checks: &mut Checks, family: &str, container: &str, health: &ContainerHealthCheck) {
    for &(field, low, high) in HEALTH_CHECK_LIMITS {
        let value = match field {
            "interval" => health.interval,
            "timeout" => health.timeout,
            "retries" => health.retries,
            _ => health.start_period,
        };
        if !(low..=high).contains(&value) {
            checks.report(
                codes::CONTAINER_HEALTH_CHECK_LIMITS,
                &["task_definitions", family, "containers", container, "health_check", field],
                format!("health check `{field}` of container `{container}` is {value}; ECS accepts {low}-{high}"),
                format!("set `{field}` between {low} and {high}"),
            );
        }
    }
    if health.timeout >= health.interval {
        checks.report(
            codes::CONTAINER_HEALTH_CHECK_LIMITS,
            &["task_definitions", family, "containers", container, "health_check", "timeout"],
            format!("health check of container `{container}` times out after {} s but runs every {} s; the timeout must be shorter", health.timeout, health.interval),
            "lower `timeout` or raise `interval`",
        );
    }
    if health.command.first().is_none_or(|first| first != "CMD" && first != "CMD-SHELL") {
        checks.report(
            codes::CONTAINER_HEALTH_CHECK_LIMITS,
            &["task_definitions", family, "containers", container, "health_check", "command"],
            format!("health check command of container `{container}` must start with `CMD` or `CMD-SHELL`"),
            "write it as [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"] or [\"CMD\", \"program\", \"arg\"]",
        );
    }
}
