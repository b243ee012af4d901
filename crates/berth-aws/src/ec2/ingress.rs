//! One ingress rule of a security group: only its description changes in place.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, SecurityGroupRule, SecurityGroupRuleRequest, SecurityGroupRuleUpdate, UserIdGroupPair,
};
use berth_core::expand::ingress_label;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{json, Value};

use super::{filter, has_code, output};
use crate::handler::Handler;
use crate::once::send_once;
use crate::util::{int_field, opt_str, outputs, str_field};
use crate::{aws_error, Clients};

pub(crate) struct SecurityGroupIngress;

#[async_trait]
impl Handler for SecurityGroupIngress {
    fn kind(&self) -> Kind {
        Kind::SecurityGroupIngress
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["InvalidPermission.Duplicate"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let ingress = Ingress::from_desired(req)?;
        let Some(rule) = find_rule(c, &ingress).await? else {
            return Ok(None);
        };
        // An empty description is one that was removed (see update_description).
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

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
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

    /// Every other field of a rule is one the engine replaces it for.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        if changed.iter().any(|f| f == "description") {
            update_description(c, req, live).await?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
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
}

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

/// The group's live ingress rules, in the desired state's shape.
pub(super) async fn live_rules(c: &Clients, group_id: &str) -> ProviderResult<Vec<LiveChild>> {
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

/// The description is the only field of a rule that changes in place.
async fn update_description(c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
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
