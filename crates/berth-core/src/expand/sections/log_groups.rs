//! `log_groups:`: CloudWatch Logs groups and their retention.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

/// A CloudWatch log group.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogGroup {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Days CloudWatch Logs keeps the events, one of the values it accepts; unset, they never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

pub(crate) const SECTION: Section = Section {
    name: "log_groups",
    outputs: &["name", "arn"],
    declared: |stack| declared(&stack.log_groups, |r| (r.protect, &[])),
    expand: |x| x.log_groups(),
};

impl Expander<'_> {
    pub(in crate::expand) fn log_groups(&mut self) {
        for (name, group) in &self.stack.log_groups {
            let mut desired = json!({ "name": name });
            if let Some(days) = group.retention_days {
                if !RETENTION_DAYS.contains(&days) {
                    let nearest = RETENTION_DAYS.iter().min_by_key(|d| d.abs_diff(days)).copied().unwrap_or(14);
                    self.error(
                        &["log_groups", name, "retention_days"],
                        format!("CloudWatch Logs does not accept a retention of {days} days"),
                        Some(format!("use one of {RETENTION_DAYS:?}, for example {nearest}")),
                    );
                }
                desired["retention_days"] = json!(days);
            }
            self.push_tagged(format!("log_groups.{name}"), Kind::LogGroup, desired, None, &["log_groups", name]);
        }
    }
}

/// Retention periods CloudWatch Logs accepts.
const RETENTION_DAYS: &[u32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
