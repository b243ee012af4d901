//! EC2: the network the stack runs in (data), key pairs, security groups and
//! their ingress rules, and launch templates.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{
    Filter, InstanceType, IpPermission, IpRange, LaunchTemplateIamInstanceProfileSpecificationRequest,
    RequestLaunchTemplateData, ResourceType, SecurityGroupRule, SecurityGroupRuleRequest, SecurityGroupRuleUpdate, Tag,
    TagSpecification, UserIdGroupPair,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use berth_core::expand::ingress_label;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use crate::once::send_once;
use crate::util::{client_token, desired_tags, int_field, opt_str, str_field, str_list, tag_changes};
use crate::{aws_error, Clients};

/// How long to keep retrying a security group delete that AWS refuses because
/// network interfaces (of a deleted load balancer or terminated instances)
/// still use it; they take a few minutes to go away.
const GROUP_IN_USE_TIMEOUT: Duration = Duration::from_secs(300);
const GROUP_IN_USE_RETRY: Duration = Duration::from_secs(5);

pub(crate) async fn read(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    match req.kind {
        Kind::Network => read_network(c, req).await,
        Kind::KeyPair => read_key_pair(c, req).await,
        Kind::SecurityGroup => read_security_group(c, req).await,
        Kind::SecurityGroupIngress => read_ingress(c, req).await,
        Kind::LaunchTemplate => read_launch_template(c, req).await,
        _ => Err(not_ec2(req)),
    }
}

pub(crate) async fn create(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    match req.kind {
        Kind::KeyPair => create_key_pair(c, req).await,
        Kind::SecurityGroup => create_security_group(c, req).await,
        Kind::SecurityGroupIngress => create_ingress(c, req).await,
        Kind::LaunchTemplate => create_launch_template(c, req).await,
        _ => Err(not_ec2(req)),
    }
}

pub(crate) async fn update(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    match req.kind {
        // Everything but the tags of these is a replace field.
        Kind::KeyPair | Kind::SecurityGroup => {
            retag(c, output(live, "id")?, req, live).await?;
            Ok(live.outputs.clone())
        }
        Kind::SecurityGroupIngress => {
            if changed.iter().any(|f| f == "description") {
                update_ingress_description(c, req, live).await?;
            }
            Ok(live.outputs.clone())
        }
        Kind::LaunchTemplate => update_launch_template(c, req, live, changed).await,
        _ => Err(not_ec2(req)),
    }
}

pub(crate) async fn delete(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    match req.kind {
        Kind::KeyPair => delete_key_pair(c, req, live).await,
        Kind::SecurityGroup => delete_security_group(c, live).await,
        Kind::SecurityGroupIngress => delete_ingress(c, req, live).await,
        Kind::LaunchTemplate => delete_launch_template(c, live).await,
        _ => Err(not_ec2(req)),
    }
}

// ---------------------------------------------------------------- network

async fn read_network(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let vpc = str_field(req, "vpc")?;
    let Some(vpc_id) = find_vpc(c, vpc).await? else {
        return Ok(None);
    };
    let subnet_ids = match req.desired.get("subnets") {
        Some(Value::String(s)) if s == "default" => default_subnets(c, &vpc_id).await?,
        Some(Value::Array(_)) => match listed_subnets(c, req, &vpc_id).await? {
            Some(ids) => ids,
            None => return Ok(None),
        },
        _ => {
            return Err(ProviderError::new(format!(
                "{}: `subnets` must be \"default\" or a list of subnet ids",
                req.address
            )))
        }
    };
    let state = json!({ "vpc": req.desired.get("vpc"), "subnets": req.desired.get("subnets") });
    Ok(Some(Live {
        state,
        outputs: outputs([("vpc_id", json!(vpc_id)), ("subnet_ids", json!(subnet_ids))]),
        tags: None,
    }))
}

/// The id of the VPC named by `vpc` ("default" or an id), if it exists.
async fn find_vpc(c: &Clients, vpc: &str) -> ProviderResult<Option<String>> {
    let call = c.ec2.describe_vpcs();
    let call = if vpc == "default" { call.filters(filter("is-default", "true")) } else { call.vpc_ids(vpc) };
    match call.send().await {
        Ok(out) => Ok(out.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_owned)),
        Err(e) if has_code(&e, &["InvalidVpcID.NotFound"]) => Ok(None),
        Err(e) => Err(aws_error(e)),
    }
}

