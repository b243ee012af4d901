//! `key_pairs:`: EC2 key pairs imported from public key files.
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

/// An EC2 key pair imported from a public key file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPair {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Path of the OpenSSH public key, relative to the stack file.
    pub public_key: String,
}

pub(crate) const SECTION: Section = Section {
    name: "key_pairs",
    outputs: &["name", "id"],
    declared: |stack| declared(&stack.key_pairs, |r| (r.protect, &[])),
    expand: |x| x.key_pairs(),
};

impl Expander<'_> {
    pub(in crate::expand) fn key_pairs(&mut self) {
        for (name, kp) in &self.stack.key_pairs {
            let path = ["key_pairs", name.as_str(), "public_key"];
            let Some(text) = self.read_file(&kp.public_key, &path, MAX_PUBLIC_KEY_BYTES) else { continue };
            let public_key: Vec<&str> = text.split_whitespace().take(2).collect();
            if public_key.len() < 2 || !public_key[0].starts_with("ssh-") && !public_key[0].starts_with("ecdsa-") {
                self.error(
                    &path,
                    format!("`{}` is not an OpenSSH public key", kp.public_key),
                    Some("use the `.pub` file written by ssh-keygen".into()),
                );
                continue;
            }
            let desired = json!({ "name": name, "public_key": literal_text(&public_key.join(" ")) });
            self.push_tagged(format!("key_pairs.{name}"), Kind::KeyPair, desired, None, &["key_pairs", name]);
        }
    }
}
