//! What the file no longer declares is removed from AWS, on moto through the
//! real binary: ingress rules, role attachments (AWS managed and of the
//! file's policies), inline policies, the bucket policy and objects berth
//! wrote. Each is removed from the file in turn: the plan shows one delete
//! with its content, apply removes it (read back with the SDK), the next
//! plan is empty. Then the same for items added by hand in AWS, including
//! an attachment of the file's policy to a role outside the stack; a group
//! with `unmanaged_rules: true` keeps a rule added by hand; destroy leaves
//! nothing.

mod common;

use aws_sdk_ec2::types::Filter;
use berth_testkit::Moto;
use common::{assert_nothing_left, berth, changes, copy_reference_stack, insert_after};
use serde_json::Value;

use common::extra_children::*;

const READERS: &str = "    readers: [ecs-task-execution-role]";
const BUCKET: &str = "ecs-sample-env-123456789012";

/// The one change of a JSON plan, asserted to be the delete of `address`
/// of an item the file does not declare, with its content shown.
fn the_one_delete<'a>(plan: &'a Value, address: &str) -> &'a Value {
    assert_eq!(changes(plan), [(address.to_owned(), "delete".to_owned())], "{plan:#}");
    let change = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).unwrap();
    assert_eq!(change["note"], "not in the stack file", "{change:#}");
    let fields = change["fields"].as_array().expect("the content is shown");
    assert!(!fields.is_empty() && fields.iter().all(|f| f.get("after").is_none()), "{change:#}");
    change
}

fn field<'a>(change: &'a Value, name: &str) -> &'a Value {
    let fields = change["fields"].as_array().unwrap();
    &fields.iter().find(|f| f["field"] == name).unwrap_or_else(|| panic!("no `{name}` in {change:#}"))["before"]
}

struct Aws {
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
}

impl Aws {
    async fn group_id(&self, name: &str) -> String {
        let filter = Filter::builder().name("group-name").values(name).build();
        let groups = self.ec2.describe_security_groups().filters(filter).send().await.unwrap();
        groups.security_groups()[0].group_id().unwrap().to_owned()
    }

    /// (protocol, from, to, cidr) of the group's ingress rules.
    async fn ingress(&self, group: &str) -> Vec<(String, i32, i32, String)> {
        let filter = Filter::builder().name("group-id").values(self.group_id(group).await).build();
        let rules = self.ec2.describe_security_group_rules().filters(filter).send().await.unwrap();
        let mut found: Vec<_> = rules
            .security_group_rules()
            .iter()
            .filter(|r| r.is_egress() == Some(false))
            .map(|r| {
                let source = r.cidr_ipv4().or(r.referenced_group_info().and_then(|g| g.group_id())).unwrap_or("");
                (r.ip_protocol().unwrap().to_owned(), r.from_port().unwrap(), r.to_port().unwrap(), source.to_owned())
            })
            .collect();
        found.sort();
        found
    }

