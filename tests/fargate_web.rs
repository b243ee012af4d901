//! The second reference stack, `stacks/fargate-web` (Fargate behind one
//! HTTPS load balancer with path and host rules, managed secrets, health
//! checks, the circuit breaker and auto scaling), through its whole
//! lifecycle on moto with the real binary: it validates as written, plans,
//! applies, reads back from AWS as the file says, re-plans clean, changes
//! only what a changed image, rule path and token change, and destroys
//! everything it made. No secret value is ever printed.

mod common;

use std::path::{Path, PathBuf};

use aws_sdk_elasticloadbalancingv2 as elb;
use berth_testkit::Moto;
use common::{berth_with_env, changes, Run};

const TOKEN: &str = "tok-9c2e7d1a55f0";
const NEW_TOKEN: &str = "tok-0b7e44c19a3d";
const NEW_API_IMAGE: &str = "public.ecr.aws/docker/library/node:22.12-alpine";

fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/fargate-web/stack.yaml")
}

/// Panics if any output of `run` holds one of `secrets`.
fn assert_masked(run: &Run, secrets: &[&str]) {
    for output in [&run.stdout, &run.stderr] {
        for secret in secrets {
            assert!(!output.contains(secret), "a secret value was printed:\n{output}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fargate_web_stack_applies_as_written_reads_back_changes_in_place_and_destroys() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(reference()).unwrap();
    let stack_path = dir.path().join("stack.yaml");
    std::fs::write(&stack_path, &text).unwrap();
    let stack = stack_path.to_str().unwrap();

    // The file's certificate ARN is a placeholder: import a self-signed one.
    let certificate_arn = common::import_certificate(&config).await;
    let env = [("BERTH_VAR_api_token", TOKEN), ("BERTH_VAR_certificate_arn", certificate_arn.as_str())];

    berth_with_env(&moto, &["validate", stack], &env).expect(0);
    let plan = berth_with_env(&moto, &["plan", stack, "--detailed-exitcode"], &env).expect(2);
    assert_masked(&plan, &[TOKEN]);
    let applied = berth_with_env(&moto, &["apply", stack, "--auto-approve", "--no-wait"], &env).expect(0);
    assert_masked(&applied, &[TOKEN]);

    // ECS: the services' network, circuit breaker, grace period and execute command.
    let ecs = aws_sdk_ecs::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let filter = aws_sdk_ec2::types::Filter::builder().name("group-name").values("shop-tasks").build();
    let groups = ec2.describe_security_groups().filters(filter).send().await.unwrap();
    let tasks_group = groups.security_groups()[0].group_id().unwrap().to_owned();
    let described = ecs.describe_services().cluster("shop").services("shop-api").services("shop-web").send().await;
    let described = described.unwrap();
    assert_eq!(described.services().len(), 2);
    for service in described.services() {
        let name = service.service_name().unwrap();
        let vpc = service.network_configuration().and_then(|n| n.awsvpc_configuration()).expect(name);
        assert_eq!(vpc.security_groups(), std::slice::from_ref(&tasks_group), "{name}");
        assert!(!vpc.subnets().is_empty(), "{name}: the stack's default subnets");
        assert_eq!(vpc.assign_public_ip(), Some(&aws_sdk_ecs::types::AssignPublicIp::Enabled), "{name}");
        let deployment = service.deployment_configuration().expect(name);
        assert_eq!((deployment.minimum_healthy_percent(), deployment.maximum_percent()), (Some(100), Some(200)));
        let breaker = deployment.deployment_circuit_breaker().expect("a circuit breaker");
        assert!(breaker.enable() && breaker.rollback(), "{name}: {breaker:?}");
        assert_eq!(service.launch_type(), Some(&aws_sdk_ecs::types::LaunchType::Fargate));
    }
    let api = described.services().iter().find(|s| s.service_name() == Some("shop-api")).unwrap();
    assert_eq!(api.health_check_grace_period_seconds(), Some(30));
    assert!(api.enable_execute_command());
    let web = described.services().iter().find(|s| s.service_name() == Some("shop-web")).unwrap();
    assert!(!web.enable_execute_command());
    let clusters = ecs
        .describe_clusters()
        .clusters("shop")
        .include(aws_sdk_ecs::types::ClusterField::Settings)
        .send()
        .await
        .unwrap();
    let insights = clusters.clusters()[0].settings().iter().find_map(|s| s.value().map(str::to_owned));
    assert_eq!(insights.as_deref(), Some("enabled"), "container insights");

    // The task definition: platform, volume, health check, mounts, ulimits, stop timeout, secrets.
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let secret_arn = |name: &'static str| {
        let secrets = secrets.clone();
        async move { secrets.describe_secret().secret_id(name).send().await.unwrap().arn().unwrap().to_owned() }
    };
    let (db_arn, token_arn) = (secret_arn("shop/db").await, secret_arn("shop-api-token").await);
    let task = ecs.describe_task_definition().task_definition("shop-api").send().await.unwrap();
    let task = task.task_definition().unwrap();
    let platform = task.runtime_platform().expect("a runtime platform");
    assert_eq!(platform.cpu_architecture(), Some(&aws_sdk_ecs::types::CpuArchitecture::Arm64));
    assert_eq!(platform.operating_system_family(), Some(&aws_sdk_ecs::types::OsFamily::Linux));
    assert_eq!(task.volumes().iter().map(|v| v.name().unwrap()).collect::<Vec<_>>(), ["scratch"]);
    assert_eq!((task.cpu(), task.memory()), (Some("512"), Some("1024")));
    let container = &task.container_definitions()[0];
    assert_eq!(container.image(), Some("public.ecr.aws/docker/library/node:22-alpine"));
    assert_eq!(container.command(), ["node", "dist/main.js"]);
    let health = container.health_check().expect("a health check");
    assert_eq!(health.command()[0], "CMD-SHELL");
    assert_eq!(
        (health.interval(), health.timeout(), health.retries(), health.start_period()),
        (Some(15), Some(5), Some(3), Some(20))
    );
    let mount = &container.mount_points()[0];
    assert_eq!((mount.source_volume(), mount.container_path()), (Some("scratch"), Some("/app/scratch")));
    let ulimit = &container.ulimits()[0];
    assert_eq!((ulimit.name().as_str(), ulimit.soft_limit(), ulimit.hard_limit()), ("nofile", 65536, 65536),);
    assert_eq!(container.stop_timeout(), Some(30));
    let value_from = |name: &str| {
        container.secrets().iter().find(|s| s.name() == name).map(|s| s.value_from().to_owned()).expect(name)
    };
    assert_eq!(value_from("DB_PASSWORD"), format!("{db_arn}:password::"), "the JSON key suffix ECS expects");
    assert_eq!(value_from("API_TOKEN"), token_arn);
    let web_task = ecs.describe_task_definition().task_definition("shop-web").send().await.unwrap();
    let web_health = web_task.task_definition().unwrap().container_definitions()[0].health_check().unwrap();
    assert_eq!((web_health.interval(), web_health.retries()), (Some(30), Some(3)), "ECS's defaults");

    // The secrets: a generated password of the requested length, the token, readers only.
    let value = |name: &'static str| {
        let secrets = secrets.clone();
        async move { secrets.get_secret_value().secret_id(name).send().await.unwrap().secret_string().unwrap().to_owned() }
    };
    let generated: serde_json::Value = serde_json::from_str(&value("shop/db").await).unwrap();
    let password = generated["password"].as_str().expect("a JSON object with the key").to_owned();
    assert_eq!(password.len(), 32);
    assert_eq!(value("shop-api-token").await, TOKEN);
    let iam = aws_sdk_iam::Client::new(&config);
    let exec_arn = iam.get_role().role_name("shop-exec").send().await.unwrap().role().unwrap().arn().to_owned();
    for name in ["shop/db", "shop-api-token"] {
        let policy = secrets.get_resource_policy().secret_id(name).send().await.unwrap();
        let policy = policy.resource_policy().expect("a resource policy");
        assert!(policy.contains(&exec_arn), "{name}: the reader role is admitted: {policy}");
        assert!(!policy.contains("shop-api-task"), "{name}: only the readers: {policy}");
    }
    assert_masked(&applied, &[&password]);

    // The load balancer: the redirect, the certificate, the default action and both rules.
    let elb = elb::Client::new(&config);
    let balancers = elb.describe_load_balancers().names("shop-alb").send().await.unwrap();
    let balancer = balancers.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let listeners = elb.describe_listeners().load_balancer_arn(&balancer).send().await.unwrap();
    let on = |port| listeners.listeners().iter().find(|l| l.port() == Some(port)).unwrap();
    let redirect = on(80).default_actions()[0].redirect_config().expect("port 80 redirects");
    assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));
    let https = on(443);
    assert_eq!(https.protocol(), Some(&elb::types::ProtocolEnum::Https));
    assert_eq!(https.certificates().first().and_then(|c| c.certificate_arn()), Some(certificate_arn.as_str()));
    assert!(https.default_actions()[0].target_group_arn().is_some_and(|tg| tg.contains("targetgroup/shop-web-tg/")));
    let https_arn = https.listener_arn().unwrap().to_owned();
    let expected_rules = |path: &str| {
        vec![
            ("10".to_owned(), "path-pattern".to_owned(), vec![path.to_owned()]),
            ("20".to_owned(), "host-header".to_owned(), vec!["api.shop.example".to_owned()]),
        ]
    };
    assert_eq!(rules(&elb, &https_arn).await, expected_rules("/api/*"));
    let groups = elb.describe_target_groups().names("shop-api-tg").send().await.unwrap();
    let api_tg = &groups.target_groups()[0];
    assert_eq!(api_tg.target_type(), Some(&elb::types::TargetTypeEnum::Ip));
    assert_eq!(api_tg.health_check_path(), Some("/health"));
    assert_eq!(
        (api_tg.health_check_interval_seconds(), api_tg.healthy_threshold_count(), api_tg.unhealthy_threshold_count()),
        (Some(15), Some(2), Some(3))
    );
    let attributes =
        elb.describe_target_group_attributes().target_group_arn(api_tg.target_group_arn().unwrap()).send().await;
    let attributes = attributes.unwrap();
    let delay = attributes.attributes().iter().find(|a| a.key() == Some("deregistration_delay.timeout_seconds"));
    assert_eq!(delay.and_then(|a| a.value()), Some("30"));

    // Auto scaling: the scalable target and its CPU target-tracking policy.
    let scaling = aws_sdk_applicationautoscaling::Client::new(&config);
    let targets = scalable_targets(&scaling).await;
    let target = targets.iter().find(|t| t.resource_id() == "service/shop/shop-api");
    let target = target.expect("a scalable target for shop-api");
    assert_eq!((target.min_capacity(), target.max_capacity()), (2, 6));
    let policies = scaling
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id("service/shop/shop-api")
        .send()
        .await
        .unwrap();
    let tracking: Vec<_> =
        policies.scaling_policies().iter().filter_map(|p| p.target_tracking_scaling_policy_configuration()).collect();
    assert_eq!(tracking.len(), 1, "{policies:?}");
    assert_eq!(tracking[0].target_value(), 60.0);
    let metric = tracking[0].predefined_metric_specification().map(|m| m.predefined_metric_type().as_str());
    assert_eq!(metric, Some("ECSServiceAverageCPUUtilization"));

    let again = berth_with_env(&moto, &["plan", stack, "--detailed-exitcode"], &env).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // A new image, a rule's new path and a new token change only what uses them.
    std::fs::write(&stack_path, text.replace("path: [\"/api/*\"]", "path: [\"/v1/*\"]")).unwrap();
    let changed_env = [
        ("BERTH_VAR_api_token", NEW_TOKEN),
        ("BERTH_VAR_certificate_arn", certificate_arn.as_str()),
        ("BERTH_VAR_api_image", NEW_API_IMAGE),
    ];
    let plan = berth_with_env(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"], &changed_env);
    let plan = plan.expect(2);
    assert_masked(&plan, &[TOKEN, NEW_TOKEN, &password]);
    let mut changed = changes(&plan.json());
    changed.sort();
    assert_eq!(
        changed,
        [
            ("load_balancers.shop-alb.listeners[443].rules[10]", "update"),
            ("secrets.shop-api-token", "update"),
            ("services.shop-api", "update"),
            ("task_definitions.shop-api", "update"),
        ]
        .map(|(address, action)| (address.to_owned(), action.to_owned())),
        "{}",
        plan.stdout
    );
    let applied = berth_with_env(&moto, &["apply", stack, "--auto-approve", "--no-wait"], &changed_env).expect(0);
    assert_masked(&applied, &[TOKEN, NEW_TOKEN, &password]);
    assert_eq!(rules(&elb, &https_arn).await, expected_rules("/v1/*"));
    assert_eq!(value("shop-api-token").await, NEW_TOKEN);
    let generated_after: serde_json::Value = serde_json::from_str(&value("shop/db").await).unwrap();
    assert_eq!(generated_after["password"], password.as_str(), "a generated value is never made again");
    let task = ecs.describe_task_definition().task_definition("shop-api").send().await.unwrap();
    assert_eq!(task.task_definition().unwrap().container_definitions()[0].image(), Some(NEW_API_IMAGE));
    let services = ecs.describe_services().cluster("shop").services("shop-api").send().await.unwrap();
    assert_eq!(services.services()[0].task_definition(), task.task_definition().unwrap().task_definition_arn());
    berth_with_env(&moto, &["plan", stack, "--detailed-exitcode"], &changed_env).expect(0);

    let destroyed = berth_with_env(&moto, &["destroy", stack, "--auto-approve"], &changed_env).expect(0);
    assert_masked(&destroyed, &[TOKEN, NEW_TOKEN, &password]);
    assert_nothing_of_the_stack_left(&config).await;
}

