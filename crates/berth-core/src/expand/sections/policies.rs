//! `iam.policies:`: customer managed IAM policies.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

/// A customer managed IAM policy.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The policy document.
    pub document: Value,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

pub(crate) const SECTION: Section = Section {
    name: "iam.policies",
    outputs: &["arn", "name"],
    declared: |stack| declared(&stack.iam.policies, |r| (r.protect, &r.allow)),
    expand: |x| x.policies(),
};

impl Expander<'_> {
    pub(in crate::expand) fn policies(&mut self) {
        for (name, policy) in &self.stack.iam.policies {
            let path = ["iam", "policies", name.as_str(), "document"];
            let document = self.interpolate_value(&policy.document, &path);
            self.push_tagged(
                format!("iam.policies.{name}"),
                Kind::IamPolicy,
                json!({ "name": name, "document": document }),
                None,
                &path[..3],
            );
        }
    }
}
