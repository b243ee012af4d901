//! `buckets:`: S3 buckets, their public access block, the policy admitting their readers, and the objects (env files) berth writes.
//! The module holds the section's YAML types and its expansion.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;
use crate::env_file::{env_values, misread_lines};

/// An S3 bucket and the objects berth manages in it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The bucket's global name (defaults to the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Block all public access (default true).
    #[serde(default = "crate::model::yes")]
    pub block_public_access: bool,
    /// Roles of this file (or role ARNs) that may read objects: the bucket policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<String>,
    /// Objects uploaded from files, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, BucketObject>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// An object uploaded from a local file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketObject {
    /// Path relative to the stack file.
    pub file: String,
    /// Plans show which keys changed, never values.
    #[serde(default)]
    pub sensitive: bool,
    /// The object's `Content-Type` (default `text/plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

pub(crate) const SECTION: Section = Section {
    name: "buckets",
    outputs: &["name", "arn"],
    declared: |stack| declared(&stack.buckets, |r| (r.protect, &r.allow)),
    expand: |x| x.buckets(),
};

impl Expander<'_> {
    pub(in crate::expand) fn buckets(&mut self) {
        for (key, bucket) in &self.stack.buckets {
            let address = format!("buckets.{key}");
            let origin = ["buckets", key.as_str()];
            let name = match &bucket.name {
                Some(name) => self.interpolate(name, &["buckets", key, "name"]),
                None => key.clone(),
            };
            self.push_tagged(address.clone(), Kind::S3Bucket, json!({ "name": name }), None, &origin);
            if bucket.block_public_access {
                let desired = json!({
                    "bucket": name, "block_public_acls": true, "ignore_public_acls": true,
                    "block_public_policy": true, "restrict_public_buckets": true,
                });
                self.push(
                    format!("{address}.public_access_block"),
                    Kind::S3PublicAccessBlock,
                    desired,
                    Some(&address),
                    &origin,
                );
            }
            if !bucket.readers.is_empty() {
                let path = ["buckets", key.as_str(), "readers"];
                let readers: Vec<String> = bucket
                    .readers
                    .iter()
                    .filter_map(|r| self.name_or_external("iam.roles", r, "arn", |s| s.starts_with("arn:"), &path))
                    .collect();
                let principals = if readers.len() == 1 { json!(readers[0]) } else { json!(readers) };
                let bucket_arn = format!("arn:aws:s3:::{name}");
                // Readers are allowed objects; nobody may reach the bucket without TLS.
                let mut statements = vec![json!({
                    "Sid": "BerthReaders", "Effect": "Allow", "Principal": { "AWS": principals },
                    "Action": "s3:GetObject", "Resource": format!("{bucket_arn}/*"),
                })];
                if !self.options.plain_http {
                    statements.push(json!({
                        "Sid": "BerthDenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                        "Action": "s3:*", "Resource": [bucket_arn.clone(), format!("{bucket_arn}/*")],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                    }));
                }
                let policy = json!({ "Version": "2012-10-17", "Statement": statements });
                self.push(
                    format!("{address}.policy"),
                    Kind::S3BucketPolicy,
                    json!({ "bucket": name, "policy": policy }),
                    Some(&address),
                    &path,
                );
            }
            for (object_key, object) in &bucket.objects {
                let path = ["buckets", key.as_str(), "objects", object_key.as_str(), "file"];
                let Some(content) = self.read_file(&object.file, &path, MAX_OBJECT_FILE_BYTES) else { continue };
                let object_at = &path[..4];
                let mut sensitive = object.sensitive;
                if !sensitive {
                    if let Some((values, what)) = credentials_in(&content) {
                        self.secrets.extend(values);
                        sensitive = true;
                        self.warn(
                            &codes::FILE_LOOKS_LIKE_CREDENTIALS,
                            &bucket.allow,
                            object_at,
                            format!(
                                "`{}` looks like it holds credentials ({what}) but is not marked sensitive; berth masks its values anyway",
                                object.file
                            ),
                            "add `sensitive: true` to this object (or keep credentials in Secrets Manager and use `secrets:`)",
                        );
                    }
                }
                if object_key.ends_with(".env") {
                    self.check_env_lines(&content, &object.file, &bucket.allow, object_at);
                }
                if sensitive {
                    self.secrets.extend(env_values(&content));
                }
                let content_type = object.content_type.clone().unwrap_or_else(|| "text/plain".into());
                let desired = json!({
                    "bucket": name, "key": object_key, "content": literal_text(&content), "content_type": content_type,
                });
                let node = self.push(
                    format!("{address}.objects[{object_key}]"),
                    Kind::S3Object,
                    desired,
                    Some(&address),
                    &path[..4],
                );
                if sensitive {
                    node.sensitive_fields.push("content".into());
                }
            }
        }
    }

    /// Warns about lines of an env file ECS would not read as `KEY=VALUE`
    /// (quoting no line: its text may be a secret).
    fn check_env_lines(&mut self, content: &str, file: &str, allow: &[String], path: &[&str]) {
        let bad: Vec<String> = misread_lines(content).iter().map(usize::to_string).collect();
        if bad.is_empty() {
            return;
        }
        let shown: Vec<&str> = bad.iter().take(5).map(String::as_str).collect();
        let more = if bad.len() > 5 { format!(" and {} more", bad.len() - 5) } else { String::new() };
        self.warn(
            &codes::ENV_FILE_LINE,
            allow,
            path,
            format!("`{file}`: line {}{more} is not KEY=VALUE; ECS ignores or misreads such lines", shown.join(", ")),
            "write each variable as NAME=value (a letter or `_` first, then letters, digits or `_`); comments start with #",
        );
    }
}
