//! BRT020-BRT024, BRT062, BRT063: what the roles behind a task must allow. The ECS agent
//! reads env files and secrets, and writes awslogs logs, with the task's
//! execution role (or, on EC2 without one, the instance's role). When it may
//! not, the task stops at start and the reason only shows on the stopped
//! task: berth evaluates the role's policies instead (see [`super::policy`]),
//! and reports an error where it knows every policy involved (the role's and
//! the resource's), a warning where one it cannot read might grant the access.

use std::collections::BTreeSet;

use super::policy::{INSTANCE_POLICY, TASK_EXECUTION_POLICY};
use super::resolve::ACCOUNT_ID;
use super::{codes, requires, Checks, Need, ResourcePolicy};
use crate::model::{Container, ContainerSecret, TaskDefinition};

/// Stands for the id of a running task in log stream names.
const TASK_ID: &str = "0123456789abcdef0123456789abcdef";

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for (family, task) in &stack.task_definitions {
        if task.execution_role.is_none() {
            execution_role_missing(checks, family, task);
        }
        let role = task.execution_role.as_deref();
        for (name, container) in &task.containers {
            let at = ContainerAt { family, name };
            for (i, entry) in container.environment_files.iter().enumerate() {
                env_file(checks, &at, i, entry, role);
            }
            if let Some(role) = role {
                for (variable, from) in &container.secrets {
                    match from {
                        ContainerSecret::From(value_from) => secret(checks, &at, variable, value_from, role),
                        ContainerSecret::Managed(r) => managed_secret(checks, &at, variable, &r.secret, role),
                    }
                }
            }
            logs(checks, &at, task, container);
        }
    }
}

/// Where a container is in the file.
struct ContainerAt<'a> {
    family: &'a str,
    name: &'a str,
}

impl ContainerAt<'_> {
    fn path<'b>(&'b self, rest: &[&'b str]) -> Vec<&'b str> {
        let mut path = vec!["task_definitions", self.family, "containers", self.name];
        path.extend_from_slice(rest);
        path
    }
}

/// BRT023: env files, secrets and, on Fargate, logs need an execution role.
fn execution_role_missing(checks: &mut Checks, family: &str, task: &TaskDefinition) {
    let fargate = requires(task, "FARGATE");
    let needs = task.containers.iter().find_map(|(name, c)| {
        let what = if !c.environment_files.is_empty() {
            ("environment_files", "read env files")
        } else if !c.secrets.is_empty() {
            ("secrets", "read secrets")
        } else if fargate && c.logs.is_some() {
            ("logs", "send logs from Fargate")
        } else {
            return None;
        };
        Some((name, what))
    });
    let Some((name, (key, purpose))) = needs else { return };
    checks.report(
        codes::EXECUTION_ROLE_MISSING,
        &["task_definitions", family, "containers", name, key],
        format!("task `{family}` has no execution_role, which ECS needs to {purpose} (container `{name}`)"),
        format!(
            "add `execution_role:` to task `{family}`: a role trusting ecs-tasks.amazonaws.com, allowed to {purpose}"
        ),
    );
}

