//! The read-only facts the pre-flight checks need from AWS (registered
//! container instances, env file objects, secrets). A secret's value is
//! never read: DescribeSecret only says it exists.

use async_trait::async_trait;
use berth_core::check::{Facts, Registered};
use berth_core::kind::Kind;
use berth_core::provider::{NodeRequest, Provider, ProviderResult};
use berth_core::rollout::Rollouts;
use serde_json::Value;

use crate::util::absent_on;
use crate::{aws_error, AwsProvider};

#[async_trait]
impl Facts for AwsProvider {
    async fn registered_instances(&self, cluster: &str) -> ProviderResult<Vec<Registered>> {
        // The same reads a rollout explains a placement failure with.
        let instances = Rollouts::instances(self, cluster).await?;
        Ok(instances
            .into_iter()
            .map(|i| Registered { instance: i.instance, memory_mib: i.registered_memory, cpu_units: i.registered_cpu })
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

    async fn policy_document(&self, arn: &str) -> ProviderResult<Option<Value>> {
        Ok(crate::iam::default_version(&self.clients, arn, arn).await?.map(|(_, document)| document))
    }

    async fn certificate_status(&self, arn: &str) -> ProviderResult<Option<String>> {
        let described = self.clients.acm.describe_certificate().certificate_arn(arn).send().await;
        let Some(out) = absent_on(described, &["ResourceNotFoundException"])? else { return Ok(None) };
        Ok(out.certificate().and_then(|c| c.status()).map(|status| status.as_str().to_owned()))
    }
}