/// The VPC's default-for-AZ subnets, or all of its subnets when none is
/// flagged (a default VPC always has them; another VPC usually has none).
async fn default_subnets(c: &Clients, vpc_id: &str) -> ProviderResult<Vec<String>> {
    let subnets: Vec<_> = c
        .ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_error)?;
    if subnets.is_empty() {
        return Err(ProviderError::new(format!("VPC {vpc_id} has no subnets")));
    }
    let flagged = subnets.iter().any(|s| s.default_for_az() == Some(true));
    let mut ids: Vec<String> = subnets
        .iter()
        .filter(|s| !flagged || s.default_for_az() == Some(true))
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// The listed subnets, sorted, or `None` when one does not exist.
async fn listed_subnets(c: &Clients, req: &NodeRequest<'_>, vpc_id: &str) -> ProviderResult<Option<Vec<String>>> {
    let mut ids = str_list(req, "subnets");
    if ids.is_empty() {
        return Err(ProviderError::new(format!("{}: `subnets` lists no subnet", req.address)));
    }
    let out = match c.ec2.describe_subnets().set_subnet_ids(Some(ids.clone())).send().await {
        Ok(out) => out,
        Err(e) if has_code(&e, &["InvalidSubnetID.NotFound"]) => return Ok(None),
        Err(e) => return Err(aws_error(e)),
    };
    if let Some(stray) = out.subnets().iter().find(|s| s.vpc_id() != Some(vpc_id)) {
        return Err(ProviderError::new(format!(
            "{}: subnet {} is in VPC {}, not in {vpc_id}",
            req.address,
            stray.subnet_id().unwrap_or_default(),
            stray.vpc_id().unwrap_or_default()
        )));
    }
    ids.sort();
    Ok(Some(ids))
}

// ---------------------------------------------------------------- key pairs

