//! Secrets Manager: the secrets berth manages, and the service's tagging calls.
//! A secret's value never appears in an error message, and a generated one
//! is never read back.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use berth_core::provider::{Live, NodeRequest, ProviderResult};

use crate::handler::Tagger;
use crate::util::live_arn;
use crate::{aws_error, Clients};

pub(crate) mod secret;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[&secret::Secret];

/// Values berth generated for secrets in this process: no stack file holds
/// them, so the binary masks them from its logs through [`generated_values`].
static GENERATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The secret values berth generated in this process (`generate:`), to mask
/// wherever it prints, should a log line or an AWS error ever quote the
/// request that stores one (the SDK's trace logs show no request body today).
pub fn generated_values() -> Vec<String> {
    GENERATED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn remember_generated(value: &str) {
    GENERATED.lock().unwrap_or_else(|e| e.into_inner()).push(value.to_owned());
}

fn sdk_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Secrets Manager tags a secret by its ARN (or name).
pub(crate) struct SecretsTags;

#[async_trait]
impl Tagger for SecretsTags {
    fn target<'a>(&self, req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
        live_arn(req, live)
    }

    async fn tag(&self, c: &Clients, arn: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        c.secrets.tag_resource().secret_id(arn).set_tags(Some(sdk_tags(tags))).send().await.map_err(aws_error)?;
        Ok(())
    }

    async fn untag(&self, c: &Clients, arn: &str, keys: Vec<String>) -> ProviderResult<()> {
        c.secrets.untag_resource().secret_id(arn).set_tag_keys(Some(keys)).send().await.map_err(aws_error)?;
        Ok(())
    }
}
