//! The scripted rollout against a real moto: what an SDK client sees through
//! the proxy before and after a service is created or updated.

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ecs as ecs;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use berth_testkit::{sdk_config_for, FaultConfig, FaultProxy, Moto, RolloutScript, TargetHealth};
use serde_json::json;

const CLUSTER: &str = "example";
const SERVICE: &str = "example-app-service";

/// A cluster and revisions 1 and 2 of the `example-app` task definition, on moto itself.
async fn cluster_with_two_revisions(moto: &ecs::Client) {
    moto.create_cluster().cluster_name(CLUSTER).send().await.expect("create the cluster");
    for image in ["nginx:1", "nginx:2"] {
        let container = ecs::types::ContainerDefinition::builder().name("app").image(image).memory(128).build();
        moto.register_task_definition()
            .family("example-app")
            .container_definitions(container)
            .send()
            .await
            .expect("register a task definition");
    }
}

async fn create_service(client: &ecs::Client, name: &str) {
    client
        .create_service()
        .cluster(CLUSTER)
        .service_name(name)
        .task_definition("example-app:1")
        .desired_count(1)
        .send()
        .await
        .expect("create the service");
}

async fn describe(client: &ecs::Client, name: &str) -> ecs::types::Service {
    let answer = client.describe_services().cluster(CLUSTER).services(name).send().await.expect("describe services");
    answer.services().first().cloned().expect("the service is described")
}

#[tokio::test]
async fn describe_services_follows_the_script_once_a_service_changes() {
    let moto = Moto::start();
    let script = RolloutScript {
        service_polls: vec![
            json!({"runningCount": 0, "pendingCount": 1, "deployments": [
                {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "{task_definition}",
                 "rolloutState": "IN_PROGRESS", "desiredCount": 1, "runningCount": 0, "failedTasks": 0},
                {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "{previous_task_definition}",
                 "rolloutState": "COMPLETED", "desiredCount": 1, "runningCount": 1, "failedTasks": 0}],
                "events": []}),
            json!({"runningCount": 1, "pendingCount": 0, "deployments": [
                {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "{task_definition}",
                 "rolloutState": "COMPLETED", "desiredCount": 1, "runningCount": 1, "failedTasks": 0}],
                "events": [{"id": "e1", "createdAt": 1767225600,
                            "message": "(service example-app-service) has reached a steady state."}]}),
        ],
        ..RolloutScript::default()
    };
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::rollout(script));
    let direct = ecs::Client::new(&moto.sdk_config().await);
    let through_proxy = ecs::Client::new(&proxy.sdk_config().await);
    cluster_with_two_revisions(&direct).await;
    create_service(&direct, SERVICE).await;

    // Planning reads, before berth changes a service: moto's answer.
    let before = describe(&through_proxy, SERVICE).await;
    assert_eq!(before.running_count(), 1, "moto's MOTO_ECS_SERVICE_RUNNING count");
    assert!(before.events().is_empty());
    assert_ne!(before.deployments().first().and_then(|d| d.id()), Some("ecs-svc/2"));

    through_proxy
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition("example-app:2")
        .send()
        .await
        .expect("update the service");
    let moto_task_definition =
        describe(&direct, SERVICE).await.task_definition().expect("moto's taskDefinition").to_owned();
    // moto keeps the task definition as UpdateService named it (here `family:revision`, not an ARN).
    assert!(moto_task_definition.ends_with("example-app:2"), "{moto_task_definition}");

    let first = describe(&through_proxy, SERVICE).await;
    assert_eq!((first.running_count(), first.pending_count()), (0, 1));
    let deployments = first.deployments();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0].rollout_state(), Some(&ecs::types::DeploymentRolloutState::InProgress));
    assert_eq!(deployments[0].task_definition(), Some(moto_task_definition.as_str()));
    let previous = moto_task_definition.replace("example-app:2", "example-app:1");
    assert_eq!(deployments[1].task_definition(), Some(previous.as_str()));
    assert_eq!(first.service_name(), Some(SERVICE), "what the patch does not name stays moto's");

    for poll in ["second", "third (the last patch repeats)"] {
        let later = describe(&through_proxy, SERVICE).await;
        assert_eq!(later.running_count(), 1, "{poll}");
        assert_eq!(later.deployments().len(), 1, "{poll}");
        assert_eq!(later.deployments()[0].rollout_state(), Some(&ecs::types::DeploymentRolloutState::Completed));
        let event = later.events().first().expect("the steady-state event");
        assert_eq!(event.created_at().map(|t| t.secs()), Some(1767225600), "{poll}");
        assert_eq!(event.message(), Some("(service example-app-service) has reached a steady state."));
    }

    let describes = proxy.records().iter().filter(|r| r.operation == "DescribeServices").count();
    assert_eq!(describes, 4);
}

