//! Shared helpers of the end-to-end tests: run the real `berth` binary
//! against a private moto_server.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use berth_testkit::Moto;

/// The reference stack as a user starts from it.
pub fn reference_stack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/ecs-sample/stack.yaml")
}

/// How many resources the reference stack manages, from its expansion (the
/// exact list is asserted once, in berth-core's tests/reference_stack.rs).
pub fn reference_count() -> usize {
    let loaded = berth_core::load::load_file(&reference_stack()).expect("the reference stack loads");
    let options = berth_core::expand::ExpandOptions {
        account_id: "123456789012".into(),
        region: "ap-northeast-2".into(),
        ..Default::default()
    };
    berth_core::expand::expand(&loaded, &options).expect("the reference stack expands").managed_count()
}

/// What one berth run printed and how it ended.
pub struct Run {
    /// The exit code; -1 when berth was ended by a signal.
    pub code: i32,
    /// What berth wrote to stdout.
    pub stdout: String,
    /// What berth wrote to stderr.
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "berth exited {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Stdout parsed as JSON; panics showing it when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `berth ARGS` against `moto`, with no terminal on stdin.
pub fn berth(moto: &Moto, args: &[&str]) -> Run {
    berth_with_env(moto, args, &[])
}

/// Runs `berth ARGS` against `moto` with extra environment variables.
pub fn berth_with_env(moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Run {
    Run::from(moto_command(moto, args).envs(env.iter().copied()).output().expect("run berth"))
}

/// Runs `berth ARGS` against `moto` in the folder `dir`.
pub fn berth_in(moto: &Moto, dir: &Path, args: &[&str]) -> Run {
    Run::from(moto_command(moto, args).current_dir(dir).output().expect("run berth"))
}

fn moto_command(moto: &Moto, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.args(args).envs(moto.env()).env_remove("AWS_PROFILE").env("NO_COLOR", "1").stdin(Stdio::null());
    command
}

/// (address, action) of every change in a JSON plan.
pub fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap().to_owned(), r["action"].as_str().unwrap().to_owned()))
        .collect()
}

