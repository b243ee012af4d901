//! BRT004, BRT005: what RegisterTaskDefinition demands of a task that
//! requires Fargate: awsvpc networking and one of Fargate's task sizes.
//! BRT046: what CreateService demands of an awsvpc service: its subnets and
//! security groups (`network:`), which it refuses for other network modes.

use super::{codes, network_mode, requires, Checks};

/// Fargate's task sizes: (CPU units, lowest MiB, highest MiB, step). 256 CPU
/// units also take 512 MiB, below its step: see [`valid_memory`].
const SIZES: &[(u32, u32, u32, u32)] = &[
    (256, 1024, 2048, 1024),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// The memory sizes Fargate accepts with `cpu` units, or `None` for a CPU
/// value it does not offer.
fn valid_memory(cpu: u32) -> Option<Vec<u32>> {
    let &(_, low, high, step) = SIZES.iter().find(|s| s.0 == cpu)?;
    let half_gib = (cpu == 256).then_some(512);
    Some(half_gib.into_iter().chain((low..=high).step_by(step as usize)).collect())
}

/// "512, 1024, 2048" or "2048-8192 in steps of 1024".
fn describe(memory: &[u32]) -> String {
    match memory {
        [first, second, .., last] if memory.len() > 3 => format!("{first}-{last} in steps of {}", second - first),
        _ => memory.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
    }
}

pub(super) fn check(checks: &mut Checks) {
    service_networks(checks);
    let stack = checks.stack;
    for (family, task) in stack.task_definitions.iter().filter(|(_, t)| requires(t, "FARGATE")) {
        let mode = network_mode(task);
        if mode != "awsvpc" {
            checks.report(
                codes::FARGATE_NETWORK_MODE,
                &["task_definitions", family, "network_mode"],
                format!("task `{family}` requires FARGATE, which only runs tasks in awsvpc network mode, not {mode}"),
                "set `network_mode: awsvpc` (and target_type `ip` on its target group)",
            );
        }
        let cpus = SIZES.iter().map(|s| s.0.to_string()).collect::<Vec<_>>().join(", ");
        let (Some(cpu), Some(memory)) = (task.cpu, task.memory) else {
            checks.report(
                codes::FARGATE_SIZE,
                &["task_definitions", family],
                format!("task `{family}` requires FARGATE, which needs task-level `cpu` and `memory`"),
                format!("add `cpu:` (one of {cpus}) and a `memory:` Fargate accepts with it, for example cpu 256 and memory 512"),
            );
            continue;
        };
        match valid_memory(cpu) {
            None => checks.report(
                codes::FARGATE_SIZE,
                &["task_definitions", family, "cpu"],
                format!("Fargate offers no task size with {cpu} CPU units (task `{family}`)"),
                format!("use one of {cpus}"),
            ),
            Some(valid) if !valid.contains(&memory) => checks.report(
                codes::FARGATE_SIZE,
                &["task_definitions", family, "memory"],
                format!("Fargate does not run {cpu} CPU units with {memory} MiB (task `{family}`)"),
                format!("with cpu {cpu}, use memory {}", describe(&valid)),
            ),
            Some(_) => {}
        }
    }
}

/// BRT046, for the services whose task definition the file declares.
fn service_networks(checks: &mut Checks) {
    let stack = checks.stack;
    for (name, service) in &stack.services {
        let Some(task) = stack.task_definitions.get(&service.task_definition) else { continue };
        let family = &service.task_definition;
        let mode = network_mode(task);
        match (mode == "awsvpc", &service.network) {
            (true, None) => checks.report(
                codes::SERVICE_NETWORK,
                &["services", name],
                format!(
                    "service `{name}` runs task `{family}` in awsvpc network mode, which needs the subnets and \
                     security groups of its tasks; AWS refuses the service without them"
                ),
                "add `network: { subnets: default, security_groups: [GROUP] }` (and `public_ip: true` to pull \
                 images from a public subnet without a NAT gateway)",
            ),
            (false, Some(_)) => checks.report(
                codes::SERVICE_NETWORK,
                &["services", name, "network"],
                format!("service `{name}` has `network:`, but its task `{family}` uses {mode} network mode, where ECS takes none"),
                "remove `network:`, or set `network_mode: awsvpc` on the task definition",
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes() {
        assert_eq!(valid_memory(256), Some(vec![512, 1024, 2048]));
        assert_eq!(describe(&valid_memory(256).unwrap()), "512, 1024, 2048");
        assert_eq!(describe(&valid_memory(512).unwrap()), "1024-4096 in steps of 1024");
        assert!(valid_memory(16384).unwrap().contains(&122880));
        assert!(!valid_memory(8192).unwrap().contains(&17408));
        assert_eq!(valid_memory(300), None);
    }
}
