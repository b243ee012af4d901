//! `iam.policies:`: customer managed IAM policies.

use super::prelude::*;

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