async fn read_key_pair(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

/// Type and key material of an OpenSSH public key, without the comment AWS
/// (or the `.pub` file) may carry after them.
fn key_essentials(public_key: &str) -> String {
    public_key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

async fn create_key_pair(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
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

async fn delete_key_pair(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let name = output(live, "name").or_else(|_| str_field(req, "name"))?;
    match c.ec2.delete_key_pair().key_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if has_code(&e, &["InvalidKeyPair.NotFound"]) => Ok(()),
        Err(e) => Err(aws_error(e)),
    }
}

// ---------------------------------------------------------------- security groups

async fn read_security_group(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let vpc_id = str_field(req, "vpc_id")?;
    let out = c
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", name))
        .send()
        .await
        .map_err(aws_error)?;
    let Some(group) = out.security_groups().first() else {
        return Ok(None);
    };
    Ok(Some(Live {
        state: json!({
            "name": group.group_name().unwrap_or(name),
            "description": group.description().unwrap_or_default(),
            "vpc_id": group.vpc_id().unwrap_or(vpc_id),
        }),
        outputs: outputs([("id", json!(group.group_id().unwrap_or_default())), ("name", json!(name))]),
        tags: Some(tag_map(group.tags())),
    }))
}

async fn create_security_group(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let name = str_field(req, "name")?;
    let call = c
        .ec2
        .create_security_group()
        .group_name(name)
        .description(str_field(req, "description")?)
        .vpc_id(str_field(req, "vpc_id")?)
        .tag_specifications(tag_specification(ResourceType::SecurityGroup, req));
    let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
    Ok(outputs([("id", json!(out.group_id().unwrap_or_default())), ("name", json!(name))]))
}

async fn delete_security_group(c: &Clients, live: &Live) -> ProviderResult<()> {
    let id = output(live, "id")?;
    let deadline = Instant::now() + GROUP_IN_USE_TIMEOUT;
    loop {
        match c.ec2.delete_security_group().group_id(id).send().await {
            Ok(_) => return Ok(()),
            Err(e) if has_code(&e, &["InvalidGroup.NotFound"]) => return Ok(()),
            // moto never reports this (its deletes are lax); AWS does until the
            // network interfaces using the group are gone.
            Err(e) if has_code(&e, &["DependencyViolation"]) && Instant::now() < deadline => {
                tokio::time::sleep(GROUP_IN_USE_RETRY).await;
            }
            Err(e) => return Err(aws_error(e)),
        }
    }
}

// ---------------------------------------------------------------- ingress rules

/// The identifying fields of an ingress rule's desired state.
struct Ingress<'a> {
    group_id: &'a str,
    protocol: &'a str,
    from_port: i32,
    to_port: i32,
    source: Source<'a>,
}

enum Source<'a> {
    Cidr(&'a str),
    Group(&'a str),
}

impl<'a> Ingress<'a> {
    fn from_desired(req: &'a NodeRequest<'_>) -> ProviderResult<Self> {
        let source = match (opt_str(req, "cidr"), opt_str(req, "source_group_id")) {
            (Some(cidr), None) => Source::Cidr(cidr),
            (None, Some(group)) => Source::Group(group),
            _ => {
                return Err(ProviderError::new(format!(
                    "{}: an ingress rule needs exactly one of `cidr` or `source_group_id`",
                    req.address
                )))
            }
        };
        Ok(Ingress {
            group_id: str_field(req, "group_id")?,
            protocol: str_field(req, "protocol")?,
            from_port: port(req, "from_port")?,
            to_port: port(req, "to_port")?,
            source,
        })
    }

    /// Whether `rule` is this ingress rule.
    fn matches(&self, rule: &SecurityGroupRule) -> bool {
        let source_matches = match self.source {
            Source::Cidr(cidr) => rule.cidr_ipv4() == Some(cidr),
            Source::Group(group) => rule.referenced_group_info().and_then(|g| g.group_id()) == Some(group),
        };
        rule.is_egress() == Some(false)
            && self.same_traffic(rule.ip_protocol(), rule.from_port(), rule.to_port())
            && source_matches
    }

    /// Whether AWS's protocol and ports are this rule's. AWS drops the ports
    /// of an all-protocols rule (reads back -1), so they are not compared then.
    fn same_traffic(&self, protocol: Option<&str>, from: Option<i32>, to: Option<i32>) -> bool {
        protocol == Some(self.protocol)
            && (self.protocol == "-1" || (from == Some(self.from_port) && to == Some(self.to_port)))
    }

    fn permission(&self, description: Option<&str>) -> IpPermission {
        let permission =
            IpPermission::builder().ip_protocol(self.protocol).from_port(self.from_port).to_port(self.to_port);
        match self.source {
            Source::Cidr(cidr) => permission
                .ip_ranges(IpRange::builder().cidr_ip(cidr).set_description(description.map(str::to_owned)).build()),
            Source::Group(group) => permission.user_id_group_pairs(
                UserIdGroupPair::builder().group_id(group).set_description(description.map(str::to_owned)).build(),
            ),
        }
        .build()
    }

    fn rule_request(&self, description: &str) -> SecurityGroupRuleRequest {
        let request = SecurityGroupRuleRequest::builder()
            .ip_protocol(self.protocol)
            .from_port(self.from_port)
            .to_port(self.to_port)
            .description(description);
        match self.source {
            Source::Cidr(cidr) => request.cidr_ipv4(cidr),
            Source::Group(group) => request.referenced_group_id(group),
        }
        .build()
    }
}

fn port(req: &NodeRequest<'_>, field: &str) -> ProviderResult<i32> {
    i32::try_from(int_field(req, field)?)
        .map_err(|_| ProviderError::new(format!("{}: `{field}` is out of range", req.address)))
}

async fn read_ingress(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let ingress = Ingress::from_desired(req)?;
    let Some(rule) = find_rule(c, &ingress).await? else {
        return Ok(None);
    };
    // An empty description is one that was removed (see update_ingress_description).
    let description = match rule.description() {
        Some(description) => Some(description.to_owned()),
        None => group_pair_description(c, &ingress).await?,
    }
    .filter(|d| !d.is_empty());
    // The desired ports, not AWS's -1, for an all-protocols rule: see `matches`.
    let mut state = json!({
        "group_id": ingress.group_id,
        "protocol": ingress.protocol,
        "from_port": ingress.from_port,
        "to_port": ingress.to_port,
    });
    match ingress.source {
        Source::Cidr(cidr) => state["cidr"] = json!(cidr),
        Source::Group(group) => state["source_group_id"] = json!(group),
    }
    if let Some(description) = description {
        state["description"] = json!(description);
    }
    let id = rule.security_group_rule_id().unwrap_or_default();
    Ok(Some(Live { state, outputs: outputs([("id", json!(id))]), tags: None }))
}

async fn find_rule(c: &Clients, ingress: &Ingress<'_>) -> ProviderResult<Option<SecurityGroupRule>> {
    let rules = group_rules(c, ingress.group_id).await?.unwrap_or_default();
    Ok(rules.into_iter().find(|r| ingress.matches(r)))
}

/// Every rule of the group, `None` when the group does not exist.
async fn group_rules(c: &Clients, group_id: &str) -> ProviderResult<Option<Vec<SecurityGroupRule>>> {
    let rules = c
        .ec2
        .describe_security_group_rules()
        .filters(filter("group-id", group_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    match rules {
        Ok(rules) => Ok(Some(rules)),
        Err(e) if has_code(&e, &["InvalidGroup.NotFound", "InvalidGroupId.Malformed"]) => Ok(None),
        Err(e) => Err(aws_error(e)),
    }
}

/// The group's live ingress rules, in the desired state's shape, so that
/// those the file does not declare are deleted.
pub(crate) async fn ingress_rules(c: &Clients, group: &Live) -> ProviderResult<Vec<LiveChild>> {
    let group_id = output(group, "id")?;
    let rules = group_rules(c, group_id).await?.unwrap_or_default();
    Ok(rules.iter().filter(|r| r.is_egress() == Some(false)).map(|rule| live_ingress(group_id, rule)).collect())
}

fn live_ingress(group_id: &str, rule: &SecurityGroupRule) -> LiveChild {
    let protocol = rule.ip_protocol().unwrap_or("-1");
    let (from, to) = (rule.from_port().unwrap_or(-1), rule.to_port().unwrap_or(-1));
    let mut state = json!({ "group_id": group_id, "protocol": protocol, "from_port": from, "to_port": to });
    let sources = [
        ("cidr", rule.cidr_ipv4()),
        ("source_group_id", rule.referenced_group_info().and_then(|g| g.group_id())),
        ("cidr_ipv6", rule.cidr_ipv6()),
        ("prefix_list_id", rule.prefix_list_id()),
    ];
    let (field, source) = sources.into_iter().find_map(|(f, v)| Some((f, v?))).unwrap_or(("cidr", "?"));
    state[field] = json!(source);
    if let Some(description) = rule.description().filter(|d| !d.is_empty()) {
        state["description"] = json!(description);
    }
    let id = rule.security_group_rule_id().unwrap_or_default();
    LiveChild {
        kind: Kind::SecurityGroupIngress,
        label: ingress_label(protocol, from.into(), to.into(), source),
        live: Live { state, outputs: outputs([("id", json!(id))]), tags: None },
    }
}

/// The description of a rule from another security group, as
/// DescribeSecurityGroups has it. moto differs from AWS here: its
/// DescribeSecurityGroupRules leaves out the description of such rules when
/// they were created by AuthorizeSecurityGroupIngress, but the group's
/// UserIdGroupPairs keep it. On AWS this only runs for rules that really have
/// no description, and finds none. moto reports a description removed by
/// ModifySecurityGroupRules as an empty one, which does not come here.
async fn group_pair_description(c: &Clients, ingress: &Ingress<'_>) -> ProviderResult<Option<String>> {
    let Source::Group(source) = ingress.source else {
        return Ok(None);
    };
    let out = c.ec2.describe_security_groups().group_ids(ingress.group_id).send().await.map_err(aws_error)?;
    Ok(out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| ingress.same_traffic(p.ip_protocol(), p.from_port(), p.to_port()))
        .flat_map(|p| p.user_id_group_pairs())
        .find(|pair| pair.group_id() == Some(source))
        .and_then(|pair| pair.description())
        .map(str::to_owned))
}

async fn create_ingress(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let ingress = Ingress::from_desired(req)?;
    let call = c
        .ec2
        .authorize_security_group_ingress()
        .group_id(ingress.group_id)
        .ip_permissions(ingress.permission(opt_str(req, "description")));
    let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
    let id = match out.security_group_rules().first().and_then(|r| r.security_group_rule_id()) {
        Some(id) => id.to_owned(),
        // Older endpoints do not return the new rule: look it up.
        None => find_rule(c, &ingress)
            .await?
            .and_then(|r| r.security_group_rule_id().map(str::to_owned))
            .unwrap_or_default(),
    };
    Ok(outputs([("id", json!(id))]))
}

/// The description is the only field of a rule that changes in place.
async fn update_ingress_description(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let ingress = Ingress::from_desired(req)?;
    // An empty description removes it: the field would otherwise be left as it was.
    let description = opt_str(req, "description").unwrap_or_default();
    let update = SecurityGroupRuleUpdate::builder()
        .security_group_rule_id(output(live, "id")?)
        .security_group_rule(ingress.rule_request(description))
        .build();
    c.ec2
        .modify_security_group_rules()
        .group_id(ingress.group_id)
        .security_group_rules(update)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}

async fn delete_ingress(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let group_id = match live.state.get("group_id").and_then(Value::as_str) {
        Some(id) => id,
        None => str_field(req, "group_id")?,
    };
    let result = c
        .ec2
        .revoke_security_group_ingress()
        .group_id(group_id)
        .security_group_rule_ids(output(live, "id")?)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // moto answers InvalidPermission.NotFound for a rule id that is gone.
        Err(e)
            if has_code(
                &e,
                &["InvalidSecurityGroupRuleId.NotFound", "InvalidPermission.NotFound", "InvalidGroup.NotFound"],
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(e)),
    }
}

// ---------------------------------------------------------------- launch templates

async fn read_launch_template(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    let name = str_field(req, "name")?;
    let out = match c.ec2.describe_launch_templates().launch_template_names(name).send().await {
        Ok(out) => out,
        Err(e) if has_code(&e, &["InvalidLaunchTemplateName.NotFoundException"]) => return Ok(None),
        Err(e) => return Err(aws_error(e)),
    };
    let Some(template) = out.launch_templates().first() else {
        return Ok(None);
    };
    let id = template.launch_template_id().unwrap_or_default();
    let versions = c
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Default")
        .send()
        .await
        .map_err(aws_error)?;
    let data = versions.launch_template_versions().first().and_then(|v| v.launch_template_data());
    let mut security_group_ids: Vec<&str> =
        data.map(|d| d.security_group_ids().iter().map(String::as_str).collect()).unwrap_or_default();
    security_group_ids.sort_unstable();
    let user_data = data.and_then(|d| d.user_data()).map(decode_user_data).unwrap_or_default();
    let mut state = json!({
        "name": name,
        "image_id": data.and_then(|d| d.image_id()).unwrap_or_default(),
        "instance_type": data.and_then(|d| d.instance_type()).map(|t| t.as_str()).unwrap_or_default(),
        "security_group_ids": security_group_ids,
        "user_data": user_data,
    });
    if let Some(key_name) = data.and_then(|d| d.key_name()) {
        state["key_name"] = json!(key_name);
    }
    if let Some(arn) = data.and_then(|d| d.iam_instance_profile()).and_then(|p| p.arn()) {
        state["instance_profile_arn"] = json!(arn);
    }
    Ok(Some(Live {
        state,
        outputs: template_outputs(id, name, template.latest_version_number()),
        tags: Some(resource_tags(c, id).await?),
    }))
}

fn decode_user_data(encoded: &str) -> String {
    match BASE64.decode(encoded.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => encoded.to_owned(),
    }
}

fn template_outputs(id: &str, name: &str, latest_version: Option<i64>) -> Outputs {
    let latest = latest_version.map(|v| v.to_string()).unwrap_or_default();
    outputs([("id", json!(id)), ("name", json!(name)), ("latest_version", json!(latest))])
}

/// The whole launch template data: a new version starts from nothing, not
/// from the previous one (moto ignores SourceVersion anyway).
fn template_data(req: &NodeRequest<'_>) -> ProviderResult<RequestLaunchTemplateData> {
    let user_data = opt_str(req, "user_data").filter(|u| !u.is_empty()).map(|u| BASE64.encode(u));
    let profile = opt_str(req, "instance_profile_arn")
        .map(|arn| LaunchTemplateIamInstanceProfileSpecificationRequest::builder().arn(arn).build());
    Ok(RequestLaunchTemplateData::builder()
        .image_id(str_field(req, "image_id")?)
        .instance_type(InstanceType::from(str_field(req, "instance_type")?))
        .set_key_name(opt_str(req, "key_name").map(str::to_owned))
        .set_security_group_ids(Some(str_list(req, "security_group_ids")))
        .set_iam_instance_profile(profile)
        .set_user_data(user_data)
        .build())
}

async fn create_launch_template(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let name = str_field(req, "name")?;
    let call = c
        .ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(template_data(req)?)
        .tag_specifications(tag_specification(ResourceType::LaunchTemplate, req))
        .client_token(client_token(req));
    let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
    let template = out.launch_template();
    let id = template.and_then(|t| t.launch_template_id()).unwrap_or_default();
    Ok(template_outputs(id, name, template.and_then(|t| t.latest_version_number())))
}

async fn update_launch_template(
    c: &Clients,
    req: &NodeRequest<'_>,
    live: &Live,
    changed: &[String],
) -> ProviderResult<Outputs> {
    let id = output(live, "id")?;
    let mut outputs = live.outputs.clone();
    if changed.iter().any(|f| f != "tags") {
        // A lost answer fails the update rather than making a second version;
        // the next plan sees whether the first one was made.
        let call =
            c.ec2.create_launch_template_version().launch_template_id(id).launch_template_data(template_data(req)?);
        let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
        let version = out.launch_template_version().and_then(|v| v.version_number()).ok_or_else(|| {
            ProviderError::new(format!("{}: AWS did not return the new launch template version", req.address))
        })?;
        c.ec2
            .modify_launch_template()
            .launch_template_id(id)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(aws_error)?;
        outputs.insert("latest_version".into(), json!(version.to_string()));
    }
    retag(c, id, req, live).await?;
    Ok(outputs)
}

async fn delete_launch_template(c: &Clients, live: &Live) -> ProviderResult<()> {
    match c.ec2.delete_launch_template().launch_template_id(output(live, "id")?).send().await {
        Ok(_) => Ok(()),
        // AWS says InvalidLaunchTemplateId.NotFound; moto answers with the name's code.
        Err(e)
            if has_code(&e, &["InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException"]) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(e)),
    }
}

// ---------------------------------------------------------------- helpers

fn not_ec2(req: &NodeRequest<'_>) -> ProviderError {
    ProviderError::new(format!("{}: {} is not an EC2 kind", req.address, req.kind))
}

fn has_code<E: ProvideErrorMetadata>(err: &E, codes: &[&str]) -> bool {
    err.code().is_some_and(|code| codes.contains(&code))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn outputs<const N: usize>(pairs: [(&str, Value); N]) -> Outputs {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A string output of the live resource (its id), needed to act on it.
fn output<'a>(live: &'a Live, key: &str) -> ProviderResult<&'a str> {
    live.outputs
        .get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ProviderError::new(format!("the live resource has no `{key}`")))
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    key_values(tags.iter().map(|t| (t.key(), t.value())))
}

