//! IAM: customer managed policies, roles with their managed-policy
//! attachments and inline policies, and instance profiles.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{EntityType, Tag};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use crate::once::send_once;
use crate::util::{absent_on, desired_tags, live_arn, opt_str, str_field, tag_changes};
use crate::{aws_error, Clients};

const NO_SUCH_ENTITY: &[&str] = &["NoSuchEntity"];

pub(crate) async fn read(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    match req.kind {
        Kind::IamPolicy => read_policy(c, req).await,
        Kind::IamRole => read_role(c, req).await,
        Kind::IamRolePolicyAttachment => read_attachment(c, req).await,
        Kind::IamRoleInlinePolicy => read_inline_policy(c, req).await,
        Kind::IamInstanceProfile => read_instance_profile(c, req).await,
        other => Err(not_iam(other)),
    }
}

pub(crate) async fn create(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    match req.kind {
        Kind::IamPolicy => {
            let name = str_field(req, "name")?;
            let call = c
                .iam
                .create_policy()
                .policy_name(name)
                .policy_document(document(req, "document")?)
                .set_tags(sdk_tags(&desired_tags(req))?);
            let out = send_once!(aws_sdk_iam, call).map_err(aws_error)?;
            let arn = out.policy().and_then(|p| p.arn()).ok_or_else(|| missing(req, "policy ARN"))?;
            Ok(named(name, arn))
        }
        Kind::IamRole => {
            let name = str_field(req, "name")?;
            let call = c
                .iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(document(req, "assume_role_policy")?)
                .set_tags(sdk_tags(&desired_tags(req))?);
            let out = send_once!(aws_sdk_iam, call).map_err(aws_error)?;
            let arn = out.role().map(|r| r.arn()).ok_or_else(|| missing(req, "role ARN"))?;
            Ok(named(name, arn))
        }
        Kind::IamRolePolicyAttachment => {
            let (role, arn) = (str_field(req, "role")?, str_field(req, "policy_arn")?);
            c.iam.attach_role_policy().role_name(role).policy_arn(arn).send().await.map_err(aws_error)?;
            Ok(Outputs::new())
        }
        Kind::IamRoleInlinePolicy => {
            put_inline_policy(c, req).await?;
            Ok(Outputs::new())
        }
        Kind::IamInstanceProfile => {
            let name = str_field(req, "name")?;
            let call =
                c.iam.create_instance_profile().instance_profile_name(name).set_tags(sdk_tags(&desired_tags(req))?);
            let out = send_once!(aws_sdk_iam, call).map_err(aws_error)?;
            let arn = out.instance_profile().map(|p| p.arn()).ok_or_else(|| missing(req, "instance profile ARN"))?;
            if let Some(role) = opt_str(req, "role") {
                add_role(c, name, role).await?;
            }
            Ok(named(name, arn))
        }
        other => Err(not_iam(other)),
    }
}

pub(crate) async fn update(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    for field in changed {
        match (req.kind, field.as_str()) {
            (Kind::IamPolicy, "document") => new_policy_version(c, req, live).await?,
            (Kind::IamRole, "assume_role_policy") => {
                c.iam
                    .update_assume_role_policy()
                    .role_name(str_field(req, "name")?)
                    .policy_document(document(req, "assume_role_policy")?)
                    .send()
                    .await
                    .map_err(aws_error)?;
            }
            (Kind::IamRoleInlinePolicy, "document") => put_inline_policy(c, req).await?,
            (Kind::IamInstanceProfile, "role") => {
                let name = str_field(req, "name")?;
                // A profile holds one role, so whatever is there goes first.
                for old in profile_roles(c, name).await?.unwrap_or_default() {
                    remove_role(c, name, &old).await?;
                }
                if let Some(new) = opt_str(req, "role") {
                    add_role(c, name, new).await?;
                }
            }
            (Kind::IamPolicy | Kind::IamRole | Kind::IamInstanceProfile, "tags") => retag(c, req, live).await?,
            (kind, field) => {
                return Err(ProviderError::new(format!(
                    "{}: `{field}` of a {kind} cannot be changed in place",
                    req.address
                )))
            }
        }
    }
    // No IAM output (ARN, name) changes in place.
    Ok(live.outputs.clone())
}

