//! Following a service's rollout after apply, until its new deployment is
//! done or has failed, and explaining a failure in the user's terms from
//! what AWS reports: a placement the cluster cannot satisfy, tasks that stop
//! (with their containers' exit codes and last log lines), targets that fail
//! their health checks, a deployment the circuit breaker rolled back.
//!
//! A rollout is done when the PRIMARY deployment runs the task definition
//! berth registered, its `rolloutState` is COMPLETED and no other deployment
//! is left (without a `rolloutState`: running equals desired). A PRIMARY
//! deployment on another task definition is a rollback, never success.
//! The reads go through [`Rollouts`]; progress goes to an [`EventSink`].

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
// tokio's clock, so that a test can run a long follow in paused time.
use tokio::time::Instant;

use crate::engine::{Event, EventSink};
use crate::provider::ProviderResult;

/// One deployment of a service, as ECS reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployment {
    /// ECS's id of the deployment.
    pub id: String,
    /// `PRIMARY` or `ACTIVE`.
    pub status: String,
    /// ARN of the task definition the deployment runs.
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED`; absent for deployments that have none.
    pub rollout_state: Option<String>,
    /// ECS's explanation of the rollout state, such as the circuit breaker's.
    pub rollout_reason: Option<String>,
    /// Tasks the deployment should run.
    pub desired: i64,
    /// Tasks of the deployment running now.
    pub running: i64,
    /// Tasks of the deployment that failed to reach RUNNING (ECS's `failedTasks`).
    pub failed_tasks: i64,
}

/// A service event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceEvent {
    /// ECS's id of the event, so each is shown once.
    pub id: String,
    /// Seconds since the epoch.
    pub at: i64,
    /// The event's text, as ECS wrote it.
    pub message: String,
}

/// A service as one DescribeServices answer has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceStatus {
    /// The service's name.
    pub name: String,
    /// ARN of the task definition the service is set to run.
    pub task_definition: String,
    /// Tasks the service should run.
    pub desired: i64,
    /// Tasks running now, all deployments together.
    pub running: i64,
    /// Tasks started but not running yet.
    pub pending: i64,
    /// Target groups its tasks are registered with.
    pub target_groups: Vec<String>,
    /// The PRIMARY deployment and any still ACTIVE.
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS lists them.
    pub events: Vec<ServiceEvent>,
}

/// A task that stopped, with what each of its containers said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoppedTask {
    /// The task's id (the last part of its ARN).
    pub id: String,
    /// ARN of the task definition it ran.
    pub task_definition: String,
    /// Why ECS stopped it (`Essential container in task exited`, ...).
    pub stopped_reason: Option<String>,
    /// Each of its containers, with how it ended.
    pub containers: Vec<StoppedContainer>,
}

/// One container of a stopped task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoppedContainer {
    /// The container's name in the task definition.
    pub name: String,
    /// Its exit code, when it ran and exited.
    pub exit_code: Option<i64>,
    /// Why it stopped, when ECS says (`CannotPullContainerError: ...`).
    pub reason: Option<String>,
}

/// A registered target's health.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetState {
    /// The target: an instance id or an IP address.
    pub id: String,
    /// The port the target is registered on.
    pub port: Option<i64>,
    /// `healthy`, `unhealthy`, `initial`, `draining`, ...
    pub state: String,
    /// ELB's reason code for the state (`Target.FailedHealthChecks`, ...).
    pub reason: Option<String>,
    /// ELB's explanation (`Health checks failed with these codes: [502]`).
    pub description: Option<String>,
}

/// What a container instance has registered with ECS and has left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceResources {
    /// The EC2 instance id.
    pub instance: String,
    /// Memory it registered with ECS, in MiB.
    pub registered_memory: i64,
    /// Registered memory no task has reserved yet, in MiB.
    pub remaining_memory: i64,
    /// CPU units it registered with ECS.
    pub registered_cpu: i64,
    /// Registered CPU units no task has reserved yet.
    pub remaining_cpu: i64,
}

/// What a task asks for (task-level size, or the sum of its containers').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskSize {
    /// Memory in MiB; `None` when neither the task nor its containers set any.
    pub memory: Option<i64>,
    /// CPU units; `None` when neither the task nor its containers set any.
    pub cpu: Option<i64>,
}

/// The reads a rollout is followed with.
#[async_trait]
pub trait Rollouts: Send + Sync {
    /// The named services of a cluster (any number: the provider batches).
    async fn services(&self, cluster: &str, names: &[String]) -> ProviderResult<Vec<ServiceStatus>>;
    /// The service's recently stopped tasks.
    async fn stopped_tasks(&self, cluster: &str, service: &str) -> ProviderResult<Vec<StoppedTask>>;
    /// The cluster's container instances and their resources.
    async fn instances(&self, cluster: &str) -> ProviderResult<Vec<InstanceResources>>;
    /// The size a task definition asks for.
    async fn task_size(&self, task_definition: &str) -> ProviderResult<TaskSize>;
    /// The health of a target group's targets.
    async fn target_health(&self, target_group_arn: &str) -> ProviderResult<Vec<TargetState>>;
    /// The last `lines` log lines of a task's container (awslogs), empty
    /// when the container does not log there.
    async fn log_tail(
        &self,
        task_definition: &str,
        container: &str,
        task_id: &str,
        lines: usize,
    ) -> ProviderResult<Vec<String>>;
}

/// A service to follow, and what its rollout must end on.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Its address in the stack (`services.web`).
    pub address: String,
    /// The cluster the service runs in.
    pub cluster: String,
    /// The service's name.
    pub name: String,
    /// The task definition ARN the new deployment must run.
    pub task_definition: String,
    /// Target groups the service registers its tasks with.
    pub target_groups: Vec<String>,
}

/// How a followed rollout ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The new deployment is done: `running` of `desired` tasks.
    Done {
        /// Tasks running when it was done.
        running: i64,
        /// Tasks the service should run.
        desired: i64,
    },
    /// Why it failed, in the user's terms.
    Failed(String),
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Give up (a failure) after this long.
    pub timeout: Duration,
    /// The first wait between polls; each next one is half again as long.
    pub first_poll: Duration,
    /// The longest wait between polls.
    pub max_poll: Duration,
    /// Strings masked in everything reported (secret values).
    pub secrets: Vec<String>,
    /// Service events from before this time are not shown (they are about
    /// an earlier deployment); `None`: from when following starts.
    pub events_since: Option<std::time::SystemTime>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            timeout: Duration::from_secs(15 * 60),
            first_poll: Duration::from_secs(2),
            max_poll: Duration::from_secs(15),
            secrets: Vec::new(),
            events_since: None,
        }
    }
}

/// How many log lines of a failed container are shown.
pub const LOG_LINES: usize = 20;

/// The verdict on one DescribeServices answer, before looking further.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not done yet: poll again.
    Waiting,
    /// The new deployment is done.
    Done,
    /// The PRIMARY deployment is not on the task definition berth
    /// registered (a rollback), or the new deployment ended FAILED.
    Failed(String),
}

/// Judges one answer for the rollout onto `expected`.
pub fn judge(status: &ServiceStatus, expected: &str) -> Verdict {
    let Some(primary) = status.deployments.iter().find(|d| d.status == "PRIMARY") else {
        return Verdict::Waiting;
    };
    let ours = status.deployments.iter().find(|d| d.task_definition == expected);
    if primary.task_definition != expected {
        let why = ours
            .and_then(|d| d.rollout_reason.clone())
            .or_else(|| primary.rollout_reason.clone())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Verdict::Failed(format!(
            "the new deployment failed and ECS rolled the service back to {}{why}: it does not run {}",
            revision(&primary.task_definition),
            revision(expected)
        ));
    }
    match primary.rollout_state.as_deref() {
        Some("FAILED") => Verdict::Failed(format!(
            "the deployment of {} failed{}",
            revision(expected),
            primary.rollout_reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        )),
        Some("COMPLETED") if status.deployments.len() == 1 => Verdict::Done,
        None if status.deployments.len() == 1 && primary.running >= primary.desired => Verdict::Done,
        _ => Verdict::Waiting,
    }
}

/// `family:revision` of a task definition ARN.
pub fn revision(task_definition: &str) -> &str {
    task_definition.rsplit('/').next().unwrap_or(task_definition)
}

/// The resource an "unable to place a task" event says is short, if it is one.
pub fn placement_shortage(message: &str) -> Option<&'static str> {
    if !message.contains("unable to place a task") {
        return None;
    }
    Some(if message.contains("insufficient memory") {
        "memory"
    } else if message.contains("insufficient CPU") || message.contains("insufficient cpu") {
        "CPU"
    } else {
        "other"
    })
}

/// Why no task can be placed, with the numbers.
pub fn explain_placement(event: &str, shortage: &str, size: TaskSize, instances: &[InstanceResources]) -> String {
    let largest = |key: fn(&InstanceResources) -> i64| instances.iter().max_by_key(|i| key(i));
    let detail = match shortage {
        "memory" => match (size.memory, largest(|i| i.registered_memory)) {
            (Some(need), Some(i)) => format!(
                "the task needs {need} MiB of memory; the largest container instance has {} MiB registered, {} remaining. \
                 Lower the task's memory to at most {} MiB or use an instance type with more memory",
                i.registered_memory, i.remaining_memory, i.remaining_memory
            ),
            (Some(need), None) => format!("the task needs {need} MiB of memory and the cluster has no container instance"),
            _ => "no container instance has the memory the task needs".to_owned(),
        },
        "CPU" => match (size.cpu, largest(|i| i.registered_cpu)) {
            (Some(need), Some(i)) => format!(
                "the task needs {need} CPU units; the largest container instance has {} registered, {} remaining. \
                 Lower the task's cpu or use a larger instance type",
                i.registered_cpu, i.remaining_cpu
            ),
            _ => "no container instance has the CPU the task needs".to_owned(),
        },
        _ => "no container instance meets the task's requirements".to_owned(),
    };
    format!("no task can be placed: {detail}. ECS said: {event}")
}

/// Why a task stopped, container by container, with the log lines of the
/// containers that failed.
pub fn explain_stopped(task: &StoppedTask, logs: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = format!("task {} stopped: {}", task.id, task.stopped_reason.as_deref().unwrap_or("no reason given"));
    for container in &task.containers {
        let code = container.exit_code.map(|c| format!("exit code {c}")).unwrap_or_else(|| "no exit code".into());
        let reason = container.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
        out.push_str(&format!("\n  container {}: {code}{reason}", container.name));
        if let Some(lines) = logs.get(&container.name).filter(|l| !l.is_empty()) {
            out.push_str(&format!("\n  last {} log lines of {}:", lines.len(), container.name));
            for line in lines {
                out.push_str(&format!("\n    {line}"));
            }
        }
    }
    out
}

/// The containers of a stopped task that failed: a non-zero exit code or a reason.
fn failed_containers(task: &StoppedTask) -> Vec<&StoppedContainer> {
    task.containers.iter().filter(|c| c.exit_code.is_some_and(|code| code != 0) || c.reason.is_some()).collect()
}

/// Why targets are unhealthy.
pub fn explain_unhealthy(target_group: &str, targets: &[&TargetState]) -> String {
    let name = target_group.split('/').nth(1).unwrap_or(target_group);
    let each: Vec<String> = targets
        .iter()
        .map(|t| {
            let port = t.port.map(|p| format!(":{p}")).unwrap_or_default();
            let reason = t.reason.as_deref().unwrap_or("no reason given");
            let description = t.description.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
            format!("{}{port} {reason}{description}", t.id)
        })
        .collect();
    format!("the targets of {name} fail their health checks: {}", each.join("; "))
}

/// Replaces every secret in `text` by a mask.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret.as_str(), crate::plan::MASK);
    }
    out
}

/// What is known of one service while following it.
struct Followed {
    watch: Watch,
    outcome: Option<Outcome>,
    seen_events: HashSet<String>,
    reported_stops: HashSet<String>,
    unhealthy_polls: usize,
    healthy_targets: HashSet<String>,
    last_running: Option<(i64, i64)>,
}

/// Follows every watched service at once until each is done or failed (or
/// `stop` is set, or the timeout passes), polling politely: one
/// DescribeServices call per cluster and poll, waits growing from
/// `first_poll` to `max_poll`.
pub async fn follow(
    rollouts: &dyn Rollouts,
    watches: Vec<Watch>,
    options: &FollowOptions,
    sink: &dyn EventSink,
    stop: &AtomicBool,
) -> Vec<(Watch, Outcome)> {
    let started = Instant::now();
    let since = options.events_since.unwrap_or_else(std::time::SystemTime::now);
    // ECS's clock and this machine's may differ by a little.
    let since = since.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64) - 5;
    let mut followed: Vec<Followed> = watches
        .into_iter()
        .map(|watch| Followed {
            watch,
            outcome: None,
            seen_events: HashSet::new(),
            reported_stops: HashSet::new(),
            unhealthy_polls: 0,
            healthy_targets: HashSet::new(),
            last_running: None,
        })
        .collect();
    let mut wait = options.first_poll;
    loop {
        let mut clusters: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in followed.iter().filter(|f| f.outcome.is_none()) {
            clusters.entry(f.watch.cluster.clone()).or_default().push(f.watch.name.clone());
        }
        if clusters.is_empty() {
            break;
        }
        for (cluster, names) in clusters {
            let statuses = match rollouts.services(&cluster, &names).await {
                Ok(statuses) => statuses,
                Err(e) => {
                    for f in followed.iter_mut().filter(|f| f.outcome.is_none() && f.watch.cluster == cluster) {
                        let message = format!("cannot read the service: {}", mask(&e.message, &options.secrets));
                        f.outcome = Some(Outcome::Failed(message));
                    }
                    continue;
                }
            };
            for f in followed.iter_mut().filter(|f| f.outcome.is_none() && f.watch.cluster == cluster) {
                let Some(status) = statuses.iter().find(|s| s.name == f.watch.name) else {
                    f.outcome = Some(Outcome::Failed("the service does not exist".into()));
                    continue;
                };
                f.outcome = poll_one(rollouts, f, status, since, options, sink).await;
            }
        }
        if followed.iter().all(|f| f.outcome.is_some()) {
            break;
        }
        let elapsed = started.elapsed();
        let waiting = followed.iter().filter(|f| f.outcome.is_none()).map(|f| f.watch.name.clone()).collect();
        sink.event(Event::RolloutWaiting { waiting, elapsed });
        if elapsed >= options.timeout || stop.load(Ordering::SeqCst) {
            let why = if stop.load(Ordering::SeqCst) {
                "not followed to the end: the run was interrupted".to_owned()
            } else {
                format!("the rollout did not finish within {}", minutes(options.timeout))
            };
            for f in followed.iter_mut().filter(|f| f.outcome.is_none()) {
                let state = f.last_running.map(|(r, d)| format!(" ({r} of {d} tasks running)")).unwrap_or_default();
                f.outcome = Some(Outcome::Failed(format!("{why}{state}")));
            }
            break;
        }
        let pause = wait.min(options.timeout.saturating_sub(elapsed));
        // Sleep in short steps so that Ctrl-C is noticed soon.
        let until = Instant::now() + pause;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(200))).await;
        }
        wait = (wait + wait / 2).min(options.max_poll);
    }
    followed
        .into_iter()
        .map(|f| {
            let outcome = f.outcome.unwrap_or(Outcome::Failed("not followed".into()));
            sink.event(Event::RolloutEnded { address: f.watch.address.clone(), outcome: outcome.clone() });
            (f.watch, outcome)
        })
        .collect()
}

fn minutes(d: Duration) -> String {
    match d.as_secs() {
        s if s % 60 == 0 && s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Reads what one poll says of one service; `Some` once it is decided.
async fn poll_one(
    rollouts: &dyn Rollouts,
    f: &mut Followed,
    status: &ServiceStatus,
    since: i64,
    options: &FollowOptions,
    sink: &dyn EventSink,
) -> Option<Outcome> {
    let report = |message: String| {
        sink.event(Event::Rollout { address: f.watch.address.clone(), message: mask(&message, &options.secrets) })
    };
    // New service events, oldest first, each once.
    let mut fresh: Vec<&ServiceEvent> =
        status.events.iter().filter(|e| e.at >= since && !f.seen_events.contains(&e.id)).collect();
    fresh.reverse();
    for event in &fresh {
        f.seen_events.insert(event.id.clone());
        report(event.message.clone());
    }
    if f.last_running != Some((status.running, status.desired)) {
        if f.last_running.is_some() {
            report(format!("{} of {} tasks running", status.running, status.desired));
        }
        f.last_running = Some((status.running, status.desired));
    }
    let failed = |message: String| Some(Outcome::Failed(mask(&message, &options.secrets)));
    match judge(status, &f.watch.task_definition) {
        Verdict::Done => return Some(Outcome::Done { running: status.running, desired: status.desired }),
        Verdict::Failed(why) => return failed(why),
        Verdict::Waiting => {}
    }
    // No task can be placed: said as soon as ECS says it.
    if let Some((event, shortage)) = fresh.iter().find_map(|e| Some((e, placement_shortage(&e.message)?))) {
        let size = rollouts.task_size(&f.watch.task_definition).await.unwrap_or_default();
        let instances = rollouts.instances(&f.watch.cluster).await.unwrap_or_default();
        return failed(explain_placement(&event.message, shortage, size, &instances));
    }
    // Tasks of the new revision that stopped.
    let primary_failures = status.deployments.iter().filter(|d| d.task_definition == f.watch.task_definition);
    if primary_failures.map(|d| d.failed_tasks).sum::<i64>() > 0 {
        let stopped = match rollouts.stopped_tasks(&f.watch.cluster, &f.watch.name).await {
            Ok(stopped) => stopped,
            Err(e) => return failed(format!("tasks failed, and reading why failed too: {}", e.message)),
        };
        for task in stopped.iter().filter(|t| t.task_definition == f.watch.task_definition) {
            if !f.reported_stops.insert(task.id.clone()) {
                continue;
            }
            let mut logs = BTreeMap::new();
            for container in failed_containers(task) {
                let lines = rollouts.log_tail(&task.task_definition, &container.name, &task.id, LOG_LINES).await;
                logs.insert(container.name.clone(), lines.unwrap_or_default());
            }
            let explained = explain_stopped(task, &logs);
            if task.stopped_reason.as_deref().is_some_and(|r| r.contains("ELB health checks")) {
                report(explained);
                continue;
            }
            return failed(explained);
        }
    }
    // Targets that fail their health checks, twice in a row.
    let mut unhealthy_now = None;
    for group in &f.watch.target_groups {
        let Ok(targets) = rollouts.target_health(group).await else { continue };
        for target in targets.iter().filter(|t| t.state == "healthy") {
            if f.healthy_targets.insert(format!("{group} {}", target.id)) {
                report(format!("target {} is healthy", target.id));
            }
        }
        let unhealthy: Vec<&TargetState> = targets.iter().filter(|t| t.state == "unhealthy").collect();
        if !unhealthy.is_empty() {
            unhealthy_now = Some(explain_unhealthy(group, &unhealthy));
        }
    }
    match unhealthy_now {
        Some(why) => {
            f.unhealthy_polls += 1;
            if f.unhealthy_polls >= 2 {
                return failed(why);
            }
        }
        None => f.unhealthy_polls = 0,
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "arn:aws:ecs:ap-northeast-2:1:task-definition/app:3";
    const OLD: &str = "arn:aws:ecs:ap-northeast-2:1:task-definition/app:2";

    fn deployment(status: &str, td: &str, state: Option<&str>) -> Deployment {
        Deployment {
            id: format!("ecs-svc/{td}"),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: state.map(str::to_owned),
            desired: 1,
            running: 1,
            ..Deployment::default()
        }
    }

    fn service(deployments: Vec<Deployment>) -> ServiceStatus {
        ServiceStatus {
            name: "web".into(),
            task_definition: NEW.into(),
            desired: 1,
            running: 1,
            deployments,
            ..Default::default()
        }
    }

    #[test]
    fn done_only_when_the_new_deployment_completed_alone() {
        assert_eq!(judge(&service(vec![deployment("PRIMARY", NEW, Some("COMPLETED"))]), NEW), Verdict::Done);
        let two =
            service(vec![deployment("PRIMARY", NEW, Some("COMPLETED")), deployment("ACTIVE", OLD, Some("COMPLETED"))]);
        assert_eq!(judge(&two, NEW), Verdict::Waiting);
        assert_eq!(judge(&service(vec![deployment("PRIMARY", NEW, Some("IN_PROGRESS"))]), NEW), Verdict::Waiting);
        // Without a rollout state: running must reach desired.
        let mut starting = deployment("PRIMARY", NEW, None);
        starting.running = 0;
        assert_eq!(judge(&service(vec![starting]), NEW), Verdict::Waiting);
        assert_eq!(judge(&service(vec![deployment("PRIMARY", NEW, None)]), NEW), Verdict::Done);
    }

    #[test]
    fn a_rollback_is_never_success() {
        let mut failed = deployment("ACTIVE", NEW, Some("FAILED"));
        failed.rollout_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let rolled_back = service(vec![deployment("PRIMARY", OLD, Some("COMPLETED")), failed]);
        let Verdict::Failed(why) = judge(&rolled_back, NEW) else { panic!("a rollback was taken for success") };
        assert!(why.contains("rolled the service back to app:2"), "{why}");
        assert!(why.contains("circuit breaker"), "{why}");
        assert!(matches!(judge(&service(vec![deployment("PRIMARY", NEW, Some("FAILED"))]), NEW), Verdict::Failed(_)));
    }

    #[test]
    fn placement_failures_name_the_numbers() {
        let event =
            "(service web) was unable to place a task because no container instance met all of its requirements. \
                     The closest matching (container-instance 5a1b) has insufficient memory available.";
        assert_eq!(placement_shortage(event), Some("memory"));
        assert_eq!(placement_shortage("(service web) has reached a steady state."), None);
        let instances = [InstanceResources {
            instance: "5a1b".into(),
            registered_memory: 466,
            remaining_memory: 466,
            registered_cpu: 1024,
            remaining_cpu: 1024,
        }];
        let text = explain_placement(event, "memory", TaskSize { memory: Some(500), cpu: None }, &instances);
        assert!(text.starts_with("no task can be placed: the task needs 500 MiB of memory"), "{text}");
        assert!(text.contains("466 MiB registered, 466 remaining"), "{text}");
    }

    #[test]
    fn stopped_tasks_show_exit_codes_and_logs() {
        let task = StoppedTask {
            id: "abc".into(),
            task_definition: NEW.into(),
            stopped_reason: Some("Essential container in task exited".into()),
            containers: vec![
                StoppedContainer { name: "app".into(), exit_code: Some(1), reason: None },
                StoppedContainer { name: "proxy".into(), exit_code: Some(0), reason: None },
            ],
        };
        assert_eq!(failed_containers(&task).len(), 1);
        let logs = BTreeMap::from([("app".to_owned(), vec!["Error: DB_PASSWORD is not set".to_owned()])]);
        let text = explain_stopped(&task, &logs);
        assert!(text.starts_with("task abc stopped: Essential container in task exited"), "{text}");
        assert!(text.contains("container app: exit code 1"), "{text}");
        assert!(text.contains("last 1 log lines of app:\n    Error: DB_PASSWORD is not set"), "{text}");
        assert_eq!(mask("password=hunter22 ok", &["hunter22".into()]), "password=(sensitive) ok");
    }

    /// Ten services that never finish, in one cluster.
    struct Stuck(std::sync::Mutex<Vec<usize>>);

    #[async_trait]
    impl Rollouts for Stuck {
        async fn services(&self, _cluster: &str, names: &[String]) -> ProviderResult<Vec<ServiceStatus>> {
            self.0.lock().unwrap().push(names.len());
            Ok(names
                .iter()
                .map(|name| ServiceStatus {
                    name: name.clone(),
                    desired: 1,
                    deployments: vec![deployment("PRIMARY", NEW, Some("IN_PROGRESS"))],
                    ..Default::default()
                })
                .collect())
        }
        async fn stopped_tasks(&self, _: &str, _: &str) -> ProviderResult<Vec<StoppedTask>> {
            Ok(vec![])
        }
        async fn instances(&self, _: &str) -> ProviderResult<Vec<InstanceResources>> {
            Ok(vec![])
        }
        async fn task_size(&self, _: &str) -> ProviderResult<TaskSize> {
            Ok(TaskSize::default())
        }
        async fn target_health(&self, _: &str) -> ProviderResult<Vec<TargetState>> {
            Ok(vec![])
        }
        async fn log_tail(&self, _: &str, _: &str, _: &str, _: usize) -> ProviderResult<Vec<String>> {
            Ok(vec![])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn following_ten_services_for_a_minute_polls_politely_and_times_out() {
        let stuck = Stuck(std::sync::Mutex::new(Vec::new()));
        let watches: Vec<Watch> = (0..10)
            .map(|i| Watch {
                address: format!("services.s{i}"),
                cluster: "c".into(),
                name: format!("s{i}"),
                task_definition: NEW.into(),
                target_groups: vec![],
            })
            .collect();
        let options = FollowOptions { timeout: Duration::from_secs(60), ..FollowOptions::default() };
        let outcomes = follow(&stuck, watches, &options, &crate::engine::NoEvents, &AtomicBool::new(false)).await;
        let calls = stuck.0.lock().unwrap().clone();
        assert!(calls.len() < 100 && calls.len() >= 5, "{} DescribeServices calls", calls.len());
        assert!(calls.iter().all(|n| *n == 10), "one call per poll covers every service: {calls:?}");
        assert_eq!(outcomes.len(), 10);
        for (_, outcome) in outcomes {
            assert_eq!(
                outcome,
                Outcome::Failed("the rollout did not finish within 1 min (0 of 1 tasks running)".into())
            );
        }
    }

    #[test]
    fn unhealthy_targets_give_their_reason() {
        let target = TargetState {
            id: "i-1".into(),
            port: Some(32768),
            state: "unhealthy".into(),
            reason: Some("Target.ResponseCodeMismatch".into()),
            description: Some("Health checks failed with these codes: [502]".into()),
        };
        let text = explain_unhealthy("arn:aws:elasticloadbalancing:r:1:targetgroup/web-tg/abc", &[&target]);
        assert_eq!(
            text,
            "the targets of web-tg fail their health checks: i-1:32768 Target.ResponseCodeMismatch: \
             Health checks failed with these codes: [502]"
        );
    }
}
