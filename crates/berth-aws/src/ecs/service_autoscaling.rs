//! The Application Auto Scaling of a service's desired count: a scalable
//! target (`min`, `max`) and its target tracking policies, managed exactly.
//! It has no tags of its own: it is the service's, listed by it.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget, ScalingPolicy,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use berth_core::kind::Kind;
use berth_core::normalize::normalize;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::{get_i32, get_items, get_str};
use crate::handler::{check_in_place, Handler};
use crate::util::{absent_on, invalid, outputs, str_field, Shape};
use crate::{aws_error, Clients};

/// What Application Auto Scaling answers for a target or policy that is not there.
const MISSING: &[&str] = &["ObjectNotFoundException"];

pub(crate) struct ServiceAutoscaling;

#[async_trait]
impl Handler for ServiceAutoscaling {
    fn kind(&self) -> Kind {
        Kind::ServiceAutoscaling
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let resource_id = str_field(req, "resource_id")?;
        let Some(target) = scalable_target(c, resource_id).await? else { return Ok(None) };
        let mut policies: Vec<Value> = scaling_policies(c, resource_id).await?.iter().map(policy_state).collect();
        policies.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let state = json!({
            "resource_id": resource_id, "min": target.min_capacity(), "max": target.max_capacity(),
            "policies": policies,
        });
        Ok(Some(Live { state, outputs: outputs([("arn", target.scalable_target_arn().into())]), tags: None }))
    }

    /// RegisterScalableTarget and PutScalingPolicy write what they name
    /// whole, so sending them twice makes one target with its policies.
    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        register(c, req).await?;
        put_policies(c, req, &[]).await?;
        let resource_id = str_field(req, "resource_id")?;
        let target = scalable_target(c, resource_id).await?;
        Ok(outputs([("arn", target.as_ref().and_then(ScalableTarget::scalable_target_arn).into())]))
    }

    /// The range is registered again; policies that differ are put, and
    /// those the file does not declare are deleted.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &["min", "max", "policies"])?;
        if changed.iter().any(|f| f == "min" || f == "max") {
            register(c, req).await?;
        }
        if changed.iter().any(|f| f == "policies") {
            let live_policies = normalize(Kind::ServiceAutoscaling, &live.state);
            put_policies(c, req, get_items(&live_policies, "policies")).await?;
        }
        Ok(live.outputs.clone())
    }

    /// The policies go first: DeregisterScalableTarget deletes them on AWS,
    /// but moto keeps them.
    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let resource_id = str_field(req, "resource_id")?;
        for policy in get_items(&live.state, "policies") {
            if let Some(name) = get_str(policy, "name") {
                delete_policy(c, resource_id, name).await?;
            }
        }
        let deregistered = c
            .appscaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await;
        absent_on(deregistered, MISSING).map(drop)
    }
}

/// The autoscaling of the service `name` in `cluster`, as the service's
/// child, when its desired count has a scalable target.
pub(crate) async fn service_child(
    c: &Clients,
    service: &NodeRequest<'_>,
    cluster: &str,
    name: &str,
) -> ProviderResult<Option<LiveChild>> {
    let part = json!({ "resource_id": format!("service/{cluster}/{name}") });
    let req = NodeRequest { kind: Kind::ServiceAutoscaling, desired: &part, ..service.clone() };
    let live = ServiceAutoscaling.read(c, &req).await?;
    Ok(live.map(|live| LiveChild { kind: Kind::ServiceAutoscaling, label: "autoscaling".into(), live }))
}

async fn scalable_target(c: &Clients, resource_id: &str) -> ProviderResult<Option<ScalableTarget>> {
    let out = c
        .appscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(out.scalable_targets.unwrap_or_default().into_iter().find(|t| t.resource_id() == resource_id))
}

/// Every policy of the service's scalable target, whatever its type.
async fn scaling_policies(c: &Clients, resource_id: &str) -> ProviderResult<Vec<ScalingPolicy>> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .appscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_error)?;
        // moto matches the resource id as a substring (`service/c/web` also
        // lists the policies of `service/c/we`); AWS matches it exactly.
        found.extend(out.scaling_policies.unwrap_or_default().into_iter().filter(|p| p.resource_id() == resource_id));
        token = out.next_token;
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// A live policy in the desired shape: a target tracking policy on a
/// predefined metric as berth declares them, any other by its name and type
/// (so that the file, which cannot declare it, shows it as a change).
fn policy_state(policy: &ScalingPolicy) -> Value {
    let tracking = policy.target_tracking_scaling_policy_configuration();
    let Some((config, metric)) = tracking.and_then(|t| Some((t, t.predefined_metric_specification()?))) else {
        return json!({ "name": policy.policy_name(), "policy_type": policy.policy_type().as_str() });
    };
    Shape::default()
        .set("name", policy.policy_name())
        .set("metric", metric.predefined_metric_type().as_str())
        .set("target", config.target_value())
        .opt("resource_label", metric.resource_label())
        .build()
}

async fn register(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
    let capacity = |field| get_i32(req.desired, field).ok_or_else(|| invalid(req, format!("no integer `{field}`")));
    c.appscaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(str_field(req, "resource_id")?)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(capacity("min")?)
        .max_capacity(capacity("max")?)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}

/// Puts every desired policy that is not among `live` (both in canonical
/// form), then deletes the live ones whose name the file does not declare.
async fn put_policies(c: &Clients, req: &NodeRequest<'_>, live: &[Value]) -> ProviderResult<()> {
    let resource_id = str_field(req, "resource_id")?;
    // The canonical form holds the resource label a request count policy needs.
    let desired = normalize(Kind::ServiceAutoscaling, req.desired);
    let desired = get_items(&desired, "policies");
    for policy in desired.iter().filter(|p| !live.contains(p)) {
        let name = get_str(policy, "name").ok_or_else(|| invalid(req, "a policy without a name"))?;
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::from(get_str(policy, "metric").unwrap_or_default()))
            .set_resource_label(get_str(policy, "resource_label").map(str::to_owned))
            .build()
            .map_err(|e| invalid(req, e))?;
        let target =
            policy.get("target").and_then(Value::as_f64).ok_or_else(|| invalid(req, "a policy without a target"))?;
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(target)
            .predefined_metric_specification(metric)
            .build()
            .map_err(|e| invalid(req, e))?;
        c.appscaling
            .put_scaling_policy()
            .policy_name(name)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .send()
            .await
            .map_err(aws_error)?;
    }
    let declared = |name: &str| desired.iter().any(|p| get_str(p, "name") == Some(name));
    for name in live.iter().filter_map(|p| get_str(p, "name")).filter(|name| !declared(name)) {
        delete_policy(c, resource_id, name).await?;
    }
    Ok(())
}

async fn delete_policy(c: &Clients, resource_id: &str, name: &str) -> ProviderResult<()> {
    let deleted = c
        .appscaling
        .delete_scaling_policy()
        .policy_name(name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await;
    absent_on(deleted, MISSING).map(drop)
}
