//! An IAM role with its trust policy; its managed-policy attachments and
//! inline policies are its children.

use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, LiveChild, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::{
    attached_policies, attachment, decode_document, delete_inline_policy, detach, document, inline_policy_names,
    missing, owned_address, remove_role, sdk_tags, tag_map, IamTags, NO_SUCH_ENTITY,
};
use crate::handler::{fixed_field, retag, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, name_and_arn, str_field};
use crate::{aws_error, Clients};

pub(crate) struct IamRole;

#[async_trait]
impl Handler for IamRole {
    fn kind(&self) -> Kind {
        Kind::IamRole
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&IamTags::Role)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["EntityAlreadyExists"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let found = absent_on(c.iam.get_role().role_name(name).send().await, NO_SUCH_ENTITY)?;
        let Some(role) = found.as_ref().and_then(|out| out.role()) else {
            return Ok(None);
        };
        let trust = role.assume_role_policy_document().ok_or_else(|| missing(req, "trust policy"))?;
        Ok(Some(Live {
            state: json!({ "name": role.role_name(), "assume_role_policy": decode_document(req, trust)? }),
            outputs: name_and_arn(role.role_name(), role.arn()),
            tags: Some(tag_map(role.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let call = c
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(document(req, "assume_role_policy")?)
            .set_tags(sdk_tags(&desired_tags(req))?);
        let out = send_once!(aws_sdk_iam, call).map_err(aws_error)?;
        let arn = out.role().map(|r| r.arn()).ok_or_else(|| missing(req, "role ARN"))?;
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
                "assume_role_policy" => {
                    c.iam
                        .update_assume_role_policy()
                        .role_name(str_field(req, "name")?)
                        .policy_document(document(req, "assume_role_policy")?)
                        .send()
                        .await
                        .map_err(aws_error)?;
                }
                "tags" => retag(&IamTags::Role, c, req, live).await?,
                other => return Err(fixed_field(req, other)),
            }
        }
        // Neither the ARN nor the name changes in place.
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        delete_role(c, str_field(req, "name")?).await
    }

    /// What the role holds: its managed-policy attachments and inline policies,
    /// so that those the file does not declare are removed. Documents are read
    /// only for inline policies the file does not declare (the others are read
    /// as nodes of their own), to show what a delete takes away.
    async fn children(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let role = str_field(req, "name")?;
        let mut children: Vec<LiveChild> = attached_policies(c, role)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|arn| attachment(role, &arn, policy_label(&arn)))
            .collect();
        for name in inline_policy_names(c, role).await? {
            let mut state = json!({ "role": role, "name": name });
            let is_declared = declared.iter().any(|d| d.get("name").and_then(Value::as_str) == Some(name.as_str()));
            if !is_declared {
                let result = c.iam.get_role_policy().role_name(role).policy_name(&name).send().await;
                if let Some(out) = absent_on(result, NO_SUCH_ENTITY)? {
                    state["document"] = decode_document(req, out.policy_document())?;
                }
            }
            let live = Live { state, outputs: Outputs::new(), tags: None };
            children.push(LiveChild {
                kind: Kind::IamRoleInlinePolicy,
                label: format!("inline_policies.{name}"),
                live,
            });
        }
        Ok(children)
    }

    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let mut found = Vec::new();
        let mut roles = c.iam.list_roles().into_paginator().items().send();
        while let Some(role) = roles.next().await {
            let role = role.map_err(aws_error)?;
            let tags = c.iam.list_role_tags().role_name(role.role_name()).send().await.map_err(aws_error)?;
            if let Some(address) = owned_address(tags.tags(), stack) {
                found.push(Discovered { address, kind: Kind::IamRole, identity: json!({ "name": role.role_name() }) });
            }
        }
        Ok(found)
    }
}

/// `managed_policies[NAME]` for AWS managed policies, `policies[NAME]` for
/// an account's own, as the file would list them.
fn policy_label(arn: &str) -> String {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    match arn.split(':').nth(4) {
        Some("aws") => format!("managed_policies[{name}]"),
        _ => format!("policies[{name}]"),
    }
}

/// Deletes a role. Its attachments, inline policies and instance profile
/// are separate nodes the engine deletes first; anything else still holding
/// the role (DeleteConflict) is released and the delete retried once.
async fn delete_role(c: &Clients, name: &str) -> ProviderResult<()> {
    match c.iam.delete_role().role_name(name).send().await {
        Err(e) if e.code() == Some("DeleteConflict") => {
            release_role(c, name).await?;
            absent_on(c.iam.delete_role().role_name(name).send().await, NO_SUCH_ENTITY).map(drop)
        }
        result => absent_on(result, NO_SUCH_ENTITY).map(drop),
    }
}

/// Detaches managed policies, deletes inline policies and removes the role
/// from instance profiles.
async fn release_role(c: &Clients, role: &str) -> ProviderResult<()> {
    for arn in attached_policies(c, role).await?.unwrap_or_default() {
        detach(c, role, &arn).await?;
    }
    for policy in inline_policy_names(c, role).await? {
        delete_inline_policy(c, role, &policy).await?;
    }
    let profiles: Vec<_> = c
        .iam
        .list_instance_profiles_for_role()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(aws_error)?;
    for profile in profiles {
        remove_role(c, profile.instance_profile_name(), role).await?;
    }
    Ok(())
}
