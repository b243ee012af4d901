//! Offline values of `${...}` expressions: the names and ARNs resources will
//! have once deployed, with a stand-in for the account id, which only AWS
//! knows. Checks compare strings resolved here with each other (a policy's
//! `Resource` against an env file's ARN), so the stand-in only has to be used
//! consistently on both sides.

use crate::interpolate::{pieces, Expression, Piece};
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

    fn secret_name_within(&self, key: &str, depth: usize) -> Option<String> {
        match &self.stack.secrets.get(key)?.name {
            Some(name) => self.resolve_within(name, depth + 1),
            None => Some(key.to_owned()),
        }
    }

    fn resolve_within(&self, text: &str, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut out = String::new();
        for piece in pieces(text, "${") {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Expr(expr) => out.push_str(&self.evaluate(expr.trim(), depth)?),
                Piece::Unclosed(_) => return None,
            }
        }
        Some(out)
    }

    fn evaluate(&self, expr: &str, depth: usize) -> Option<String> {
        match Expression::parse(expr) {
            Expression::Builtin("account_id") => Some(ACCOUNT_ID.to_owned()),
            Expression::Builtin("region") => Some(self.region.to_owned()),
            Expression::Builtin(_) => None,
            // A sensitive value is not resolved: a finding would quote it.
            Expression::Var(name) => {
                let var = self.stack.vars.get(name).filter(|v| !v.is_sensitive())?;
                self.resolve_within(var.value()?, depth + 1)
            }
            Expression::Resource { section, rest } => {
                let (name, attr) = Expression::name_and_attr(rest)?;
                self.attribute(section, name, attr, depth)
            }
        }
    }

    /// `${section.name.attr}`: what expansion will turn into a resource output.
    fn attribute(&self, section: &str, name: &str, attr: &str, depth: usize) -> Option<String> {
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
            ("secrets", "name") => self.secret_name_within(name, depth),
            // Secrets Manager ends the ARN with `-` and six random characters.
            ("secrets", "arn") => Some(format!(
                "arn:aws:secretsmanager:{}:{account}:secret:{}-AbCdEf",
                self.region,
                self.secret_name_within(name, depth)?
            )),
            ("clusters", "arn") if s.clusters.contains_key(name) => Some(self.cluster_arn(name)),
            // Every other resource berth creates is named after its key.
            (_, "name") if self.declares(section, name) => Some(name.to_owned()),
            _ => None,
        }
    }

    fn declares(&self, section: &str, name: &str) -> bool {
        crate::expand::find_section(section).is_some_and(|s| (s.declared)(self.stack).iter().any(|r| r.name == name))
    }
}

/// `text` as shown to users: the account stand-in written as the built-in.
pub fn shown(text: &str) -> String {
    text.replace(ACCOUNT_ID, "${aws.account_id}")
}