fn key_values<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> BTreeMap<String, String> {
    pairs.filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned()))).collect()
}

fn tag_specification(resource_type: ResourceType, req: &NodeRequest<'_>) -> TagSpecification {
    TagSpecification::builder().resource_type(resource_type).set_tags(Some(ec2_tags(desired_tags(req)))).build()
}

fn ec2_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// A resource's current tags. Used for launch templates, whose
/// DescribeLaunchTemplates tags are, on moto (unlike AWS), those it was created
/// with: CreateTags and DeleteTags do not show there, only here.
async fn resource_tags(c: &Clients, resource_id: &str) -> ProviderResult<BTreeMap<String, String>> {
    let tags: Vec<_> = c
        .ec2
        .describe_tags()
        .filters(filter("resource-id", resource_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_error)?;
    Ok(key_values(tags.iter().map(|t| (t.key(), t.value()))))
}

/// Brings the resource's tags from `live` to the desired ones.
async fn retag(c: &Clients, resource_id: &str, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let (upsert, remove) = tag_changes(live.tags.as_ref().unwrap_or(&BTreeMap::new()), &desired_tags(req));
    if !upsert.is_empty() {
        c.ec2.create_tags().resources(resource_id).set_tags(Some(ec2_tags(upsert))).send().await.map_err(aws_error)?;
    }
    if !remove.is_empty() {
        let tags = remove.into_iter().map(|k| Tag::builder().key(k).build()).collect();
        c.ec2.delete_tags().resources(resource_id).set_tags(Some(tags)).send().await.map_err(aws_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{decode_user_data, key_essentials};

    #[test]
    fn public_keys_compare_without_their_comment() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIkp me@host\n";
        assert_eq!(key_essentials(key), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIkp");
        assert_eq!(key_essentials(""), "");
    }

    #[test]
    fn user_data_is_decoded_and_kept_when_not_base64() {
        assert_eq!(decode_user_data("IyEvYmluL2Jhc2gK"), "#!/bin/bash\n");
        assert_eq!(decode_user_data("#!/bin/bash"), "#!/bin/bash");
    }
}
