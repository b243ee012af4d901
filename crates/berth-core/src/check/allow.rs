//! `allow:` lists: the warnings a resource accepts. A finding belongs to the
//! resource whose key its path starts with, so a warning is silenced where it
//! is reported, and nowhere else.

use super::{codes, Checks, Finding};
use crate::diag::Severity;
use crate::model::Stack;

/// Every resource that can have an `allow:` list: its key path and the list.
pub(super) fn lists(stack: &Stack) -> Vec<(Vec<&str>, &[String])> {
    fn section<'a, T>(
        prefix: &[&'a str],
        resources: &'a std::collections::BTreeMap<String, T>,
        allow: fn(&T) -> &[String],
    ) -> impl Iterator<Item = (Vec<&'a str>, &'a [String])> + 'a {
        let prefix = prefix.to_vec();
        resources.iter().map(move |(name, r)| {
            let mut path = prefix.clone();
            path.push(name.as_str());
            (path, allow(r))
        })
    }
    let s = stack;
    section(&["task_definitions"], &s.task_definitions, |r| r.allow.as_slice())
        .chain(section(&["services"], &s.services, |r| r.allow.as_slice()))
        .chain(section(&["security_groups"], &s.security_groups, |r| r.allow.as_slice()))
        .chain(section(&["load_balancers"], &s.load_balancers, |r| r.allow.as_slice()))
        .chain(section(&["target_groups"], &s.target_groups, |r| r.allow.as_slice()))
        .chain(section(&["clusters"], &s.clusters, |r| r.allow.as_slice()))
        .chain(section(&["buckets"], &s.buckets, |r| r.allow.as_slice()))
        .chain(section(&["iam", "roles"], &s.iam.roles, |r| r.allow.as_slice()))
        .chain(section(&["iam", "policies"], &s.iam.policies, |r| r.allow.as_slice()))
        .collect()
}

/// Whether `finding` is a warning its resource's `allow:` lists.
pub(super) fn allows(lists: &[(Vec<&str>, &[String])], finding: &Finding) -> bool {
    finding.code.severity == Severity::Warning
        && lists.iter().any(|(prefix, allow)| {
            finding.path.len() >= prefix.len()
                && finding.path.iter().zip(prefix).all(|(a, b)| a == b)
                && allow.iter().any(|id| id == finding.code.id)
        })
}

/// BRT037, BRT038: an `allow:` entry must name a warning.
pub(super) fn check(checks: &mut Checks) {
    for (prefix, allow) in lists(checks.stack) {
        for (i, id) in allow.iter().enumerate() {
            let index = i.to_string();
            let mut path = prefix.clone();
            path.extend(["allow", index.as_str()]);
            match codes::find(id) {
                Some(code) if code.severity == Severity::Error => checks.report(
                    codes::ALLOW_ERROR,
                    &path,
                    format!("{id} is an error and cannot be allowed"),
                    format!("fix what {id} reports and remove it from `allow:`"),
                ),
                Some(_) => {}
                None => {
                    let known = codes::ALL.iter().map(|c| c.id);
                    let help = match crate::diag::did_you_mean(id, known) {
                        Some(near) => format!("did you mean {near}? docs/checks.md lists the codes"),
                        None => "remove it; docs/checks.md lists the codes".to_owned(),
                    };
                    checks.report(codes::ALLOW_UNKNOWN, &path, format!("`{id}` is not a berth check code"), help);
                }
            }
        }
    }
}
