//! The network the stack runs in, read as data: a VPC ("default" or an id)
//! and its subnets ("default" or a list).

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, ProviderError, ProviderResult};
use serde_json::{json, Value};

use super::{filter, has_code};
use crate::handler::DataSource;
use crate::util::{outputs, str_field, str_list};
use crate::{aws_error, Clients};

pub(crate) struct Network;

#[async_trait]
impl DataSource for Network {
    fn kind(&self) -> Kind {
        Kind::Network
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
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
