//! An ECS service: created once (a client token), updated in place, scaled
//! in before it is deleted; the autoscaling of its desired count is its child.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, LoadBalancer,
    NetworkConfiguration, PropagateTags, Service, ServiceField,
};
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderResult, ENV_DIGEST_TAG};
use serde_json::{json, Value};

use super::{ecs_tags, get_i32, get_items, get_str, get_strings, service_autoscaling, tag_map, EcsTags};
use crate::handler::{retag, Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, client_token, desired_tags, int_field, invalid, opt_str, outputs, str_field, Shape};
use crate::{aws_error, Clients};

/// Error codes ECS gives for a service (or its cluster) that is not there.
const SERVICE_MISSING: &[&str] = &["ClusterNotFoundException", "ServiceNotFoundException", "ServiceNotActiveException"];

pub(crate) struct EcsService;

#[async_trait]
impl Handler for EcsService {
    fn kind(&self) -> Kind {
        Kind::EcsService
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&EcsTags)
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let cluster = str_field(req, "cluster")?;
        let described =
            c.ecs.describe_services().cluster(cluster).services(name).include(ServiceField::Tags).send().await;
        let Some(out) = absent_on(described, SERVICE_MISSING)? else {
            return Ok(None);
        };
        // A missing service is a MISSING failure; a deleted one stays listed as INACTIVE.
        let Some(service) =
            out.services().iter().find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
        else {
            return Ok(None);
        };
        Ok(Some(Live {
            state: service_state(service, cluster),
            outputs: service_outputs(service),
            tags: Some(tag_map(service.tags())),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let cluster = str_field(req, "cluster")?;
        let deployment = desired_deployment(req);
        // The client token makes a repeated CreateService return the first one's
        // service on AWS; moto ignores it and replaces the service.
        let call = c
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(str_field(req, "task_definition")?)
            .desired_count(desired_count(req)?)
            .set_launch_type(opt_str(req, "launch_type").map(LaunchType::from))
            .set_load_balancers(Some(desired_load_balancers(req)))
            .set_network_configuration(desired_network(req)?)
            .set_deployment_configuration(deployment.clone())
            .set_health_check_grace_period_seconds(grace_period(req))
            .enable_execute_command(execute_command(req))
            .set_tags(Some(ecs_tags(desired_tags(req))))
            .propagate_tags(PropagateTags::None)
            .client_token(client_token(req));
        let out = send_once!(aws_sdk_ecs, call).map_err(aws_error)?;
        let service = out.service().ok_or_else(|| invalid(req, "CreateService returned no service"))?;
        // moto drops deploymentConfiguration, healthCheckGracePeriodSeconds and
        // enableExecuteCommand from CreateService (AWS keeps them) but stores
        // them from UpdateService; setting them again is a no-op on AWS.
        if let Some(deployment) = deployment {
            c.ecs
                .update_service()
                .cluster(cluster)
                .service(name)
                .deployment_configuration(deployment)
                .set_health_check_grace_period_seconds(grace_period(req))
                .enable_execute_command(execute_command(req))
                .send()
                .await
                .map_err(aws_error)?;
        }
        Ok(service_outputs(service))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        let has = |field: &str| changed.iter().any(|f| f == field);
        let mut outputs = live.outputs.clone();
        let in_place = [
            "task_definition",
            "desired_count",
            "deployment",
            "load_balancers",
            "network_configuration",
            "health_check_grace_period_seconds",
            "enable_execute_command",
        ];
        // New environment file contents reach running tasks only through a new deployment.
        let env_digest = |tags: Option<&std::collections::BTreeMap<String, String>>| {
            tags.and_then(|t| t.get(ENV_DIGEST_TAG)).cloned()
        };
        let redeploy = has("tags") && env_digest(Some(&desired_tags(req))) != env_digest(live.tags.as_ref());
        if redeploy || in_place.into_iter().any(has) {
            let mut call = c
                .ecs
                .update_service()
                .cluster(str_field(req, "cluster")?)
                .service(str_field(req, "name")?)
                .force_new_deployment(redeploy);
            if has("task_definition") {
                call = call.task_definition(str_field(req, "task_definition")?);
            }
            if has("desired_count") {
                call = call.desired_count(desired_count(req)?);
            }
            if has("deployment") {
                call = call.set_deployment_configuration(desired_deployment(req));
            }
            if has("load_balancers") {
                // An empty list detaches the service from its target groups.
                call = call.set_load_balancers(Some(desired_load_balancers(req)));
            }
            if has("network_configuration") {
                call = call.set_network_configuration(desired_network(req)?);
            }
            if has("health_check_grace_period_seconds") {
                call = call.health_check_grace_period_seconds(grace_period(req).unwrap_or(0));
            }
            if has("enable_execute_command") {
                call = call.enable_execute_command(execute_command(req));
            }
            let out = call.send().await.map_err(aws_error)?;
            if let Some(service) = out.service() {
                outputs = service_outputs(service);
            }
        }
        if has("tags") {
            retag(&EcsTags, c, req, live).await?;
        }
        Ok(outputs)
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let name = str_field(req, "name")?;
        let cluster = str_field(req, "cluster")?;
        // Scale in first so tasks drain from their target groups before the
        // service goes; force covers a rollout still in progress.
        let scaled = c.ecs.update_service().cluster(cluster).service(name).desired_count(0).send().await;
        if absent_on(scaled, SERVICE_MISSING)?.is_none() {
            return Ok(());
        }
        let deleted = c.ecs.delete_service().cluster(cluster).service(name).force(true).send().await;
        absent_on(deleted, SERVICE_MISSING).map(drop)
    }

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if (arn.service, arn.resource_type) != ("ecs", "service") {
            return Ok(None);
        }
        let (cluster, name) = arn.path.split_once('/').unwrap_or(("default", arn.path));
        Ok(Some(json!({ "name": name, "cluster": cluster })))
    }

    /// The autoscaling of the service's desired count, when it has one, so
    /// that one the file no longer declares is deregistered.
    async fn children(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        _live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let (cluster, name) = (str_field(req, "cluster")?, str_field(req, "name")?);
        Ok(service_autoscaling::service_child(c, req, cluster, name).await?.into_iter().collect())
    }
}

fn service_state(service: &Service, cluster: &str) -> Value {
    let cluster = service.cluster_arn().and_then(|arn| arn.rsplit('/').next()).unwrap_or(cluster);
    let deployment = service.deployment_configuration().map(|d| {
        let breaker = d
            .deployment_circuit_breaker()
            .map(|b| Shape::default().set("enable", b.enable()).set("rollback", b.rollback()).build());
        Shape::default()
            .opt("minimum_healthy_percent", d.minimum_healthy_percent())
            .opt("maximum_percent", d.maximum_percent())
            .opt("circuit_breaker", breaker)
            .build()
    });
    let load_balancers = service.load_balancers().iter().map(|lb| {
        Shape::default()
            .opt("target_group_arn", lb.target_group_arn())
            .opt("container_name", lb.container_name())
            .opt("container_port", lb.container_port())
            .build()
    });
    let network = service.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|vpc| {
        Shape::default()
            .set("subnets", vpc.subnets())
            .set("security_groups", vpc.security_groups())
            .set("assign_public_ip", vpc.assign_public_ip() == Some(&AssignPublicIp::Enabled))
            .build()
    });
    Shape::default()
        .opt("name", service.service_name())
        .set("cluster", cluster)
        .opt("network_configuration", network)
        .opt("task_definition", service.task_definition())
        .set("desired_count", service.desired_count())
        .opt("launch_type", service.launch_type().map(LaunchType::as_str))
        .opt("deployment", deployment)
        .list("load_balancers", load_balancers)
        .opt("health_check_grace_period_seconds", service.health_check_grace_period_seconds())
        .set("enable_execute_command", service.enable_execute_command())
        .build()
}

