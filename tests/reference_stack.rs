//! The reference stack end to end against moto: plan, apply, read back what
//! AWS holds, plan again (no changes), change the image, destroy.

mod common;

use aws_sdk_ecs::types::TransportProtocol;
use berth_testkit::Moto;
use common::{berth, changes, copy_reference_stack, reference_stack};

const ACCOUNT: &str = "123456789012"; // moto's default account

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_read_back_replan_change_destroy() {
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();

    // 1. Everything is a create, and --detailed-exitcode says there are changes.
    let plan = berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2).json();
    let planned = changes(&plan);
    assert_eq!(planned.len(), common::reference_count(), "{planned:#?}");
    assert!(planned.iter().all(|(_, action)| action == "create"), "{planned:#?}");
    assert_eq!(plan["format_version"], "1.2");
    assert!(plan.get("diagnostics").is_none(), "{}", plan["diagnostics"]);
    // It says what it was made against and from.
    assert_eq!(plan["origin"]["account"], "123456789012");
    assert_eq!(plan["origin"]["region"], "ap-northeast-2");
    assert_eq!(plan["origin"]["endpoint"].as_str(), Some(moto.endpoint.as_str()), "{}", plan["origin"]);
    assert_eq!(plan["origin"]["stack_file"], stack);
    assert!(plan["origin"]["vars"]["app_image"].as_str().unwrap().ends_with("example-app:latest"));
    // Another region than the file's plans a second copy of the stack: a warning.
    let elsewhere = berth(&moto, &["plan", stack, "--region", "us-east-1"]).expect(0);
    assert!(
        elsewhere.stdout.contains("--region us-east-1 differs from the file's region ap-northeast-2"),
        "{}",
        elsewhere.stdout
    );
    assert!(
        elsewhere.stdout.starts_with("Planned against account 123456789012, region us-east-1"),
        "{}",
        elsewhere.stdout
    );

    // 2. Apply converges.
    let applied = berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
    let created = format!("Apply complete: {} created", common::reference_count());
    assert!(applied.stdout.contains(&created), "{}", applied.stdout);
    assert!(applied.stderr.contains("services.example-app-service: created ("), "{}", applied.stderr);

    // 3. AWS holds the stack's intent.
    read_back(&moto).await;

    // 4. A plan right after the apply is empty.
    let again = berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // 5. A new image is a new task definition revision and a service update, nothing else.
    let image = ["--var", "app_image=example-app:v2"];
    let plan = berth(&moto, &[&["plan", stack, "--format", "json", "--detailed-exitcode"][..], &image[..]].concat())
        .expect(2)
        .json();
    assert_eq!(
        changes(&plan),
        [
            ("task_definitions.example-app".to_owned(), "update".to_owned()),
            ("services.example-app-service".to_owned(), "update".to_owned())
        ]
    );
    // --no-wait: moto keeps the first task definition in the service's PRIMARY
    // deployment after UpdateService (docs/moto.md); tests/rollout.rs follows
    // rollouts through a scripted proxy.
    berth(&moto, &[&["apply", stack, "--auto-approve", "--no-wait"][..], &image[..]].concat()).expect(0);
    berth(&moto, &[&["plan", stack, "--detailed-exitcode"][..], &image[..]].concat()).expect(0);
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    let service = service(&ecs).await;
    let td_arn = service.task_definition().unwrap();
    assert!(td_arn.ends_with("task-definition/example-app:2"), "{td_arn}");

    // 6. A resource removed from the file is found by its tags and deleted, and nothing else.
    let trimmed = tempfile::tempdir().unwrap();
    let trimmed_stack =
        copy_reference_stack(trimmed.path(), |text| text[..text.find("\nservices:").unwrap()].to_owned());
    let trimmed_stack = trimmed_stack.to_str().unwrap();
    let plan = berth(&moto, &[&["plan", trimmed_stack, "--format", "json"][..], &image[..]].concat()).expect(0).json();
    assert_eq!(changes(&plan), [("services.example-app-service".to_owned(), "delete".to_owned())]);
    berth(&moto, &[&["apply", trimmed_stack, "--auto-approve"][..], &image[..]].concat()).expect(0);
    let plan = berth(&moto, &[&["plan", stack, "--format", "json"][..], &image[..]].concat()).expect(0).json();
    assert_eq!(changes(&plan), [("services.example-app-service".to_owned(), "create".to_owned())]);
    assert!(plan.get("diagnostics").is_none(), "{}", plan["diagnostics"]);
    berth(&moto, &[&["apply", stack, "--auto-approve", "--no-wait"][..], &image[..]].concat()).expect(0);

    // 7. Destroy leaves nothing tagged with the stack, nor the untaggable-by-search parts.
    let destroyed = berth(&moto, &["destroy", stack, "--auto-approve"]).expect(0);
    let deleted = format!("Destroy complete: {} deleted.", common::reference_count());
    assert!(destroyed.stdout.contains(&deleted), "{}", destroyed.stdout);
    common::assert_nothing_left(&moto).await;
    let after = berth(&moto, &["plan", stack, "--destroy", "--detailed-exitcode"]).expect(0);
    assert!(after.stdout.contains("Nothing of this stack exists"), "{}", after.stdout);
}

