//! A customer managed IAM policy, with the attachments that give it to roles.

use async_trait::async_trait;
use aws_sdk_iam::types::{EntityType, PolicyScopeType};
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use super::{
    attachment, default_version, document, missing, owned_address, sdk_tags, tag_map, IamTags, NO_SUCH_ENTITY,
};
use crate::handler::{fixed_field, retag, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, live_arn, name_and_arn, str_field};
use crate::{aws_error, Clients};

pub(crate) struct IamPolicy;

#[async_trait]
impl Handler for IamPolicy {
    fn kind(&self) -> Kind {
        Kind::IamPolicy
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&IamTags::Policy)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["EntityAlreadyExists"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let arn = policy_arn(c, name).await?;
        let Some((policy, document)) = default_version(c, &arn, req.address).await? else { return Ok(None) };
        Ok(Some(Live {
            state: json!({ "name": name, "document": document }),
            outputs: name_and_arn(name, arn.as_str()),
            tags: Some(tag_map(policy.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let call = c
            .iam
            .create_policy()
            .policy_name(name)
            .policy_document(document(req, "document")?)
            .set_tags(sdk_tags(&desired_tags(req))?);
        let out = send_once!(aws_sdk_iam, call).map_err(aws_error)?;
        let arn = out.policy().and_then(|p| p.arn()).ok_or_else(|| missing(req, "policy ARN"))?;
        Ok(name_and_arn(name, arn))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        for field in changed {
            match field.as_str() {
                "document" => new_policy_version(c, req, live).await?,
                "tags" => retag(&IamTags::Policy, c, req, live).await?,
                other => return Err(fixed_field(req, other)),
            }
        }
        // Neither the ARN nor the name changes in place.
        Ok(live.outputs.clone())
    }

    /// DeletePolicy refuses while non-default versions remain.
    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let arn = live_arn(req, live)?;
        let Some(versions) = absent_on(c.iam.list_policy_versions().policy_arn(arn).send().await, NO_SUCH_ENTITY)?
        else {
            return Ok(());
        };
        for version in versions.versions().iter().filter(|v| !v.is_default_version()) {
            if let Some(id) = version.version_id() {
                let result = c.iam.delete_policy_version().policy_arn(arn).version_id(id).send().await;
                absent_on(result, NO_SUCH_ENTITY)?;
            }
        }
        absent_on(c.iam.delete_policy().policy_arn(arn).send().await, NO_SUCH_ENTITY).map(drop)
    }

    /// The roles a customer managed policy is attached to, as attachments, so
    /// that attachments to roles the file does not give it are removed.
    async fn children(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let arn = live_arn(req, live)?;
        let pages: Result<Vec<_>, _> = c
            .iam
            .list_entities_for_policy()
            .policy_arn(arn)
            .entity_filter(EntityType::Role)
            .into_paginator()
            .send()
            .collect()
            .await;
        let pages = absent_on(pages, NO_SUCH_ENTITY)?.unwrap_or_default();
        Ok(pages
            .iter()
            .flat_map(|page| page.policy_roles())
            .filter_map(|r| r.role_name())
            .map(|role| attachment(role, arn, format!("attachments[{role}]")))
            .collect())
    }

    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let mut found = Vec::new();
        let mut policies = c.iam.list_policies().scope(PolicyScopeType::Local).into_paginator().items().send();
        while let Some(policy) = policies.next().await {
            let policy = policy.map_err(aws_error)?;
            let Some(arn) = policy.arn() else { continue };
            let tags = c.iam.list_policy_tags().policy_arn(arn).send().await.map_err(aws_error)?;
            if let Some(address) = owned_address(tags.tags(), stack) {
                let identity = json!({ "name": policy.policy_name() });
                found.push(Discovered { address, kind: Kind::IamPolicy, identity });
            }
        }
        Ok(found)
    }
}

/// A customer managed policy's ARN, from the caller's account and partition.
async fn policy_arn(c: &Clients, name: &str) -> ProviderResult<String> {
    let who = c.sts.get_caller_identity().send().await.map_err(aws_error)?;
    let account = who.account().ok_or_else(|| ProviderError::new("STS returned no account id"))?;
    let partition = who.arn().and_then(|arn| arn.split(':').nth(1)).filter(|p| !p.is_empty()).unwrap_or("aws");
    Ok(format!("arn:{partition}:iam::{account}:policy/{name}"))
}

/// A policy keeps at most five versions: the oldest non-default one makes
/// room for the new default.
async fn new_policy_version(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    const MAX_VERSIONS: usize = 5;
    let arn = live_arn(req, live)?;
    let versions = c.iam.list_policy_versions().policy_arn(arn).send().await.map_err(aws_error)?;
    let versions = versions.versions();
    if versions.len() >= MAX_VERSIONS {
        let oldest = versions.iter().filter(|v| !v.is_default_version()).min_by_key(|v| v.create_date().copied());
        if let Some(id) = oldest.and_then(|v| v.version_id()) {
            c.iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(aws_error)?;
        }
    }
    // A lost answer fails the update rather than making a second version.
    let call =
        c.iam.create_policy_version().policy_arn(arn).policy_document(document(req, "document")?).set_as_default(true);
    send_once!(aws_sdk_iam, call).map_err(aws_error)?;
    Ok(())
}
