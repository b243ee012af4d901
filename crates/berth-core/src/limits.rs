//! What AWS (or berth) would refuse in a stack file, found before any call:
//! the stack's name and region, the lock location, stack-wide tags, names
//! AWS limits or compares without case, ports, container images and
//! environment. Found here rather than by AWS because AWS reports them
//! halfway through an apply, without a file or line, or (moto) not at all.
//! Errors are plain located errors; the one warning (BRT045) has a code.

use std::collections::BTreeMap;

use crate::check::codes;
use crate::diag::{did_you_mean, Diagnostic, Severity};
use crate::env_file::valid_env_name;
use crate::load::Source;
use crate::model::Stack;
use crate::secret_like::{is_secret_name, is_secret_value};

/// Tags AWS accepts on one resource (EC2, ECS, IAM, S3, ELB, Logs alike).
const MAX_TAGS: usize = 50;
/// Tags berth adds to a resource at most: stack, id, protect, env digest.
const OWN_TAGS: usize = 4;
/// Longest tag key and value AWS accepts, in characters.
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
/// Longest stack name: it is a tag value and part of lock and log names.
const MAX_STACK_NAME: usize = 128;
/// Env files ECS accepts on one container.
const MAX_ENV_FILES: usize = 10;

/// The regions berth knows (commercial, GovCloud, China), as of this release.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Every problem of this kind in `stack`, errors and warnings.
pub fn check(stack: &Stack, source: &Source) -> Vec<Diagnostic> {
    let mut limits = Limits { source, found: Vec::new() };
    limits.stack_name(stack);
    if let Some(region) = &stack.region {
        if let Err((message, help)) = check_region(region) {
            limits.error(&["region"], message, help);
        }
    }
    limits.lock(stack);
    limits.tags(stack);
    limits.names(stack);
    limits.ports(stack);
    limits.containers(stack);
    limits.found
}

/// Whether `region` is one AWS has, or why not (with a suggestion).
pub fn check_region(region: &str) -> Result<(), (String, String)> {
    if REGIONS.contains(&region) {
        return Ok(());
    }
    let help = match did_you_mean(region, REGIONS.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => "use a region code such as us-east-1 or eu-west-1".to_owned(),
    };
    Err((format!("`{region}` is not an AWS region"), help))
}

struct Limits<'a> {
    source: &'a Source,
    found: Vec<Diagnostic>,
}

/// Characters AWS accepts in tag keys and values (and so in the stack name).
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || " _.:/=+-@".contains(c)
}

