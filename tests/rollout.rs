//! `berth apply` follows the rollout to its end, through the real binary.
//! moto never starts a task, writes no service event and keeps the first
//! task definition in the PRIMARY deployment after UpdateService, so each
//! test scripts the rollout in the test kit's proxy (DescribeServices
//! patched poll by poll, canned tasks, container instances, target health
//! and log lines) while everything else reaches moto.

mod common;

use berth_testkit::{FaultConfig, FaultProxy, Moto, RolloutScript, TargetHealth};
use common::{copy_reference_stack, reference_stack, run_berth, Run};
use serde_json::{json, Value};

const SERVICE: &str = "example-app-service";
const FIRST_REVISION: &str = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/example-app:1";
/// A value of the reference stack's sensitive env file.
const SECRET: &str = "not-a-real-password-7f3a";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn deployment(task_definition: &str, status: &str, rollout: &str, running: i64) -> Value {
    json!({"id": format!("ecs-svc/{status}"), "status": status, "taskDefinition": task_definition,
           "rolloutState": rollout, "desiredCount": 1, "runningCount": running, "pendingCount": 0, "failedTasks": 0})
}

fn poll(running: i64, deployments: Vec<Value>, events: Vec<Value>) -> Value {
    json!({"runningCount": running, "pendingCount": 0, "desiredCount": 1, "deployments": deployments, "events": events})
}

/// An event ECS writes during the rollout (the script is made before the
/// apply starts, so the time is put ahead).
fn event(id: &str, message: &str) -> Value {
    json!({"id": id, "createdAt": now() + 600, "message": message})
}

/// Applies `stack` through a proxy playing `script`; returns the run and
/// how many DescribeServices calls came after the service was created.
fn apply_with(moto: &Moto, stack: &str, script: RolloutScript, extra: &[&str]) -> (Run, usize) {
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::rollout(script));
    let args: Vec<&str> = [&["apply", stack, "--auto-approve"][..], extra].concat();
    let run = run_berth(&proxy.env(), &args);
    let records = proxy.records();
    let created = records.iter().position(|r| ["CreateService", "UpdateService"].contains(&r.operation.as_str()));
    let polls = created.map_or(0, |at| records[at..].iter().filter(|r| r.operation == "DescribeServices").count());
    (run, polls)
}

fn said(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn a_rollout_that_completes_is_followed_to_its_end() {
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let starting = poll(0, vec![deployment("{task_definition}", "PRIMARY", "IN_PROGRESS", 0)], vec![]);
    let started = poll(
        1,
        vec![deployment("{task_definition}", "PRIMARY", "IN_PROGRESS", 1)],
        vec![event("e1", "(service example-app-service) has started 1 tasks: (task 0123456789abcdef).")],
    );
    let steady = poll(
        1,
        vec![deployment("{task_definition}", "PRIMARY", "COMPLETED", 1)],
        vec![event("e2", "(service example-app-service) has reached a steady state."), event("e1", "(dup)")],
    );
    let script = RolloutScript { service_polls: vec![starting, started, steady], ..RolloutScript::default() };
    let (run, polls) = apply_with(&moto, stack, script, &[]);
    assert_eq!(run.code, 0, "{}", said(&run));
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("Rollout complete: {SERVICE} 1/1")), "{}", run.stdout);
    let stderr = &run.stderr;
    assert!(stderr.contains("has started 1 tasks"), "{stderr}");
    assert!(stderr.contains("1 of 1 tasks running"), "{stderr}");
    assert!(stderr.contains("has reached a steady state"), "{stderr}");
    assert_eq!(stderr.matches("has started 1 tasks").count(), 1, "events are shown once: {stderr}");
    assert!((3..=5).contains(&polls), "{polls} DescribeServices calls");

    // The stack's outputs: the listener's URL and the running tasks.
    assert!(run.stdout.contains("Outputs:\n  load_balancers.ecs-sample-alb.listeners[80]: http://"), "{}", run.stdout);
    assert!(run.stdout.contains("services.example-app-service: 1/1 tasks running"), "{}", run.stdout);
    let output = run_berth(&moto.env(), &["output", stack, "--format", "json"]).expect(0).json();
    let url = output["endpoints"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://") && url.contains("ecs-sample-alb"), "{output:#}");
    assert_eq!(output["services"][0]["running"], 1, "{output:#}");
    let plan = run_berth(&moto.env(), &["plan", stack, "--format", "json"]).expect(0).json();
    assert_eq!(plan["endpoints"][0]["url"], url.as_str());
    let comment = run_berth(&moto.env(), &["plan", stack, "--format", "markdown"]).expect(0).stdout;
    assert!(comment.contains(&format!("Endpoints: <{url}>")), "{comment}");

    // `berth wait` follows a rollout started elsewhere: on moto the created
    // service's deployment is complete.
    let waited = run_berth(&moto.env(), &["wait", stack]);
    assert_eq!(waited.code, 0, "{}", said(&waited));
    assert!(waited.stdout.contains("Rollout complete"), "{}", waited.stdout);
}

