//! The stack lock against moto: a held lock refuses a second apply (which
//! changes nothing), `berth unlock` removes a stale lock (its location read
//! from the stack file when it is there), of two applies started at once
//! exactly one runs, and Ctrl-C or SIGTERM, while planning or applying,
//! leave no lock behind.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use berth_testkit::{FaultConfig, FaultProxy, Moto};
use common::{berth, changes, copy_reference_stack, finish_berth, reference_stack, spawn_berth_captured};

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
    put_stale_lock(&s3).await;

    let refused = berth(&moto, &["apply", stack, "--auto-approve", "--lock", LOCK]).expect(1);
    assert!(refused.stderr.contains("is locked by ci@runner-7"), "{}", refused.stderr);
    assert!(refused.stderr.contains("since 1970-01-01T00:00:01Z"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("older than 1h (--lock-stale-after), so it is probably stale"),
        "{}",
        refused.stderr
    );
    let unlock_command = format!("berth unlock {stack} --id deadbeef --lock {LOCK}");
    assert!(refused.stderr.contains(&unlock_command), "{}", refused.stderr);
    let plan = berth(&moto, &["plan", stack, "--format", "json"]).expect(0).json();
    assert_eq!(changes(&plan).len(), common::reference_count(), "the refused apply must change nothing");

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

fn put_stale_lock(s3: &aws_sdk_s3::Client) -> impl std::future::Future<Output = ()> + '_ {
    let stale = r#"{"id":"deadbeef","stack":"ecs-sample","who":"ci@runner-7","operation":"apply","since":1}"#;
    async move {
        s3.put_object()
            .bucket("berth-locks")
            .key("ecs-sample.json")
            .body(stale.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
}

async fn lock_exists(s3: &aws_sdk_s3::Client) -> bool {
    s3.get_object().bucket("berth-locks").key("ecs-sample.json").send().await.is_ok()
}

/// With `lock:` in the stack file, the refusal's recovery command works as printed.
#[tokio::test(flavor = "multi_thread")]
async fn unlock_finds_the_lock_in_the_stack_file() {
    let moto = Moto::start();
    let s3 = lock_bucket(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |text| {
        text.replace("region: ap-northeast-2\n", &format!("region: ap-northeast-2\nlock: {LOCK}\n"))
    });
    let stack = stack.to_str().unwrap();
    put_stale_lock(&s3).await;

    // A fresh lock is not called stale.
    let refused = berth(&moto, &["apply", stack, "--auto-approve", "--lock-stale-after", "100y"]).expect(1);
    assert!(refused.stderr.contains("wait for it to finish"), "{}", refused.stderr);
    let refused = berth(&moto, &["apply", stack, "--auto-approve"]).expect(1);
    let command = format!("berth unlock {stack} --id deadbeef");
    let printed = refused.stderr.split('`').find(|part| part.starts_with("berth unlock")).unwrap_or_default();
    assert_eq!(printed, command, "{}", refused.stderr);

    let args: Vec<&str> = printed.split(' ').skip(1).collect();
    let removed = berth(&moto, &args).expect(0);
    assert!(removed.stdout.contains(LOCK), "{}", removed.stdout);
    assert!(!lock_exists(&s3).await);
}

/// Starts `berth apply --lock` through a proxy that freezes after `mutations`
/// changes (the lock object is the first), sends `signal` once it froze,
/// then lets the held requests go on; returns what berth printed.
async fn interrupt_apply(moto: &Moto, mutations: usize, signal: &str) -> common::Run {
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::freeze_after(mutations));
    let stack = reference_stack();
    let apply =
        spawn_berth_captured(&proxy.env(), &["apply", stack.to_str().unwrap(), "--auto-approve", "--lock", LOCK]);
    assert!(proxy.wait_frozen(Duration::from_secs(60)), "the apply never reached change {mutations}");
    let s3 = moto.s3().await;
    let lock: serde_json::Value = serde_json::from_slice(
        &s3.get_object()
            .bucket("berth-locks")
            .key("ecs-sample.json")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();
    let who = lock["who"].as_str().unwrap();
    assert!(who.starts_with("arn:aws:") && who.contains(" on "), "the lock names the caller's ARN and host: {lock}");
    let status = Command::new("kill").args([signal, &apply.id().to_string()]).status().unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    proxy.thaw();
    finish_berth(apply, Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_apply_stops_reports_and_releases_the_lock() {
    let moto = Moto::start();
    let s3 = lock_bucket(&moto).await;
    let run = interrupt_apply(&moto, 4, "-TERM").await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Interrupted: starting nothing new"), "{}", run.stderr);
    assert!(run.stderr.contains("calls in flight finish (SIGTERM)"), "{}", run.stderr);
    assert!(!run.stdout.is_empty(), "the report of what was done is printed:\n{}", run.stderr);
    assert!(!lock_exists(&s3).await, "the lock is released\n{}", run.stderr);
    let plan = berth(&moto, &["plan", reference_stack().to_str().unwrap(), "--format", "json"]).expect(0).json();
    let left = changes(&plan).len();
    assert!(left > 0 && left < common::reference_count(), "the apply stopped part way: {left} changes left");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_the_lock_is_being_taken_releases_it() {
    let moto = Moto::start();
    let s3 = lock_bucket(&moto).await;
    // Frozen after the lock's put reached moto, before berth heard back.
    let run = interrupt_apply(&moto, 1, "-INT").await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Interrupted (Ctrl-C) while planning; nothing was changed"), "{}", run.stderr);
    assert!(!lock_exists(&s3).await, "the lock is released\n{}", run.stderr);
    let plan = berth(&moto, &["plan", reference_stack().to_str().unwrap(), "--format", "json"]).expect(0).json();
    assert_eq!(changes(&plan).len(), common::reference_count(), "nothing was changed");
}

/// Ctrl-C typed at the confirmation prompt (on a real terminal: `script`
/// gives berth one) cancels the run and releases the lock.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_the_prompt_releases_the_lock() {
    use std::io::{Read, Write};
    let moto = Moto::start();
    let s3 = lock_bucket(&moto).await;
    let stack = reference_stack();
    let command = format!("exec {} apply {} --lock {LOCK}", env!("CARGO_BIN_EXE_berth"), stack.display());
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .envs(moto.env())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run berth on a terminal with script(1)");
    let mut terminal = child.stdout.take().unwrap();
    let (sender, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = terminal.read(&mut buffer) {
            if n == 0 || sender.send(String::from_utf8_lossy(&buffer[..n]).into_owned()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !seen.contains("Apply these changes?") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        seen.push_str(&printed.recv_timeout(left).unwrap_or_else(|_| panic!("no prompt:\n{seen}")));
    }
    assert!(lock_exists(&s3).await, "the lock is held while asking");
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let status = child.wait().unwrap();
    while let Ok(more) = printed.recv_timeout(Duration::from_secs(2)) {
        seen.push_str(&more);
    }
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(seen.contains("Interrupted (Ctrl-C) at the prompt"), "{seen}");
    assert!(seen.contains("Cancelled; nothing was changed."), "{seen}");
    assert!(!lock_exists(&s3).await, "the lock is released\n{seen}");
}