impl Limits<'_> {
    fn error(&mut self, path: &[&str], message: String, help: String) {
        self.found.push(self.source.error(path, message, Some(help)));
    }

    fn stack_name(&mut self, stack: &Stack) {
        let name = &stack.stack;
        let help = format!("name the stack with 1 to {MAX_STACK_NAME} letters, digits, spaces or `_ . : / = + - @`");
        if name.trim().is_empty() {
            self.error(&["stack"], "`stack:` is empty".into(), help);
        } else if name.chars().count() > MAX_STACK_NAME {
            self.error(&["stack"], format!("the stack name has {} characters", name.chars().count()), help);
        } else if let Some(bad) = name.chars().find(|c| !tag_char(*c)) {
            self.error(&["stack"], format!("the stack name `{name}` holds `{bad}`, which AWS tags refuse"), help);
        }
    }

    fn lock(&mut self, stack: &Stack) {
        let Some(url) = &stack.lock else { return };
        let valid = url
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty());
        if !valid {
            self.error(
                &["lock"],
                format!("lock location `{url}` is not an S3 object URL"),
                "write it as s3://BUCKET/KEY, for example s3://my-locks/ecs-sample.json".into(),
            );
        }
    }

    fn tags(&mut self, stack: &Stack) {
        let tags = &stack.tags;
        if tags.len() > MAX_TAGS - OWN_TAGS {
            self.error(
                &["tags"],
                format!(
                    "{} stack-wide tags, but AWS accepts {MAX_TAGS} per resource and berth adds up to {OWN_TAGS} of its own",
                    tags.len()
                ),
                format!("keep at most {} tags here", MAX_TAGS - OWN_TAGS),
            );
        }
        for (key, value) in tags {
            let at = ["tags", key.as_str()];
            if let Some(prefix) = ["aws:", "berth:"].iter().find(|p| key.to_ascii_lowercase().starts_with(*p)) {
                self.error(
                    &at,
                    format!("tag key `{key}` starts with `{prefix}`, which is reserved"),
                    "choose a key without that prefix".into(),
                );
            }
            if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
                self.error(
                    &at,
                    format!("tag key of {} characters; AWS accepts 1 to {MAX_TAG_KEY}", key.chars().count()),
                    "shorten the key".into(),
                );
            }
            if value.chars().count() > MAX_TAG_VALUE {
                self.error(
                    &at,
                    format!(
                        "the value of tag `{key}` has {} characters; AWS accepts at most {MAX_TAG_VALUE}",
                        value.chars().count()
                    ),
                    "shorten the value".into(),
                );
            }
        }
    }

    fn names(&mut self, stack: &Stack) {
        for name in stack.key_pairs.keys() {
            if name.chars().count() > 255 {
                self.error(
                    &["key_pairs", name],
                    format!("key pair name of {} characters; EC2 accepts at most 255", name.chars().count()),
                    "shorten the name".into(),
                );
            }
        }
        for (name, cluster) in &stack.clusters {
            let template = format!("{name}-instances");
            if cluster.capacity.is_some() && template.len() > 128 {
                self.error(
                    &["clusters", name],
                    format!(
                        "the launch template berth names after this cluster, `{name}-instances`, has {} characters; EC2 accepts at most 128",
                        template.len()
                    ),
                    "shorten the cluster name to at most 118 characters".into(),
                );
            }
        }
        for name in stack.security_groups.keys() {
            let at = ["security_groups", name.as_str()];
            if name.to_ascii_lowercase().starts_with("sg-") {
                self.error(
                    &at,
                    format!("security group name `{name}` starts with `sg-`, which EC2 reserves for ids"),
                    "choose a name that does not start with sg-".into(),
                );
            } else if !name.is_ascii() || name.chars().count() > 255 {
                self.error(
                    &at,
                    format!("security group name `{name}` is not 1 to 255 ASCII characters"),
                    "use ASCII letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*".into(),
                );
            }
        }
        // IAM and EC2 (security groups in one VPC) compare names without case.
        let roles: Vec<&str> = stack.iam.roles.keys().map(String::as_str).collect();
        self.case_duplicates(&roles, "iam.roles", "IAM role names", &["iam", "roles"]);
        let policies: Vec<&str> = stack.iam.policies.keys().map(String::as_str).collect();
        self.case_duplicates(&policies, "iam.policies", "IAM policy names", &["iam", "policies"]);
        let groups: Vec<&str> = stack.security_groups.keys().map(String::as_str).collect();
        self.case_duplicates(&groups, "security_groups", "security group names in one VPC", &["security_groups"]);
        let mut buckets: BTreeMap<&str, &str> = BTreeMap::new();
        for (key, bucket) in &stack.buckets {
            let name = bucket.name.as_deref().unwrap_or(key);
            if let Some(first) = buckets.insert(name, key) {
                let path: Vec<&str> =
                    if bucket.name.is_some() { vec!["buckets", key, "name"] } else { vec!["buckets", key] };
                self.error(
                    &path,
                    format!("buckets `{first}` and `{key}` are both named `{name}`"),
                    "bucket names are global: give each bucket its own `name:`".into(),
                );
            }
        }
    }

    fn case_duplicates(&mut self, names: &[&str], section: &str, what: &str, at: &[&str]) {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for name in names {
            if let Some(first) = seen.insert(name.to_lowercase(), name) {
                let mut path = at.to_vec();
                path.push(name);
                self.error(
                    &path,
                    format!("`{section}` declares `{first}` and `{name}`, which differ only in case; AWS compares {what} without case"),
                    "rename one of them".into(),
                );
            }
        }
    }

    fn ports(&mut self, stack: &Stack) {
        for (name, group) in &stack.target_groups {
            if !(1..=65535).contains(&group.port) {
                self.error(
                    &["target_groups", name, "port"],
                    format!("target group port {} is outside 1-65535", group.port),
                    "use the port the targets listen on, such as 80".into(),
                );
            }
        }
        for (name, balancer) in &stack.load_balancers {
            for (i, listener) in balancer.listeners.iter().enumerate() {
                if !(1..=65535).contains(&listener.port) {
                    let index = i.to_string();
                    self.error(
                        &["load_balancers", name, "listeners", &index],
                        format!("listener port {} is outside 1-65535", listener.port),
                        "use the port clients connect to, such as 80 or 443".into(),
                    );
                }
            }
        }
    }

    fn containers(&mut self, stack: &Stack) {
        for (family, task) in &stack.task_definitions {
            for (name, container) in &task.containers {
                let at = |key: &'static str| ["task_definitions", family.as_str(), "containers", name.as_str(), key];
                if container.image.trim().is_empty() {
                    self.error(
                        &at("image"),
                        format!("container `{name}` has an empty image"),
                        "name an image, such as nginx:1.27 or ${var.app_image}".into(),
                    );
                }
                if container.environment_files.len() > MAX_ENV_FILES {
                    self.error(
                        &at("environment_files"),
                        format!(
                            "container `{name}` lists {} env files; ECS accepts at most {MAX_ENV_FILES}",
                            container.environment_files.len()
                        ),
                        "merge some of the files".into(),
                    );
                }
                for file in &container.environment_files {
                    if !file.ends_with(".env") {
                        self.error(
                            &at("environment_files"),
                            format!("env file `{file}` does not end in `.env`, which ECS requires"),
                            "rename the object so that its key ends in .env".into(),
                        );
                    }
                }
                for (variable, value) in &container.environment {
                    if !valid_env_name(variable) {
                        self.error(
                            &at("environment"),
                            format!("environment variable name `{variable}` is not a valid name"),
                            "use a letter or `_` first, then letters, digits or `_` (no spaces or `=`)".into(),
                        );
                    } else if !value.contains("${")
                        && (is_secret_value(value) || is_secret_name(variable) && !value.is_empty())
                    {
                        if task.allow.iter().any(|a| a == codes::LITERAL_SECRET.id) {
                            continue;
                        }
                        // The value itself is never quoted: it may be a real secret.
                        self.found.push(self.source.diagnostic(
                            Severity::Warning,
                            Some(codes::LITERAL_SECRET.id),
                            &at("environment"),
                            format!("`{variable}` of container `{name}` looks like a secret written in the stack file: it is visible in the task definition and the plan"),
                            Some("keep it in Secrets Manager or SSM and pass it with `secrets:`, or use a sensitive var".into()),
                        ));
                    }
                }
            }
        }
    }
}
