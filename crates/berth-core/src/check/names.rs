//! BRT032-BRT036: names AWS rejects. berth names resources after their keys
//! in the file (buckets after `name:`), so a bad key would fail its create
//! call halfway through an apply; these are AWS's rules, checked up front.

use super::resolve::shown;
use super::{codes, Checks, Code};

/// How AWS constrains one kind of name.
trait NameRule {
    /// Why `name` breaks the rule, if it does.
    fn problem(&self, name: &str) -> Option<String>;
    /// `name` with what the rule forbids replaced: a suggestion, which may
    /// still break the rule.
    fn repair(&self, name: &str) -> String;
}

/// A length limit and a set of allowed characters.
struct Charset {
    what: &'static str,
    max: usize,
    allowed: fn(char) -> bool,
    /// The allowed characters, in words.
    described: &'static str,
}

impl NameRule for Charset {
    fn problem(&self, name: &str) -> Option<String> {
        let length = name.chars().count();
        if length == 0 || length > self.max {
            return Some(format!("{} names are 1-{} characters long, this one has {length}", self.what, self.max));
        }
        let bad: String = name.chars().filter(|&c| !(self.allowed)(c)).collect();
        (!bad.is_empty()).then(|| format!("{} names may only contain {}, not `{bad}`", self.what, self.described))
    }

    fn repair(&self, name: &str) -> String {
        name.chars().map(|c| if (self.allowed)(c) { c } else { '-' }).take(self.max).collect()
    }
}

const ECS: Charset = Charset {
    what: "ECS",
    max: 255,
    allowed: |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
    described: "letters, digits, hyphens and underscores",
};
const IAM_ROLE: Charset = Charset { what: "IAM role", max: 64, allowed: iam_char, described: IAM_CHARS };
const IAM_POLICY: Charset = Charset { what: "IAM policy", max: 128, allowed: iam_char, described: IAM_CHARS };
const LOG_GROUP: Charset = Charset {
    what: "log group",
    max: 512,
    allowed: |c| c.is_ascii_alphanumeric() || "._-/#".contains(c),
    described: "letters, digits and . _ - / #",
};

fn iam_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}
const IAM_CHARS: &str = "letters, digits and _ + = , . @ -";

/// Application load balancers and target groups.
struct LoadBalancer;

const LOAD_BALANCER_CHARS: Charset = Charset {
    what: "load balancer and target group",
    max: 32,
    allowed: |c| c.is_ascii_alphanumeric() || c == '-',
    described: "letters, digits and hyphens",
};

impl NameRule for LoadBalancer {
    fn problem(&self, name: &str) -> Option<String> {
        LOAD_BALANCER_CHARS.problem(name).or_else(|| {
            if name.starts_with('-') || name.ends_with('-') {
                Some("load balancer and target group names may not start or end with a hyphen".to_owned())
            } else if name.starts_with("internal-") {
                Some("load balancer and target group names may not start with `internal-`".to_owned())
            } else {
                None
            }
        })
    }

    fn repair(&self, name: &str) -> String {
        let name = LOAD_BALANCER_CHARS.repair(name.trim_start_matches("internal-"));
        name.trim_matches('-').to_owned()
    }
}

/// S3 general purpose buckets.
struct Bucket;

const BUCKET_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

fn bucket_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
}

impl NameRule for Bucket {
    fn problem(&self, name: &str) -> Option<String> {
        let length = name.len();
        let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let looks_like_ip = name.split('.').count() == 4 && name.split('.').all(|part| part.parse::<u8>().is_ok());
        let problem = if !(3..=63).contains(&length) {
            format!("bucket names are 3-63 characters long, this one has {length}")
        } else if let Some(bad) = name.chars().find(|&c| !bucket_char(c)) {
            format!("bucket names may only contain lowercase letters, digits, dots and hyphens, not `{bad}`")
        } else if !alphanumeric(name.chars().next()) || !alphanumeric(name.chars().last()) {
            "bucket names must start and end with a lowercase letter or a digit".to_owned()
        } else if name.contains("..") {
            "bucket names may not contain two adjacent dots".to_owned()
        } else if looks_like_ip {
            "bucket names may not look like an IP address".to_owned()
        } else if let Some(prefix) = BUCKET_PREFIXES.iter().find(|p| name.starts_with(*p)) {
            format!("bucket names may not start with `{prefix}`")
        } else if let Some(suffix) = BUCKET_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
            format!("bucket names may not end with `{suffix}`")
        } else {
            return None;
        };
        Some(problem)
    }

    fn repair(&self, name: &str) -> String {
        let mut name: String =
            name.to_ascii_lowercase().chars().map(|c| if bucket_char(c) { c } else { '-' }).collect();
        while name.contains("..") {
            name = name.replace("..", ".");
        }
        for prefix in BUCKET_PREFIXES {
            name = name.trim_start_matches(prefix).to_owned();
        }
        for suffix in BUCKET_SUFFIXES {
            name = name.trim_end_matches(suffix).to_owned();
        }
        let name: String = name.chars().take(63).collect();
        name.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned()
    }
}

