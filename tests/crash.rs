//! berth killed mid-apply. `berth apply` of the reference stack is killed
//! with SIGKILL right after its Nth change reached AWS: a proxy lets N
//! mutating requests through to moto, holds back the answer to the last one
//! and forwards nothing more, for every N from the first change of the apply
//! to the last. A new `berth apply` then converges, with exactly one of each
//! resource and nothing leaked, and `berth destroy` leaves nothing behind.
//! Each worker runs its points on one moto, wiped before each point.
//!
//! The same for an apply that only removes what the file no longer
//! declares (rules, attachments, an inline policy, an object).
//!
//! Also here: Ctrl-C in the middle of an apply.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_testkit::{FaultConfig, FaultProxy, Moto};
use common::extra_children::with_extra_children;
use common::{
    assert_census, assert_nothing_left, copy_reference_stack, reference_census, reference_stack, run_berth,
    spawn_berth, spawn_berth_captured,
};

/// The tags berth sends with CreateBucket for the reference stack's bucket.
const BUCKET_TAGS: [(&str, &str); 3] =
    [("project", "ecs-sample"), ("berth:stack", "ecs-sample"), ("berth:id", "buckets.ecs-sample-env")];
const BUCKET: &str = "ecs-sample-env-123456789012";

/// What one kill point showed.
struct Killed {
    /// The changes that reached moto before the kill, in order; the last
    /// one's answer never reached berth.
    made: Vec<String>,
    /// The kill left the bucket without its tags (see [`give_the_bucket_its_tags`]).
    untagged_bucket: bool,
}

/// Kills `berth apply` after `n` mutating requests, then converges and
/// destroys without the proxy, on `moto` wiped first. `None` when the apply
/// finished first.
async fn kill_after(moto: &Moto, n: usize) -> Option<Killed> {
    moto.reset();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::freeze_after(n));
    let mut apply = spawn_berth(&proxy.env(), &["apply", stack, "--auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if proxy.wait_frozen(Duration::from_millis(20)) {
            break;
        }
        if let Some(status) = apply.try_wait().unwrap() {
            assert!(status.success(), "kill point {n}: the apply failed on its own ({status})");
            return None;
        }
        assert!(Instant::now() < deadline, "kill point {n}: the apply neither froze nor ended");
    }
    apply.kill().unwrap();
    apply.wait().unwrap();
    let made: Vec<String> =
        proxy.records().into_iter().filter(|r| r.mutating && r.status.is_some()).map(|r| r.operation).collect();
    assert_eq!(made.len(), n, "kill point {n}: {made:?}");
    drop(proxy);
    let context = format!("killed after {n} change(s) ({})", made.join(", "));

    let untagged_bucket = give_the_bucket_its_tags(moto, stack, &context).await;
    let applied = run_berth(&moto.env(), &["apply", stack, "--auto-approve"]);
    assert_eq!(applied.code, 0, "{context}: the next apply failed\n{}{}", applied.stdout, applied.stderr);
    let plan = run_berth(&moto.env(), &["plan", stack, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{context}: the plan after it is not empty\n{}{}", plan.stdout, plan.stderr);
    assert_census(moto, &reference_census(), &context).await;
    let destroyed = run_berth(&moto.env(), &["destroy", stack, "--auto-approve"]);
    assert_eq!(destroyed.code, 0, "{context}: destroy failed\n{}{}", destroyed.stdout, destroyed.stderr);
    assert_nothing_left(moto).await;
    Some(Killed { made, untagged_bucket })
}

/// Works around a moto difference. berth sends the bucket's ownership tags
/// with CreateBucket, so that on AWS a bucket never exists without them;
/// moto 5.2.1 ignores tags in CreateBucket, and berth's PutBucketTagging
/// follows. A kill between the two leaves on moto an untagged bucket, which
/// berth must refuse to touch (checked here), and which on AWS would carry
/// the tags: the test gives it those tags. Returns whether it had to.
async fn give_the_bucket_its_tags(moto: &Moto, stack: &str, context: &str) -> bool {
    let s3 = moto.s3().await;
    if s3.head_bucket().bucket(BUCKET).send().await.is_err() {
        return false;
    }
    if s3.get_bucket_tagging().bucket(BUCKET).send().await.is_ok_and(|t| !t.tag_set().is_empty()) {
        return false;
    }
    let refused = run_berth(&moto.env(), &["plan", stack]);
    assert_eq!(refused.code, 1, "{context}: berth did not refuse the untagged bucket\n{}", refused.stdout);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains("already exists without the tag berth:stack=ecs-sample"), "{context}: {said}");
    let tags = BUCKET_TAGS.map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap());
    let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tags.to_vec())).build().unwrap();
    s3.put_bucket_tagging().bucket(BUCKET).tagging(tagging).send().await.unwrap();
    true
}

