//! The IAM, S3 and CloudWatch Logs kinds against a private moto_server,
//! through the `Provider` trait: create, read back, update in place, read
//! back, delete, read nothing.

mod support;

use support::provider;

use std::collections::BTreeMap;

use berth_aws::AwsProvider;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, Provider, ID_TAG, STACK_TAG};
use berth_testkit::Moto;
use serde_json::{json, Value};

const STACK: &str = "test";
const ECS_TASK_EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

fn request(kind: Kind, desired: &Value) -> NodeRequest<'_> {
    NodeRequest { stack: STACK, address: kind.as_str(), kind, desired }
}

/// berth's ownership tags plus `extra`.
fn tags(id: &str, extra: &[(&str, &str)]) -> Value {
    let mut tags = json!({ STACK_TAG: STACK, ID_TAG: id });
    for (k, v) in extra {
        tags[*k] = json!(v);
    }
    tags
}

fn trust(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }],
    })
}

fn allow(action: &str, resource: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": action, "Resource": resource }],
    })
}

async fn read(p: &AwsProvider, kind: Kind, desired: &Value) -> Option<Live> {
    p.read(&request(kind, desired)).await.unwrap_or_else(|e| panic!("read {kind}: {e}"))
}

/// Reads the resource and checks that it matches `desired`: the state
/// equals it without `tags`, which come back separately.
async fn assert_live(p: &AwsProvider, kind: Kind, desired: &Value) -> Live {
    let live = read(p, kind, desired).await.unwrap_or_else(|| panic!("{kind} does not exist"));
    let mut state = desired.clone();
    let tags = state.as_object_mut().and_then(|s| s.remove("tags"));
    assert_eq!(live.state, state, "{kind} state");
    let tags: Option<BTreeMap<String, String>> = tags.map(|t| serde_json::from_value(t).expect("string tags"));
    assert_eq!(live.tags, tags, "{kind} tags");
    assert_eq!(live.tags.is_some(), kind.taggable(), "{kind} tags presence");
    live
}

/// Creates from `desired` (after checking it is absent) and reads it back.
async fn create(p: &AwsProvider, kind: Kind, desired: &Value) -> Outputs {
    assert!(read(p, kind, desired).await.is_none(), "{kind} exists before create");
    let outputs = p.create(&request(kind, desired)).await.unwrap_or_else(|e| panic!("create {kind}: {e}"));
    let live = assert_live(p, kind, desired).await;
    assert_eq!(live.outputs, outputs, "{kind} outputs of read and create");
    outputs
}

/// Updates in place from `before` to `after` and reads it back.
async fn update(p: &AwsProvider, kind: Kind, before: &Value, after: &Value) -> Outputs {
    let live = assert_live(p, kind, before).await;
    let (b, a) = (before.as_object().expect("object"), after.as_object().expect("object"));
    let mut changed: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    changed.sort();
    changed.dedup();
    assert!(!changed.is_empty(), "{kind}: nothing to update");
    let outputs =
        p.update(&request(kind, after), &live, &changed).await.unwrap_or_else(|e| panic!("update {kind}: {e}"));
    let live = assert_live(p, kind, after).await;
    assert_eq!(live.outputs, outputs, "{kind} outputs of read and update");
    outputs
}

/// Deletes, checks it is gone, and that deleting it again is fine.
async fn delete(p: &AwsProvider, kind: Kind, desired: &Value) {
    let live = read(p, kind, desired).await.unwrap_or_else(|| panic!("{kind} does not exist"));
    p.delete(&request(kind, desired), &live).await.unwrap_or_else(|e| panic!("delete {kind}: {e}"));
    assert!(read(p, kind, desired).await.is_none(), "{kind} still exists after delete");
    p.delete(&request(kind, desired), &live).await.unwrap_or_else(|e| panic!("delete {kind} again: {e}"));
}

