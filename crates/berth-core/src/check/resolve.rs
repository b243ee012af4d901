//! Offline values of `${...}` expressions: the names and ARNs resources will
//! have once deployed, with a stand-in for the account id, which only AWS
//! knows. Checks compare strings resolved here with each other (a policy's
//! `Resource` against an env file's ARN), so the stand-in only has to be used
//! consistently on both sides.

use crate::model::Stack;

/// Stands for `${aws.account_id}`: 12 digits, so names keep their real length.
pub const ACCOUNT_ID: &str = "000000000000";

/// Region assumed when the stack names none (the CLI's offline default too).
const DEFAULT_REGION: &str = "us-east-1";

/// Variables may refer to variables; this bounds a loop of them.
const MAX_DEPTH: usize = 8;

pub struct Resolver<'a> {
    stack: &'a Stack,
    pub region: &'a str,
}

impl<'a> Resolver<'a> {
    pub fn new(stack: &'a Stack) -> Self {
        Resolver { stack, region: stack.region.as_deref().unwrap_or(DEFAULT_REGION) }
    }

    /// `text` with every expression substituted, or `None` when one of them
    /// cannot be known offline (an undefined variable, an unknown resource).
    pub fn resolve(&self, text: &str) -> Option<String> {
        self.resolve_within(text, 0)
    }

    /// The global name of bucket `key`: its `name:` resolved, or the key.
    pub fn bucket_name(&self, key: &str) -> Option<String> {
        self.bucket_name_within(key, 0)
    }

    /// The ARN of a log group.
    pub fn log_group_arn(&self, group: &str) -> String {
        format!("arn:aws:logs:{}:{ACCOUNT_ID}:log-group:{group}", self.region)
    }

    /// The ARN of an ECS cluster.
    pub fn cluster_arn(&self, cluster: &str) -> String {
        format!("arn:aws:ecs:{}:{ACCOUNT_ID}:cluster/{cluster}", self.region)
    }

    fn bucket_name_within(&self, key: &str, depth: usize) -> Option<String> {
        match &self.stack.buckets.get(key)?.name {
            Some(name) => self.resolve_within(name, depth + 1),
            None => Some(key.to_owned()),
        }
    }

    fn resolve_within(&self, text: &str, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            out.push_str(&self.evaluate(after[..end].trim(), depth)?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    fn evaluate(&self, expr: &str, depth: usize) -> Option<String> {
        match expr.split_once('.')? {
            ("aws", "account_id") => Some(ACCOUNT_ID.to_owned()),
            ("aws", "region") => Some(self.region.to_owned()),
            // A sensitive value is not resolved: a finding would quote it.
            ("var", name) => {
                let var = self.stack.vars.get(name).filter(|v| !v.is_sensitive())?;
                self.resolve_within(var.value(), depth + 1)
            }
            _ => self.attribute(expr, depth),
        }
    }

    /// `${section.name.attr}`: what expansion will turn into a resource output.
    fn attribute(&self, expr: &str, depth: usize) -> Option<String> {
        let (resource, attr) = expr.rsplit_once('.')?;
        let (section, name) = match resource.strip_prefix("iam.") {
            Some(rest) => {
                let (kind, name) = rest.split_once('.')?;
                let section = match kind {
                    "roles" => "iam.roles",
                    "policies" => "iam.policies",
                    _ => return None,
                };
                (section, name)
            }
            None => resource.split_once('.')?,
        };
        let s = self.stack;
        let account = ACCOUNT_ID;
        match (section, attr) {
            ("buckets", "name") => self.bucket_name_within(name, depth),
            ("buckets", "arn") => Some(format!("arn:aws:s3:::{}", self.bucket_name_within(name, depth)?)),
            ("iam.roles", "arn") if s.iam.roles.contains_key(name) => {
                Some(format!("arn:aws:iam::{account}:role/{name}"))
            }
            ("iam.policies", "arn") if s.iam.policies.contains_key(name) => {
                Some(format!("arn:aws:iam::{account}:policy/{name}"))
            }
            ("log_groups", "arn") if s.log_groups.contains_key(name) => Some(self.log_group_arn(name)),
            ("clusters", "arn") if s.clusters.contains_key(name) => Some(self.cluster_arn(name)),
            // Every other resource berth creates is named after its key.
            (_, "name") if self.declares(section, name) => Some(name.to_owned()),
            _ => None,
        }
    }

    fn declares(&self, section: &str, name: &str) -> bool {
        let s = self.stack;
        match section {
            "key_pairs" => s.key_pairs.contains_key(name),
            "security_groups" => s.security_groups.contains_key(name),
            "iam.roles" => s.iam.roles.contains_key(name),
            "iam.policies" => s.iam.policies.contains_key(name),
            "log_groups" => s.log_groups.contains_key(name),
            "clusters" => s.clusters.contains_key(name),
            "target_groups" => s.target_groups.contains_key(name),
            "load_balancers" => s.load_balancers.contains_key(name),
            "services" => s.services.contains_key(name),
            _ => false,
        }
    }
}

/// `text` as shown to users: the account stand-in written as the built-in.
pub fn shown(text: &str) -> String {
    text.replace(ACCOUNT_ID, "${aws.account_id}")
}
