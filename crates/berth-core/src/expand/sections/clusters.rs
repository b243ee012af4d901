//! `clusters:`: ECS clusters and their EC2 capacity (launch template, auto scaling group, capacity provider).
//! The module holds the section's YAML types and its expansion.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::prelude::*;

/// An ECS cluster, optionally with EC2 capacity.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Refuse to delete or replace this resource (also when it is removed from the file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// EC2 container instances berth runs for the cluster; none by default (Fargate, or instances from elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// CloudWatch Container Insights for the cluster's tasks (metrics at extra
    /// cost); unset, the account's default applies and berth leaves it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_insights: Option<bool>,
    /// Codes of warnings not to report for this resource, such as `BRT011`; errors cannot be allowed (docs/checks.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// EC2 container instances: launch template, auto scaling group and capacity provider.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// EC2 instance type of the container instances (`t3.small`).
    pub instance_type: String,
    /// `ecs-optimized` (the current ECS-optimized AMI) or an AMI id.
    #[serde(default = "ecs_optimized")]
    pub ami: String,
    /// Fewest instances the auto scaling group keeps.
    pub min: u32,
    /// Most instances the auto scaling group may run.
    pub max: u32,
    /// Instances to run, between `min` and `max`.
    pub desired: u32,
    /// A key pair of this file, for SSH to the instances; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    /// Security groups of the instances: names in this file or `sg-` ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// A role of this file with `instance_profile: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_role: Option<String>,
}

fn ecs_optimized() -> String {
    "ecs-optimized".to_owned()
}

pub(crate) const SECTION: Section = Section {
    name: "clusters",
    outputs: &["name", "arn"],
    declared: |stack| declared(&stack.clusters, |r| (r.protect, &r.allow)),
    expand: |x| x.clusters(),
};

impl Expander<'_> {
    pub(in crate::expand) fn clusters(&mut self) {
        for (name, cluster) in &self.stack.clusters {
            let address = format!("clusters.{name}");
            let origin = ["clusters", name.as_str()];
            let mut desired = json!({ "name": name });
            if let Some(insights) = cluster.container_insights {
                desired["container_insights"] = json!(if insights { "enabled" } else { "disabled" });
            }
            self.push_tagged(address.clone(), Kind::EcsCluster, desired, None, &origin);
            let Some(capacity) = &cluster.capacity else { continue };
            self.capacity(name, &address, capacity);
        }
    }

    /// Launch template, auto scaling group and capacity provider of a cluster.
    fn capacity(&mut self, cluster: &str, address: &str, capacity: &model::Capacity) {
        let path = ["clusters", cluster, "capacity"];
        let image_id = if capacity.ami == "ecs-optimized" {
            let ami = format!("{address}.ami");
            self.push(ami.clone(), Kind::SsmParameter, json!({ "name": ECS_OPTIMIZED_AMI_PARAMETER }), None, &path);
            reference(&ami, "value")
        } else if capacity.ami.starts_with("ami-") {
            capacity.ami.clone()
        } else {
            self.error(
                &["clusters", cluster, "capacity", "ami"],
                format!("`{}` is not an AMI id", capacity.ami),
                Some("use `ecs-optimized` or an `ami-` id".into()),
            );
            return;
        };
        let mut template = json!({
            "name": format!("{cluster}-instances"),
            "image_id": image_id,
            "instance_type": capacity.instance_type,
            "user_data": format!("#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"),
        });
        if let Some(key) = &capacity.key_pair {
            if let Some(key_name) = self.name_or_external(
                "key_pairs",
                key,
                "name",
                |_| false,
                &["clusters", cluster, "capacity", "key_pair"],
            ) {
                template["key_name"] = json!(key_name);
            }
        }
        let groups: Vec<String> = capacity
            .security_groups
            .iter()
            .filter_map(|g| {
                self.name_or_external(
                    "security_groups",
                    g,
                    "id",
                    |s| s.starts_with("sg-"),
                    &["clusters", cluster, "capacity", "security_groups"],
                )
            })
            .collect();
        template["security_group_ids"] = json!(groups);
        if let Some(role) = &capacity.instance_role {
            let role_path = ["clusters", cluster, "capacity", "instance_role"];
            match self.stack.iam.roles.get(role) {
                Some(r) if r.instance_profile => {
                    template["instance_profile_arn"] =
                        json!(reference(&format!("iam.roles.{role}.instance_profile"), "arn"))
                }
                Some(_) => self.error(
                    &role_path,
                    format!("role `{role}` has no instance profile"),
                    Some(format!("add `instance_profile: true` to iam.roles.{role}")),
                ),
                None => {
                    self.lookup("iam.roles", role, &role_path);
                }
            }
        }
        if capacity.min > capacity.max || capacity.desired < capacity.min || capacity.desired > capacity.max {
            self.error(
                &path,
                format!(
                    "capacity needs min <= desired <= max, got min {} desired {} max {}",
                    capacity.min, capacity.desired, capacity.max
                ),
                None,
            );
        }
        let template_address = format!("{address}.launch_template");
        self.push_tagged(template_address.clone(), Kind::LaunchTemplate, template, None, &path);
        let asg_address = format!("{address}.autoscaling_group");
        let asg = json!({
            "name": format!("{cluster}-instances"),
            "launch_template_id": reference(&template_address, "id"),
            "min_size": capacity.min, "max_size": capacity.max, "desired_capacity": capacity.desired,
            "subnet_ids": reference(NETWORK, "subnet_ids"),
        });
        // Instances register with the cluster when they boot: it must exist first.
        self.push_tagged(asg_address.clone(), Kind::AutoscalingGroup, asg, None, &path)
            .extra_dependencies
            .insert(address.to_owned());
        let provider_address = format!("{address}.capacity_provider");
        // Capacity provider names may not start with "ecs", "aws" or "fargate".
        let provider =
            json!({ "name": format!("cp-{cluster}"), "autoscaling_group_arn": reference(&asg_address, "arn") });
        self.push_tagged(provider_address.clone(), Kind::CapacityProvider, provider, None, &path);
        let provider_name = reference(&provider_address, "name");
        let association = json!({
            "cluster": cluster,
            "capacity_providers": [provider_name],
            "default_strategy": [{ "capacity_provider": provider_name, "weight": 1, "base": 0 }],
        });
        self.push(
            format!("{address}.capacity_providers"),
            Kind::ClusterCapacityProviders,
            association,
            Some(address),
            &path,
        );
    }
}
