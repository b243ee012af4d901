//! The reads a rollout is followed with ([`Rollouts`]): services (ten per
//! DescribeServices call), stopped tasks, container instances, task sizes,
//! target health and the tail of a container's awslogs stream; and moving a
//! service back to its previous revision (`berth rollback`).

use async_trait::async_trait;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus, Resource};
use berth_core::provider::{ProviderError, ProviderResult};
use berth_core::rollout::{
    Deployment, InstanceResources, Rollouts, ServiceEvent, ServiceStatus, StoppedContainer, StoppedTask, TargetState,
    TaskSize,
};

use crate::util::absent_on;
use crate::{aws_error, AwsProvider};

/// The most services one DescribeServices call takes.
const SERVICES_PER_CALL: usize = 10;
/// The most tasks one DescribeTasks call takes.
const TASKS_PER_CALL: usize = 100;

fn integer(resources: &[Resource], name: &str) -> i64 {
    resources.iter().find(|r| r.name() == Some(name)).map(|r| i64::from(r.integer_value())).unwrap_or_default()
}

fn last_part(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

impl AwsProvider {
    /// Moves the service to the newest ACTIVE revision of its family older
    /// than the one it is set to; returns (from, to) task definition ARNs.
    pub async fn roll_back(&self, cluster: &str, service: &str) -> ProviderResult<(String, String)> {
        let status = self.services(cluster, &[service.to_owned()]).await?.into_iter().next();
        let status = status.ok_or_else(|| ProviderError::new(format!("no service {service} in cluster {cluster}")))?;
        let current = status.task_definition;
        let (family, revision) = crate::ecs::task_definition::family_revision(&current)
            .ok_or_else(|| ProviderError::new(format!("{service} runs `{current}`, not a task definition revision")))?;
        let older = crate::ecs::task_definition::active_revisions(&self.clients, family).await?;
        let previous = older
            .into_iter()
            .filter_map(|arn| Some((crate::ecs::task_definition::family_revision(&arn)?.1, arn)))
            .filter(|(r, _)| *r < revision)
            .max_by_key(|(r, _)| *r)
            .map(|(_, arn)| arn)
            .ok_or_else(|| ProviderError::new(format!("{family} has no ACTIVE revision before {revision}")))?;
        let update = self.clients.ecs.update_service().cluster(cluster).service(service).task_definition(&previous);
        update.send().await.map_err(aws_error)?;
        Ok((current, previous))
    }
}

#[async_trait]
impl Rollouts for AwsProvider {
    async fn services(&self, cluster: &str, names: &[String]) -> ProviderResult<Vec<ServiceStatus>> {
        let mut found = Vec::new();
        for chunk in names.chunks(SERVICES_PER_CALL) {
            let call = self.clients.ecs.describe_services().cluster(cluster).set_services(Some(chunk.to_vec()));
            let out = call.send().await.map_err(aws_error)?;
            for service in out.services().iter().filter(|s| s.status() != Some("INACTIVE")) {
                let deployments = service
                    .deployments()
                    .iter()
                    .map(|d| Deployment {
                        id: d.id().unwrap_or_default().to_owned(),
                        status: d.status().unwrap_or_default().to_owned(),
                        task_definition: d.task_definition().unwrap_or_default().to_owned(),
                        rollout_state: d.rollout_state().map(|s| s.as_str().to_owned()),
                        rollout_reason: d.rollout_state_reason().map(str::to_owned),
                        desired: i64::from(d.desired_count()),
                        running: i64::from(d.running_count()),
                        failed_tasks: i64::from(d.failed_tasks()),
                    })
                    .collect();
                let events = service
                    .events()
                    .iter()
                    .map(|e| ServiceEvent {
                        id: e.id().unwrap_or_default().to_owned(),
                        at: e.created_at().map(|t| t.secs()).unwrap_or_default(),
                        message: e.message().unwrap_or_default().to_owned(),
                    })
                    .collect();
                found.push(ServiceStatus {
                    name: service.service_name().unwrap_or_default().to_owned(),
                    task_definition: service.task_definition().unwrap_or_default().to_owned(),
                    desired: i64::from(service.desired_count()),
                    running: i64::from(service.running_count()),
                    pending: i64::from(service.pending_count()),
                    target_groups: service
                        .load_balancers()
                        .iter()
                        .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
                        .collect(),
                    deployments,
                    events,
                });
            }
        }
        Ok(found)
    }

    async fn stopped_tasks(&self, cluster: &str, service: &str) -> ProviderResult<Vec<StoppedTask>> {
        let ecs = &self.clients.ecs;
        let listed =
            ecs.list_tasks().cluster(cluster).service_name(service).desired_status(DesiredStatus::Stopped).send();
        let arns = listed.await.map_err(aws_error)?.task_arns().to_vec();
        let mut stopped = Vec::new();
        for chunk in arns.chunks(TASKS_PER_CALL) {
            let described = ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())).send();
            for task in described.await.map_err(aws_error)?.tasks() {
                let containers = task
                    .containers()
                    .iter()
                    .map(|c| StoppedContainer {
                        name: c.name().unwrap_or_default().to_owned(),
                        exit_code: c.exit_code().map(i64::from),
                        reason: c.reason().map(str::to_owned),
                    })
                    .collect();
                stopped.push(StoppedTask {
                    id: last_part(task.task_arn().unwrap_or_default()),
                    task_definition: task.task_definition_arn().unwrap_or_default().to_owned(),
                    stopped_reason: task.stopped_reason().map(str::to_owned),
                    containers,
                });
            }
        }
        Ok(stopped)
    }

    async fn instances(&self, cluster: &str) -> ProviderResult<Vec<InstanceResources>> {
        let ecs = &self.clients.ecs;
        let listed =
            ecs.list_container_instances().cluster(cluster).status(ContainerInstanceStatus::Active).send().await;
        let Some(listed) = absent_on(listed, &["ClusterNotFoundException"])? else { return Ok(Vec::new()) };
        if listed.container_instance_arns().is_empty() {
            return Ok(Vec::new());
        }
        let arns = listed.container_instance_arns().to_vec();
        let described = ecs.describe_container_instances().cluster(cluster).set_container_instances(Some(arns));
        Ok(described
            .send()
            .await
            .map_err(aws_error)?
            .container_instances()
            .iter()
            .map(|i| InstanceResources {
                instance: i.ec2_instance_id().unwrap_or("unknown instance").to_owned(),
                registered_memory: integer(i.registered_resources(), "MEMORY"),
                remaining_memory: integer(i.remaining_resources(), "MEMORY"),
                registered_cpu: integer(i.registered_resources(), "CPU"),
                remaining_cpu: integer(i.remaining_resources(), "CPU"),
            })
            .collect())
    }

    async fn task_size(&self, task_definition: &str) -> ProviderResult<TaskSize> {
        let out = self.clients.ecs.describe_task_definition().task_definition(task_definition).send().await;
        let out = out.map_err(aws_error)?;
        let Some(td) = out.task_definition() else { return Ok(TaskSize::default()) };
        let sum = |f: fn(&aws_sdk_ecs::types::ContainerDefinition) -> Option<i64>| -> Option<i64> {
            let values: Vec<i64> = td.container_definitions().iter().filter_map(f).collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        let memory = td
            .memory()
            .and_then(|m| m.parse().ok())
            .or_else(|| sum(|c| c.memory().or(c.memory_reservation()).map(i64::from).filter(|m| *m > 0)));
        let cpu =
            td.cpu().and_then(|c| c.parse().ok()).or_else(|| sum(|c| Some(i64::from(c.cpu())).filter(|c| *c > 0)));
        Ok(TaskSize { memory, cpu })
    }

    async fn target_health(&self, target_group_arn: &str) -> ProviderResult<Vec<TargetState>> {
        let out = self.clients.elb.describe_target_health().target_group_arn(target_group_arn).send().await;
        Ok(out
            .map_err(aws_error)?
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let health = d.target_health();
                TargetState {
                    id: d.target().and_then(|t| t.id()).unwrap_or_default().to_owned(),
                    port: d.target().and_then(|t| t.port()).map(i64::from),
                    state: health.and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                }
            })
            .collect())
    }

    async fn log_tail(
        &self,
        task_definition: &str,
        container: &str,
        task_id: &str,
        lines: usize,
    ) -> ProviderResult<Vec<String>> {
        let out = self.clients.ecs.describe_task_definition().task_definition(task_definition).send().await;
        let out = out.map_err(aws_error)?;
        let definition = out
            .task_definition()
            .and_then(|td| td.container_definitions().iter().find(|c| c.name() == Some(container)).cloned());
        let Some(logging) = definition.and_then(|c| c.log_configuration().cloned()) else { return Ok(Vec::new()) };
        let options = logging.options();
        let (Some(group), Some(prefix)) =
            (options.and_then(|o| o.get("awslogs-group")), options.and_then(|o| o.get("awslogs-stream-prefix")))
        else {
            return Ok(Vec::new());
        };
        // awslogs names a task's stream prefix/container/task-id.
        let stream = format!("{prefix}/{container}/{task_id}");
        let events = self
            .clients
            .logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .limit(i32::try_from(lines).unwrap_or(i32::MAX))
            .start_from_head(false)
            .send()
            .await;
        let Some(events) = absent_on(events, &["ResourceNotFoundException"])? else { return Ok(Vec::new()) };
        let mut messages: Vec<String> =
            events.events().iter().filter_map(|e| e.message().map(|m| m.trim_end().to_owned())).collect();
        let skip = messages.len().saturating_sub(lines);
        Ok(messages.split_off(skip))
    }
}
