//! The stack lock against moto: a held lock refuses a second apply (which
//! changes nothing), `berth unlock` removes a stale lock, and of two applies
//! started at once exactly one runs.

mod common;

use std::process::{Command, Stdio};

use berth_testkit::Moto;
use common::{berth, changes, reference_stack};

const LOCK: &str = "s3://berth-locks/ecs-sample.json";

async fn lock_bucket(moto: &Moto) -> aws_sdk_s3::Client {
    let s3 = moto.s3().await;
    s3.create_bucket()
        .bucket("berth-locks")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(berth_testkit::REGION))
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_refuses_and_unlock_removes_it() {
    let moto = Moto::start();
    let s3 = lock_bucket(&moto).await;
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let stale = r#"{"id":"deadbeef","stack":"ecs-sample","who":"ci@runner-7","operation":"apply","since":1}"#;
    s3.put_object()
        .bucket("berth-locks")
        .key("ecs-sample.json")
        .body(stale.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();

    let refused = berth(&moto, &["apply", stack, "--auto-approve", "--lock", LOCK]).expect(1);
    assert!(refused.stderr.contains("is locked by ci@runner-7"), "{}", refused.stderr);
    assert!(refused.stderr.contains("berth unlock STACK --id deadbeef"), "{}", refused.stderr);
    let plan = berth(&moto, &["plan", stack, "--format", "json"]).expect(0).json();
    assert_eq!(changes(&plan).len(), 28, "the refused apply must change nothing");

    let wrong = berth(&moto, &["unlock", stack, "--id", "nope", "--lock", LOCK]).expect(1);
    assert!(wrong.stderr.contains("not nope"), "{}", wrong.stderr);
    berth(&moto, &["unlock", stack, "--id", "deadbeef", "--lock", LOCK]).expect(0);
    berth(&moto, &["apply", stack, "--auto-approve", "--lock", LOCK]).expect(0);
    let lock = s3.get_object().bucket("berth-locks").key("ecs-sample.json").send().await;
    assert!(lock.is_err(), "the lock is released after the apply");
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_applies_at_once_one_runs_and_one_refuses() {
    let moto = Moto::start();
    lock_bucket(&moto).await;
    let stack = reference_stack();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["apply", stack.to_str().unwrap(), "--auto-approve", "--lock", LOCK])
            .envs(moto.env())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let codes: Vec<i32> = outputs.iter().map(|o| o.status.code().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    let stderr: Vec<String> = outputs.iter().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).collect();
    assert_eq!(sorted, [0, 1], "{codes:?}\n{stderr:#?}");
    let loser = &stderr[codes.iter().position(|c| *c == 1).unwrap()];
    assert!(loser.contains("is locked by"), "{loser}");

    // The winner converged alone: one load balancer, and nothing left to do.
    berth(&moto, &["plan", stack.to_str().unwrap(), "--detailed-exitcode"]).expect(0);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config().await);
    let balancers = elb.describe_load_balancers().send().await.unwrap();
    assert_eq!(balancers.load_balancers().len(), 1);
}