    async fn attached(&self, role: &str) -> Vec<String> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await.unwrap();
        out.attached_policies().iter().map(|p| p.policy_name().unwrap().to_owned()).collect()
    }

    async fn inline(&self, role: &str) -> Vec<String> {
        self.iam.list_role_policies().role_name(role).send().await.unwrap().policy_names().to_vec()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_file_no_longer_declares_is_removed_from_aws() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let aws =
        Aws { ec2: aws_sdk_ec2::Client::new(&config), iam: aws_sdk_iam::Client::new(&config), s3: moto.s3().await };
    let dir = tempfile::tempdir().unwrap();
    let mut text = with_extra_children(&std::fs::read_to_string(common::reference_stack()).unwrap());
    let stack = copy_reference_stack(dir.path(), |_| text.clone());
    let stack = stack.to_str().unwrap();
    let write = |text: &str| std::fs::write(stack, text).unwrap();
    let plan_json = || berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]);

    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
    plan_json().expect(0);
    // Rules are known by their content: their order in the file does not matter.
    write(&text.replacen(&format!("{HTTP_RULE}{HTTPS_RULE}"), &format!("{HTTPS_RULE}{HTTP_RULE}"), 1));
    plan_json().expect(0);
    write(&text);

    // 1. Removed from the file, one kind at a time.
    let removals = [
        (HTTPS_RULE, "security_groups.ecs-sample-alb.ingress[tcp 443 0.0.0.0/0]"),
        (S3_READ_ONLY_LINE, "iam.roles.ecs-task-execution-role.managed_policies[AmazonS3ReadOnlyAccess]"),
        (FILE_POLICY_ON_INSTANCE_ROLE, "iam.roles.ecs-instance-role.policies[ecs-sample-ecs]"),
        (DESCRIBE_LOGS, "iam.roles.ecs-task-execution-role.inline_policies.describe-logs"),
        (EXTRA_OBJECT, "buckets.ecs-sample-env.objects[extra.env]"),
        (READERS, "buckets.ecs-sample-env.policy"),
    ];
    for (declaration, address) in removals {
        text = text.replacen(declaration, "", 1);
        write(&text);
        let plan = plan_json().expect(2).json();
        let change = the_one_delete(&plan, address);
        match address {
            a if a.contains("ingress") => assert_eq!(field(change, "from_port"), 443),
            a if a.contains("inline_policies") => {
                assert_eq!(field(change, "document")["Statement"][0]["Action"][0], "logs:DescribeLogGroups")
            }
            a if a.ends_with(".policy") => {
                let statements = field(change, "policy")["Statement"].as_array().unwrap();
                assert!(statements.iter().any(|s| s["Sid"] == "BerthReaders"), "{statements:?}")
            }
            _ => {}
        }
        berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
        plan_json().expect(0);
    }
    // What AWS holds now, read with the SDK.
    let alb_rules = aws.ingress("ecs-sample-alb").await;
    assert_eq!(alb_rules, [("tcp".to_owned(), 80, 80, "0.0.0.0/0".to_owned())]);
    let mut execution = aws.attached("ecs-task-execution-role").await;
    execution.sort();
    assert_eq!(execution, ["AmazonECSTaskExecutionRolePolicy", "ecs-sample-ecs"]);
    assert_eq!(aws.attached("ecs-instance-role").await, ["AmazonEC2ContainerServiceforEC2Role"]);
    assert_eq!(aws.inline("ecs-task-execution-role").await, ["read-env-file"]);
    assert!(aws.s3.head_object().bucket(BUCKET).key("extra.env").send().await.is_err());
    assert!(aws.s3.head_object().bucket(BUCKET).key("prod.env").send().await.is_ok());
    let policy = aws.s3.get_bucket_policy().bucket(BUCKET).send().await;
    assert!(policy.is_err(), "the bucket policy is still there: {policy:?}");

    // 2. Added by hand in AWS: drift, deleted by the next apply.
    let instances = aws.group_id("ecs-sample-instances").await;
    let open_22 = || {
        aws.ec2
            .authorize_security_group_ingress()
            .group_id(&instances)
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .cidr_ip("0.0.0.0/0")
            .send()
    };
    open_22().await.unwrap();
    aws.iam.attach_role_policy().role_name("ecs-instance-role").policy_arn(S3_READ_ONLY).send().await.unwrap();
    let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let put = aws.iam.put_role_policy().role_name("ecs-instance-role").policy_name("hand-made").policy_document(admin);
    put.send().await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    aws.iam.create_role().role_name("outside-role").assume_role_policy_document(trust).send().await.unwrap();
    let file_policy = "arn:aws:iam::123456789012:policy/ecs-sample-ecs";
    aws.iam.attach_role_policy().role_name("outside-role").policy_arn(file_policy).send().await.unwrap();

    let plan = plan_json().expect(2).json();
    let mut planned = changes(&plan);
    planned.sort();
    let deletes = |addresses: &[&str]| -> Vec<(String, String)> {
        addresses.iter().map(|a| (a.to_string(), "delete".to_owned())).collect()
    };
    assert_eq!(
        planned,
        deletes(&[
            "iam.policies.ecs-sample-ecs.attachments[outside-role]",
            "iam.roles.ecs-instance-role.inline_policies.hand-made",
            "iam.roles.ecs-instance-role.managed_policies[AmazonS3ReadOnlyAccess]",
            "security_groups.ecs-sample-instances.ingress[tcp 22 0.0.0.0/0]",
        ])
    );
    let text_plan = berth(&moto, &["plan", stack]).expect(0).stdout;
    assert!(
        text_plan.contains(
            "- security_groups.ecs-sample-instances.ingress[tcp 22 0.0.0.0/0] (security_group_ingress) will be deleted"
        ),
        "{text_plan}"
    );
    assert!(text_plan.contains("# not in the stack file") && text_plan.contains("cidr: \"0.0.0.0/0\""), "{text_plan}");
    let markdown = berth(&moto, &["plan", stack, "--format", "markdown"]).expect(0).stdout;
    assert!(markdown.contains("iam.roles.ecs-instance-role.inline_policies.hand-made"), "{markdown}");
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
    plan_json().expect(0);
    assert_eq!(aws.ingress("ecs-sample-instances").await.len(), 1, "the hand-made rule is gone");
    assert_eq!(aws.attached("ecs-instance-role").await, ["AmazonEC2ContainerServiceforEC2Role"]);
    assert!(aws.inline("ecs-instance-role").await.is_empty());
    assert!(aws.attached("outside-role").await.is_empty());
    // The role outside the stack is not berth's: only the attachment of berth's policy went.
    aws.iam.get_role().role_name("outside-role").send().await.unwrap();

    // 3. A group that leaves rules unmanaged keeps one added by hand.
    let description = "    description: dynamic host ports, reachable only from the load balancer\n";
    write(&insert_after(&text, description, "    unmanaged_rules: true\n"));
    open_22().await.unwrap();
    plan_json().expect(0);
    assert_eq!(aws.ingress("ecs-sample-instances").await.len(), 2);

    // 4. After all these edits, destroy leaves nothing.
    berth(&moto, &["destroy", stack, "--auto-approve"]).expect(0);
    assert_nothing_left(&moto).await;
}