pub(crate) async fn delete(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    match req.kind {
        Kind::IamPolicy => delete_policy(c, req, live).await,
        Kind::IamRole => delete_role(c, str_field(req, "name")?).await,
        Kind::IamRolePolicyAttachment => {
            let (role, arn) = (str_field(req, "role")?, str_field(req, "policy_arn")?);
            detach(c, role, arn).await
        }
        Kind::IamRoleInlinePolicy => delete_inline_policy(c, str_field(req, "role")?, str_field(req, "name")?).await,
        Kind::IamInstanceProfile => {
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
        other => Err(not_iam(other)),
    }
}

// ---------------------------------------------------------------- children

/// What the role holds: its managed-policy attachments and inline policies,
/// so that those the file does not declare are removed. Documents are read
/// only for inline policies the file does not declare (the others are read
/// as nodes of their own), to show what a delete takes away.
pub(crate) async fn role_children(
    c: &Clients,
    req: &NodeRequest<'_>,
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
        children.push(LiveChild { kind: Kind::IamRoleInlinePolicy, label: format!("inline_policies.{name}"), live });
    }
    Ok(children)
}

/// The roles a customer managed policy is attached to, as attachments, so
/// that attachments to roles the file does not give it are removed.
pub(crate) async fn policy_attachments(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
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

fn attachment(role: &str, policy_arn: &str, label: String) -> LiveChild {
    let live = Live { state: json!({ "role": role, "policy_arn": policy_arn }), outputs: Outputs::new(), tags: None };
    LiveChild { kind: Kind::IamRolePolicyAttachment, label, live }
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

async fn inline_policy_names(c: &Clients, role: &str) -> ProviderResult<Vec<String>> {
    let names: Result<Vec<String>, _> =
        c.iam.list_role_policies().role_name(role).into_paginator().items().send().collect().await;
    Ok(absent_on(names, NO_SUCH_ENTITY)?.unwrap_or_default())
}

// ---------------------------------------------------------------- policies

async fn read_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let arn = policy_arn(c, name).await?;
    let Some(found) = absent_on(c.iam.get_policy().policy_arn(&arn).send().await, NO_SUCH_ENTITY)? else {
        return Ok(None);
    };
    let version =
        found.policy().and_then(|p| p.default_version_id()).ok_or_else(|| missing(req, "default policy version"))?;
    let out = c.iam.get_policy_version().policy_arn(&arn).version_id(version).send().await.map_err(aws_error)?;
    let text = out.policy_version().and_then(|v| v.document()).ok_or_else(|| missing(req, "policy document"))?;
    Ok(Some(Live {
        state: json!({ "name": name, "document": decode_document(req, text)? }),
        outputs: named(name, &arn),
        tags: Some(tag_map(found.policy().map(|p| p.tags()).unwrap_or_default())),
    }))
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

/// DeletePolicy refuses while non-default versions remain.
async fn delete_policy(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let arn = live_arn(req, live)?;
    let Some(versions) = absent_on(c.iam.list_policy_versions().policy_arn(arn).send().await, NO_SUCH_ENTITY)? else {
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

// ---------------------------------------------------------------- roles

async fn read_role(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let found = absent_on(c.iam.get_role().role_name(name).send().await, NO_SUCH_ENTITY)?;
    let Some(role) = found.as_ref().and_then(|out| out.role()) else {
        return Ok(None);
    };
    let trust = role.assume_role_policy_document().ok_or_else(|| missing(req, "trust policy"))?;
    Ok(Some(Live {
        state: json!({ "name": role.role_name(), "assume_role_policy": decode_document(req, trust)? }),
        outputs: named(role.role_name(), role.arn()),
        tags: Some(tag_map(role.tags())),
    }))
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

// ---------------------------------------------------------------- attachments

async fn read_attachment(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let (role, arn) = (str_field(req, "role")?, str_field(req, "policy_arn")?);
    let attached = attached_policies(c, role).await?.unwrap_or_default();
    Ok(attached.iter().any(|a| a == arn).then(|| Live {
        state: json!({ "role": role, "policy_arn": arn }),
        outputs: Outputs::new(),
        tags: None,
    }))
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

// ---------------------------------------------------------------- inline policies

async fn read_inline_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let (role, name) = (str_field(req, "role")?, str_field(req, "name")?);
    let result = c.iam.get_role_policy().role_name(role).policy_name(name).send().await;
    let Some(out) = absent_on(result, NO_SUCH_ENTITY)? else {
        return Ok(None);
    };
    Ok(Some(Live {
        state: json!({ "role": role, "name": name, "document": decode_document(req, out.policy_document())? }),
        outputs: Outputs::new(),
        tags: None,
    }))
}

async fn put_inline_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
    c.iam
        .put_role_policy()
        .role_name(str_field(req, "role")?)
        .policy_name(str_field(req, "name")?)
        .policy_document(document(req, "document")?)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}

async fn delete_inline_policy(c: &Clients, role: &str, name: &str) -> ProviderResult<()> {
    let result = c.iam.delete_role_policy().role_name(role).policy_name(name).send().await;
    absent_on(result, NO_SUCH_ENTITY).map(drop)
}

// ---------------------------------------------------------------- instance profiles

async fn read_instance_profile(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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
        outputs: named(profile.instance_profile_name(), profile.arn()),
        tags: Some(tag_map(profile.tags())),
    }))
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

// ---------------------------------------------------------------- shared

/// Adds and removes tags so that the resource's tags become the desired ones.
async fn retag(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let none = BTreeMap::new();
    let (upsert, remove) = tag_changes(live.tags.as_ref().unwrap_or(&none), &desired_tags(req));
    let name = str_field(req, "name")?;
    let iam = &c.iam;
    if let Some(tags) = sdk_tags(&upsert)? {
        let tags = Some(tags);
        match req.kind {
            Kind::IamPolicy => {
                let call = iam.tag_policy().policy_arn(live_arn(req, live)?);
                call.set_tags(tags).send().await.map_err(aws_error)?;
            }
            Kind::IamRole => {
                let call = iam.tag_role().role_name(name);
                call.set_tags(tags).send().await.map_err(aws_error)?;
            }
            Kind::IamInstanceProfile => {
                let call = iam.tag_instance_profile().instance_profile_name(name);
                call.set_tags(tags).send().await.map_err(aws_error)?;
            }
            other => return Err(not_iam(other)),
        }
    }
    if !remove.is_empty() {
        let keys = Some(remove);
        match req.kind {
            Kind::IamPolicy => {
                let call = iam.untag_policy().policy_arn(live_arn(req, live)?);
                call.set_tag_keys(keys).send().await.map_err(aws_error)?;
            }
            Kind::IamRole => {
                let call = iam.untag_role().role_name(name);
                call.set_tag_keys(keys).send().await.map_err(aws_error)?;
            }
            Kind::IamInstanceProfile => {
                let call = iam.untag_instance_profile().instance_profile_name(name);
                call.set_tag_keys(keys).send().await.map_err(aws_error)?;
            }
            other => return Err(not_iam(other)),
        }
    }
    Ok(())
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
    if let Ok(doc) = serde_json::from_str(text) {
        return Ok(doc);
    }
    urlencoding::decode(text)
        .ok()
        .and_then(|decoded| serde_json::from_str(&decoded).ok())
        .ok_or_else(|| ProviderError::new(format!("{}: IAM returned a policy document that is not JSON", req.address)))
}

fn named(name: &str, arn: &str) -> Outputs {
    Outputs::from([("name".to_owned(), json!(name)), ("arn".to_owned(), json!(arn))])
}

fn missing(req: &NodeRequest<'_>, what: &str) -> ProviderError {
    ProviderError::new(format!("{}: IAM returned no {what}", req.address))
}

fn not_iam(kind: Kind) -> ProviderError {
    ProviderError::new(format!("{kind} is not an IAM resource"))
}
