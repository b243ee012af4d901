//! A small evaluator of IAM identity policies: enough to answer "may this
//! role call `s3:GetObject` on this object?" without AWS.
//!
//! It follows IAM's logic for one principal's identity-based policies: an
//! explicit Deny wins, then any Allow; otherwise the request is implicitly
//! denied. `Action`/`NotAction` and `Resource`/`NotResource` match with IAM's
//! `*` and `?` wildcards, actions case-insensitively. Conditions cannot be
//! evaluated offline: an Allow with a Condition counts as granting and a Deny
//! with one as not applying, so that checks only warn about what is certainly
//! missing. A value berth cannot resolve (a reference to an undeclared
//! resource, which expansion reports) may match anything, by the same rule.

use serde_json::{json, Map, Value};

/// Resolves the `${...}` expressions of a policy string, `None` when it cannot.
pub type Resolve<'r> = &'r dyn Fn(&str) -> Option<String>;

/// The `Action` or `Resource` side of a statement.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    pub values: Vec<String>,
    /// Written as `NotAction` / `NotResource`: matches what no value matches.
    pub negated: bool,
    /// Some values could not be resolved: they may match anything.
    pub unresolved: bool,
}

impl Patterns {
    fn read(statement: &Map<String, Value>, key: &str, not_key: &str, resolve: Resolve) -> Patterns {
        let (value, negated) = match (statement.get(key), statement.get(not_key)) {
            (Some(value), _) => (value, false),
            (None, Some(value)) => (value, true),
            // Neither: IAM rejects the statement; it grants nothing here.
            (None, None) => return Patterns::default(),
        };
        let written: Vec<&str> = match value {
            Value::String(s) => vec![s],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let resolved: Vec<Option<String>> = written.into_iter().map(resolve).collect();
        let unresolved = resolved.iter().any(Option::is_none);
        Patterns { values: resolved.into_iter().flatten().collect(), negated, unresolved }
    }

    /// Whether `text` matches; `None` when only an unresolved value could tell.
    fn matches(&self, text: &str, ignore_case: bool) -> Option<bool> {
        if self.values.iter().any(|p| wildcard_match(p, text, ignore_case)) {
            Some(!self.negated)
        } else if self.unresolved {
            None
        } else {
            Some(self.negated)
        }
    }
}

/// One statement of a policy document.
#[derive(Debug, Clone)]
pub struct Statement {
    pub allow: bool,
    pub actions: Patterns,
    pub resources: Patterns,
    /// Has a `Condition`, which only AWS can evaluate.
    pub conditional: bool,
    /// Position in the document's `Statement` list; `None` when `Statement`
    /// is a single object.
    pub index: Option<usize>,
}

impl Statement {
    /// Whether the statement covers the request; `None` when berth cannot tell.
    fn applies(&self, action: &str, resource: &str) -> Option<bool> {
        match (self.actions.matches(action, true), self.resources.matches(resource, false)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }
    }
}

/// The statements of a policy document, with every string passed through
/// `resolve`. Malformed statements are skipped: AWS rejects them anyway.
pub fn statements(document: &Value, resolve: Resolve) -> Vec<Statement> {
    let listed: Vec<(Option<usize>, &Value)> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, s)| (Some(i), s)).collect(),
        Some(single) => vec![(None, single)],
        None => vec![],
    };
    listed
        .into_iter()
        .filter_map(|(index, statement)| {
            let statement = statement.as_object()?;
            let allow = match statement.get("Effect")?.as_str()? {
                effect if effect.eq_ignore_ascii_case("allow") => true,
                effect if effect.eq_ignore_ascii_case("deny") => false,
                _ => return None,
            };
            Some(Statement {
                allow,
                actions: Patterns::read(statement, "Action", "NotAction", resolve),
                resources: Patterns::read(statement, "Resource", "NotResource", resolve),
                conditional: statement.get("Condition").is_some_and(|c| !c.is_null()),
                index,
            })
        })
        .collect()
}

/// The outcome of evaluating a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// A Deny statement matches: nothing else can grant it.
    Denied,
    /// No statement allows it.
    NotAllowed,
}

/// Whether `statements` allow `action` on `resource`. In doubt (a condition,
/// an unresolved value) an Allow grants and a Deny does not apply.
pub fn decide(statements: &[Statement], action: &str, resource: &str) -> Decision {
    if statements.iter().any(|s| !s.allow && !s.conditional && s.applies(action, resource) == Some(true)) {
        Decision::Denied
    } else if statements.iter().any(|s| s.allow && s.applies(action, resource) != Some(false)) {
        Decision::Allowed
    } else {
        Decision::NotAllowed
    }
}

