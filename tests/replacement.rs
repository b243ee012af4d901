//! Replacement order is a property of the kind, on moto through the real
//! binary: AWS refuses to delete a target group a listener forwards to
//! (ResourceInUse), so changing the reference target group's port creates
//! the new group first (under a free name), moves the listener and the
//! service to it, then deletes the old one, and nothing is left over.

mod common;

use berth_testkit::Moto;
use common::{assert_nothing_left, berth, changes, copy_reference_stack};
use serde_json::Value;

const TG_PORT: &str = "  ecs-sample-tg:\n    protocol: HTTP\n    port: 80\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_target_group_in_use_is_replaced_create_first() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |t| t.to_owned());
    let stack = stack.to_str().unwrap();
    berth(&moto, &["apply", stack, "--auto-approve"]).expect(0);

    let text = std::fs::read_to_string(stack).unwrap();
    assert!(text.contains(TG_PORT));
    std::fs::write(stack, text.replacen(TG_PORT, &TG_PORT.replace("port: 80", "port: 8080"), 1)).unwrap();
    let plan = berth(&moto, &["plan", stack, "--format", "json", "--detailed-exitcode"]).expect(2);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let planned = changes(&plan);
    assert!(planned.contains(&("target_groups.ecs-sample-tg".into(), "replace".into())), "{planned:?}");
    assert!(planned.contains(&("load_balancers.ecs-sample-alb.listeners[80]".into(), "update".into())), "{planned:?}");
    let replace = plan["resources"].as_array().unwrap().iter().find(|r| r["action"] == "replace").unwrap();
    let note = replace["note"].as_str().unwrap();
    assert!(note.contains("created first (as `ecs-sample-tg-"), "{note}");

    // --no-wait: moto never moves a service's PRIMARY deployment after UpdateService (docs/moto.md).
    let applied = berth(&moto, &["apply", stack, "--auto-approve", "--no-wait"]).expect(0);
    assert!(applied.stdout.contains("2 updated, 1 replaced, 1 deleted"), "the old group's delete: {}", applied.stdout);

    let groups = elb.describe_target_groups().send().await.unwrap();
    let groups = groups.target_groups();
    assert_eq!(groups.len(), 1, "the old group is gone: {groups:?}");
    let group = &groups[0];
    assert!(group.target_group_name().unwrap().starts_with("ecs-sample-tg-"), "{group:?}");
    assert_eq!(group.port(), Some(8080));
    let new_arn = group.target_group_arn().unwrap();
    let balancers = elb.describe_load_balancers().send().await.unwrap();
    let balancer = balancers.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = elb.describe_listeners().load_balancer_arn(balancer).send().await.unwrap();
    let forwards_to = listeners.listeners()[0].default_actions()[0].target_group_arn();
    assert_eq!(forwards_to, Some(new_arn), "the listener forwards to the new group");
    let services = ecs.describe_services().cluster("ecs-sample").services("example-app-service").send().await.unwrap();
    let service_groups: Vec<_> =
        services.services()[0].load_balancers().iter().filter_map(|lb| lb.target_group_arn()).collect();
    assert_eq!(service_groups, [new_arn], "the service registers its tasks in the new group");

    // The new group answers to the file's name: nothing is left to change.
    let again = berth(&moto, &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    berth(&moto, &["destroy", stack, "--auto-approve"]).expect(0);
    assert_nothing_left(&moto).await;
}
