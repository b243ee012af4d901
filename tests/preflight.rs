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
