//! Destroy safety against moto: a bucket holding data berth does not manage
//! stops the destroy (nothing deleted) unless --force-delete-buckets, whose
//! plan lists the objects it deletes; a protected resource stops it too.

mod common;

use berth_testkit::Moto;
use common::{berth, copy_reference_stack};

const BUCKET: &str = "ecs-sample-env-123456789012"; // moto's default account

#[tokio::test(flavor = "multi_thread")]
async fn unmanaged_objects_stop_destroy_unless_forced() {
    let moto = Moto::start();
    let stack = common::reference_stack();
    let stack = stack.to_str().unwrap();
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
    let s3 = moto.s3().await;
    s3.put_object().bucket(BUCKET).key("someone-elses.csv").body(b"a,b\n".to_vec().into()).send().await.unwrap();

    let refused = berth(&moto, &["destroy", stack, "--auto-approve"]).expect(1);
    assert!(
        refused.stderr.contains("holds 1 object(s) berth does not manage (someone-elses.csv)"),
        "{}",
        refused.stderr
    );
    let plan = berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes."), "nothing was deleted: {}", plan.stdout);

    // The plan lists what the forced destroy deletes beyond berth's own objects.
    let forced = berth(&moto, &["destroy", stack, "--auto-approve", "--force-delete-buckets"]).expect(0);
    assert!(
        forced.stdout.contains("empties 1 object(s) berth does not manage first: someone-elses.csv"),
        "{}",
        forced.stdout
    );
    assert!(s3.head_bucket().bucket(BUCKET).send().await.is_err(), "the bucket is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_resource_stops_destroy() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |t| {
        t.replace("  /ecs/example-app:\n", "  /ecs/example-app:\n    protect: true\n")
    });
    let stack = stack.to_str().unwrap();
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);
    let refused = berth(&moto, &["destroy", stack, "--auto-approve"]).expect(1);
    assert!(refused.stdout.contains("log_groups./ecs/example-app is protected"), "{}", refused.stdout);
    berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);
}
