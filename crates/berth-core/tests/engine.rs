//! The engine over the in-memory provider: plan, apply, re-plan, change one
//! field, fail one resource. No network.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use berth_core::engine::{Engine, Event, EventSink, NoEvents};
use berth_core::expand::{expand, ExpandOptions};
use berth_core::kind::Kind;
use berth_core::load::{load_file, LoadedStack};
use berth_core::memory::{MemoryCloud, Stored};
use berth_core::plan::{Action, Mode};
use berth_core::provider::Outputs;
use serde_json::json;

fn loaded() -> LoadedStack {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml")).unwrap()
}

fn options(vars: &[(&str, &str)]) -> ExpandOptions {
    ExpandOptions {
        account_id: "123456789012".into(),
        region: "ap-northeast-2".into(),
        var_overrides: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    }
}

/// How many resources the reference stack manages (its exact list is in tests/reference_stack.rs).
fn reference_count() -> usize {
    expand(&loaded(), &options(&[])).unwrap().managed_count()
}

async fn plan(cloud: &MemoryCloud, vars: &[(&str, &str)], mode: Mode) -> berth_core::engine::Planned {
    let loaded = loaded();
    let expanded = expand(&loaded, &options(vars)).unwrap();
    Engine::new(cloud, &NoEvents, 10).plan(expanded, &loaded.source, mode).await.unwrap()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn create_converge_change_image_destroy() {
    let cloud = MemoryCloud::default();
    let first = plan(&cloud, &[], Mode::Apply).await;
    assert_eq!(first.plan.summary.create, reference_count());
    assert!(first.plan.changes().all(|r| r.action == Action::Create));

    let recorder = Recorder::default();
    let report = Engine::new(&cloud, &recorder, 4).apply(&first).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.done.len(), reference_count());
    let finished = recorder.0.lock().unwrap().iter().filter(|e| matches!(e, Event::Finished { .. })).count();
    assert_eq!(finished, reference_count());

    let again = plan(&cloud, &[], Mode::Apply).await;
    assert!(!again.plan.summary.has_changes(), "{:#?}", again.plan.changes().collect::<Vec<_>>());

    let changed = plan(&cloud, &[("app_image", "example-app:v2")], Mode::Apply).await;
    let changes: Vec<(&str, Action)> = changed.plan.changes().map(|r| (r.address.as_str(), r.action)).collect();
    assert_eq!(
        changes,
        [("task_definitions.example-app", Action::Update), ("services.example-app-service", Action::Update)]
    );
    let td = changed.plan.changes().next().unwrap();
    assert!(td.note.as_deref().unwrap().contains("new revision"));
    let service = changed.plan.changes().nth(1).unwrap();
    assert_eq!(service.fields[0].field, "task_definition");
    assert_eq!(service.fields[0].after, Some(json!("(known after apply)")));
    let report = Engine::new(&cloud, &NoEvents, 4).apply(&changed).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(!plan(&cloud, &[("app_image", "example-app:v2")], Mode::Apply).await.plan.summary.has_changes());

    let destroy = plan(&cloud, &[], Mode::Destroy).await;
    assert_eq!(destroy.plan.summary.delete, reference_count());
    let order: Vec<&str> = destroy.plan.changes().map(|r| r.address.as_str()).collect();
    let pos = |a: &str| order.iter().position(|x| *x == a).unwrap();
    assert!(pos("services.example-app-service") < pos("load_balancers.ecs-sample-alb.listeners[80]"));
    assert!(pos("buckets.ecs-sample-env.objects[prod.env]") < pos("buckets.ecs-sample-env"));
    assert!(pos("clusters.ecs-sample.capacity_provider") < pos("clusters.ecs-sample.autoscaling_group"));
    let report = Engine::new(&cloud, &NoEvents, 4).apply(&destroy).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(cloud.resources.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failure_skips_dependents_and_a_second_apply_converges() {
    let cloud = MemoryCloud::failing(&["target_groups.ecs-sample-tg"]);
    let first = plan(&cloud, &[], Mode::Apply).await;
    let report = Engine::new(&cloud, &NoEvents, 10).apply(&first).await;
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].2.contains("injected failure"));
    let skipped: Vec<&str> = report.not_attempted.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(skipped, ["load_balancers.ecs-sample-alb.listeners[80]", "services.example-app-service"]);
    assert_eq!(report.done.len(), 25);

    let cloud = cloud.healed();
    let second = plan(&cloud, &[], Mode::Apply).await;
    assert_eq!(second.plan.summary.create, 3);
    assert!(Engine::new(&cloud, &NoEvents, 10).apply(&second).await.succeeded());
    assert!(!plan(&cloud, &[], Mode::Apply).await.plan.summary.has_changes());
}

