//! Ownership on moto through the real binary: a rename is a replace (the
//! old bucket, with its env file, and the old cluster's service go), destroy
//! deregisters only the task definition revisions berth registered, and a
//! name berth would create that an unowned resource already has is refused
//! at plan time, before anything is created.

mod common;

use berth_testkit::Moto;
use common::{assert_nothing_left, berth, changes, copy_reference_stack};

const OLD_BUCKET: &str = "ecs-sample-env-123456789012";
const NEW_BUCKET: &str = "ecs-sample-data-123456789012";

fn has(planned: &[(String, String)], address: &str, action: &str) -> bool {
    planned.iter().any(|(a, x)| a == address && x == action)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rename_is_a_replace_and_destroy_leaves_nothing() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let s3 = moto.s3().await;
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), str::to_owned);
    let stack = stack.to_str().unwrap();
    let text = std::fs::read_to_string(stack).unwrap();
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);

    // The bucket's name changes: the new bucket is made, the old one goes
    // with the env file, policy and access block berth put in it.
    let text = text.replace("ecs-sample-env-${aws.account_id}", "ecs-sample-data-${aws.account_id}");
    std::fs::write(stack, &text).unwrap();
    let plan = berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2).json();
    let planned = changes(&plan);
    let old = format!("buckets.ecs-sample-env (was {OLD_BUCKET})");
    assert!(has(&planned, "buckets.ecs-sample-env", "create"), "{planned:#?}");
    for part in ["", ".objects[prod.env]", ".policy", ".public_access_block"] {
        assert!(has(&planned, &format!("{old}{part}"), "delete"), "{old}{part} in {planned:#?}");
    }
    let note = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == old.as_str()).unwrap()["note"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(note.contains(&format!("name was `{OLD_BUCKET}`")), "{note}");
    // The env file's new ARN is a new task definition revision; --no-wait:
    // moto keeps the first one in the service's PRIMARY deployment (docs/moto.md).
    berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert!(s3.head_bucket().bucket(OLD_BUCKET).send().await.is_err(), "the old bucket is still there");
    s3.head_object().bucket(NEW_BUCKET).key("prod.env").send().await.unwrap();
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);

    // The cluster's name changes: the service in the old cluster goes too.
    let text = text
        .replace("clusters:\n  ecs-sample:\n", "clusters:\n  ecs-sample-2:\n")
        .replace("    cluster: ecs-sample\n", "    cluster: ecs-sample-2\n");
    std::fs::write(stack, &text).unwrap();
    let planned = changes(&berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2).json());
    assert!(has(&planned, "services.example-app-service (was ecs-sample)", "delete"), "{planned:#?}");
    assert!(has(&planned, "services.example-app-service", "create"), "{planned:#?}");
    assert!(has(&planned, "clusters.ecs-sample", "delete"), "{planned:#?}");
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
    let old_service = ecs.describe_services().cluster("ecs-sample").services("example-app-service").send().await;
    let statuses: Vec<_> = old_service
        .map(|o| o.services().iter().map(|s| s.status().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    assert!(statuses.iter().all(|s| s == "INACTIVE"), "the old service is still {statuses:?}");
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);

    berth(&moto, &["destroy", stack, "--auto-approve"]).expect(0);
    assert!(s3.head_bucket().bucket(NEW_BUCKET).send().await.is_err(), "the new bucket is still there");
    assert_nothing_left(&moto).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn others_revisions_stay_and_unowned_names_are_refused_before_any_change() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let stack = common::reference_stack();
    let stack = stack.to_str().unwrap();
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);

    // A revision of the family registered by hand (by CI, say), on top of berth's.
    let container =
        aws_sdk_ecs::types::ContainerDefinition::builder().name("by-hand").image("nginx").memory(64).build();
    let registered = ecs.register_task_definition().family("example-app").container_definitions(container);
    let by_hand = registered.send().await.unwrap().task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);
    berth(&moto, &["destroy", stack, "--auto-approve"]).expect(0);
    let described = ecs.describe_task_definition().task_definition(&by_hand).send().await.unwrap();
    assert_eq!(described.task_definition().unwrap().status().map(|s| s.as_str()), Some("ACTIVE"));
    let berths = ecs.describe_task_definition().task_definition("example-app:1").send().await.unwrap();
    assert_eq!(berths.task_definition().unwrap().status().map(|s| s.as_str()), Some("INACTIVE"));

    // An instance profile made by hand with the name berth would give the
    // role's: refused by the plan, and the apply creates nothing.
    iam.create_instance_profile().instance_profile_name("ecs-instance-role").send().await.unwrap();
    let plan = berth(&moto, &["plan", stack]).expect(1);
    let said = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        said.contains("iam_instance_profile `ecs-instance-role` already exists without the tag berth:stack"),
        "{said}"
    );
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(1);
    assert!(iam.get_role().role_name("ecs-task-execution-role").send().await.is_err(), "the apply created a role");
}