/// Copies the reference stack with its key and env files into `dir`, with
/// `edit` applied to the stack text; returns the copy's path.
pub fn copy_reference_stack(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let source = reference_stack();
    let source_dir = source.parent().unwrap();
    for sub in ["keys", "env"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(source_dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let text = std::fs::read_to_string(&source).unwrap();
    let copy = dir.join("stack.yaml");
    std::fs::write(&copy, edit(&text)).unwrap();
    copy
}

/// Runs `berth ARGS` with exactly the AWS environment `env` (from
/// [`Moto::env`] or [`berth_testkit::FaultProxy::env`]), with no terminal on stdin.
pub fn run_berth(env: &[(&'static str, String)], args: &[&str]) -> Run {
    let output = berth_command(env, args).stdout(Stdio::piped()).stderr(Stdio::piped()).output().expect("run berth");
    Run::from(output)
}

/// Starts `berth ARGS` with the AWS environment `env` and returns at once,
/// for a test that kills it.
pub fn spawn_berth(env: &[(&'static str, String)], args: &[&str]) -> Child {
    berth_command(env, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start berth")
}

/// Like [`spawn_berth`], with stdout and stderr captured for
/// [`finish_berth`].
pub fn spawn_berth_captured(env: &[(&'static str, String)], args: &[&str]) -> Child {
    berth_command(env, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start berth")
}

/// Waits for a berth started by [`spawn_berth_captured`], killing it and
/// panicking if it takes longer than `timeout`.
pub fn finish_berth(child: Child, timeout: std::time::Duration) -> Run {
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(timeout) {
        Ok(output) => Run::from(output.expect("berth output")),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("berth did not end within {timeout:?}");
        }
    }
}

fn berth_command(env: &[(&'static str, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// The reference stack's account on moto, in names that contain it.
const REFERENCE_ACCOUNT: &str = "123456789012";

/// What a converged reference stack holds: one of each part, one of each
/// rule, attachment and version, and no `berth:id` on two live resources.
pub fn reference_census() -> BTreeMap<&'static str, usize> {
    let mut expected: BTreeMap<&'static str, usize> = census_parts().into_iter().map(|part| (part, 1)).collect();
    expected.insert("role ecs-task-execution-role: attached policies", 2);
    expected.insert("berth:id on two live resources", 0);
    expected
}

/// [`reference_census`] after a destroy: nothing.
pub fn empty_census() -> BTreeMap<&'static str, usize> {
    census_parts().into_iter().chain(["berth:id on two live resources"]).map(|part| (part, 0)).collect()
}

fn census_parts() -> Vec<&'static str> {
    vec![
        "key pair ecs-sample-key",
        "security group ecs-sample-alb",
        "security group ecs-sample-alb: ingress rules",
        "security group ecs-sample-instances",
        "security group ecs-sample-instances: ingress rules",
        "iam policy ecs-sample-ecs",
        "iam policy ecs-sample-ecs: versions",
        "role ecs-instance-role",
        "role ecs-instance-role: attached policies",
        "role ecs-task-execution-role",
        "role ecs-task-execution-role: attached policies",
        "role ecs-task-execution-role: inline policies",
        "instance profile ecs-instance-role",
        "instance profile ecs-instance-role: roles",
        "bucket ecs-sample-env",
        "bucket ecs-sample-env: objects",
        "log group /ecs/example-app",
        "launch template ecs-sample-instances",
        "launch template ecs-sample-instances: versions",
        "auto scaling group ecs-sample-instances",
        "running instances of the stack",
        "capacity provider cp-ecs-sample",
        "cluster ecs-sample (ACTIVE)",
        "task definition example-app: ACTIVE revisions",
        "target group ecs-sample-tg",
        "load balancer ecs-sample-alb",
        "load balancer ecs-sample-alb: listeners",
        "service example-app-service (ACTIVE)",
    ]
}

/// Counts every part of the reference stack on `moto` by reading it with the
/// SDK (not through berth), so that duplicates show: a second load balancer
/// of the same name, a second task definition revision, a second listener...
/// Compare with [`reference_census`] or [`empty_census`].
pub async fn census(moto: &Moto) -> BTreeMap<&'static str, usize> {
    use aws_sdk_ec2::types::Filter;
    let config = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let autoscaling = berth_testkit::sdk::autoscaling::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let s3 = moto.s3().await;
    let mut found: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut count = |part: &'static str, n: usize| {
        assert!(census_parts().contains(&part) || part == "berth:id on two live resources", "{part}");
        *found.entry(part).or_default() += n;
    };
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();

    // EC2
    let keys = ec2.describe_key_pairs().send().await.unwrap();
    count(
        "key pair ecs-sample-key",
        keys.key_pairs().iter().filter(|k| k.key_name() == Some("ecs-sample-key")).count(),
    );
    let groups = ec2.describe_security_groups().send().await.unwrap();
    for (name, part, rules_part) in [
        ("ecs-sample-alb", "security group ecs-sample-alb", "security group ecs-sample-alb: ingress rules"),
        (
            "ecs-sample-instances",
            "security group ecs-sample-instances",
            "security group ecs-sample-instances: ingress rules",
        ),
    ] {
        let matching: Vec<_> = groups.security_groups().iter().filter(|g| g.group_name() == Some(name)).collect();
        count(part, matching.len());
        count(rules_part, 0);
        for group in matching {
            let rules = ec2
                .describe_security_group_rules()
                .filters(filter("group-id", group.group_id().unwrap()))
                .send()
                .await
                .unwrap();
            count(rules_part, rules.security_group_rules().iter().filter(|r| r.is_egress() == Some(false)).count());
        }
    }
    let templates = ec2.describe_launch_templates().send().await.unwrap();
    let template =
        templates.launch_templates().iter().find(|t| t.launch_template_name() == Some("ecs-sample-instances"));
    count(
        "launch template ecs-sample-instances",
        templates
            .launch_templates()
            .iter()
            .filter(|t| t.launch_template_name() == Some("ecs-sample-instances"))
            .count(),
    );
    let versions = match template {
        Some(t) => {
            let versions = ec2
                .describe_launch_template_versions()
                .launch_template_id(t.launch_template_id().unwrap())
                .send()
                .await
                .unwrap();
            versions.launch_template_versions().len()
        }
        None => 0,
    };
    count("launch template ecs-sample-instances: versions", versions);
    let instances = ec2
        .describe_instances()
        .filters(filter("tag:berth:stack", "ecs-sample"))
        .filters(Filter::builder().name("instance-state-name").values("pending").values("running").build())
        .send()
        .await
        .unwrap();
    count("running instances of the stack", instances.reservations().iter().map(|r| r.instances().len()).sum());

    // IAM
    for role in ["ecs-instance-role", "ecs-task-execution-role"] {
        let exists = iam.get_role().role_name(role).send().await.is_ok();
        let attached = match iam.list_attached_role_policies().role_name(role).send().await {
            Ok(out) => out.attached_policies().len(),
            Err(_) => 0,
        };
        let (part, attached_part) = match role {
            "ecs-instance-role" => ("role ecs-instance-role", "role ecs-instance-role: attached policies"),
            _ => ("role ecs-task-execution-role", "role ecs-task-execution-role: attached policies"),
        };
        count(part, usize::from(exists));
        count(attached_part, attached);
    }
    let inline = match iam.list_role_policies().role_name("ecs-task-execution-role").send().await {
        Ok(out) => out.policy_names().len(),
        Err(_) => 0,
    };
    count("role ecs-task-execution-role: inline policies", inline);
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    let policy = policies.policies().iter().find(|p| p.policy_name() == Some("ecs-sample-ecs"));
    count(
        "iam policy ecs-sample-ecs",
        policies.policies().iter().filter(|p| p.policy_name() == Some("ecs-sample-ecs")).count(),
    );
    let policy_versions = match policy.and_then(|p| p.arn()) {
        Some(arn) => iam.list_policy_versions().policy_arn(arn).send().await.unwrap().versions().len(),
        None => 0,
    };
    count("iam policy ecs-sample-ecs: versions", policy_versions);
    match iam.get_instance_profile().instance_profile_name("ecs-instance-role").send().await {
        Ok(out) => {
            count("instance profile ecs-instance-role", 1);
            count("instance profile ecs-instance-role: roles", out.instance_profile().map_or(0, |p| p.roles().len()));
        }
        Err(_) => {
            count("instance profile ecs-instance-role", 0);
            count("instance profile ecs-instance-role: roles", 0);
        }
    }

    // S3 and Logs
    let bucket = format!("ecs-sample-env-{REFERENCE_ACCOUNT}");
    let buckets = s3.list_buckets().send().await.unwrap();
    let has_bucket = buckets.buckets().iter().any(|b| b.name() == Some(bucket.as_str()));
    count("bucket ecs-sample-env", usize::from(has_bucket));
    let objects =
        if has_bucket { s3.list_objects_v2().bucket(&bucket).send().await.unwrap().contents().len() } else { 0 };
    count("bucket ecs-sample-env: objects", objects);
    let groups = logs.describe_log_groups().log_group_name_prefix("/ecs/example-app").send().await.unwrap();
    count(
        "log group /ecs/example-app",
        groups.log_groups().iter().filter(|g| g.log_group_name() == Some("/ecs/example-app")).count(),
    );

    // Auto Scaling and ECS
    let asgs = autoscaling.describe_auto_scaling_groups().send().await.unwrap();
    count(
        "auto scaling group ecs-sample-instances",
        asgs.auto_scaling_groups()
            .iter()
            .filter(|g| g.auto_scaling_group_name() == Some("ecs-sample-instances"))
            .count(),
    );
    let providers = ecs.describe_capacity_providers().capacity_providers("cp-ecs-sample").send().await.unwrap();
    count(
        "capacity provider cp-ecs-sample",
        providers
            .capacity_providers()
            .iter()
            .filter(|p| p.status() == Some(&aws_sdk_ecs::types::CapacityProviderStatus::Active))
            .count(),
    );
    let cluster_arns = ecs.list_clusters().send().await.unwrap().cluster_arns().to_vec();
    let clusters = if cluster_arns.is_empty() {
        Vec::new()
    } else {
        ecs.describe_clusters().set_clusters(Some(cluster_arns)).send().await.unwrap().clusters().to_vec()
    };
    let active_cluster =
        clusters.iter().filter(|c| c.cluster_name() == Some("ecs-sample") && c.status() == Some("ACTIVE")).count();
    count("cluster ecs-sample (ACTIVE)", active_cluster);
    let services = if active_cluster > 0 {
        let arns = ecs.list_services().cluster("ecs-sample").send().await.unwrap().service_arns().to_vec();
        if arns.is_empty() {
            0
        } else {
            let described =
                ecs.describe_services().cluster("ecs-sample").set_services(Some(arns)).send().await.unwrap();
            described
                .services()
                .iter()
                .filter(|s| s.service_name() == Some("example-app-service") && s.status() == Some("ACTIVE"))
                .count()
        }
    } else {
        0
    };
    count("service example-app-service (ACTIVE)", services);
    let revisions = ecs
        .list_task_definitions()
        .family_prefix("example-app")
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    count("task definition example-app: ACTIVE revisions", revisions.task_definition_arns().len());

    // ELBv2
    let balancers = elb.describe_load_balancers().send().await.unwrap();
    let named: Vec<_> =
        balancers.load_balancers().iter().filter(|b| b.load_balancer_name() == Some("ecs-sample-alb")).collect();
    count("load balancer ecs-sample-alb", named.len());
    count("load balancer ecs-sample-alb: listeners", 0);
    for balancer in named {
        let listeners =
            elb.describe_listeners().load_balancer_arn(balancer.load_balancer_arn().unwrap()).send().await.unwrap();
        count("load balancer ecs-sample-alb: listeners", listeners.listeners().len());
    }
    let target_groups = elb.describe_target_groups().send().await.unwrap();
    count(
        "target group ecs-sample-tg",
        target_groups.target_groups().iter().filter(|t| t.target_group_name() == Some("ecs-sample-tg")).count(),
    );

    // No address on two live resources, among those the tagging API finds.
    let tagged = tagged_with_reference_stack(&config).await;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for resource in tagged.resource_tag_mapping_list() {
        let arn = resource.resource_arn().unwrap_or_default();
        // Instances are counted above; moto keeps deleted ECS things listed.
        if arn.contains(":instance/") || arn.contains(":task-definition/") || arn.contains(":cluster/") {
            continue;
        }
        if let Some(rest) = arn.split(":service/").nth(1) {
            let (cluster, name) = rest.split_once('/').unwrap();
            let described = ecs.describe_services().cluster(cluster).services(name).send().await.unwrap();
            if described.services().iter().all(|s| s.status() == Some("INACTIVE")) {
                continue;
            }
        }
        if let Some(id) = resource.tags().iter().find(|t| t.key() == "berth:id") {
            *ids.entry(id.value().to_owned()).or_default() += 1;
        }
    }
    count("berth:id on two live resources", ids.values().filter(|n| **n > 1).count());
    found
}

/// Panics unless the census of `moto` is `expected`, listing what differs.
pub async fn assert_census(moto: &Moto, expected: &BTreeMap<&'static str, usize>, context: &str) {
    let found = census(moto).await;
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(part, n)| found.get(*part) != Some(*n))
        .map(|(part, n)| format!("{part}: {} (wanted {n})", found.get(part).copied().unwrap_or_default()))
        .collect();
    assert!(wrong.is_empty(), "{context}: the resources on moto are not as they should be:\n  {}", wrong.join("\n  "));
}

/// Panics if anything tagged with the reference stack is still live after a
/// destroy (the checks of reference_stack.rs's `nothing_left`, shared).
pub async fn assert_nothing_left(moto: &Moto) {
    let config = moto.sdk_config().await;
    let tagged = tagged_with_reference_stack(&config).await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let mut left = Vec::new();
    for arn in tagged.resource_tag_mapping_list().iter().filter_map(|r| r.resource_arn()) {
        // moto keeps deleted things listed: INACTIVE task definitions, clusters and
        // services, and terminated instances (of the deleted auto scaling group).
        let gone =
            if arn.contains(":task-definition/") || arn.contains(":cluster/") {
                true
            } else if let Some(rest) = arn.split(":service/").nth(1) {
                let (cluster, name) = rest.split_once('/').unwrap();
                let described = ecs.describe_services().cluster(cluster).services(name).send().await.unwrap();
                described.services().iter().all(|s| s.status() == Some("INACTIVE"))
            } else if let Some(id) = arn.split(":instance/").nth(1) {
                let described = ec2.describe_instances().instance_ids(id).send().await.unwrap();
                described.reservations().iter().flat_map(|r| r.instances()).all(|i| {
                    i.state().and_then(|s| s.name()) == Some(&aws_sdk_ec2::types::InstanceStateName::Terminated)
                })
            } else {
                false
            };
        if !gone {
            left.push(arn.to_owned());
        }
    }
    assert!(left.is_empty(), "still tagged with the stack: {left:?}");
    assert_census(moto, &empty_census(), "after destroy").await;
}

/// What the tagging API finds tagged `berth:stack=ecs-sample`.
async fn tagged_with_reference_stack(
    config: &aws_config::SdkConfig,
) -> aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput {
    let tagging = aws_sdk_resourcegroupstagging::Client::new(config);
    let owned =
        aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("berth:stack").values("ecs-sample").build();
    tagging.get_resources().tag_filters(owned).send().await.unwrap()
}

/// Imports the self-signed certificate of `tests/certificates` (for
/// shop.example) into ACM and returns its ARN: ACM reports an imported
/// certificate ISSUED, and ELB refuses one ACM does not hold, as AWS does.
pub async fn import_certificate(config: &aws_config::SdkConfig) -> String {
    let certificates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certificates");
    let pem = |name: &str| aws_sdk_acm::primitives::Blob::new(std::fs::read(certificates.join(name)).unwrap());
    let acm = aws_sdk_acm::Client::new(config);
    let imported = acm
        .import_certificate()
        .certificate(pem("shop.example.crt"))
        .private_key(pem("shop.example.key"))
        .send()
        .await
        .unwrap();
    imported.certificate_arn().unwrap().to_owned()
}

/// `text` with `addition` right after the first `anchor`, which must be in it.
pub fn insert_after(text: &str, anchor: &str, addition: &str) -> String {
    assert!(text.contains(anchor), "`{}` is not in the stack", anchor.trim());
    text.replacen(anchor, &format!("{anchor}{addition}"), 1)
}

/// One more item of each kind of child the reference stack has, as lines of
/// its text: removing them again is what exact management is tested with.
pub mod extra_children {
    use super::insert_after;

    /// The reference stack's HTTP ingress rule, which the extra rule follows.
    pub const HTTP_RULE: &str = "      - { protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }\n";
    /// An extra ingress rule: HTTPS from anywhere.
    pub const HTTPS_RULE: &str = "      - { protocol: tcp, ports: 443, cidr: 0.0.0.0/0 }\n";
    /// The AWS managed policy the extras attach.
    pub const S3_READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    /// The same policy as a line of the execution role's `managed_policies`.
    pub const S3_READ_ONLY_LINE: &str = "        - arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\n";
    /// An extra attachment of the file's `ecs-sample-ecs` policy, to the instance role.
    pub const FILE_POLICY_ON_INSTANCE_ROLE: &str = "      policies: [ecs-sample-ecs]\n";
    /// An extra inline policy of the execution role, `describe-logs`.
    pub const DESCRIBE_LOGS: &str = "        describe-logs:\n          Version: \"2012-10-17\"\n          Statement:\n            - { Effect: Allow, Action: [logs:DescribeLogGroups], Resource: [\"*\"] }\n";
    /// An extra sensitive bucket object, `extra.env`.
    pub const EXTRA_OBJECT: &str = "      extra.env:\n        file: env/prod.env\n        sensitive: true\n";

    /// The reference stack's text with one more ingress rule, AWS managed
    /// policy attachment, attachment of the file's policy, inline policy and
    /// bucket object.
    pub fn with_extra_children(text: &str) -> String {
        let execution_policy = "        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n";
        let text = insert_after(text, HTTP_RULE, HTTPS_RULE);
        let text = insert_after(&text, execution_policy, S3_READ_ONLY_LINE);
        let text = insert_after(&text, "      instance_profile: true\n", FILE_POLICY_ON_INSTANCE_ROLE);
        let text = insert_after(&text, "      inline_policies:\n", DESCRIBE_LOGS);
        insert_after(&text, "    objects:\n", EXTRA_OBJECT)
    }
}