#[tokio::test]
async fn resources_owned_by_no_stack_are_refused() {
    let cloud = MemoryCloud::default();
    let unowned = Stored {
        kind: Kind::S3Bucket,
        state: json!({"name": "ecs-sample-env-123456789012"}),
        outputs: Outputs::new(),
        tags: BTreeMap::new(),
    };
    cloud.resources.lock().unwrap().insert("buckets.ecs-sample-env".into(), unowned);
    let planned = plan(&cloud, &[], Mode::Apply).await;
    let errors: Vec<_> = planned.plan.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("without the tag berth:stack=ecs-sample"), "{}", errors[0].message);
    assert!(errors[0].line > 0);
}

#[tokio::test]
async fn a_resource_removed_from_the_file_is_deleted() {
    let cloud = MemoryCloud::default();
    let first = plan(&cloud, &[], Mode::Apply).await;
    assert!(Engine::new(&cloud, &NoEvents, 10).apply(&first).await.succeeded());

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let without_service = &text[..text.find("\nservices:").unwrap()];
    let loaded = berth_core::load::load_str(&path, without_service).unwrap();
    let expanded = expand(&loaded, &options(&[])).unwrap();
    let engine = Engine::new(&cloud, &NoEvents, 10);
    let planned = engine.plan(expanded, &loaded.source, Mode::Apply).await.unwrap();
    let changes: Vec<(&str, Action)> = planned.plan.changes().map(|r| (r.address.as_str(), r.action)).collect();
    assert_eq!(changes, [("services.example-app-service", Action::Delete)]);
    assert!(engine.apply(&planned).await.succeeded());
    assert!(!cloud.resources.lock().unwrap().contains_key("services.example-app-service"));
}

#[tokio::test]
async fn an_interrupted_apply_starts_nothing_new_and_says_so() {
    let cloud = MemoryCloud::default();
    let first = plan(&cloud, &[], Mode::Apply).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let report = Engine::new(&cloud, &NoEvents, 4).with_stop(stop).apply(&first).await;
    assert!(report.done.is_empty());
    assert_eq!(report.not_attempted.len(), reference_count());
    // What waits for nothing is stopped by the interrupt; the rest by what it waits for.
    let graph = &first.expanded().graph;
    let mut interrupted = 0;
    for (address, _, why) in &report.not_attempted {
        if why == berth_core::engine::INTERRUPTED {
            interrupted += 1;
        } else {
            assert!(graph.get(address).unwrap().dependencies().contains(why), "{address}: {why}");
        }
    }
    assert!(interrupted > 0, "{:?}", report.not_attempted);
    assert!(cloud.calls.lock().unwrap().is_empty());
}

/// The reference stack with `protect: true` added to the service and the target group.
fn protected_stack_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml");
    std::fs::read_to_string(path)
        .unwrap()
        .replace("  example-app-service:\n", "  example-app-service:\n    protect: true\n")
        .replace("  ecs-sample-tg:\n", "  ecs-sample-tg:\n    protect: true\n")
}

async fn plan_text(cloud: &MemoryCloud, text: &str, mode: Mode) -> berth_core::engine::Planned {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml");
    let loaded = berth_core::load::load_str(&path, text).unwrap();
    let expanded = expand(&loaded, &options(&[])).unwrap();
    Engine::new(cloud, &NoEvents, 10).plan(expanded, &loaded.source, mode).await.unwrap()
}

#[tokio::test]
async fn protected_resources_are_never_deleted_or_replaced() {
    let cloud = MemoryCloud::default();
    let text = protected_stack_text();
    let first = plan_text(&cloud, &text, Mode::Apply).await;
    assert!(Engine::new(&cloud, &NoEvents, 10).apply(&first).await.succeeded());

    let errors = |planned: &berth_core::engine::Planned| -> Vec<String> {
        planned.plan.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect()
    };
    let destroy = plan_text(&cloud, &text, Mode::Destroy).await;
    let refused = errors(&destroy);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().any(|e| e.starts_with("services.example-app-service is protected")), "{refused:?}");

    let replaced = plan_text(
        &cloud,
        &text.replace("    port: 80\n    target_type", "    port: 8080\n    target_type"),
        Mode::Apply,
    )
    .await;
    let refused = errors(&replaced);
    assert!(
        refused.iter().any(|e| e.contains("target_groups.ecs-sample-tg is protected") && e.contains("`port`")),
        "{refused:?}"
    );

    let removed = plan_text(&cloud, &text[..text.find("\nservices:").unwrap()], Mode::Apply).await;
    let refused = errors(&removed);
    assert_eq!(
        refused,
        ["services.example-app-service is protected and no longer in the stack file: berth will not delete it"]
    );
}