fn failed_task() -> serde_json::Value {
    json!({"tasks": [{
        "taskArn": "arn:aws:ecs:ap-northeast-2:123456789012:task/example/0123456789abcdef",
        "clusterArn": "arn:aws:ecs:ap-northeast-2:123456789012:cluster/example",
        "taskDefinitionArn": "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/example-app:2",
        "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "stoppedAt": 1767225660,
        "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 137,
                        "reason": "OutOfMemoryError: Container killed due to memory usage"}],
    }], "failures": []})
}

#[tokio::test]
async fn canned_answers_parse_with_the_sdk_once_a_service_is_created() {
    let moto = Moto::start();
    let instance_arn = "arn:aws:ecs:ap-northeast-2:123456789012:container-instance/example/abc";
    let script = RolloutScript {
        list_tasks: Some(
            json!({"taskArns": ["arn:aws:ecs:ap-northeast-2:123456789012:task/example/0123456789abcdef"]}),
        ),
        describe_tasks: Some(failed_task()),
        list_container_instances: Some(json!({"containerInstanceArns": [instance_arn]})),
        describe_container_instances: Some(json!({"containerInstances": [{
            "containerInstanceArn": instance_arn, "ec2InstanceId": "i-0abc", "status": "ACTIVE",
            "agentConnected": false, "runningTasksCount": 0, "pendingTasksCount": 0}], "failures": []})),
        target_health: Some(vec![
            TargetHealth {
                id: "i-0abc".into(),
                port: 32768,
                state: "unhealthy".into(),
                reason: Some("Target.ResponseCodeMismatch".into()),
                description: Some("Health checks failed with these codes: [502]".into()),
            },
            TargetHealth { id: "i-0def".into(), port: 32769, state: "healthy".into(), reason: None, description: None },
        ]),
        log_events: Some(vec!["starting app".into(), "panic: cannot bind 0.0.0.0:80".into()]),
        ..RolloutScript::default()
    };
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::rollout(script));
    let config = proxy.sdk_config().await;
    let (ecs, elbv2, logs) = (ecs::Client::new(&config), elbv2::Client::new(&config), logs::Client::new(&config));
    let read_logs = |token: Option<String>| {
        logs.get_log_events()
            .log_group_name("/ecs/example-app")
            .log_stream_name("app/app/0123456789abcdef")
            .start_from_head(true)
            .set_next_token(token)
            .send()
    };
    cluster_with_two_revisions(&ecs::Client::new(&moto.sdk_config().await)).await;

    // Before the rollout, moto answers: it has no such log group.
    assert!(read_logs(None).await.is_err(), "moto's ResourceNotFoundException before any CreateService");
    assert!(ecs.list_tasks().cluster(CLUSTER).send().await.expect("moto's ListTasks").task_arns().is_empty());

    create_service(&ecs, SERVICE).await;

    let tasks = ecs.list_tasks().cluster(CLUSTER).send().await.expect("ListTasks");
    assert_eq!(tasks.task_arns().len(), 1);
    let described = ecs.describe_tasks().cluster(CLUSTER).set_tasks(Some(tasks.task_arns().to_vec())).send().await;
    let task = described.expect("DescribeTasks").tasks().first().cloned().expect("a task");
    assert_eq!(task.stopped_reason(), Some("Essential container in task exited"));
    assert_eq!(task.stop_code(), Some(&ecs::types::TaskStopCode::EssentialContainerExited));
    assert_eq!(task.stopped_at().map(|t| t.secs()), Some(1767225660));
    let container = task.containers().first().expect("a container");
    assert_eq!(container.exit_code(), Some(137));
    assert_eq!(container.reason(), Some("OutOfMemoryError: Container killed due to memory usage"));

    let instances = ecs.list_container_instances().cluster(CLUSTER).send().await.expect("ListContainerInstances");
    assert_eq!(instances.container_instance_arns(), [instance_arn]);
    let instances = ecs
        .describe_container_instances()
        .cluster(CLUSTER)
        .container_instances(instance_arn)
        .send()
        .await
        .expect("DescribeContainerInstances");
    let instance = instances.container_instances().first().expect("an instance");
    assert_eq!((instance.ec2_instance_id(), instance.agent_connected()), (Some("i-0abc"), false));

    let health = elbv2
        .describe_target_health()
        .target_group_arn("arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/none/0123456789abcdef")
        .send()
        .await
        .expect("DescribeTargetHealth parses");
    let targets = health.target_health_descriptions();
    assert_eq!(targets.len(), 2);
    let target = targets[0].target().expect("the target");
    assert_eq!((target.id(), target.port()), (Some("i-0abc"), Some(32768)));
    assert_eq!(targets[0].health_check_port(), Some("32768"));
    let unhealthy = targets[0].target_health().expect("its health");
    assert_eq!(unhealthy.state(), Some(&elbv2::types::TargetHealthStateEnum::Unhealthy));
    assert_eq!(unhealthy.reason(), Some(&elbv2::types::TargetHealthReasonEnum::ResponseCodeMismatch));
    assert_eq!(unhealthy.description(), Some("Health checks failed with these codes: [502]"));
    let healthy = targets[1].target_health().expect("its health");
    assert_eq!((healthy.state(), healthy.reason()), (Some(&elbv2::types::TargetHealthStateEnum::Healthy), None));

    let page = read_logs(None).await.expect("GetLogEvents");
    let messages: Vec<_> = page.events().iter().filter_map(|e| e.message()).collect();
    assert_eq!(messages, ["starting app", "panic: cannot bind 0.0.0.0:80"]);
    assert!(page.events().iter().all(|e| e.timestamp().is_some() && e.ingestion_time().is_some()));
    let next = read_logs(page.next_forward_token().map(str::to_owned)).await.expect("the next page");
    assert!(next.events().is_empty(), "the stream was read to its end");
    assert_eq!(next.next_forward_token(), page.next_forward_token());

    let canned = proxy.records().into_iter().filter(|r| r.operation == "DescribeTargetHealth").collect::<Vec<_>>();
    assert_eq!((canned.len(), canned[0].status), (1, Some(200)), "recorded like any request");
}

