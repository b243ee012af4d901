//! Saved plans against moto: `apply FILE` applies exactly the reviewed plan,
//! and refuses (changing nothing) when the stack file or a resource it read
//! changed since. Also `--detailed-exitcode` in every format.

mod common;

use berth_testkit::Moto;
use common::{berth, berth_in, changes, copy_reference_stack};

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_only_while_fresh() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), str::to_owned);
    let stack = stack.to_str().unwrap();
    let saved = dir.path().join("plan.berth");
    let saved = saved.to_str().unwrap();
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);

    for format in ["text", "json", "markdown"] {
        berth(&moto, &["plan", stack, "--format", format, "--detailed-exitcode"]).expect(0);
    }
    let image = ["--var", "app_image=example-app:v2"];
    for format in ["text", "json", "markdown"] {
        berth(&moto, &[&["plan", stack, "--format", format, "--detailed-exitcode"][..], &image[..]].concat()).expect(2);
    }

    // A resource changed behind berth's back makes the saved plan stale.
    berth(&moto, &[&["plan", stack, "--out", saved][..], &image[..]].concat()).expect(0);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config().await);
    logs.put_retention_policy().log_group_name("/ecs/example-app").retention_in_days(30).send().await.unwrap();
    let stale = berth(&moto, &["apply", saved, "--auto-approve"]).expect(1);
    assert!(
        stale.stderr.contains("the saved plan is stale") && stale.stderr.contains("log_groups./ecs/example-app"),
        "{}",
        stale.stderr
    );
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    let revisions = |ecs: aws_sdk_ecs::Client| async move {
        ecs.list_task_definitions().family_prefix("example-app").send().await.unwrap().task_definition_arns().len()
    };
    assert_eq!(revisions(ecs.clone()).await, 1, "a stale plan changes nothing");

    // A changed stack file makes it stale too.
    berth(&moto, &[&["plan", stack, "--out", saved][..], &image[..]].concat()).expect(0);
    let text = std::fs::read_to_string(stack).unwrap();
    std::fs::write(stack, text.replace("retention_days: 14", "retention_days: 30")).unwrap();
    let stale = berth(&moto, &["apply", saved, "--auto-approve"]).expect(1);
    assert!(stale.stderr.contains("stack file"), "{}", stale.stderr);
    std::fs::write(stack, &text).unwrap();

    // Fresh: exactly the reviewed changes are applied (the retention drift included).
    let plan =
        berth(&moto, &[&["plan", stack, "--out", saved, "--format", "json"][..], &image[..]].concat()).expect(0).json();
    let reviewed = changes(&plan);
    assert!(reviewed.contains(&("task_definitions.example-app".to_owned(), "update".to_owned())), "{reviewed:?}");
    // --no-wait: moto keeps the first task definition in the service's PRIMARY
    // deployment after UpdateService (docs/moto.md).
    berth(&moto, &["apply", saved, "--auto-approve", "--no-wait"]).expect(0);
    assert_eq!(revisions(ecs).await, 2);
    berth(&moto, &[&["plan", stack, "--detailed-exitcode"][..], &image[..]].concat()).expect(0);
}

/// A plan saved with a relative stack path is shown and applied from another directory.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_from_any_directory() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    copy_reference_stack(dir.path(), str::to_owned);
    berth_in(&moto, dir.path(), &["plan", "stack.yaml", "--out", "plan.berth"]).expect(0);
    let elsewhere = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.berth");
    // `show` renders it without AWS, in every format.
    let shown = berth_in(&moto, elsewhere.path(), &["show", saved.to_str().unwrap()]).expect(0);
    assert!(shown.stdout.contains("Plan: ") && shown.stdout.contains("to create"), "{}", shown.stdout);
    let json = berth_in(&moto, elsewhere.path(), &["show", saved.to_str().unwrap(), "--format", "json"]).expect(0);
    assert!(!changes(&json.json()).is_empty());
    let markdown = berth_in(&moto, elsewhere.path(), &["show", saved.to_str().unwrap(), "--format", "markdown"]);
    assert!(markdown.expect(0).stdout.contains("## berth plan for `ecs-sample`"));
    let applied = berth_in(&moto, elsewhere.path(), &["apply", saved.to_str().unwrap(), "--auto-approve", "--no-wait"]);
    let applied = applied.expect(0);
    assert!(applied.stdout.contains("Apply complete:"), "{}", applied.stdout);
}

/// A saved plan is created readable by its owner only, and an existing file
/// others could read is replaced rather than written into.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), str::to_owned);
    let saved = dir.path().join("plan.berth");
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    berth(&moto, &["plan", stack.to_str().unwrap(), "--out", saved.to_str().unwrap()]).expect(0);
    assert_eq!(mode(&saved), 0o600);

    std::fs::set_permissions(&saved, std::fs::Permissions::from_mode(0o644)).unwrap();
    berth(&moto, &["plan", stack.to_str().unwrap(), "--out", saved.to_str().unwrap()]).expect(0);
    assert_eq!(mode(&saved), 0o600);
    assert!(std::fs::read_to_string(&saved).unwrap().contains("\"kind\""));
}