/// The stack's ECS service as AWS holds it.
async fn service(ecs: &aws_sdk_ecs::Client) -> aws_sdk_ecs::types::Service {
    let described = ecs.describe_services().cluster("ecs-sample").services("example-app-service").send().await.unwrap();
    described.services()[0].clone()
}

async fn read_back(moto: &Moto) {
    let config = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let s3 = moto.s3().await;

    // Task definition: both containers, the proxy on a dynamic host port, linked and ordered after the app.
    let td =
        ecs.describe_task_definition().task_definition("example-app").send().await.unwrap().task_definition.unwrap();
    assert_eq!(td.execution_role_arn(), Some(format!("arn:aws:iam::{ACCOUNT}:role/ecs-task-execution-role").as_str()));
    assert_eq!(td.memory(), Some("450"));
    let containers = td.container_definitions();
    assert_eq!(containers.len(), 2);
    let proxy = containers.iter().find(|c| c.name() == Some("reverse-proxy-container")).unwrap();
    let mapping = &proxy.port_mappings()[0];
    assert_eq!((mapping.container_port(), mapping.host_port()), (Some(80), Some(0)));
    assert!(mapping.protocol().is_none_or(|p| *p == TransportProtocol::Tcp));
    assert_eq!(proxy.links(), ["example-app-container"]);
    let depends = &proxy.depends_on()[0];
    assert_eq!(depends.container_name(), "example-app-container");
    assert_eq!(depends.condition().as_str(), "START");
    let app = containers.iter().find(|c| c.name() == Some("example-app-container")).unwrap();
    let logs = app.log_configuration().unwrap();
    assert_eq!(logs.log_driver().as_str(), "awslogs");
    assert_eq!(logs.options().unwrap().get("awslogs-group").map(String::as_str), Some("/ecs/example-app"));
    let env_file = &app.environment_files()[0];
    assert_eq!(env_file.value(), format!("arn:aws:s3:::ecs-sample-env-{ACCOUNT}/prod.env"));

    // Service: the task definition, 0% / 100%, the target group on the proxy's port 80.
    let service = service(&ecs).await;
    assert_eq!(service.task_definition(), td.task_definition_arn());
    let deployment = service.deployment_configuration().unwrap();
    assert_eq!((deployment.minimum_healthy_percent(), deployment.maximum_percent()), (Some(0), Some(100)));
    let lb = &service.load_balancers()[0];
    assert_eq!((lb.container_name(), lb.container_port()), (Some("reverse-proxy-container"), Some(80)));
    let tg_arn = lb.target_group_arn().unwrap();

    // Listener forwards to that target group, in the stack's (default) VPC.
    let alb = &elb.describe_load_balancers().names("ecs-sample-alb").send().await.unwrap().load_balancers.unwrap()[0];
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(alb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap()
        .listeners
        .unwrap();
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].default_actions()[0].target_group_arn(), Some(tg_arn));
    let tg = &elb.describe_target_groups().target_group_arns(tg_arn).send().await.unwrap().target_groups.unwrap()[0];
    let default_vpc = ec2
        .describe_vpcs()
        .filters(aws_sdk_ec2::types::Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .unwrap()
        .vpcs
        .unwrap()[0]
        .vpc_id
        .clone();
    assert_eq!(tg.vpc_id(), default_vpc.as_deref());
    assert_eq!(alb.vpc_id(), default_vpc.as_deref());

    // Bucket: public access blocked, policy admits only the execution role.
    let bucket = format!("ecs-sample-env-{ACCOUNT}");
    let block =
        s3.get_public_access_block().bucket(&bucket).send().await.unwrap().public_access_block_configuration.unwrap();
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let policy: serde_json::Value =
        serde_json::from_str(&s3.get_bucket_policy().bucket(&bucket).send().await.unwrap().policy.unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Allow");
    let principal = &statements[0]["Principal"]["AWS"];
    let expected = format!("arn:aws:iam::{ACCOUNT}:role/ecs-task-execution-role");
    assert!(principal == &serde_json::json!(expected) || principal == &serde_json::json!([expected]), "{principal}");

    // Instance security group admits the ephemeral range only from the ALB's group.
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("ecs-sample-instances")
                .values("ecs-sample-alb")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups
        .unwrap();
    let alb_group = groups.iter().find(|g| g.group_name() == Some("ecs-sample-alb")).unwrap();
    let instances = groups.iter().find(|g| g.group_name() == Some("ecs-sample-instances")).unwrap();
    let rules = instances.ip_permissions();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!((rules[0].from_port(), rules[0].to_port()), (Some(32768), Some(65535)));
    assert!(rules[0].ip_ranges().is_empty());
    let sources: Vec<_> = rules[0].user_id_group_pairs().iter().map(|p| p.group_id()).collect();
    assert_eq!(sources, [alb_group.group_id()]);
}

#[test]
fn apply_without_a_terminal_refuses_and_changes_nothing() {
    let moto = Moto::start();
    let stack = reference_stack();
    let run = berth(&moto, &["apply", stack.to_str().unwrap()]).expect(1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    let plan = berth(&moto, &["plan", stack.to_str().unwrap(), "--format", "json"]).expect(0).json();
    assert_eq!(plan["summary"]["create"], common::reference_count());
}
