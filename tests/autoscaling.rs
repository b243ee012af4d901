//! Service autoscaling on moto through the real binary: the scalable target
//! and its target tracking policies (CPU, and requests per target with the
//! label of the load balancer and target group) read back as declared; the
//! autoscaler's count is never a change; a new range and target update in
//! place; removing `autoscaling:` (or the service) deregisters the target;
//! destroy leaves nothing.

mod common;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use berth_testkit::Moto;
use common::berth;

const STACK: &str = r#"stack: sc
region: ap-northeast-2
security_groups:
  sc-tasks:
    description: the tasks' port, from the VPC only
    ingress:
      - { protocol: tcp, ports: 8080, cidr: 10.0.0.0/8 }
clusters:
  sc: {}
task_definitions:
  web:
    requires: [FARGATE]
    network_mode: awsvpc
    cpu: 256
    memory: 512
    containers:
      web: { image: nginx:1.27, ports: [8080] }
target_groups:
  sc-web: { protocol: HTTP, port: 8080, target_type: ip }
load_balancers:
  sc-alb:
    listeners:
      - { port: 80, protocol: HTTP, forward: sc-web }
services:
  web:
    cluster: sc
    task_definition: web
    launch_type: FARGATE
    desired_count: 2
    network: { subnets: default, security_groups: [sc-tasks], public_ip: true }
    load_balancer: { target_group: sc-web, container: web, port: 8080 }
    autoscaling:
      min: 2
      max: 6
      cpu: 60
      requests_per_target: 1000
"#;

const RESOURCE: &str = "service/sc/web";
const SCALING: &str = "services.web.autoscaling";

/// (min, max) of the service's scalable target, `None` when there is none.
async fn range(scaling: &aws_sdk_applicationautoscaling::Client) -> Option<(i32, i32)> {
    let out = scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(RESOURCE)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .unwrap();
    out.scalable_targets().first().map(|t| (t.min_capacity(), t.max_capacity()))
}

/// (name, metric, target, resource label) of each policy of the service, by name.
async fn policies(scaling: &aws_sdk_applicationautoscaling::Client) -> Vec<(String, String, f64, Option<String>)> {
    let out = scaling.describe_scaling_policies().service_namespace(ServiceNamespace::Ecs).send().await.unwrap();
    let mut found: Vec<_> = out
        .scaling_policies()
        .iter()
        .filter(|p| p.resource_id() == RESOURCE)
        .map(|p| {
            let config = p.target_tracking_scaling_policy_configuration().expect("a target tracking policy");
            let metric = config.predefined_metric_specification().expect("a predefined metric");
            (
                p.policy_name().to_owned(),
                metric.predefined_metric_type().as_str().to_owned(),
                config.target_value(),
                metric.resource_label().map(str::to_owned),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_scales_between_its_range_and_the_autoscalers_count_is_no_change() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.yaml");
    std::fs::write(&stack, STACK).unwrap();
    let stack = stack.to_str().unwrap();

    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    let config = moto.sdk_config().await;
    let scaling = aws_sdk_applicationautoscaling::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    assert_eq!(range(&scaling).await, Some((2, 6)));
    let balancers = elb.describe_load_balancers().names("sc-alb").send().await.unwrap();
    let balancer = balancers.load_balancers()[0].load_balancer_arn().unwrap();
    let groups = elb.describe_target_groups().names("sc-web").send().await.unwrap();
    let group = groups.target_groups()[0].target_group_arn().unwrap();
    // app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>
    let label = format!("{}/{}", balancer.split_once(":loadbalancer/").unwrap().1, group.rsplit_once(':').unwrap().1);
    assert!(label.starts_with("app/sc-alb/") && label.contains("/targetgroup/sc-web/"), "{label}");
    assert_eq!(
        policies(&scaling).await,
        [
            ("cpu".into(), "ECSServiceAverageCPUUtilization".into(), 60.0, None),
            ("requests-per-target".into(), "ALBRequestCountPerTarget".into(), 1000.0, Some(label.clone())),
        ]
    );
    let count = |ecs: aws_sdk_ecs::Client| async move {
        let out = ecs.describe_services().cluster("sc").services("web").send().await.unwrap();
        out.services()[0].desired_count()
    };
    assert_eq!(count(ecs.clone()).await, 2, "the create sent the file's count");

    // The autoscaler scales out (moto's does not act on its own: play its part).
    ecs.update_service().cluster("sc").service("web").desired_count(5).send().await.unwrap();
    let again = berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // A new range and target change the autoscaling in place, and nothing else.
    let edited = STACK.replace("max: 6", "max: 8").replace("cpu: 60", "cpu: 45");
    std::fs::write(stack, &edited).unwrap();
    let plan = berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2);
    assert_eq!(common::changes(&plan.json()), [(SCALING.to_owned(), "update".to_owned())]);
    let scaling_change = plan.json()["resources"].as_array().unwrap().iter().find(|r| r["address"] == SCALING).cloned();
    let fields: Vec<String> = scaling_change.unwrap()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["max", "policies"]);
    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert_eq!(range(&scaling).await, Some((2, 8)));
    let now = policies(&scaling).await;
    assert_eq!(now[0], ("cpu".into(), "ECSServiceAverageCPUUtilization".into(), 45.0, None));
    assert_eq!(now[1].3.as_deref(), Some(label.as_str()), "the request count policy is unchanged");
    assert_eq!(count(ecs.clone()).await, 5, "the update left the autoscaler's count alone");
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);

    // Without `autoscaling:` the target is deregistered, and the file's count is the count again.
    let plain = edited.split("    autoscaling:").next().unwrap();
    std::fs::write(stack, plain).unwrap();
    let plan = berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2);
    let mut found = common::changes(&plan.json());
    found.sort();
    assert_eq!(found, [("services.web".to_owned(), "update".to_owned()), (SCALING.to_owned(), "delete".to_owned())]);
    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert_eq!(range(&scaling).await, None);
    assert!(policies(&scaling).await.is_empty(), "the policies went with the target");
    assert_eq!(count(ecs.clone()).await, 2);
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);

    // A service removed from the file takes its scalable target with it.
    std::fs::write(stack, STACK).unwrap();
    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert_eq!(range(&scaling).await, Some((2, 6)));
    let without_service = STACK.split("services:\n").next().unwrap();
    std::fs::write(stack, without_service).unwrap();
    let plan = berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2);
    let mut found = common::changes(&plan.json());
    found.sort();
    assert_eq!(found, [("services.web".to_owned(), "delete".to_owned()), (SCALING.to_owned(), "delete".to_owned())]);
    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert_eq!(range(&scaling).await, None);
    assert!(policies(&scaling).await.is_empty());

    // With autoscaling again, destroy takes the scalable target with the service.
    std::fs::write(stack, STACK).unwrap();
    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert_eq!(range(&scaling).await, Some((2, 6)));
    berth(&moto, &["destroy", stack, "--auto-approve"]).expect(0);
    assert_eq!(range(&scaling).await, None);
    assert!(policies(&scaling).await.is_empty());
    let services = ecs.describe_services().cluster("sc").services("web").send().await.unwrap();
    assert!(services.services().iter().all(|s| s.status() == Some("INACTIVE")), "the service is gone");
    assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(2);
}