/// BRT020, BRT021: an env file must exist and the execution role read it.
fn env_file(checks: &mut Checks, at: &ContainerAt, index: usize, entry: &str, role: Option<&str>) {
    let index = index.to_string();
    let path = at.path(&["environment_files", index.as_str()]);
    let unverified = |what: String| {
        (
            format!("env file `{entry}` {what}: berth cannot check offline that it exists"),
            "declare the file under the bucket's `objects:` so berth uploads it, or list BRT020 under `allow:` if it is kept elsewhere".to_owned(),
        )
    };
    // Readers of a bucket of the file may get its objects through the bucket
    // policy berth writes; an outside bucket's policy is not known.
    let mut bucket_readers = None;
    let (bucket, key) = match entry.strip_prefix("arn:aws:s3:::") {
        Some(object) => {
            let (message, help) = unverified("is not in a bucket of this file".to_owned());
            checks.report(codes::ENV_FILE_UNVERIFIED, &path, message, help);
            // An expression berth cannot resolve is an expansion error.
            let Some(object) = checks.resolver.resolve(object) else { return };
            let Some((bucket, key)) = object.split_once('/') else { return };
            (bucket.to_owned(), key.to_owned())
        }
        None => {
            // Malformed entries and undeclared buckets are expansion errors.
            let Some((bucket_key, key)) = entry.split_once('/') else { return };
            let Some(bucket) = checks.stack.buckets.get(bucket_key) else { return };
            if !bucket.objects.contains_key(key) {
                let (message, help) = unverified(format!("is not among the `objects:` of bucket `{bucket_key}`"));
                checks.report(codes::ENV_FILE_UNVERIFIED, &path, message, help);
            }
            let Some(name) = checks.resolver.bucket_name(bucket_key) else { return };
            bucket_readers = Some(bucket.readers.as_slice());
            (name, key.to_owned())
        }
    };
    let Some(role) = role else { return };
    let purpose = format!("which ECS needs to read env file `{entry}`");
    // ECS reads the object and, first, the bucket's region.
    let object_arn = format!("arn:aws:s3:::{bucket}/{key}");
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/{role}");
    let is_reader = bucket_readers.is_some_and(|readers| {
        readers.iter().any(|r| r == role || checks.resolver.resolve(r).is_some_and(|arn| arn == role_arn))
    });
    for (action, resource) in [("s3:GetObject", &object_arn), ("s3:GetBucketLocation", &bucket_arn)] {
        // The bucket policy admits its readers to the objects (not to the bucket itself).
        let resource_policy = match bucket_readers {
            None => ResourcePolicy::Unknown,
            Some(_) if action == "s3:GetObject" && is_reader => ResourcePolicy::Grants,
            Some(_) => ResourcePolicy::GrantsNothing,
        };
        let need = Need {
            actions: &[action],
            resource,
            purpose: &purpose,
            managed: None,
            certain: Some(codes::ENV_FILE_UNREADABLE),
            resource_policy,
        };
        checks.require(codes::ENV_FILE_NOT_READABLE, &path, role, need);
    }
}

/// BRT022: the execution role must read each secret.
fn secret(checks: &mut Checks, at: &ContainerAt, variable: &str, value_from: &str, role: &str) {
    let Some(value_from) = checks.resolver.resolve(value_from) else { return };
    let parts: Vec<&str> = value_from.split(':').collect();
    // Secrets Manager secrets may have resource policies; parameters have none.
    let (action, resource, from, resource_policy) = match parts.as_slice() {
        ["arn", _, "secretsmanager", ..] if parts.len() >= 7 => {
            // A secret ARN may go on with `:json-key:stage:version`; the
            // secret is the first seven parts.
            let mut arn = parts[..7].join(":");
            // The full ARN ends with `-` and 6 random characters, which
            // policies usually match with `name-*`: complete a partial one.
            if !has_random_suffix(parts[6]) {
                arn += "-AbCdEf";
            }
            ("secretsmanager:GetSecretValue", arn, "Secrets Manager", ResourcePolicy::Unknown)
        }
        ["arn", _, "ssm", ..] => {
            ("ssm:GetParameters", value_from.clone(), "Parameter Store", ResourcePolicy::GrantsNothing)
        }
        ["arn", ..] => return,
        // ECS reads a value that is not an ARN as a parameter name.
        _ => {
            let separator = if value_from.starts_with('/') { "" } else { "/" };
            let region = checks.resolver.region;
            let arn = format!("arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{separator}{value_from}");
            let from = "Parameter Store (ECS reads a value that is not an ARN as a parameter name)";
            ("ssm:GetParameters", arn, from, ResourcePolicy::GrantsNothing)
        }
    };
    let path = at.path(&["secrets", variable]);
    let purpose = format!("which ECS needs to read secret `{variable}` from {from}");
    let need = Need {
        actions: &[action],
        resource: &resource,
        purpose: &purpose,
        managed: None,
        certain: Some(codes::SECRET_UNREADABLE),
        resource_policy,
    };
    checks.require(codes::SECRET_NOT_READABLE, &path, role, need);
}

