//! An instance profile, holding (at most) one role.

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, NodeRequest, Outputs, ProviderResult};
use serde_json::json;

use super::{add_role, missing, owned_address, profile_roles, remove_role, sdk_tags, tag_map, IamTags, NO_SUCH_ENTITY};
use crate::handler::{fixed_field, retag, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, name_and_arn, opt_str, str_field};
use crate::{aws_error, Clients};

pub(crate) struct IamInstanceProfile;

#[async_trait]
impl Handler for IamInstanceProfile {
    fn kind(&self) -> Kind {
        Kind::IamInstanceProfile
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&IamTags::InstanceProfile)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["EntityAlreadyExists"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let found = absent_on(c.iam.get_instance_profile().instance_profile_name(name).send().await, NO_SUCH_ENTITY)?;
        let Some(profile) = found.as_ref().and_then(|out| out.instance_profile()) else {
            return Ok(None);
        };
        let mut state = json!({ "name": profile.instance_profile_name() });
        // An instance profile holds at most one role.
        if let Some(role) = profile.roles().first() {
            state["role"] = json!(role.role_name());
        }
        // The tags come with the profile; moto does not implement ListInstanceProfileTags.
        Ok(Some(Live {
            state,
            outputs: name_and_arn(profile.instance_profile_name(), profile.arn()),
            tags: Some(tag_map(profile.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let call = c.iam.create_instance_profile().instance_profile_name(name).set_tags(sdk_tags(&desired_tags(req))?);
        let out = send_once!(aws_sdk_iam, call).map_err(aws_error)?;
        let arn = out.instance_profile().map(|p| p.arn()).ok_or_else(|| missing(req, "instance profile ARN"))?;
        if let Some(role) = opt_str(req, "role") {
            add_role(c, name, role).await?;
        }
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
                "role" => {
                    let name = str_field(req, "name")?;
                    // A profile holds one role, so whatever is there goes first.
                    for old in profile_roles(c, name).await?.unwrap_or_default() {
                        remove_role(c, name, &old).await?;
                    }
                    if let Some(new) = opt_str(req, "role") {
                        add_role(c, name, new).await?;
                    }
                }
                "tags" => retag(&IamTags::InstanceProfile, c, req, live).await?,
                other => return Err(fixed_field(req, other)),
            }
        }
        // Neither the ARN nor the name changes in place.
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let name = str_field(req, "name")?;
        let Some(roles) = profile_roles(c, name).await? else {
            return Ok(());
        };
        for role in roles {
            remove_role(c, name, &role).await?;
        }
        let result = c.iam.delete_instance_profile().instance_profile_name(name).send().await;
        absent_on(result, NO_SUCH_ENTITY).map(drop)
    }

    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let mut found = Vec::new();
        let mut profiles = c.iam.list_instance_profiles().into_paginator().items().send();
        while let Some(profile) = profiles.next().await {
            let profile = profile.map_err(aws_error)?;
            // moto does not implement ListInstanceProfileTags; GetInstanceProfile carries the tags on both.
            let got = c.iam.get_instance_profile().instance_profile_name(profile.instance_profile_name()).send().await;
            let tags = got.map_err(aws_error)?.instance_profile.and_then(|p| p.tags).unwrap_or_default();
            if let Some(address) = owned_address(&tags, stack) {
                let identity = json!({ "name": profile.instance_profile_name() });
                found.push(Discovered { address, kind: Kind::IamInstanceProfile, identity });
            }
        }
        Ok(found)
    }
}