/// Every kill point from the first change to the last, a few at a time.
#[test]
fn an_apply_killed_after_any_change_converges_on_the_next_run() {
    const WORKERS: usize = 3;
    let started = Instant::now();
    let next = AtomicUsize::new(1);
    let end = AtomicUsize::new(usize::MAX);
    let results: Mutex<BTreeMap<usize, Result<Killed, String>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
                let moto = Moto::start();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= end.load(Ordering::SeqCst) {
                        break;
                    }
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        runtime.block_on(kill_after(&moto, n))
                    }));
                    match outcome {
                        Ok(Some(killed)) => {
                            results.lock().unwrap().insert(n, Ok(killed));
                        }
                        // The apply made fewer than n changes: every point is taken.
                        Ok(None) => {
                            end.fetch_min(n, Ordering::SeqCst);
                        }
                        Err(panic) => {
                            let message = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            results.lock().unwrap().insert(n, Err(message));
                        }
                    }
                }
            });
        }
    });
    let end = end.into_inner();
    let results = results.into_inner().unwrap();
    let failures: Vec<String> =
        results.iter().filter_map(|(n, r)| r.as_ref().err().map(|e| format!("kill point {n}: {e}"))).collect();
    assert!(failures.is_empty(), "{} kill point(s) failed:\n{}", failures.len(), failures.join("\n\n"));
    assert!(end != usize::MAX && end > 20, "the apply should make more than 20 changes (ended at {end})");
    assert_eq!(results.len(), end - 1, "every point from 1 to {} was tried", end - 1);
    let untagged: Vec<usize> =
        results.iter().filter(|(_, r)| r.as_ref().is_ok_and(|k| k.untagged_bucket)).map(|(n, _)| *n).collect();
    eprintln!(
        "killed after each of the {} changes of an apply: every next apply converged, one of each resource, \
         destroy left nothing ({:.0?}); the bucket was left untagged (moto) at points {untagged:?}",
        end - 1,
        started.elapsed()
    );
    for (n, killed) in &results {
        if let Ok(killed) = killed {
            eprintln!("  {n:2}: last change {}", killed.made.last().unwrap());
        }
    }
}

/// Killed after each of the deletes of an apply that removes one extra
/// item of each child kind: the next apply converges on exactly the
/// reference stack's rules, attachments, policies and objects.
#[tokio::test(flavor = "multi_thread")]
async fn an_apply_of_removals_killed_after_any_change_converges() {
    const REMOVALS: usize = 5;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let full = copy_reference_stack(dir.path(), with_extra_children);
    let (full, reference) = (full.to_str().unwrap(), reference_stack());
    let reference = reference.to_str().unwrap();
    let mut completed = false;
    for n in 1..=REMOVALS + 1 {
        moto.reset();
        run_berth(&moto.env(), &["apply", full, "--auto-approve"]).expect(0);
        let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::freeze_after(n));
        let mut apply = spawn_berth(&proxy.env(), &["apply", reference, "--auto-approve"]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let finished = loop {
            if proxy.wait_frozen(Duration::from_millis(20)) {
                break false;
            }
            if let Some(status) = apply.try_wait().unwrap() {
                assert!(status.success(), "kill point {n}: the apply failed on its own ({status})");
                break true;
            }
            assert!(Instant::now() < deadline, "kill point {n}: the apply neither froze nor ended");
        };
        let made: Vec<String> =
            proxy.records().into_iter().filter(|r| r.mutating && r.status.is_some()).map(|r| r.operation).collect();
        if finished {
            assert_eq!((n, made.len()), (REMOVALS + 1, REMOVALS), "the removals: {made:?}");
            completed = true;
            break;
        }
        apply.kill().unwrap();
        apply.wait().unwrap();
        drop(proxy);
        let context = format!("removals killed after {n} change(s) ({})", made.join(", "));
        let applied = run_berth(&moto.env(), &["apply", reference, "--auto-approve"]);
        assert_eq!(applied.code, 0, "{context}: the next apply failed\n{}{}", applied.stdout, applied.stderr);
        let plan = run_berth(&moto.env(), &["plan", reference, "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{context}: the plan after it is not empty\n{}{}", plan.stdout, plan.stderr);
        assert_census(&moto, &reference_census(), &context).await;
    }
    assert!(completed, "the apply of the removals made more than {REMOVALS} changes");
}

/// Ctrl-C in the middle of an apply: berth starts nothing new, lets the
/// calls in flight finish (a call held by the proxy when the signal comes is
/// answered afterwards and its resource completes), reports what it did not
/// attempt and exits 1; the next apply converges.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_starts_nothing_new_and_lets_calls_in_flight_finish() {
    const FIRST_CHANGES: usize = 12;
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig::freeze_after(FIRST_CHANGES));
    let apply = spawn_berth_captured(&proxy.env(), &["apply", stack, "--auto-approve"]);
    assert!(proxy.wait_frozen(Duration::from_secs(60)), "the apply did not reach {FIRST_CHANGES} changes");
    let interrupted = std::process::Command::new("kill").args(["-INT", &apply.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    // Let berth take the signal in while its calls are still unanswered.
    std::thread::sleep(Duration::from_millis(500));
    let held = proxy.records().iter().filter(|r| r.held).count();
    proxy.thaw();
    let run = common::finish_berth(apply, Duration::from_secs(120));
    assert_eq!(run.code, 1, "an interrupted apply exits 1\n{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Interrupted: starting nothing new"), "{}", run.stderr);
    assert!(run.stderr.contains("because the run was interrupted"), "{}", run.stderr);
    // Every resource that was started finished: nothing failed.
    assert!(!run.stderr.lines().any(|l| l.starts_with('!')), "{}", run.stderr);
    let changes = proxy.records().iter().filter(|r| r.mutating && r.status.is_some()).count();
    drop(proxy);
    assert!(changes < 32, "the interrupted apply went on to make {changes} changes");
    eprintln!(
        "Ctrl-C after {FIRST_CHANGES} changes with {held} call(s) held: {changes} changes in all, then it stopped"
    );

    let applied = run_berth(&moto.env(), &["apply", stack, "--auto-approve"]);
    assert_eq!(applied.code, 0, "the next apply failed\n{}{}", applied.stdout, applied.stderr);
    run_berth(&moto.env(), &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert_census(&moto, &reference_census(), "after an interrupted apply").await;
}
