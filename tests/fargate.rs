//! An awsvpc (Fargate) service on moto through the real binary: its subnets,
//! security groups and public IP reach ECS and read back as planned, behind
//! an HTTPS listener with its certificate and an HTTP listener that
//! redirects to it, and with a path rule managed exactly (changed in place,
//! deleted once the file drops it); and a required variable comes from `BERTH_VAR_<NAME>` (a
//! CI secret) without ever being printed. Left without a value, the variable
//! stops berth before any AWS call, naming how to set it.

mod common;

use berth_testkit::Moto;
use common::berth_with_env;

const STACK: &str = r#"stack: fg
region: ap-northeast-2
vars:
  api_token: { sensitive: true }
  certificate_arn: { sensitive: false }
security_groups:
  fg-alb:
    description: HTTP and HTTPS from the internet
    ingress:
      - { protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
      - { protocol: tcp, ports: 443, cidr: 0.0.0.0/0 }
  fg-tasks:
    description: the tasks' port, from the VPC only
    ingress:
      - { protocol: tcp, ports: 8080, cidr: 10.0.0.0/8 }
iam:
  roles:
    fg-exec:
      trust: [ecs-tasks.amazonaws.com]
      managed_policies:
        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy
clusters:
  fg: {}
task_definitions:
  web:
    requires: [FARGATE]
    network_mode: awsvpc
    cpu: 256
    memory: 512
    execution_role: fg-exec
    containers:
      web:
        image: nginx:1.27
        ports: [8080]
        environment: { API_TOKEN: "${var.api_token}" }
target_groups:
  fg-web: { protocol: HTTP, port: 8080, target_type: ip }
  fg-api: { protocol: HTTP, port: 3000, target_type: ip }
load_balancers:
  fg-alb:
    security_groups: [fg-alb]
    listeners:
      - { port: 80, protocol: HTTP, redirect: { protocol: HTTPS, port: 443 } }
      - port: 443
        protocol: HTTPS
        certificate: "${var.certificate_arn}"
        forward: fg-web
        rules:
          - { priority: 10, path: ["/api/*"], forward: fg-api }
services:
  web:
    cluster: fg
    task_definition: web
    launch_type: FARGATE
    desired_count: 1
    network: { subnets: default, security_groups: [fg-tasks], public_ip: true }
    load_balancer: { target_group: fg-web, container: web, port: 8080 }
"#;

const TOKEN: &str = "tok-4f9a1c77e2";

#[tokio::test(flavor = "multi_thread")]
async fn an_awsvpc_service_gets_its_network_and_a_required_var_comes_from_the_environment() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.yaml");
    std::fs::write(&stack, STACK).unwrap();
    let stack = stack.to_str().unwrap();

    let unset = berth_with_env(&moto, &["plan", stack], &[]).expect(1);
    assert!(unset.stderr.contains("variable `api_token` has no value"), "{}", unset.stderr);
    assert!(unset.stderr.contains("BERTH_VAR_api_token"), "{}", unset.stderr);

    // A requested certificate waits for its validation (PENDING_VALIDATION):
    // berth refuses it before any change (BRT060), as CreateListener would.
    let config = moto.sdk_config().await;
    let acm = aws_sdk_acm::Client::new(&config);
    let requested = acm.request_certificate().domain_name("shop.example").send().await.unwrap();
    let pending = requested.certificate_arn().unwrap();
    let env = [("BERTH_VAR_api_token", TOKEN), ("BERTH_VAR_certificate_arn", pending)];
    let refused = berth_with_env(&moto, &["plan", stack], &env).expect(1);
    assert!(
        refused.stderr.contains("error[BRT060]") && refused.stderr.contains("PENDING_VALIDATION"),
        "{}",
        refused.stderr
    );
    let certificate_arn = common::import_certificate(&config).await;
    let env = [("BERTH_VAR_api_token", TOKEN), ("BERTH_VAR_certificate_arn", certificate_arn.as_str())];
    let applied = berth_with_env(&moto, &["apply", stack, "--auto-approve", "--no-wait"], &env).expect(0);
    for output in [&applied.stdout, &applied.stderr] {
        assert!(!output.contains(TOKEN), "the token was printed:\n{output}");
    }

    let ecs = aws_sdk_ecs::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let services = ecs.describe_services().cluster("fg").services("web").send().await.unwrap();
    let vpc = services.services()[0]
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .expect("the service has its awsvpc configuration");
    let filter = aws_sdk_ec2::types::Filter::builder().name("group-name").values("fg-tasks").build();
    let groups = ec2.describe_security_groups().filters(filter).send().await.unwrap();
    let group_id = groups.security_groups()[0].group_id().unwrap();
    assert_eq!(vpc.security_groups(), [group_id.to_owned()]);
    assert!(!vpc.subnets().is_empty(), "the stack's default subnets");
    assert_eq!(vpc.assign_public_ip(), Some(&aws_sdk_ecs::types::AssignPublicIp::Enabled));
    let task = ecs.describe_task_definition().task_definition("web").send().await.unwrap();
    let environment = task.task_definition().unwrap().container_definitions()[0].environment();
    assert_eq!(environment[0].value(), Some(TOKEN), "the environment's value reached ECS");

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let balancers = elb.describe_load_balancers().send().await.unwrap();
    let balancer = balancers.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = elb.describe_listeners().load_balancer_arn(balancer).send().await.unwrap();
    let on = |port| listeners.listeners().iter().find(|l| l.port() == Some(port)).unwrap();
    let redirect = on(80).default_actions()[0].redirect_config().expect("port 80 redirects");
    assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));
    let https = on(443);
    assert_eq!(https.protocol(), Some(&aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Https));
    let certificate = https.certificates().first().and_then(|c| c.certificate_arn());
    assert_eq!(certificate, Some(certificate_arn.as_str()));
    assert!(https.default_actions()[0].target_group_arn().is_some_and(|tg| tg.contains("targetgroup/fg-web/")));

    let rules = |listener: String| {
        let elb = elb.clone();
        async move {
            let rules = elb.describe_rules().listener_arn(listener).send().await.unwrap();
            let rules: Vec<_> = rules.rules().iter().filter(|r| r.is_default() != Some(true)).cloned().collect();
            rules
                .iter()
                .map(|r| {
                    let paths = r
                        .conditions()
                        .iter()
                        .flat_map(|c| c.path_pattern_config().map(|p| p.values()).unwrap_or(c.values()));
                    (r.priority().unwrap().to_owned(), paths.cloned().collect::<Vec<_>>())
                })
                .collect::<Vec<_>>()
        }
    };
    let https_arn = https.listener_arn().unwrap().to_owned();
    assert_eq!(rules(https_arn.clone()).await, [("10".to_owned(), vec!["/api/*".to_owned()])]);

    let again = berth_with_env(&moto, &["plan", stack, "--detailed-exitcode"], &env).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // A rule's path changes in place; a rule dropped from the file is deleted.
    let rule = "load_balancers.fg-alb.listeners[443].rules[10]";
    std::fs::write(stack, STACK.replace("/api/*", "/v2/*")).unwrap();
    let plan = berth_with_env(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"], &env).expect(2);
    assert_eq!(common::changes(&plan.json()), [(rule.to_owned(), "update".to_owned())]);
    berth_with_env(&moto, &["apply", stack, "--auto-approve", "--no-wait"], &env).expect(0);
    assert_eq!(rules(https_arn.clone()).await, [("10".to_owned(), vec!["/v2/*".to_owned()])]);
    let without_rule =
        STACK.replace("        rules:\n          - { priority: 10, path: [\"/api/*\"], forward: fg-api }\n", "");
    assert_ne!(without_rule, STACK);
    std::fs::write(stack, &without_rule).unwrap();
    let plan = berth_with_env(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"], &env).expect(2);
    assert_eq!(common::changes(&plan.json()), [(rule.to_owned(), "delete".to_owned())]);
    berth_with_env(&moto, &["apply", stack, "--auto-approve", "--no-wait"], &env).expect(0);
    assert!(rules(https_arn).await.is_empty(), "the rule is gone");
    berth_with_env(&moto, &["plan", stack, "--detailed-exitcode"], &env).expect(0);
    berth_with_env(&moto, &["destroy", stack, "--auto-approve"], &env).expect(0);
}
