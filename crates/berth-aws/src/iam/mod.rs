//! IAM: customer managed policies, roles with their managed-policy
//! attachments and inline policies, and instance profiles; what they share
//! (tagging calls per entity type, policy documents, the calls that tie roles
//! to policies and profiles).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult, ID_TAG, STACK_TAG};
use serde_json::{json, Value};

use crate::handler::Tagger;
use crate::once::send_once;
use crate::util::{absent_on, live_arn, str_field};
use crate::{aws_error, Clients};

pub(crate) mod attachment;
pub(crate) mod inline_policy;
pub(crate) mod instance_profile;
pub(crate) mod policy;
pub(crate) mod role;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[
    &policy::IamPolicy,
    &role::IamRole,
    &attachment::IamRolePolicyAttachment,
    &inline_policy::IamRoleInlinePolicy,
    &instance_profile::IamInstanceProfile,
];

const NO_SUCH_ENTITY: &[&str] = &["NoSuchEntity"];

/// IAM's tagging calls are per entity type: a policy is tagged by its ARN,
/// a role or instance profile by its name.
pub(crate) enum IamTags {
    Policy,
    Role,
    InstanceProfile,
}

#[async_trait]
impl Tagger for IamTags {
    fn target<'a>(&self, req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
        match self {
            IamTags::Policy => live_arn(req, live),
            IamTags::Role | IamTags::InstanceProfile => str_field(req, "name"),
        }
    }

    async fn tag(&self, c: &Clients, target: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let tags = sdk_tags(&tags)?;
        let iam = &c.iam;
        match self {
            IamTags::Policy => {
                iam.tag_policy().policy_arn(target).set_tags(tags).send().await.map_err(aws_error)?;
            }
            IamTags::Role => {
                iam.tag_role().role_name(target).set_tags(tags).send().await.map_err(aws_error)?;
            }
            IamTags::InstanceProfile => {
                let call = iam.tag_instance_profile().instance_profile_name(target);
                call.set_tags(tags).send().await.map_err(aws_error)?;
            }
        }
        Ok(())
    }

    async fn untag(&self, c: &Clients, target: &str, keys: Vec<String>) -> ProviderResult<()> {
        let keys = Some(keys);
        let iam = &c.iam;
        match self {
            IamTags::Policy => {
                iam.untag_policy().policy_arn(target).set_tag_keys(keys).send().await.map_err(aws_error)?;
            }
            IamTags::Role => {
                iam.untag_role().role_name(target).set_tag_keys(keys).send().await.map_err(aws_error)?;
            }
            IamTags::InstanceProfile => {
                let call = iam.untag_instance_profile().instance_profile_name(target);
                call.set_tag_keys(keys).send().await.map_err(aws_error)?;
            }
        }
        Ok(())
    }
}

