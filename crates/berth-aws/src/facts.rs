//! The read-only facts the pre-flight checks need from AWS (registered
//! container instances, env file objects, secrets). A secret's value is
//! never read: DescribeSecret only says it exists.

use async_trait::async_trait;
use aws_sdk_ecs::types::{ContainerInstanceStatus, Resource};
use berth_core::check::{Facts, Registered};
use berth_core::kind::Kind;
use berth_core::provider::{NodeRequest, Provider, ProviderResult};
use serde_json::Value;

use crate::util::absent_on;
use crate::{aws_error, AwsProvider};

fn integer(resources: &[Resource], name: &str) -> i64 {
    resources.iter().find(|r| r.name() == Some(name)).map(|r| i64::from(r.integer_value())).unwrap_or_default()
}

#[async_trait]
impl Facts for AwsProvider {
    async fn registered_instances(&self, cluster: &str) -> ProviderResult<Vec<Registered>> {
        let ecs = &self.clients.ecs;
        let listed =
            ecs.list_container_instances().cluster(cluster).status(ContainerInstanceStatus::Active).send().await;
        let Some(listed) = absent_on(listed, &["ClusterNotFoundException"])? else { return Ok(Vec::new()) };
        if listed.container_instance_arns().is_empty() {
            return Ok(Vec::new());
        }
        let described = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(listed.container_instance_arns().to_vec()))
            .send()
            .await
            .map_err(aws_error)?;
        Ok(described
            .container_instances()
            .iter()
            .map(|i| Registered {
                instance: i.ec2_instance_id().unwrap_or("unknown instance").to_owned(),
                memory_mib: integer(i.registered_resources(), "MEMORY"),
                cpu_units: integer(i.registered_resources(), "CPU"),
            })
            .collect())
    }

    async fn object_exists(&self, bucket: &str, key: &str) -> ProviderResult<bool> {
        let head = self.clients.s3.head_object().bucket(bucket).key(key).send().await;
        // HEAD has no body: a missing object or bucket is a bare 404.
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(e) => Err(aws_error(e)),
        }
    }

    async fn subnet_zones(&self, network: &Value) -> ProviderResult<Vec<String>> {
        let req = NodeRequest { stack: "", address: "network", kind: Kind::Network, desired: network };
        let Some(live) = self.read(&req).await? else { return Ok(Vec::new()) };
        let ids: Vec<String> = live
            .outputs
            .get("subnet_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let subnets = self.clients.ec2.describe_subnets().set_subnet_ids(Some(ids)).send().await.map_err(aws_error)?;
        Ok(subnets.subnets().iter().filter_map(|s| s.availability_zone().map(str::to_owned)).collect())
    }

    async fn object_keys(&self, bucket: &str) -> ProviderResult<Vec<String>> {
        let listed = self.clients.s3.list_objects_v2().bucket(bucket).send().await;
        let Some(listed) = absent_on(listed, &["NoSuchBucket"])? else { return Ok(Vec::new()) };
        Ok(listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect())
    }

    async fn secret_exists(&self, id: &str) -> ProviderResult<bool> {
        let described = self.clients.secrets.describe_secret().secret_id(id).send().await;
        Ok(absent_on(described, &["ResourceNotFoundException"])?.is_some())
    }
}
