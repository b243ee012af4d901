//! `secrets:`: Secrets Manager secrets berth manages, with their value (from
//! `value:`, a file, or generated once) and the resource policy admitting
//! their readers. The module holds the section's YAML types and its expansion.
//!
//! A secret's value is a sensitive field: it is compared with the live value
//! in memory and never shown. A generated value is never read back at all.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::prelude::*;

/// The most Secrets Manager holds in one secret value, in bytes.
pub const MAX_SECRET_BYTES: u64 = 65_536;

/// The longest password GetRandomPassword makes.
const MAX_GENERATED_LENGTH: u32 = 4096;

/// A Secrets Manager secret berth manages.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The secret's name in Secrets Manager (defaults to the key), such as `shop/db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A description shown in the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value, usually `${var.NAME}` of a sensitive var; berth updates the secret when it changes.
    /// Exactly one of `value`, `file` and `generate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A file (JSON or text, relative to the stack file) holding the value; always sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A random value made once when the secret is created, never changed or shown afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generate>,
    /// Roles of this file (or role ARNs) that may read the secret: its resource policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<String>,
    /// Codes of warnings not to report for this resource, such as `BRT050`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// How a secret's value is generated.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// Characters of the random value (letters and digits), 1 to 4096.
    pub length: u32,
    /// Store `{"KEY": value}` (a JSON secret whose key containers name) instead of the bare value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

pub(crate) const SECTION: Section = Section {
    name: "secrets",
    outputs: &["arn", "name"],
    declared: |stack| declared(&stack.secrets, |r| (r.protect, &r.allow)),
    expand: |x| x.secrets(),
};

