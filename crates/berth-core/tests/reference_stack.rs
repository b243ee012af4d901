//! The reference stack expands into the graph the product promises.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::expand::{expand, ExpandOptions, Expanded};
use berth_core::graph::reference;
use berth_core::kind::Kind;
use berth_core::load::load_file;

fn reference_stack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml")
}

fn options() -> ExpandOptions {
    ExpandOptions {
        account_id: "123456789012".into(),
        region: "ap-northeast-2".into(),
        var_overrides: BTreeMap::new(),
        ..Default::default()
    }
}

fn expanded() -> Expanded {
    let loaded = load_file(&reference_stack()).expect("reference stack parses");
    expand(&loaded, &options()).expect("reference stack expands")
}

#[test]
fn every_entry_becomes_its_aws_resources() {
    let expanded = expanded();
    let mut kinds: BTreeMap<String, Kind> = BTreeMap::new();
    for node in expanded.graph.nodes() {
        kinds.insert(node.address.clone(), node.kind);
    }
    let expected = [
        ("network", Kind::Network),
        ("key_pairs.ecs-sample-key", Kind::KeyPair),
        ("security_groups.ecs-sample-alb", Kind::SecurityGroup),
        ("security_groups.ecs-sample-alb.ingress[tcp 80 0.0.0.0/0]", Kind::SecurityGroupIngress),
        ("security_groups.ecs-sample-instances", Kind::SecurityGroup),
        ("security_groups.ecs-sample-instances.ingress[tcp 32768-65535 ecs-sample-alb]", Kind::SecurityGroupIngress),
        ("iam.policies.ecs-sample-ecs", Kind::IamPolicy),
        ("iam.roles.ecs-instance-role", Kind::IamRole),
        (
            "iam.roles.ecs-instance-role.managed_policies[AmazonEC2ContainerServiceforEC2Role]",
            Kind::IamRolePolicyAttachment,
        ),
        ("iam.roles.ecs-instance-role.instance_profile", Kind::IamInstanceProfile),
        ("iam.roles.ecs-task-execution-role", Kind::IamRole),
        (
            "iam.roles.ecs-task-execution-role.managed_policies[AmazonECSTaskExecutionRolePolicy]",
            Kind::IamRolePolicyAttachment,
        ),
        ("iam.roles.ecs-task-execution-role.policies[ecs-sample-ecs]", Kind::IamRolePolicyAttachment),
        ("iam.roles.ecs-task-execution-role.inline_policies.read-env-file", Kind::IamRoleInlinePolicy),
        ("buckets.ecs-sample-env", Kind::S3Bucket),
        ("buckets.ecs-sample-env.public_access_block", Kind::S3PublicAccessBlock),
        ("buckets.ecs-sample-env.policy", Kind::S3BucketPolicy),
        ("buckets.ecs-sample-env.objects[prod.env]", Kind::S3Object),
        ("log_groups./ecs/example-app", Kind::LogGroup),
        ("clusters.ecs-sample", Kind::EcsCluster),
        ("clusters.ecs-sample.ami", Kind::SsmParameter),
        ("clusters.ecs-sample.launch_template", Kind::LaunchTemplate),
        ("clusters.ecs-sample.autoscaling_group", Kind::AutoscalingGroup),
        ("clusters.ecs-sample.capacity_provider", Kind::CapacityProvider),
        ("clusters.ecs-sample.capacity_providers", Kind::ClusterCapacityProviders),
        ("task_definitions.example-app", Kind::TaskDefinition),
        ("target_groups.ecs-sample-tg", Kind::TargetGroup),
        ("load_balancers.ecs-sample-alb", Kind::LoadBalancer),
        ("load_balancers.ecs-sample-alb.listeners[80]", Kind::Listener),
        ("services.example-app-service", Kind::EcsService),
    ];
    let expected: BTreeMap<String, Kind> = expected.iter().map(|(a, k)| (a.to_string(), *k)).collect();
    assert_eq!(kinds, expected);
    // The one place the reference stack's size is written down; other tests use `managed_count`.
    assert_eq!(expanded.managed_count(), 28);
}