/// Tags in the SDK's shape; `None` when there are none, so that no empty
/// list is sent.
fn sdk_tags(tags: &BTreeMap<String, String>) -> ProviderResult<Option<Vec<Tag>>> {
    if tags.is_empty() {
        return Ok(None);
    }
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
    tags.collect::<Result<_, _>>().map(Some).map_err(|e| ProviderError::new(format!("invalid tag: {e}")))
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

/// The address an IAM entity's tags give it in `stack`, when they say it is `stack`'s.
fn owned_address(tags: &[Tag], stack: &str) -> Option<String> {
    let mine = tags.iter().any(|t| t.key() == STACK_TAG && t.value() == stack);
    mine.then(|| tags.iter().find(|t| t.key() == ID_TAG).map(|t| t.value().to_owned())).flatten()
}

/// A desired policy document as the JSON text IAM takes.
fn document(req: &NodeRequest<'_>, field: &str) -> ProviderResult<String> {
    match req.desired.get(field) {
        Some(doc @ Value::Object(_)) => Ok(doc.to_string()),
        _ => Err(ProviderError::new(format!("{}: desired state lacks policy object `{field}`", req.address))),
    }
}

/// Parses a policy document as IAM returns it: URL-encoded from GetRole and
/// GetRolePolicy, but raw JSON from GetPolicyVersion (moto; AWS encodes that
/// one too), so raw JSON is tried first.
fn decode_document(req: &NodeRequest<'_>, text: &str) -> ProviderResult<Value> {
    parse_document(req.address, text)
}

fn parse_document(what: &str, text: &str) -> ProviderResult<Value> {
    if let Ok(doc) = serde_json::from_str(text) {
        return Ok(doc);
    }
    urlencoding::decode(text)
        .ok()
        .and_then(|decoded| serde_json::from_str(&decoded).ok())
        .ok_or_else(|| ProviderError::new(format!("{what}: IAM returned a policy document that is not JSON")))
}

/// Managed policy `arn` and the document of its default version, `None` when
/// IAM does not hold it; `what` names it in errors.
pub(crate) async fn default_version(
    c: &Clients,
    arn: &str,
    what: &str,
) -> ProviderResult<Option<(aws_sdk_iam::types::Policy, Value)>> {
    let Some(found) = absent_on(c.iam.get_policy().policy_arn(arn).send().await, NO_SUCH_ENTITY)? else {
        return Ok(None);
    };
    let no = |part: &str| ProviderError::new(format!("{what}: IAM returned no {part}"));
    let policy = found.policy.ok_or_else(|| no("policy"))?;
    let version = policy.default_version_id().ok_or_else(|| no("default policy version"))?;
    let out = c.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(aws_error)?;
    let text = out.policy_version().and_then(|v| v.document()).ok_or_else(|| no("policy document"))?;
    let document = parse_document(what, text)?;
    Ok(Some((policy, document)))
}

fn missing(req: &NodeRequest<'_>, what: &str) -> ProviderError {
    ProviderError::new(format!("{}: IAM returned no {what}", req.address))
}

// ---------------------------------------------------------------- roles, policies and profiles together

fn attachment(role: &str, policy_arn: &str, label: String) -> LiveChild {
    let live = Live { state: json!({ "role": role, "policy_arn": policy_arn }), outputs: Outputs::new(), tags: None };
    LiveChild { kind: Kind::IamRolePolicyAttachment, label, live }
}

/// ARNs of the managed policies attached to `role`, `None` when the role
/// does not exist.
async fn attached_policies(c: &Clients, role: &str) -> ProviderResult<Option<Vec<String>>> {
    let pages = c.iam.list_attached_role_policies().role_name(role).into_paginator().items().send();
    let policies: Result<Vec<_>, _> = pages.collect().await;
    let Some(policies) = absent_on(policies, NO_SUCH_ENTITY)? else {
        return Ok(None);
    };
    Ok(Some(policies.iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect()))
}

async fn detach(c: &Clients, role: &str, policy_arn: &str) -> ProviderResult<()> {
    let result = c.iam.detach_role_policy().role_name(role).policy_arn(policy_arn).send().await;
    absent_on(result, NO_SUCH_ENTITY).map(drop)
}

async fn inline_policy_names(c: &Clients, role: &str) -> ProviderResult<Vec<String>> {
    let names: Result<Vec<String>, _> =
        c.iam.list_role_policies().role_name(role).into_paginator().items().send().collect().await;
    Ok(absent_on(names, NO_SUCH_ENTITY)?.unwrap_or_default())
}

async fn delete_inline_policy(c: &Clients, role: &str, name: &str) -> ProviderResult<()> {
    let result = c.iam.delete_role_policy().role_name(role).policy_name(name).send().await;
    absent_on(result, NO_SUCH_ENTITY).map(drop)
}

/// Names of the roles in the instance profile, `None` when it does not exist.
async fn profile_roles(c: &Clients, name: &str) -> ProviderResult<Option<Vec<String>>> {
    let found = absent_on(c.iam.get_instance_profile().instance_profile_name(name).send().await, NO_SUCH_ENTITY)?;
    Ok(found
        .as_ref()
        .and_then(|out| out.instance_profile())
        .map(|profile| profile.roles().iter().map(|role| role.role_name().to_owned()).collect()))
}

/// A profile holds one role: a blind repeat of this call fails with
/// LimitExceeded, so a lost answer is left to the caller to read back.
async fn add_role(c: &Clients, profile: &str, role: &str) -> ProviderResult<()> {
    let call = c.iam.add_role_to_instance_profile().instance_profile_name(profile).role_name(role);
    send_once!(aws_sdk_iam, call).map_err(aws_error)?;
    Ok(())
}

async fn remove_role(c: &Clients, profile: &str, role: &str) -> ProviderResult<()> {
    let result = c.iam.remove_role_from_instance_profile().instance_profile_name(profile).role_name(role).send().await;
    absent_on(result, NO_SUCH_ENTITY).map(drop)
}