fn reference_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml")).unwrap()
}

/// Applies `text` to `cloud` and checks that a second plan is empty.
async fn converge(cloud: &MemoryCloud, text: &str) {
    let planned = plan_text(cloud, text, Mode::Apply).await;
    let report = Engine::new(cloud, &NoEvents, 10).apply(&planned).await;
    assert!(report.succeeded(), "{report:?}");
    let again = plan_text(cloud, text, Mode::Apply).await;
    assert!(!again.plan.summary.has_changes(), "{:#?}", again.plan.changes().collect::<Vec<_>>());
}

/// Edits the text, asserting that `from` is in it.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is not in the stack");
    text.replacen(from, to, 1)
}

const HTTPS_RULE: &str = "      - { protocol: tcp, ports: 443, cidr: 0.0.0.0/0 }\n";
const HTTP_RULE: &str = "      - { protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }\n";

#[tokio::test]
async fn children_removed_from_the_file_are_deleted_one_kind_at_a_time() {
    let cloud = MemoryCloud::default();
    let mut text = edit(&reference_text(), HTTP_RULE, &format!("{HTTP_RULE}{HTTPS_RULE}"));
    converge(&cloud, &text).await;
    // Rules are named by their content: the order in the file does not matter.
    let reordered = edit(&text, &format!("{HTTP_RULE}{HTTPS_RULE}"), &format!("{HTTPS_RULE}{HTTP_RULE}"));
    assert!(!plan_text(&cloud, &reordered, Mode::Apply).await.plan.summary.has_changes());

    let removals = [
        (HTTPS_RULE, "", "security_groups.ecs-sample-alb.ingress[tcp 443 0.0.0.0/0]"),
        (
            "      managed_policies:\n        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n",
            "",
            "iam.roles.ecs-task-execution-role.managed_policies[AmazonECSTaskExecutionRolePolicy]",
        ),
        ("      policies: [ecs-sample-ecs]\n", "", "iam.roles.ecs-task-execution-role.policies[ecs-sample-ecs]"),
        ("    readers: [ecs-task-execution-role]", "", "buckets.ecs-sample-env.policy"),
        ("    block_public_access: true", "    block_public_access: false", "buckets.ecs-sample-env.public_access_block"),
    ];
    for (from, to, address) in removals {
        text = edit(&text, from, to);
        let planned = plan_text(&cloud, &text, Mode::Apply).await;
        let changes: Vec<(&str, Action)> = planned.plan.changes().map(|r| (r.address.as_str(), r.action)).collect();
        assert_eq!(changes, [(address, Action::Delete)], "removing `{}`", from.trim());
        let change = planned.plan.changes().next().unwrap();
        assert_eq!(change.note.as_deref(), Some(berth_core::engine::NOT_DECLARED));
        assert!(!change.fields.is_empty() && change.fields.iter().all(|f| f.after.is_none()), "{change:?}");
        converge(&cloud, &text).await;
        assert!(!cloud.resources.lock().unwrap().contains_key(address));
    }

    let inline = text.find("      inline_policies:").unwrap();
    let end = text[inline..].find("\nbuckets:").unwrap() + inline;
    text = format!("{}{}", &text[..inline], &text[end + 1..]);
    let planned = plan_text(&cloud, &text, Mode::Apply).await;
    let change = planned.plan.changes().next().unwrap();
    assert_eq!(change.address, "iam.roles.ecs-task-execution-role.inline_policies.read-env-file");
    // What goes is shown: the document the role loses.
    assert!(change.fields.iter().any(|f| f.field == "document" && f.before.is_some()), "{change:?}");
    converge(&cloud, &text).await;

    let destroy = plan_text(&cloud, &text, Mode::Destroy).await;
    assert!(Engine::new(&cloud, &NoEvents, 10).apply(&destroy).await.succeeded());
    assert!(cloud.resources.lock().unwrap().is_empty());
}