#[tokio::test]
async fn iam_policies_roles_attachments_inline_policies_and_instance_profiles() {
    let moto = Moto::start();
    let p = provider(&moto).await;
    let account = p.identity().await.expect("identity").account_id;

    let policy =
        json!({ "name": "app", "document": allow("s3:GetObject", "*"), "tags": tags("iam.policies.app", &[]) });
    let outputs = create(&p, Kind::IamPolicy, &policy).await;
    let policy_arn = format!("arn:aws:iam::{account}:policy/app");
    assert_eq!(outputs["arn"], json!(policy_arn));
    assert_eq!(outputs["name"], json!("app"));
    // Six new documents: IAM keeps five versions, so the oldest must make room.
    let mut before = policy.clone();
    for n in 0..6 {
        let mut after = before.clone();
        after["document"] = allow("s3:GetObject", &format!("arn:aws:s3:::bucket-{n}/*"));
        update(&p, Kind::IamPolicy, &before, &after).await;
        before = after;
    }
    let mut policy_v2 = before.clone();
    policy_v2["tags"] = tags("iam.policies.app", &[("team", "web")]);
    update(&p, Kind::IamPolicy, &before, &policy_v2).await;

    let role = json!({ "name": "app", "assume_role_policy": trust("ecs-tasks.amazonaws.com"), "tags": tags("iam.roles.app", &[("team", "web")]) });
    let outputs = create(&p, Kind::IamRole, &role).await;
    assert_eq!(outputs["arn"], json!(format!("arn:aws:iam::{account}:role/app")));
    let role_v2 = json!({
        "name": "app",
        "assume_role_policy": trust("ec2.amazonaws.com"),
        "tags": tags("iam.roles.app", &[("owner", "ops")]),
    });
    update(&p, Kind::IamRole, &role, &role_v2).await;

    let attachments = [
        json!({ "role": "app", "policy_arn": policy_arn }),
        json!({ "role": "app", "policy_arn": ECS_TASK_EXECUTION_POLICY }),
    ];
    for attachment in &attachments {
        assert_eq!(create(&p, Kind::IamRolePolicyAttachment, attachment).await, Outputs::new());
    }
    let orphan = json!({ "role": "no-such-role", "policy_arn": ECS_TASK_EXECUTION_POLICY });
    assert!(read(&p, Kind::IamRolePolicyAttachment, &orphan).await.is_none(), "attachment to a missing role");

    let inline = json!({ "role": "app", "name": "logs", "document": allow("logs:PutLogEvents", "*") });
    create(&p, Kind::IamRoleInlinePolicy, &inline).await;
    let mut inline_v2 = inline.clone();
    inline_v2["document"] = allow("logs:*", "arn:aws:logs:*:*:log-group:/app:*");
    update(&p, Kind::IamRoleInlinePolicy, &inline, &inline_v2).await;

    let other_role = json!({ "name": "other", "assume_role_policy": trust("ec2.amazonaws.com"), "tags": tags("iam.roles.other", &[]) });
    create(&p, Kind::IamRole, &other_role).await;
    let profile = json!({ "name": "app", "role": "app", "tags": tags("iam.roles.app.instance_profile", &[]) });
    let outputs = create(&p, Kind::IamInstanceProfile, &profile).await;
    assert_eq!(outputs["arn"], json!(format!("arn:aws:iam::{account}:instance-profile/app")));
    let profile_v2 =
        json!({ "name": "app", "role": "other", "tags": tags("iam.roles.app.instance_profile", &[("a", "b")]) });
    update(&p, Kind::IamInstanceProfile, &profile, &profile_v2).await;

    // Teardown in the engine's order: dependents first.
    delete(&p, Kind::IamInstanceProfile, &profile_v2).await;
    delete(&p, Kind::IamRoleInlinePolicy, &inline_v2).await;
    for attachment in &attachments {
        delete(&p, Kind::IamRolePolicyAttachment, attachment).await;
    }
    delete(&p, Kind::IamRole, &role_v2).await;
    delete(&p, Kind::IamPolicy, &policy_v2).await;

    // A role still attached, with an inline policy and in an instance profile
    // (DeleteConflict) is released and deleted.
    create(&p, Kind::IamRolePolicyAttachment, &json!({ "role": "other", "policy_arn": ECS_TASK_EXECUTION_POLICY }))
        .await;
    create(&p, Kind::IamRoleInlinePolicy, &json!({ "role": "other", "name": "x", "document": allow("s3:*", "*") }))
        .await;
    create(&p, Kind::IamInstanceProfile, &json!({ "name": "other", "role": "other", "tags": {} })).await;
    delete(&p, Kind::IamRole, &other_role).await;
}