pub(super) fn check(checks: &mut Checks) {
    let stack = checks.stack;
    for name in stack.load_balancers.keys() {
        flag(checks, codes::LOAD_BALANCER_NAME, &["load_balancers", name], name, &LoadBalancer);
    }
    for name in stack.target_groups.keys() {
        flag(checks, codes::LOAD_BALANCER_NAME, &["target_groups", name], name, &LoadBalancer);
    }
    for (key, bucket) in &stack.buckets {
        // A name with an expression berth cannot resolve offline is left to AWS.
        let Some(name) = checks.resolver.bucket_name(key) else { continue };
        let path = if bucket.name.is_some() { vec!["buckets", key, "name"] } else { vec!["buckets", key] };
        flag(checks, codes::BUCKET_NAME, &path, &name, &Bucket);
    }
    for name in stack.clusters.keys() {
        flag(checks, codes::ECS_NAME, &["clusters", name], name, &ECS);
    }
    for name in stack.services.keys() {
        flag(checks, codes::ECS_NAME, &["services", name], name, &ECS);
    }
    for (family, task) in &stack.task_definitions {
        flag(checks, codes::ECS_NAME, &["task_definitions", family], family, &ECS);
        for name in task.containers.keys() {
            flag(checks, codes::ECS_NAME, &["task_definitions", family, "containers", name], name, &ECS);
        }
    }
    for (role, spec) in &stack.iam.roles {
        flag(checks, codes::IAM_NAME, &["iam", "roles", role], role, &IAM_ROLE);
        for name in spec.inline_policies.keys() {
            flag(checks, codes::IAM_NAME, &["iam", "roles", role, "inline_policies", name], name, &IAM_POLICY);
        }
    }
    for name in stack.iam.policies.keys() {
        flag(checks, codes::IAM_NAME, &["iam", "policies", name], name, &IAM_POLICY);
    }
    for name in stack.log_groups.keys() {
        flag(checks, codes::LOG_GROUP_NAME, &["log_groups", name], name, &LOG_GROUP);
    }
}

/// Reports `code` at `path` when `name` breaks `rule`, suggesting a repaired
/// name when the repair follows the rule.
fn flag(checks: &mut Checks, code: Code, path: &[&str], name: &str, rule: &dyn NameRule) {
    let Some(problem) = rule.problem(name) else { return };
    let repaired = rule.repair(name);
    let help = if repaired.is_empty() || rule.problem(&repaired).is_some() {
        "rename it to follow the rule above".to_owned()
    } else {
        format!("rename it, for example to `{}`", shown(&repaired))
    };
    checks.report(code, path, format!("`{}` is not a valid name: {problem}", shown(name)), help);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["ecs-sample-env-000000000000", "a.b-c", "abc"] {
            assert_eq!(Bucket.problem(good), None, "{good}");
        }
        for bad in
            ["ab", "Abc", "a_b", "-abc", "abc.", "a..b", "192.168.1.1", "xn--abc", "abc-s3alias", &"a".repeat(64)]
        {
            assert!(Bucket.problem(bad).is_some(), "{bad}");
        }
        assert_eq!(Bucket.repair("Assets_000000000000"), "assets-000000000000");
    }

    #[test]
    fn load_balancer_names() {
        assert_eq!(LoadBalancer.problem("ecs-sample-alb"), None);
        for bad in ["internal-web", "-web", "web-", "web_1", &"a".repeat(33)] {
            assert!(LoadBalancer.problem(bad).is_some(), "{bad}");
        }
        assert_eq!(LoadBalancer.repair("internal-web_1"), "web-1");
    }

    #[test]
    fn other_names() {
        assert!(ECS.problem("my.cluster").is_some());
        assert_eq!(ECS.problem("example-app_2"), None);
        assert!(IAM_ROLE.problem(&"r".repeat(65)).is_some());
        assert_eq!(IAM_POLICY.problem("read+env=,.@-_"), None);
        assert_eq!(LOG_GROUP.problem("/ecs/example-app#1"), None);
        assert!(LOG_GROUP.problem("").is_some());
    }
}