#[tokio::test]
async fn unscripted_operations_still_reach_moto() {
    let moto = Moto::start();
    let script = RolloutScript {
        service_polls: vec![json!({"events": [{"id": "e1", "createdAt": 1767225600, "message": "scripted"}]})],
        ..RolloutScript::default()
    };
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::rollout(script));
    let config = proxy.sdk_config().await;
    let (ecs, elbv2, logs) = (ecs::Client::new(&config), elbv2::Client::new(&config), logs::Client::new(&config));
    cluster_with_two_revisions(&ecs).await;
    create_service(&ecs, SERVICE).await;
    assert_eq!(describe(&ecs, SERVICE).await.events()[0].message(), Some("scripted"), "the rollout began");

    let direct = ecs::Client::new(&sdk_config_for(&moto.endpoint).await);
    let from_moto = direct.list_tasks().cluster(CLUSTER).send().await.expect("moto's ListTasks");
    let through_proxy = ecs.list_tasks().cluster(CLUSTER).send().await.expect("ListTasks through the proxy");
    assert_eq!(through_proxy.task_arns(), from_moto.task_arns());
    let missing = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/none/0123456789abcdef";
    let health = elbv2.describe_target_health().target_group_arn(missing).send().await;
    assert!(health.is_err(), "moto knows no such target group: {health:?}");
    let events = logs.get_log_events().log_group_name("/ecs/none").log_stream_name("none").send().await;
    assert!(events.is_err(), "moto knows no such log group: {events:?}");
    let statuses: Vec<_> = proxy
        .records()
        .into_iter()
        .filter(|r| ["DescribeTargetHealth", "GetLogEvents"].contains(&r.operation.as_str()))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s.is_some_and(|s| s >= 400)), "moto's errors: {statuses:?}");
}