#[test]
fn role_and_bucket_refer_to_each_other_through_sub_resources() {
    let expanded = expanded();
    let graph = &expanded.graph;
    let inline = graph.get("iam.roles.ecs-task-execution-role.inline_policies.read-env-file").unwrap();
    assert!(inline.dependencies().contains("buckets.ecs-sample-env"));
    let policy = graph.get("buckets.ecs-sample-env.policy").unwrap();
    assert!(policy.dependencies().contains("iam.roles.ecs-task-execution-role"));
    assert!(graph.topological_order().is_ok());
}

#[test]
fn service_waits_for_its_listener_and_task_definition() {
    let expanded = expanded();
    let service = expanded.graph.get("services.example-app-service").unwrap();
    let deps = service.dependencies();
    for dep in ["load_balancers.ecs-sample-alb.listeners[80]", "task_definitions.example-app", "clusters.ecs-sample"] {
        assert!(deps.contains(dep), "service should depend on {dep}: {deps:?}");
    }
    assert_eq!(
        service.desired["deployment"],
        serde_json::json!({"minimum_healthy_percent": 0, "maximum_percent": 100})
    );
}

#[test]
fn task_definition_carries_the_walkthrough_fixes() {
    let expanded = expanded();
    let td = &expanded.graph.get("task_definitions.example-app").unwrap().desired;
    let containers = td["container_definitions"].as_array().unwrap();
    let proxy = containers.iter().find(|c| c["name"] == "reverse-proxy-container").unwrap();
    assert_eq!(proxy["port_mappings"][0]["host_port"], 0);
    assert_eq!(proxy["links"][0], "example-app-container");
    assert_eq!(proxy["depends_on"][0]["condition"], "START");
    let app = containers.iter().find(|c| c["name"] == "example-app-container").unwrap();
    assert_eq!(app["image"], "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/example-app:latest");
    assert_eq!(
        app["environment_files"][0]["value"],
        format!("{}/prod.env", reference("buckets.ecs-sample-env", "arn"))
    );
    assert_eq!(td["memory"], "450");
    assert_eq!(td["execution_role_arn"], reference("iam.roles.ecs-task-execution-role", "arn"));
}

#[test]
fn env_file_values_are_known_secrets() {
    let expanded = expanded();
    let object = expanded.graph.get("buckets.ecs-sample-env.objects[prod.env]").unwrap();
    assert_eq!(object.sensitive_fields, ["content"]);
    let content = object.desired["content"].as_str().unwrap();
    for secret in &expanded.secrets {
        assert!(content.contains(secret.as_str()));
    }
    assert!(!expanded.secrets.is_empty());
}

#[test]
fn generated_policies_are_least_privilege() {
    let expanded = expanded();
    let graph = &expanded.graph;
    let trust = |role: &str| graph.get(&format!("iam.roles.{role}")).unwrap().desired["assume_role_policy"].clone();
    // ECS tasks of this account only (confused deputy protection); EC2 sets no source account.
    let tasks = trust("ecs-task-execution-role");
    assert_eq!(tasks["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
    assert!(trust("ecs-instance-role")["Statement"][0].get("Condition").is_none());
    // The bucket policy lets the readers fetch objects and denies everyone plain HTTP.
    let policy = &graph.get("buckets.ecs-sample-env.policy").unwrap().desired["policy"];
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{policy:#}");
    let deny = statements.iter().find(|s| s["Effect"] == "Deny").unwrap();
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(deny["Principal"], "*");

    // Opting out of the condition, and an endpoint reached over plain HTTP.
    let text = std::fs::read_to_string(reference_stack()).unwrap().replace(
        "      trust: [ecs-tasks.amazonaws.com]\n",
        "      trust: [ecs-tasks.amazonaws.com]\n      limit_to_account: false\n",
    );
    let loaded = berth_core::load::load_str(&reference_stack(), &text).unwrap();
    let plain = expand(&loaded, &ExpandOptions { plain_http: true, ..options() }).unwrap();
    let role = plain.graph.get("iam.roles.ecs-task-execution-role").unwrap();
    assert!(role.desired["assume_role_policy"]["Statement"][0].get("Condition").is_none());
    let policy = &plain.graph.get("buckets.ecs-sample-env.policy").unwrap().desired["policy"];
    assert_eq!(policy["Statement"].as_array().unwrap().len(), 1, "{policy:#}");
}
