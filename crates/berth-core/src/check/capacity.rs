//! BRT001-BRT003: a task must fit what one container instance of its
//! service's cluster registers with ECS. Otherwise the service never places
//! it, and AWS only says so in the service's events, long after the apply
//! "succeeded" (the walkthrough's 500 MiB task on a t2.nano).

use std::collections::BTreeSet;

use super::instances::{self, InstanceType};
use super::{codes, Checks, Placement};
use crate::model::TaskDefinition;

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for (cluster, spec) in &stack.clusters {
        let Some(capacity) = &spec.capacity else { continue };
        if instances::lookup(&capacity.instance_type).is_none() {
            checks.report(
                codes::UNKNOWN_INSTANCE_TYPE,
                &["clusters", cluster, "capacity", "instance_type"],
                format!(
                    "berth cannot check that tasks fit on `{}` instances: the type is not in its table",
                    capacity.instance_type
                ),
                "check the type's spelling; if it is right, compare the tasks' memory with what the instances register (docs/checks.md, BRT001)",
            );
        }
    }
    // A task used by several services of one cluster is checked once.
    let mut checked = BTreeSet::new();
    for placement in checks.placements() {
        let Some(capacity) = placement.capacity.filter(|_| placement.on_ec2()) else { continue };
        let Some(instance) = instances::lookup(&capacity.instance_type) else { continue };
        if checked.insert((placement.family, &placement.service.cluster)) {
            fit(checks, &placement, &instance);
        }
    }
}

/// Memory ECS reserves for the task: the task's, else the sum of each
/// container's reservation (or hard limit).
fn task_memory(task: &TaskDefinition) -> u64 {
    match task.memory {
        Some(memory) => memory.into(),
        None => task.containers.values().map(|c| u64::from(c.memory_reservation.or(c.memory).unwrap_or(0))).sum(),
    }
}

/// CPU units ECS reserves for the task: the task's, else the containers'.
fn task_cpu(task: &TaskDefinition) -> u64 {
    match task.cpu {
        Some(cpu) => cpu.into(),
        None => task.containers.values().map(|c| u64::from(c.cpu.unwrap_or(0))).sum(),
    }
}

fn fit(checks: &mut Checks, placement: &Placement, instance: &InstanceType) {
    let (family, task, cluster) = (placement.family, placement.task, &placement.service.cluster);
    let (memory, cpu) = (task_memory(task), task_cpu(task));
    let (registered_memory, registered_cpu) = (instance.registered_memory_mib(), instance.cpu_units());
    let larger = match instances::smallest_fitting(memory, cpu, instance) {
        Some(t) => format!(
            "a larger instance type such as {} (about {} MiB, {} CPU units)",
            t.name,
            t.registered_memory_mib(),
            t.cpu_units()
        ),
        None => "a larger instance type".to_owned(),
    };
    let instance = &instance.name;
    if memory > registered_memory.into() {
        let (path, what) = match task.memory {
            Some(_) => (["task_definitions", family, "memory"], "`memory`"),
            None => (["task_definitions", family, "containers"], "the containers' memory reservations"),
        };
        checks.report(
            codes::TASK_MEMORY_TOO_LARGE,
            &path,
            format!(
                "task `{family}` needs {memory} MiB but a {instance} of cluster `{cluster}` registers only about {registered_memory} MiB with ECS ({memory} > {registered_memory}), so it can never be placed"
            ),
            format!("lower {what} to at most {registered_memory} MiB, or use {larger}"),
        );
    }
    if cpu > registered_cpu.into() {
        let (path, what) = match task.cpu {
            Some(_) => (["task_definitions", family, "cpu"], "`cpu`"),
            None => (["task_definitions", family, "containers"], "the containers' `cpu`"),
        };
        checks.report(
            codes::TASK_CPU_TOO_LARGE,
            &path,
            format!(
                "task `{family}` needs {cpu} CPU units but a {instance} of cluster `{cluster}` registers {registered_cpu} ({cpu} > {registered_cpu}), so it can never be placed"
            ),
            format!("lower {what} to at most {registered_cpu}, or use {larger}"),
        );
    }
}