#[tokio::test]
async fn s3_buckets_access_blocks_policies_and_objects() {
    let moto = Moto::start();
    let p = provider(&moto).await;
    let name = "berth-test-config";

    let bucket = json!({ "name": name, "tags": tags("buckets.config", &[("team", "web")]) });
    let outputs = create(&p, Kind::S3Bucket, &bucket).await;
    assert_eq!(outputs["arn"], json!(format!("arn:aws:s3:::{name}")));
    let s3 = moto.s3().await;
    let location = s3.get_bucket_location().bucket(name).send().await.expect("bucket location");
    assert_eq!(location.location_constraint().map(|l| l.as_str()), Some(berth_testkit::REGION));
    let bucket_v2 = json!({ "name": name, "tags": tags("buckets.config", &[("owner", "ops")]) });
    update(&p, Kind::S3Bucket, &bucket, &bucket_v2).await;

    let block = json!({
        "bucket": name, "block_public_acls": true, "ignore_public_acls": true,
        "block_public_policy": true, "restrict_public_buckets": true,
    });
    create(&p, Kind::S3PublicAccessBlock, &block).await;
    let mut block_v2 = block.clone();
    block_v2["restrict_public_buckets"] = json!(false);
    update(&p, Kind::S3PublicAccessBlock, &block, &block_v2).await;

    let reader = |principal: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "BerthReaders", "Effect": "Allow", "Principal": { "AWS": principal },
                "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*"),
            }],
        })
    };
    let policy = json!({ "bucket": name, "policy": reader("arn:aws:iam::123456789012:role/a") });
    create(&p, Kind::S3BucketPolicy, &policy).await;
    let policy_v2 = json!({ "bucket": name, "policy": reader("arn:aws:iam::123456789012:role/b") });
    update(&p, Kind::S3BucketPolicy, &policy, &policy_v2).await;

    let object =
        json!({ "bucket": name, "key": "app.env", "content": "DB_PASSWORD=hunter2\n", "content_type": "text/plain" });
    let outputs = create(&p, Kind::S3Object, &object).await;
    assert_eq!(outputs["arn"], json!(format!("arn:aws:s3:::{name}/app.env")));
    let head = s3.head_object().bucket(name).key("app.env").send().await.expect("head object");
    assert_eq!(outputs["etag"], json!(head.e_tag().expect("etag").trim_matches('"')), "etag without S3's quotes");
    let object_v2 = json!({ "bucket": name, "key": "app.env", "content": "DB_PASSWORD=n3w\nX=ü\n", "content_type": "application/octet-stream" });
    let outputs_v2 = update(&p, Kind::S3Object, &object, &object_v2).await;
    assert_ne!(outputs_v2["etag"], outputs["etag"]);

    // An object berth does not manage keeps the bucket: it is never emptied.
    s3.put_object()
        .bucket(name)
        .key("someone-elses")
        .body(b"data".to_vec().into())
        .send()
        .await
        .expect("put foreign object");
    delete(&p, Kind::S3Object, &object_v2).await;
    delete(&p, Kind::S3BucketPolicy, &policy_v2).await;
    delete(&p, Kind::S3PublicAccessBlock, &block_v2).await;
    let live = read(&p, Kind::S3Bucket, &bucket_v2).await.expect("bucket exists");
    let err = p.delete(&request(Kind::S3Bucket, &bucket_v2), &live).await.expect_err("deleting a non-empty bucket");
    assert_eq!(err.code.as_deref(), Some("BucketNotEmpty"));
    assert!(err.message.contains("not empty"), "{}", err.message);
    s3.delete_object().bucket(name).key("someone-elses").send().await.expect("delete foreign object");
    delete(&p, Kind::S3Bucket, &bucket_v2).await;
}

#[tokio::test]
async fn log_groups_with_retention_and_tags() {
    let moto = Moto::start();
    let p = provider(&moto).await;

    // A group whose name extends the other's: reads must match names exactly.
    let longer = json!({ "name": "/ecs/app-worker", "tags": tags("log_groups./ecs/app-worker", &[]) });
    create(&p, Kind::LogGroup, &longer).await;

    let group =
        json!({ "name": "/ecs/app", "retention_days": 14, "tags": tags("log_groups./ecs/app", &[("team", "web")]) });
    let outputs = create(&p, Kind::LogGroup, &group).await;
    let arn = outputs["arn"].as_str().expect("arn");
    assert!(arn.starts_with("arn:aws:logs:") && arn.ends_with(":log-group:/ecs/app"), "{arn}");
    let group_v2 =
        json!({ "name": "/ecs/app", "retention_days": 30, "tags": tags("log_groups./ecs/app", &[("owner", "ops")]) });
    update(&p, Kind::LogGroup, &group, &group_v2).await;
    let group_v3 = json!({ "name": "/ecs/app", "tags": tags("log_groups./ecs/app", &[("owner", "ops")]) });
    update(&p, Kind::LogGroup, &group_v2, &group_v3).await;

    delete(&p, Kind::LogGroup, &group_v3).await;
    assert_live(&p, Kind::LogGroup, &longer).await;
    delete(&p, Kind::LogGroup, &longer).await;
}
