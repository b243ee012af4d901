//! `allow:` lists: the warnings a resource accepts. A finding belongs to the
//! resource whose key its path starts with, so a warning is silenced where it
//! is reported, and nowhere else.

use super::{codes, Checks, Finding};
use crate::diag::Severity;
use crate::model::Stack;

/// Every resource that can have an `allow:` list: its key path and the list.
pub(super) fn lists(stack: &Stack) -> Vec<(Vec<&str>, &[String])> {
    crate::expand::SECTIONS
        .iter()
        .flat_map(|section| {
            (section.declared)(stack).into_iter().filter(|r| !r.allow.is_empty()).map(|r| {
                let mut path = section.path();
                path.push(r.name);
                (path, r.allow)
            })
        })
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