/// Stores a rule in the cloud below the instance group, as someone in the console would add it.
fn open_port_22_by_hand(cloud: &MemoryCloud) -> &'static str {
    let address = "security_groups.ecs-sample-instances.ingress[tcp 22 0.0.0.0/0]";
    let group_id = "id-security_groups.ecs-sample-instances";
    let rule = Stored {
        kind: Kind::SecurityGroupIngress,
        state: json!({"group_id": group_id, "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"}),
        outputs: Outputs::new(),
        tags: BTreeMap::new(),
    };
    cloud.resources.lock().unwrap().insert(address.into(), rule);
    address
}

#[tokio::test]
async fn a_rule_added_by_hand_is_drift_unless_the_group_leaves_rules_unmanaged() {
    let cloud = MemoryCloud::default();
    let text = reference_text();
    converge(&cloud, &text).await;
    let address = open_port_22_by_hand(&cloud);

    let unmanaged = edit(
        &text,
        "    description: dynamic host ports, reachable only from the load balancer\n",
        "    description: dynamic host ports, reachable only from the load balancer\n    unmanaged_rules: true\n",
    );
    assert!(!plan_text(&cloud, &unmanaged, Mode::Apply).await.plan.summary.has_changes());

    let planned = plan_text(&cloud, &text, Mode::Apply).await;
    let changes: Vec<&berth_core::plan::ResourceChange> = planned.plan.changes().collect();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!((changes[0].address.as_str(), changes[0].action), (address, Action::Delete));
    let cidr = changes[0].fields.iter().find(|f| f.field == "cidr").unwrap();
    assert_eq!(cidr.before, Some(json!("0.0.0.0/0")));
    converge(&cloud, &text).await;
    assert!(!cloud.resources.lock().unwrap().contains_key(address));
}