fn service_outputs(service: &Service) -> Outputs {
    outputs([("arn", service.service_arn().into()), ("name", service.service_name().into())])
}

fn desired_deployment(req: &NodeRequest<'_>) -> Option<DeploymentConfiguration> {
    let deployment = req.desired.get("deployment")?;
    // Always sent, so that a breaker the file no longer has is switched off.
    let breaker = deployment.get("circuit_breaker");
    let flag = |key: &str| breaker.and_then(|b| b.get(key)).and_then(Value::as_bool).unwrap_or(false);
    let circuit_breaker = DeploymentCircuitBreaker::builder().enable(flag("enable")).rollback(flag("rollback")).build();
    Some(
        DeploymentConfiguration::builder()
            .set_minimum_healthy_percent(get_i32(deployment, "minimum_healthy_percent"))
            .set_maximum_percent(get_i32(deployment, "maximum_percent"))
            .deployment_circuit_breaker(circuit_breaker)
            .build(),
    )
}

fn grace_period(req: &NodeRequest<'_>) -> Option<i32> {
    get_i32(req.desired, "health_check_grace_period_seconds")
}

fn execute_command(req: &NodeRequest<'_>) -> bool {
    req.desired.get("enable_execute_command").and_then(Value::as_bool).unwrap_or(false)
}

/// The awsvpc configuration of an awsvpc service, `None` for another.
fn desired_network(req: &NodeRequest<'_>) -> ProviderResult<Option<NetworkConfiguration>> {
    let Some(network) = req.desired.get("network_configuration") else { return Ok(None) };
    let public_ip = match network.get("assign_public_ip").and_then(Value::as_bool) {
        Some(true) => AssignPublicIp::Enabled,
        _ => AssignPublicIp::Disabled,
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(get_strings(network, "subnets"))
        .set_security_groups(get_strings(network, "security_groups"))
        .assign_public_ip(public_ip)
        .build()
        .map_err(|e| invalid(req, e))?;
    Ok(Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build()))
}

fn desired_load_balancers(req: &NodeRequest<'_>) -> Vec<LoadBalancer> {
    get_items(req.desired, "load_balancers")
        .iter()
        .map(|lb| {
            LoadBalancer::builder()
                .set_target_group_arn(get_str(lb, "target_group_arn").map(str::to_owned))
                .set_container_name(get_str(lb, "container_name").map(str::to_owned))
                .set_container_port(get_i32(lb, "container_port"))
                .build()
        })
        .collect()
}

fn desired_count(req: &NodeRequest<'_>) -> ProviderResult<i32> {
    i32::try_from(int_field(req, "desired_count")?).map_err(|e| invalid(req, e))
}
