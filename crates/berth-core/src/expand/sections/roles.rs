//! `iam.roles:`: roles with their trust policy, attached and inline policies and instance profile.
//! The module holds the section's YAML types and its expansion.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

/// An IAM role.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Services that may assume the role (`ecs-tasks.amazonaws.com`).
    pub trust: Vec<String>,
    /// For `ecs-tasks.amazonaws.com`, only tasks of this account may assume
    /// the role: an `aws:SourceAccount` condition against the confused
    /// deputy problem. Default true; false leaves the condition out.
    #[serde(default = "crate::model::yes", skip_serializing_if = "is_true")]
    pub limit_to_account: bool,
    /// ARNs of managed policies to attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Names of policies of this file to attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Inline policies, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inline_policies: BTreeMap<String, Value>,
    /// Also create an instance profile of the same name.
    #[serde(default)]
    pub instance_profile: bool,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn is_true(value: &bool) -> bool {
    *value
}

pub(crate) const SECTION: Section = Section {
    name: "iam.roles",
    outputs: &["arn", "name"],
    declared: |stack| declared(&stack.iam.roles, |r| (r.protect, &r.allow)),
    expand: |x| x.roles(),
};

impl Expander<'_> {
    pub(in crate::expand) fn roles(&mut self) {
        for (name, role) in &self.stack.iam.roles {
            let address = format!("iam.roles.{name}");
            let origin = ["iam", "roles", name.as_str()];
            let trust = self.trust_policy(role);
            self.push_tagged(
                address.clone(),
                Kind::IamRole,
                json!({ "name": name, "assume_role_policy": trust }),
                None,
                &origin,
            );
            for arn in &role.managed_policies {
                let arn = self.interpolate(arn, &["iam", "roles", name, "managed_policies"]);
                if !arn.starts_with("arn:") {
                    self.error(
                        &["iam", "roles", name, "managed_policies"],
                        format!("`{arn}` is not a policy ARN"),
                        Some("list policies of this file under `policies:`".into()),
                    );
                    continue;
                }
                let short = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
                let desired = json!({ "role": name, "policy_arn": arn });
                self.push(
                    format!("{address}.managed_policies[{short}]"),
                    Kind::IamRolePolicyAttachment,
                    desired,
                    Some(&address),
                    &origin,
                );
            }
            for policy in &role.policies {
                let path = ["iam", "roles", name.as_str(), "policies"];
                let Some(arn) = self.name_or_external("iam.policies", policy, "arn", |s| s.starts_with("arn:"), &path)
                else {
                    continue;
                };
                let desired = json!({ "role": name, "policy_arn": arn });
                self.push(
                    format!("{address}.policies[{policy}]"),
                    Kind::IamRolePolicyAttachment,
                    desired,
                    Some(&address),
                    &path,
                );
            }
            for (policy_name, document) in &role.inline_policies {
                let path = ["iam", "roles", name.as_str(), "inline_policies", policy_name.as_str()];
                let document = self.interpolate_value(document, &path);
                let desired = json!({ "role": name, "name": policy_name, "document": document });
                self.push(
                    format!("{address}.inline_policies.{policy_name}"),
                    Kind::IamRoleInlinePolicy,
                    desired,
                    Some(&address),
                    &path,
                );
            }
            if role.instance_profile {
                let desired = json!({ "name": name, "role": name });
                self.push_tagged(
                    format!("{address}.instance_profile"),
                    Kind::IamInstanceProfile,
                    desired,
                    Some(&address),
                    &origin,
                );
            }
        }
    }

    /// Who may assume a role: its services, with tasks of ECS limited to
    /// this account (AWS's confused deputy protection) unless the role opts out.
    fn trust_policy(&self, role: &model::Role) -> Value {
        let one_or_many = |services: &[&String]| -> Value {
            if services.len() == 1 {
                json!(services[0])
            } else {
                json!(services)
            }
        };
        let limited = |s: &&String| role.limit_to_account && s.as_str() == ECS_TASKS;
        let (tasks, others): (Vec<&String>, Vec<&String>) = role.trust.iter().partition(limited);
        let mut statements = Vec::new();
        if !others.is_empty() {
            statements.push(json!({
                "Effect": "Allow", "Principal": { "Service": one_or_many(&others) }, "Action": "sts:AssumeRole",
            }));
        }
        if !tasks.is_empty() {
            statements.push(json!({
                "Effect": "Allow", "Principal": { "Service": ECS_TASKS }, "Action": "sts:AssumeRole",
                "Condition": { "StringEquals": { "aws:SourceAccount": self.options.account_id } },
            }));
        }
        json!({ "Version": "2012-10-17", "Statement": statements })
    }
}
