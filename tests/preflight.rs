//! Pre-flight checks stop plan and apply before any mutating call: against
//! moto, a stack with an offline error or a missing external env file
//! creates nothing.

mod common;

use berth_testkit::Moto;
use common::{berth, copy_reference_stack};

async fn nothing_created(moto: &Moto) {
    let config = moto.sdk_config().await;
    let buckets = moto.s3().await.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "{:?}", buckets.buckets());
    let roles = aws_sdk_iam::Client::new(&config).list_roles().send().await.unwrap();
    assert!(roles.roles().iter().all(|r| !r.role_name().starts_with("ecs-")), "{:?}", roles.roles());
    let groups = aws_sdk_ec2::Client::new(&config).describe_key_pairs().send().await.unwrap();
    assert!(groups.key_pairs().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_walkthrough_memory_mistake_stops_apply() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |t| t.replace("memory: 450 ", "memory: 500 "));
    let run = berth(&moto, &["apply", stack.to_str().unwrap(), "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("error[BRT001]") && run.stderr.contains("500 > 466"), "{}", run.stderr);
    nothing_created(&moto).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_external_env_file_stops_apply() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |t| {
        t.replace(
            "environment_files: [ecs-sample-env/prod.env]",
            "environment_files: [ecs-sample-env/prod.env, \"arn:aws:s3:::shared-config/missing.env\"]",
        )
    });
    let stack = stack.to_str().unwrap();
    let check = berth(&moto, &["check", stack]).expect(1);
    assert!(
        check.stderr.contains("error[BRT040]") && check.stderr.contains("s3://shared-config/missing.env"),
        "{}",
        check.stderr
    );
    let run = berth(&moto, &["apply", stack, "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("error[BRT040]"), "{}", run.stderr);
    nothing_created(&moto).await;
    // The offline checks alone cannot know: they pass.
    berth(&moto, &["check", stack, "--offline"]).expect(0);
}

/// The execution role's own S3 permissions: the file's inline policy taken
/// out, an AWS managed policy berth does not know offline put in.
fn with_managed_policy_for_env_files(text: &str, policy: &str) -> String {
    let inline = "      inline_policies:\n        read-env-file:\n          Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action: [s3:GetObject]\n              Resource: [\"${buckets.ecs-sample-env.arn}/*\"]\n            - Effect: Allow\n              Action: [s3:GetBucketLocation]\n              Resource: [\"${buckets.ecs-sample-env.arn}\"]\n";
    assert!(text.contains(inline), "the reference stack's read-env-file policy changed");
    let managed = "        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n      policies: [ecs-sample-ecs]\n";
    assert!(text.contains(managed));
    text.replacen(inline, "", 1).replacen(
        managed,
        &format!("        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n        - arn:aws:iam::aws:policy/{policy}\n      policies: [ecs-sample-ecs]\n"),
        1,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_policies_read_from_iam_make_the_access_check_certain() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // EC2 read-only grants no S3 access: offline berth can only warn, as it
    // cannot read the policy; with IAM's copy it knows, and stops the apply.
    let stack = copy_reference_stack(dir.path(), |t| with_managed_policy_for_env_files(t, "AmazonEC2ReadOnlyAccess"));
    let stack = stack.to_str().unwrap();
    let offline = berth(&moto, &["check", stack, "--offline"]).expect(0);
    assert!(
        offline.stderr.contains("warning[BRT021]") && offline.stderr.contains("AmazonEC2ReadOnlyAccess"),
        "{}",
        offline.stderr
    );
    let run = berth(&moto, &["apply", stack, "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("error[BRT062]") && run.stderr.contains("s3:GetBucketLocation"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed in AWS"), "{}", run.stderr);
    nothing_created(&moto).await;

    // S3 read-only grants it: nothing to report, the plan goes ahead.
    let stack = copy_reference_stack(dir.path(), |t| with_managed_policy_for_env_files(t, "AmazonS3ReadOnlyAccess"));
    let plan = berth(&moto, &["plan", stack.to_str().unwrap(), "--detailed-exitcode"]).expect(2);
    assert!(!plan.stderr.contains("BRT021") && !plan.stdout.contains("BRT021"), "{}{}", plan.stdout, plan.stderr);
}
