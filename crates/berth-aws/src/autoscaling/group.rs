//! An Auto Scaling group: the instances of a cluster's capacity, launched
//! from the cluster's launch template.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, NodeRequest, Outputs, ProviderError, ProviderResult, STACK_TAG};
use serde_json::json;

use super::{group_tags, AutoscalingTags};
use crate::discover::{discovered, id_tag};
use crate::handler::{retag, Handler, Tagger};
use crate::once::send_once;
use crate::util::{desired_tags, int_field, name_and_arn, str_field, str_list, tags_from};
use crate::{aws_error, Clients};

/// Status of a group AWS is deleting (terminating its instances first).
const DELETING: &str = "Delete in progress";

/// How long a deletion may take: AWS terminates the group's instances first.
const DELETE_TIMEOUT: Duration = Duration::from_secs(600);

const DELETE_POLL: Duration = Duration::from_secs(5);

pub(crate) struct AutoscalingGroup;

#[async_trait]
impl Handler for AutoscalingGroup {
    fn kind(&self) -> Kind {
        Kind::AutoscalingGroup
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&AutoscalingTags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["AlreadyExists"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        // A group being deleted is as good as gone: it can no longer be updated.
        let Some(group) = describe(c, name).await?.filter(|g| g.status() != Some(DELETING)) else {
            return Ok(None);
        };
        let mut subnet_ids: Vec<&str> = group
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        subnet_ids.sort_unstable();
        let state = json!({
            "name": name,
            "launch_template_id": group.launch_template().and_then(|t| t.launch_template_id()).unwrap_or_default(),
            "min_size": group.min_size().unwrap_or_default(),
            "max_size": group.max_size().unwrap_or_default(),
            "desired_capacity": group.desired_capacity().unwrap_or_default(),
            "subnet_ids": subnet_ids,
        });
        let tags = tags_from(group.tags().iter().map(|t| (t.key(), t.value())));
        Ok(Some(Live { state, outputs: group_outputs(name, group.auto_scaling_group_arn()), tags: Some(tags) }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        // moto replaces a group created twice (AWS: AlreadyExists).
        let call = c
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(launch_template(str_field(req, "launch_template_id")?))
            .min_size(size(req, "min_size")?)
            .max_size(size(req, "max_size")?)
            .desired_capacity(size(req, "desired_capacity")?)
            .vpc_zone_identifier(zone_identifier(req))
            .set_tags(Some(group_tags(name, desired_tags(req))));
        send_once!(aws_sdk_autoscaling, call).map_err(aws_error)?;
        // CreateAutoScalingGroup returns nothing: the ARN comes from a describe.
        let group = describe(c, name).await?;
        Ok(group_outputs(name, group.as_ref().and_then(|g| g.auto_scaling_group_arn())))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let is_changed = |field: &str| changed.iter().any(|f| f == field);
        let mut call = c.autoscaling.update_auto_scaling_group().auto_scaling_group_name(name);
        if is_changed("launch_template_id") {
            call = call.launch_template(launch_template(str_field(req, "launch_template_id")?));
        }
        if is_changed("min_size") {
            call = call.min_size(size(req, "min_size")?);
        }
        if is_changed("max_size") {
            call = call.max_size(size(req, "max_size")?);
        }
        if is_changed("desired_capacity") {
            call = call.desired_capacity(size(req, "desired_capacity")?);
        }
        if is_changed("subnet_ids") {
            call = call.vpc_zone_identifier(zone_identifier(req));
        }
        if changed.iter().any(|f| f != "tags") {
            call.send().await.map_err(aws_error)?;
        }
        retag(&AutoscalingTags, c, req, live).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let name = str_field(req, "name")?;
        let result =
            c.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(name).force_delete(true).send().await;
        if let Err(e) = result {
            // Both AWS and moto say ValidationError for a missing group, and for
            // other problems too: only a describe tells them apart.
            let gone = e.code() == Some("ValidationError") && describe(c, name).await?.is_none();
            return if gone { Ok(()) } else { Err(aws_error(e)) };
        }
        // AWS keeps the group (status "Delete in progress") until its instances
        // are terminated, and a group of the same name cannot be created before
        // it is gone. moto deletes at once.
        let deadline = Instant::now() + DELETE_TIMEOUT;
        while describe(c, name).await?.is_some() {
            if Instant::now() >= deadline {
                return Err(ProviderError::new(format!(
                    "{}: auto scaling group {name} is still being deleted after {} s",
                    req.address,
                    DELETE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(DELETE_POLL).await;
        }
        Ok(())
    }

    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let filter =
            aws_sdk_autoscaling::types::Filter::builder().name(format!("tag:{STACK_TAG}")).values(stack).build();
        let groups = c.autoscaling.describe_auto_scaling_groups().filters(filter).send().await.map_err(aws_error)?;
        Ok(groups
            .auto_scaling_groups()
            .iter()
            .filter(|g| g.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(stack)))
            .filter_map(|g| {
                let address = id_tag(g.tags().iter().map(|t| (t.key(), t.value())));
                discovered(address, Kind::AutoscalingGroup, json!({ "name": g.auto_scaling_group_name() }))
            })
            .collect())
    }
}

/// The group as AWS lists it, deleting or not; an empty list means absent.
async fn describe(c: &Clients, name: &str) -> ProviderResult<Option<AutoScalingGroup>> {
    let out =
        c.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(name).send().await.map_err(aws_error)?;
    Ok(out.auto_scaling_groups().first().cloned())
}

fn group_outputs(name: &str, arn: Option<&str>) -> Outputs {
    name_and_arn(name, arn.unwrap_or_default())
}

/// New instances start from the template's default version, so a template
/// update (a new default version) applies without touching the group.
fn launch_template(id: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder().launch_template_id(id).version("$Default").build()
}

/// The desired subnets as the comma-separated list AWS takes.
fn zone_identifier(req: &NodeRequest<'_>) -> String {
    let mut subnet_ids = str_list(req, "subnet_ids");
    subnet_ids.sort();
    subnet_ids.join(",")
}

fn size(req: &NodeRequest<'_>, field: &str) -> ProviderResult<i32> {
    i32::try_from(int_field(req, field)?)
        .map_err(|_| ProviderError::new(format!("{}: `{field}` is out of range", req.address)))
}