/// (priority, condition field, values) of a listener's rules but the default one.
async fn rules(elb: &elb::Client, listener: &str) -> Vec<(String, String, Vec<String>)> {
    let described = elb.describe_rules().listener_arn(listener).send().await.unwrap();
    let mut found: Vec<_> = described
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let condition = &r.conditions()[0];
            let values = match (condition.path_pattern_config(), condition.host_header_config()) {
                (Some(p), _) => p.values().to_vec(),
                (_, Some(h)) => h.values().to_vec(),
                _ => condition.values().to_vec(),
            };
            (r.priority().unwrap().to_owned(), condition.field().unwrap().to_owned(), values)
        })
        .collect();
    found.sort();
    found
}

/// The account's scalable targets of ECS services.
async fn scalable_targets(
    scaling: &aws_sdk_applicationautoscaling::Client,
) -> Vec<aws_sdk_applicationautoscaling::types::ScalableTarget> {
    let namespace = aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs;
    let targets = scaling.describe_scalable_targets().service_namespace(namespace).send().await.unwrap();
    targets.scalable_targets().to_vec()
}

/// Panics if anything of the `shop` stack is still there.
async fn assert_nothing_of_the_stack_left(config: &aws_config::SdkConfig) {
    let tagging = aws_sdk_resourcegroupstagging::Client::new(config);
    let owned = aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("berth:stack").values("shop").build();
    let tagged = tagging.get_resources().tag_filters(owned).send().await.unwrap();
    let ecs = aws_sdk_ecs::Client::new(config);
    let mut left = Vec::new();
    for arn in tagged.resource_tag_mapping_list().iter().filter_map(|r| r.resource_arn()) {
        // moto keeps deleted task definitions, clusters and services listed (INACTIVE).
        let gone = if arn.contains(":task-definition/") || arn.contains(":cluster/") {
            true
        } else if let Some(rest) = arn.split(":service/").nth(1) {
            let (cluster, name) = rest.split_once('/').unwrap();
            let described = ecs.describe_services().cluster(cluster).services(name).send().await.unwrap();
            described.services().iter().all(|s| s.status() == Some("INACTIVE"))
        } else {
            false
        };
        if !gone {
            left.push(arn.to_owned());
        }
    }
    assert!(left.is_empty(), "still tagged with the stack: {left:?}");
    let secrets = aws_sdk_secretsmanager::Client::new(config);
    let listed = secrets.list_secrets().send().await.unwrap();
    let names: Vec<_> = listed.secret_list().iter().filter_map(|s| s.name()).collect();
    assert!(names.is_empty(), "secrets left: {names:?}");
    let targets = scalable_targets(&aws_sdk_applicationautoscaling::Client::new(config)).await;
    assert!(targets.is_empty(), "{targets:?}");
    let elb = elb::Client::new(config);
    assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
    assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
}