#[test]
fn a_task_that_cannot_be_placed_fails_at_once_with_the_numbers() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // The walkthrough's first failure: 500 MiB asked of an instance that registers 466.
    let stack = copy_reference_stack(dir.path(), |text| {
        text.replace("instance_type: t2.nano", "instance_type: t3.small").replace("memory: 450 ", "memory: 500 ")
    });
    let unplaced = poll(
        0,
        vec![deployment("{task_definition}", "PRIMARY", "IN_PROGRESS", 0)],
        vec![event(
            "e1",
            "(service example-app-service) was unable to place a task because no container instance met all of its \
             requirements. The closest matching (container-instance 5a1b) has insufficient memory available.",
        )],
    );
    let instance = "arn:aws:ecs:ap-northeast-2:123456789012:container-instance/ecs-sample/5a1b";
    let resources = |memory: i64| {
        json!([{"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                                         {"name": "CPU", "type": "INTEGER", "integerValue": 1024}])
    };
    let script = RolloutScript {
        service_polls: vec![unplaced],
        list_container_instances: Some(json!({"containerInstanceArns": [instance]})),
        describe_container_instances: Some(json!({"containerInstances": [{
            "containerInstanceArn": instance, "ec2InstanceId": "i-0abc", "status": "ACTIVE", "agentConnected": true,
            "registeredResources": resources(466), "remainingResources": resources(466)}], "failures": []})),
        ..RolloutScript::default()
    };
    let (run, polls) = apply_with(&moto, stack.to_str().unwrap(), script, &[]);
    assert_eq!(run.code, 1, "{}", said(&run));
    assert!(polls <= 2, "reported after {polls} polls");
    let out = &run.stdout;
    assert!(out.contains("Rollout failed: 1 of 1 service(s)"), "{out}");
    assert!(out.contains("no task can be placed: the task needs 500 MiB of memory"), "{out}");
    assert!(out.contains("466 MiB registered, 466 remaining"), "{out}");
}

#[test]
fn a_crash_loop_shows_the_exit_code_and_masked_log_lines() {
    let moto = Moto::start();
    let stack = reference_stack();
    let mut failing = deployment("{task_definition}", "PRIMARY", "IN_PROGRESS", 0);
    failing["failedTasks"] = json!(1);
    let script = RolloutScript {
        service_polls: vec![poll(0, vec![failing], vec![])],
        list_tasks: Some(
            json!({"taskArns": ["arn:aws:ecs:ap-northeast-2:123456789012:task/ecs-sample/0123456789abcdef"]}),
        ),
        describe_tasks: Some(json!({"tasks": [{
            "taskArn": "arn:aws:ecs:ap-northeast-2:123456789012:task/ecs-sample/0123456789abcdef",
            "taskDefinitionArn": FIRST_REVISION, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
            "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
            "containers": [
                {"name": "example-app-container", "lastStatus": "STOPPED", "exitCode": 1},
                {"name": "reverse-proxy-container", "lastStatus": "STOPPED", "exitCode": 0}]}], "failures": []})),
        log_events: Some(vec![
            "Nest application starting".into(),
            format!("Error: cannot log in to the database with password {SECRET}"),
        ]),
        ..RolloutScript::default()
    };
    let (run, _) = apply_with(&moto, stack.to_str().unwrap(), script, &[]);
    assert_eq!(run.code, 1, "{}", said(&run));
    let out = &run.stdout;
    assert!(out.contains("task 0123456789abcdef stopped: Essential container in task exited"), "{out}");
    assert!(out.contains("container example-app-container: exit code 1"), "{out}");
    assert!(out.contains("last 2 log lines of example-app-container:"), "{out}");
    assert!(out.contains("cannot log in to the database with password (sensitive)"), "{out}");
    assert!(!said(&run).contains(SECRET), "a secret value was printed");
}

#[test]
fn unhealthy_targets_fail_the_rollout_with_their_reason() {
    let moto = Moto::start();
    let stack = reference_stack();
    let script = RolloutScript {
        service_polls: vec![poll(1, vec![deployment("{task_definition}", "PRIMARY", "IN_PROGRESS", 1)], vec![])],
        target_health: Some(vec![TargetHealth {
            id: "i-0abc".into(),
            port: 32768,
            state: "unhealthy".into(),
            reason: Some("Target.ResponseCodeMismatch".into()),
            description: Some("Health checks failed with these codes: [502]".into()),
        }]),
        ..RolloutScript::default()
    };
    let (run, _) = apply_with(&moto, stack.to_str().unwrap(), script, &[]);
    assert_eq!(run.code, 1, "{}", said(&run));
    assert!(
        run.stdout.contains(
            "the targets of ecs-sample-tg fail their health checks: i-0abc:32768 Target.ResponseCodeMismatch: \
             Health checks failed with these codes: [502]"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_rollback_by_the_circuit_breaker_is_a_failure() {
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    run_berth(&moto.env(), &["apply", stack, "--auto-approve"]).expect(0);
    let mut failed = deployment("{task_definition}", "ACTIVE", "FAILED", 0);
    failed["rolloutStateReason"] = json!("ECS deployment circuit breaker: tasks failed to start.");
    let rolled_back =
        poll(1, vec![deployment("{previous_task_definition}", "PRIMARY", "COMPLETED", 1), failed], vec![]);
    let script = RolloutScript { service_polls: vec![rolled_back], ..RolloutScript::default() };
    let (run, _) = apply_with(&moto, stack, script, &["--var", "app_image=example-app:v2"]);
    assert_eq!(run.code, 1, "{}", said(&run));
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    assert!(run.stdout.contains("ECS rolled the service back to example-app:1"), "{}", run.stdout);
    assert!(run.stdout.contains("circuit breaker: tasks failed to start"), "{}", run.stdout);
}

#[test]
fn no_wait_ends_with_the_api_calls_and_the_timeout_is_a_failure() {
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let forever = || RolloutScript {
        service_polls: vec![poll(0, vec![deployment("{task_definition}", "PRIMARY", "IN_PROGRESS", 0)], vec![])],
        ..RolloutScript::default()
    };
    let (run, polls) = apply_with(&moto, stack, forever(), &["--no-wait"]);
    assert_eq!(run.code, 0, "{}", said(&run));
    assert_eq!(polls, 0, "--no-wait followed the rollout");
    assert!(!run.stdout.contains("Rollout"), "{}", run.stdout);

    let (run, _) = apply_with(&moto, stack, forever(), &["--var", "app_image=example-app:v2", "--wait-timeout", "5s"]);
    assert_eq!(run.code, 1, "{}", said(&run));
    assert!(run.stdout.contains("the rollout did not finish within 5 s (0 of 1 tasks running)"), "{}", run.stdout);
}

#[test]
fn rollback_moves_the_service_to_its_previous_revision() {
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    run_berth(&moto.env(), &["apply", stack, "--auto-approve"]).expect(0);
    // --no-wait: moto keeps the first task definition in the PRIMARY deployment (docs/moto.md).
    let image = ["--var", "app_image=example-app:v2"];
    run_berth(&moto.env(), &[&["apply", stack, "--auto-approve", "--no-wait"][..], &image[..]].concat()).expect(0);
    let run = run_berth(&moto.env(), &["rollback", stack, SERVICE]);
    assert_eq!(run.code, 0, "{}", said(&run));
    assert!(
        run.stderr.contains("Moved example-app-service back from example-app:2 to example-app:1"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("Rollout complete"), "{}", run.stdout);
    assert!(run.stdout.contains("the next `berth plan` shows example-app-service moving back"), "{}", run.stdout);
    let plan =
        run_berth(&moto.env(), &[&["plan", stack, "--format", "json", "--detailed-exitcode"][..], &image[..]].concat());
    let plan = plan.expect(2).json();
    assert!(common::changes(&plan).contains(&("services.example-app-service".to_owned(), "update".to_owned())));
    let unknown = run_berth(&moto.env(), &["rollback", stack, "no-such-service"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("has no service `no-such-service`"), "{}", unknown.stderr);
}