/// BRT022 for a secret of this file: its `readers:` (the resource policy)
/// admitting the execution role is enough; otherwise the role's own policies must.
fn managed_secret(checks: &mut Checks, at: &ContainerAt, variable: &str, key: &str, role: &str) {
    // A secret the file does not declare is an expansion error.
    let Some(secret) = checks.stack.secrets.get(key) else { return };
    let role_arn = |role: &str| match role.starts_with("arn:") {
        true => checks.resolver.resolve(role),
        false => Some(format!("arn:aws:iam::{ACCOUNT_ID}:role/{role}")),
    };
    let Some(wanted) = role_arn(role) else { return };
    if secret.readers.iter().any(|reader| role_arn(reader).as_deref() == Some(wanted.as_str())) {
        return;
    }
    let name = match &secret.name {
        Some(name) => checks.resolver.resolve(name),
        None => Some(key.to_owned()),
    };
    let Some(name) = name else { return };
    let resource = format!("arn:aws:secretsmanager:{}:{ACCOUNT_ID}:secret:{name}-AbCdEf", checks.resolver.region);
    let path = at.path(&["secrets", variable]);
    let purpose = format!(
        "which ECS needs to read secret `{variable}` from Secrets Manager (or list the role under the secret's `readers:`)"
    );
    // berth writes this secret's resource policy, which admits only its readers.
    let need = Need {
        actions: &["secretsmanager:GetSecretValue"],
        resource: &resource,
        purpose: &purpose,
        managed: None,
        certain: Some(codes::SECRET_UNREADABLE),
        resource_policy: ResourcePolicy::GrantsNothing,
    };
    checks.require(codes::SECRET_NOT_READABLE, &path, role, need);
}

fn has_random_suffix(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() > 7 && bytes[bytes.len() - 7] == b'-' && bytes[bytes.len() - 6..].iter().all(u8::is_ascii_alphanumeric)
}

/// BRT024: whoever sends the logs must be allowed to.
fn logs(checks: &mut Checks, at: &ContainerAt, task: &TaskDefinition, container: &Container) {
    let Some(group) = &container.logs else { return };
    // A group the file does not declare is an expansion error.
    if !checks.stack.log_groups.contains_key(group) {
        return;
    }
    // awslogs names streams `<prefix>/<container>/<task id>`, the prefix being the family.
    let stream = format!("{}/{}/{TASK_ID}", at.family, at.name);
    let resource = format!("{}:log-stream:{stream}", checks.resolver.log_group_arn(group));
    let senders: BTreeSet<&str> = match task.execution_role.as_deref() {
        Some(role) => BTreeSet::from([role]),
        // On EC2 without an execution role, the agent uses the instance's
        // role (Fargate needs an execution role: BRT023).
        None => checks
            .placements()
            .into_iter()
            .filter(|p| p.family == at.family && p.on_ec2())
            .filter_map(|p| p.capacity?.instance_role.as_deref())
            .collect(),
    };
    let path = at.path(&["logs"]);
    let purpose = format!("which the awslogs driver needs to send container `{}`'s logs to `{group}`", at.name);
    let managed = if task.execution_role.is_some() { TASK_EXECUTION_POLICY } else { INSTANCE_POLICY };
    for role in senders {
        let need = Need {
            actions: &["logs:CreateLogStream", "logs:PutLogEvents"],
            resource: &resource,
            purpose: &purpose,
            managed: Some(managed),
            certain: None,
            resource_policy: ResourcePolicy::GrantsNothing,
        };
        checks.require(codes::LOGS_NOT_WRITABLE, &path, role, need);
    }
}
