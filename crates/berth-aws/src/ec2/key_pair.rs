//! An EC2 key pair imported from a public key.

use async_trait::async_trait;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::ResourceType;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, NodeRequest, Outputs, ProviderResult};
use serde_json::json;

use super::{has_code, output, owned_filter, tag_map, tag_specification, Ec2Tags};
use crate::discover::{discovered, id_tag};
use crate::handler::{Handler, Tagger};
use crate::once::send_once;
use crate::util::{outputs, str_field};
use crate::{aws_error, Clients};

pub(crate) struct KeyPair;

#[async_trait]
impl Handler for KeyPair {
    fn kind(&self) -> Kind {
        Kind::KeyPair
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&Ec2Tags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["InvalidKeyPair.Duplicate"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let out = match c.ec2.describe_key_pairs().key_names(name).include_public_key(true).send().await {
            Ok(out) => out,
            Err(e) if has_code(&e, &["InvalidKeyPair.NotFound"]) => return Ok(None),
            Err(e) => return Err(aws_error(e)),
        };
        let Some(key) = out.key_pairs().first() else {
            return Ok(None);
        };
        let name = key.key_name().unwrap_or(name);
        Ok(Some(Live {
            state: json!({ "name": name, "public_key": key_essentials(key.public_key().unwrap_or_default()) }),
            outputs: outputs([("name", json!(name)), ("id", json!(key.key_pair_id().unwrap_or_default()))]),
            tags: Some(tag_map(key.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let public_key = str_field(req, "public_key")?;
        let call = c
            .ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(Blob::new(public_key.as_bytes()))
            .tag_specifications(tag_specification(ResourceType::KeyPair, req));
        let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
        Ok(outputs([("name", json!(name)), ("id", json!(out.key_pair_id().unwrap_or_default()))]))
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let name = output(live, "name").or_else(|_| str_field(req, "name"))?;
        match c.ec2.delete_key_pair().key_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if has_code(&e, &["InvalidKeyPair.NotFound"]) => Ok(()),
            Err(e) => Err(aws_error(e)),
        }
    }

    /// EC2 filters key pairs by tag.
    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let keys = c.ec2.describe_key_pairs().filters(owned_filter(stack)).send().await.map_err(aws_error)?;
        Ok(keys
            .key_pairs()
            .iter()
            .filter_map(|key| {
                let address = id_tag(key.tags().iter().map(|t| (t.key(), t.value())));
                discovered(address, Kind::KeyPair, json!({ "name": key.key_name() }))
            })
            .collect())
    }
}

/// Type and key material of an OpenSSH public key, without the comment AWS
/// (or the `.pub` file) may carry after them.
fn key_essentials(public_key: &str) -> String {
    public_key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::key_essentials;

    #[test]
    fn public_keys_compare_without_their_comment() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIkp me@host\n";
        assert_eq!(key_essentials(key), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIkp");
        assert_eq!(key_essentials(""), "");
    }
}