#[tokio::test]
async fn children_of_a_resource_the_stack_does_not_own_are_left_alone() {
    let cloud = MemoryCloud::default();
    let text = reference_text();
    converge(&cloud, &text).await;
    let address = open_port_22_by_hand(&cloud);
    let group = "security_groups.ecs-sample-instances";
    cloud.resources.lock().unwrap().get_mut(group).unwrap().tags.clear();
    let planned = plan_text(&cloud, &text, Mode::Apply).await;
    assert!(planned.plan.diagnostics.iter().any(|d| d.is_error() && d.message.contains("without the tag")));
    assert!(planned.plan.changes().all(|r| r.address != address), "{:#?}", planned.plan.changes().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_child_removed_from_the_file_and_changed_in_aws_is_still_deleted() {
    let cloud = MemoryCloud::default();
    let text = reference_text();
    converge(&cloud, &text).await;
    let address = "iam.roles.ecs-task-execution-role.inline_policies.read-env-file";
    cloud.resources.lock().unwrap().get_mut(address).unwrap().state["document"]["Statement"] = json!([]);
    let inline = text.find("      inline_policies:").unwrap();
    let end = text[inline..].find("\nbuckets:").unwrap() + inline;
    let without = format!("{}{}", &text[..inline], &text[end + 1..]);
    let planned = plan_text(&cloud, &without, Mode::Apply).await;
    let changes: Vec<(&str, Action)> = planned.plan.changes().map(|r| (r.address.as_str(), r.action)).collect();
    assert_eq!(changes, [(address, Action::Delete)]);
}

#[tokio::test]
async fn a_capacity_association_goes_before_the_capacity_it_names() {
    let cloud = MemoryCloud::default();
    let text = reference_text();
    converge(&cloud, &text).await;
    let capacity = text.find("    capacity:\n").unwrap();
    let end = text[capacity..].find("\ntask_definitions:").unwrap() + capacity;
    let without =
        format!("{}  ecs-sample: {{}}\n{}", &text[..text[..capacity].rfind("  ecs-sample:").unwrap()], &text[end..]);
    let planned = plan_text(&cloud, &without, Mode::Apply).await;
    let deleted: Vec<&str> =
        planned.plan.changes().filter(|r| r.action == Action::Delete).map(|r| r.address.as_str()).collect();
    let at = |a: &str| deleted.iter().position(|d| *d == a).unwrap_or_else(|| panic!("{a} not deleted: {deleted:?}"));
    assert!(at("clusters.ecs-sample.capacity_providers") < at("clusters.ecs-sample.capacity_provider"));
    assert!(at("clusters.ecs-sample.capacity_provider") < at("clusters.ecs-sample.autoscaling_group"));
    let association = planned.plan.changes().find(|r| r.address == "clusters.ecs-sample.capacity_providers").unwrap();
    assert_eq!(association.note.as_deref(), Some(berth_core::engine::NOT_DECLARED));
}

#[tokio::test]
async fn an_unowned_part_with_a_name_of_its_own_is_refused_before_its_parent_exists() {
    let cloud = MemoryCloud::default();
    let profile = Stored {
        kind: Kind::IamInstanceProfile,
        state: json!({"name": "ecs-instance-role"}),
        outputs: Outputs::new(),
        tags: BTreeMap::new(),
    };
    cloud.resources.lock().unwrap().insert("iam.roles.ecs-instance-role.instance_profile".into(), profile);
    let planned = plan(&cloud, &[], Mode::Apply).await;
    let errors: Vec<&str> =
        planned.plan.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("iam_instance_profile `ecs-instance-role` already exists without the tag"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_target_group_in_use_is_replaced_create_first_under_a_free_name() {
    let cloud = MemoryCloud::default();
    let text = reference_text();
    converge(&cloud, &text).await;
    let moved = edit(&text, "    protocol: HTTP\n    port: 80\n", "    protocol: HTTP\n    port: 8080\n");
    let planned = plan_text(&cloud, &moved, Mode::Apply).await;
    let changes: Vec<(&str, Action)> = planned.plan.changes().map(|r| (r.address.as_str(), r.action)).collect();
    assert_eq!(
        changes,
        [
            ("target_groups.ecs-sample-tg", Action::Replace),
            ("load_balancers.ecs-sample-alb.listeners[80]", Action::Update),
            ("services.example-app-service", Action::Update),
        ]
    );
    let note = planned.plan.changes().next().unwrap().note.clone().unwrap();
    assert!(note.contains("created first (as `ecs-sample-tg-"), "{note}");

    cloud.calls.lock().unwrap().clear();
    let report = Engine::new(&cloud, &NoEvents, 4).apply(&planned).await;
    assert!(report.succeeded(), "{report:?}");
    let calls = cloud.calls.lock().unwrap().clone();
    let at = |call: &str| calls.iter().position(|c| c.starts_with(call)).unwrap_or_else(|| panic!("{call}: {calls:?}"));
    let created = at("create target_groups.ecs-sample-tg");
    assert!(created < at("update load_balancers.ecs-sample-alb.listeners[80]"));
    assert!(created < at("update services.example-app-service"));
    let retired = at("delete target_groups.ecs-sample-tg (old)");
    assert!(retired > at("update load_balancers.ecs-sample-alb.listeners[80]"));
    assert_eq!(calls.iter().filter(|c| c.starts_with("delete")).count(), 1, "{calls:?}");
    let stored = cloud.resources.lock().unwrap()["target_groups.ecs-sample-tg"].state["name"].clone();
    assert!(stored.as_str().unwrap().starts_with("ecs-sample-tg-"), "{stored}");

    // The replacement answers to the file's name: nothing is left to change.
    let again = plan_text(&cloud, &moved, Mode::Apply).await;
    assert!(!again.plan.summary.has_changes(), "{:#?}", again.plan.changes().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_replacement_whose_users_failed_keeps_the_old_one() {
    let cloud = MemoryCloud::default();
    let text = reference_text();
    converge(&cloud, &text).await;
    let moved = edit(&text, "    protocol: HTTP\n    port: 80\n", "    protocol: HTTP\n    port: 8080\n");
    let planned = plan_text(&cloud, &moved, Mode::Apply).await;
    let failing = MemoryCloud::failing(&["services.example-app-service"]);
    *failing.resources.lock().unwrap() = cloud.resources.into_inner().unwrap();
    let cloud = failing;
    let report = Engine::new(&cloud, &NoEvents, 4).apply(&planned).await;
    let kept = report.not_attempted.iter().find(|(a, _, _)| a == "target_groups.ecs-sample-tg (old)");
    assert_eq!(kept.map(|(_, _, why)| why.as_str()), Some("kept: services.example-app-service still uses it"));
    assert!(!cloud.calls.lock().unwrap().iter().any(|c| c.starts_with("delete")));
}