impl Expander<'_> {
    pub(in crate::expand) fn secrets(&mut self) {
        for (key, secret) in &self.stack.secrets {
            let address = format!("secrets.{key}");
            let origin = ["secrets", key.as_str()];
            let name = match &secret.name {
                Some(name) => self.interpolate(name, &["secrets", key, "name"]),
                None => key.clone(),
            };
            if let Some(problem) = name_problem(&name) {
                let at: &[&str] = if secret.name.is_some() { &["secrets", key, "name"] } else { &origin };
                self.error(
                    at,
                    format!("`{name}` is not a Secrets Manager secret name: {problem}"),
                    Some("use 1-512 letters, digits and /_+=.@- (set `name:` when the key cannot be the name)".into()),
                );
            }
            let mut desired = json!({ "name": name });
            if let Some(description) = &secret.description {
                desired["description"] = json!(self.interpolate(description, &["secrets", key, "description"]));
            }
            let given: Vec<&str> = [
                ("value", secret.value.is_some()),
                ("file", secret.file.is_some()),
                ("generate", secret.generate.is_some()),
            ]
            .into_iter()
            .filter_map(|(field, set)| set.then_some(field))
            .collect();
            match given.as_slice() {
                [] => self.error(
                    &origin,
                    format!("secret `{key}` has no value: give one of `value`, `file` or `generate`"),
                    Some("for example `generate: { length: 32, key: password }`, or `value: \"${var.NAME}\"` with a sensitive var".into()),
                ),
                [_] => {}
                [first, second, ..] => self.error(
                    &["secrets", key, second],
                    format!("secret `{key}` has both `{first}` and `{second}`: its value comes from exactly one of `value`, `file` or `generate`"),
                    Some(format!("remove `{second}` or `{first}`")),
                ),
            }
            let mut sensitive = false;
            if let Some(value) = &secret.value {
                let value = self.interpolate(value, &["secrets", key, "value"]);
                self.secrets.push(value.clone());
                desired["value"] = json!(value);
                sensitive = true;
            } else if let Some(file) = &secret.file {
                let path = ["secrets", key.as_str(), "file"];
                if let Some(content) = self.read_file(file, &path, MAX_SECRET_BYTES) {
                    self.secrets.extend(file_secrets(&content));
                    desired["value"] = json!(literal_text(&content));
                    sensitive = true;
                }
            } else if let Some(generate) = &secret.generate {
                if generate.length == 0 || generate.length > MAX_GENERATED_LENGTH {
                    self.error(
                        &["secrets", key, "generate", "length"],
                        format!(
                            "a generated value of {} characters: Secrets Manager makes 1 to {MAX_GENERATED_LENGTH}",
                            generate.length
                        ),
                        Some("32 is a good length for a password".into()),
                    );
                }
                let mut spec = json!({ "length": generate.length });
                if let Some(json_key) = &generate.key {
                    spec["key"] = json!(json_key);
                }
                desired["generate"] = spec;
            }
            if !secret.readers.is_empty() {
                let path = ["secrets", key.as_str(), "readers"];
                let readers: Vec<String> = secret
                    .readers
                    .iter()
                    .filter_map(|r| self.name_or_external("iam.roles", r, "arn", |s| s.starts_with("arn:"), &path))
                    .collect();
                let principals = if readers.len() == 1 { json!(readers[0]) } else { json!(readers) };
                // In a secret's resource policy, `*` is the secret itself.
                desired["policy"] = json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "BerthReaders", "Effect": "Allow", "Principal": { "AWS": principals },
                        "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                    }],
                });
            }
            let node = self.push_tagged(address, Kind::Secret, desired, None, &origin);
            if sensitive {
                node.sensitive_fields.push("value".into());
            }
        }
    }

    /// The `value_from` of a container's secret that names a secret of this
    /// file: its ARN, with the `:KEY::` suffix ECS reads one key of a JSON secret by.
    pub(in crate::expand) fn managed_secret_arn(
        &mut self,
        name: &str,
        key: Option<&str>,
        path: &[&str],
    ) -> Option<String> {
        let address = self.lookup("secrets", name, path)?;
        let generated_key = self.stack.secrets.get(name).and_then(|s| s.generate.as_ref()).map(|g| g.key.as_deref());
        match (generated_key, key) {
            (Some(None), Some(key)) => self.error(
                path,
                format!("secret `{name}` is generated as a bare string, which has no key `{key}`"),
                Some(format!("drop `key:`, or give the secret `generate: {{ ..., key: {key} }}`")),
            ),
            (Some(Some(generated)), Some(key)) if generated != key => self.error(
                path,
                format!("secret `{name}` is generated as {{\"{generated}\": ...}}: it has no key `{key}`"),
                did_you_mean(key, [generated])
                    .map(|k| format!("did you mean `{k}`?"))
                    .or(Some(format!("use `key: {generated}`"))),
            ),
            _ => {}
        }
        let arn = reference(&address, "arn");
        Some(match key {
            Some(key) => format!("{arn}:{key}::"),
            None => arn,
        })
    }
}

/// What to mask of a secret file: the whole text, its lines, and for JSON every string value.
fn file_secrets(content: &str) -> Vec<String> {
    let mut values = vec![content.to_owned(), content.trim().to_owned()];
    match serde_json::from_str::<Value>(content) {
        Ok(json) => collect_strings(&json, &mut values),
        Err(_) => values.extend(content.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty())),
    }
    values
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Why Secrets Manager refuses `name`, if it does.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 512 {
        return Some(format!("{} characters (1 to 512)", name.len()));
    }
    let bad: BTreeSet<char> = name.chars().filter(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c))).collect();
    if !bad.is_empty() {
        let shown: Vec<String> = bad.iter().map(|c| format!("`{c}`")).collect();
        return Some(format!("it holds {}", shown.join(", ")));
    }
    None
}

/// A secret's state in canonical form: its resource policy as a policy
/// document (AWS returns it as text, with its own spacing and order).
pub(crate) fn normalize_secret(fields: &mut Map<String, Value>) {
    if let Some(policy) = fields.get_mut("policy") {
        *policy = crate::normalize::policy(policy);
    }
}
