//! A VPC security group; its ingress rules are its children.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::ingress::live_rules;
use super::{filter, has_code, output, tag_map, tag_specification, Ec2Tags};
use crate::handler::{Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{outputs, str_field};
use crate::{aws_error, Clients};

/// How long to keep retrying a security group delete that AWS refuses because
/// network interfaces (of a deleted load balancer or terminated instances)
/// still use it; they take a few minutes to go away.
const GROUP_IN_USE_TIMEOUT: Duration = Duration::from_secs(300);

const GROUP_IN_USE_RETRY: Duration = Duration::from_secs(5);

pub(crate) struct SecurityGroup;

#[async_trait]
impl Handler for SecurityGroup {
    fn kind(&self) -> Kind {
        Kind::SecurityGroup
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&Ec2Tags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["InvalidGroup.Duplicate"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
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

    async fn delete(&self, c: &Clients, _req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
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

    /// The group's live ingress rules, so that those the file does not
    /// declare are deleted.
    async fn children(
        &self,
        c: &Clients,
        _parent: &NodeRequest<'_>,
        live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        live_rules(c, output(live, "id")?).await
    }

    /// The tagging API names a group by its id; reading it takes its name and VPC.
    async fn identify(&self, c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if (arn.service, arn.resource_type) != ("ec2", "security-group") {
            return Ok(None);
        }
        let groups = c.ec2.describe_security_groups().group_ids(arn.path).send().await.map_err(aws_error)?;
        Ok(groups.security_groups().first().map(|g| json!({ "name": g.group_name(), "vpc_id": g.vpc_id() })))
    }
}
