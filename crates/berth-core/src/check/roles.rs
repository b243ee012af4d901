//! BRT025-BRT028: roles must be usable by whoever assumes them. Tasks assume
//! their execution and task roles as ecs-tasks.amazonaws.com; instances get
//! theirs through an instance profile, as ec2.amazonaws.com, and register
//! with the cluster through it. AWS accepts a wrong role everywhere and fails
//! only when the first task or instance starts.

use std::collections::BTreeSet;

use super::policy::INSTANCE_POLICY;
use super::{codes, Checks, Code, Need, ResourcePolicy};

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    // A role used by several tasks or clusters is reported once.
    let mut reported = BTreeSet::new();
    for (family, task) in &stack.task_definitions {
        for (key, role) in [("execution_role", &task.execution_role), ("task_role", &task.task_role)] {
            let Some(role) = role else { continue };
            let usage = format!("task `{family}` uses it as {key}");
            trust(checks, &mut reported, role, "ecs-tasks.amazonaws.com", codes::TASK_ROLE_TRUST, &usage);
        }
    }
    for (cluster, spec) in &stack.clusters {
        let Some(name) = spec.capacity.as_ref().and_then(|c| c.instance_role.as_deref()) else { continue };
        let Some(role) = stack.iam.roles.get(name) else { continue };
        let usage = format!("cluster `{cluster}` uses it as instance_role");
        trust(checks, &mut reported, name, "ec2.amazonaws.com", codes::INSTANCE_ROLE_TRUST, &usage);
        if !role.instance_profile && reported.insert((name, codes::INSTANCE_ROLE_PROFILE.id)) {
            checks.report(
                codes::INSTANCE_ROLE_PROFILE,
                &["iam", "roles", name],
                format!(
                    "role `{name}` has no instance profile, but {usage}: EC2 instances receive a role only through one"
                ),
                format!("add `instance_profile: true` to role `{name}`"),
            );
        }
        let cluster_arn = checks.resolver.cluster_arn(cluster);
        let purpose = format!("which the ECS agent needs to register instances with cluster `{cluster}`");
        let need = Need {
            actions: &["ecs:RegisterContainerInstance"],
            resource: &cluster_arn,
            purpose: &purpose,
            managed: Some(INSTANCE_POLICY),
            certain: None,
            resource_policy: ResourcePolicy::GrantsNothing,
        };
        checks.require(codes::INSTANCE_ROLE_PERMISSIONS, &["iam", "roles", name, "managed_policies"], name, need);
    }
}

/// Reports `code` once per role unless role `role` of the file trusts `service`.
fn trust<'a>(
    checks: &mut Checks,
    reported: &mut BTreeSet<(&'a str, &'static str)>,
    role: &'a str,
    service: &str,
    code: Code,
    usage: &str,
) {
    let Some(spec) = checks.stack.iam.roles.get(role) else { return };
    if spec.trust.iter().any(|t| t == service) || !reported.insert((role, code.id)) {
        return;
    }
    checks.report(
        code,
        &["iam", "roles", role, "trust"],
        format!("role `{role}` does not trust {service}, but {usage}, so it cannot be assumed"),
        format!("add {service} to the `trust:` of role `{role}`"),
    );
}