/// IAM's wildcard match: `*` is any run of characters, `?` any one.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let same = |a: char, b: char| if ignore_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // After a `*`: where the pattern resumes and how much text the star has taken.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some(&c) if c == '?' || same(c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last star take one more character and retry.
                Some((resume, taken)) => {
                    star = Some((resume, taken + 1));
                    p = resume;
                    t = taken + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The AWS managed policy for task execution roles.
pub const TASK_EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
/// The AWS managed policy for ECS container instances' roles.
pub const INSTANCE_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

/// The document of an AWS managed policy that ECS setups attach, as AWS
/// publishes it; `None` for the many berth does not know.
pub fn aws_managed(arn: &str) -> Option<Value> {
    // The same policies exist in every partition (aws, aws-cn, aws-us-gov).
    let (_, name) = arn.strip_prefix("arn:")?.split_once(":iam::aws:policy/")?;
    let actions = match name {
        "service-role/AmazonECSTaskExecutionRolePolicy" => json!([
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetImage",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]),
        "service-role/AmazonEC2ContainerServiceforEC2Role" => json!([
            "ec2:DescribeTags",
            "ecs:CreateCluster",
            "ecs:DeregisterContainerInstance",
            "ecs:DiscoverPollEndpoint",
            "ecs:Poll",
            "ecs:RegisterContainerInstance",
            "ecs:StartTelemetrySession",
            "ecs:UpdateContainerInstancesState",
            "ecs:Submit*",
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetImage",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]),
        _ => return None,
    };
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("s3:Get*", "s3:GetObject", false));
        assert!(wildcard_match("S3:getobject", "s3:GetObject", true));
        assert!(!wildcard_match("S3:getobject", "s3:GetObject", false));
        assert!(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/prod.env", false));
        assert!(!wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b", false));
        assert!(wildcard_match("arn:aws:s3:::b-????", "arn:aws:s3:::b-1234", false));
        assert!(!wildcard_match("arn:aws:s3:::b-????", "arn:aws:s3:::b-123", false));
        assert!(wildcard_match("*a*b*", "xxaxxbxx", false));
        assert!(!wildcard_match("*a*b", "xxaxxbxx", false));
        assert!(wildcard_match("*", "", false));
    }

    #[test]
    fn deny_wins_over_allow() {
        let doc = json!({ "Statement": [
            { "Effect": "Allow", "Action": "s3:*", "Resource": "*" },
            { "Effect": "Deny", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::secret/*" },
        ]});
        let s = statements(&doc, &keep);
        assert_eq!(decide(&s, "s3:GetObject", "arn:aws:s3:::public/x"), Decision::Allowed);
        assert_eq!(decide(&s, "s3:GetObject", "arn:aws:s3:::secret/x"), Decision::Denied);
        assert_eq!(decide(&s, "ec2:RunInstances", "*"), Decision::NotAllowed);
    }

    #[test]
    fn not_action_and_conditions() {
        let doc = json!({ "Statement": { "Effect": "Allow", "NotAction": "iam:*", "Resource": "*" } });
        let s = statements(&doc, &keep);
        assert_eq!(s[0].index, None);
        assert_eq!(decide(&s, "s3:GetObject", "arn:aws:s3:::b/k"), Decision::Allowed);
        assert_eq!(decide(&s, "iam:PassRole", "*"), Decision::NotAllowed);
        let doc = json!({ "Statement": [
            { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" },
            { "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": { "Bool": { "aws:SecureTransport": "false" } } },
        ]});
        assert_eq!(decide(&statements(&doc, &keep), "s3:GetObject", "arn:aws:s3:::b/k"), Decision::Allowed);
    }

    #[test]
    fn unresolved_values_may_match() {
        let unknown = |s: &str| (!s.contains("${")).then(|| s.to_owned());
        let doc = json!({ "Statement": [
            { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "${buckets.typo.arn}/*" },
            { "Effect": "Deny", "Action": "s3:GetObject", "Resource": ["${buckets.typo.arn}/*"] },
        ]});
        assert_eq!(decide(&statements(&doc, &unknown), "s3:GetObject", "arn:aws:s3:::b/k"), Decision::Allowed);
        assert_eq!(decide(&statements(&doc, &unknown), "s3:PutObject", "arn:aws:s3:::b/k"), Decision::NotAllowed);
    }

    #[test]
    fn known_managed_policies() {
        let doc = aws_managed(TASK_EXECUTION_POLICY).unwrap();
        assert_eq!(decide(&statements(&doc, &keep), "logs:PutLogEvents", "arn:aws:logs:x"), Decision::Allowed);
        assert_eq!(decide(&statements(&doc, &keep), "s3:GetObject", "arn:aws:s3:::b/k"), Decision::NotAllowed);
        assert!(aws_managed(INSTANCE_POLICY).is_some());
        assert!(aws_managed("arn:aws-cn:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy").is_some());
        assert!(aws_managed("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess").is_none());
    }
}
