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
    assert_eq!(first.plan.summary.create, 28);
    assert!(first.plan.changes().all(|r| r.action == Action::Create));

    let recorder = Recorder::default();
    let report = Engine::new(&cloud, &recorder, 4).apply(&first).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.done.len(), 28);
    let finished = recorder.0.lock().unwrap().iter().filter(|e| matches!(e, Event::Finished { .. })).count();
    assert_eq!(finished, 28);

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
    assert_eq!(destroy.plan.summary.delete, 28);
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
    assert_eq!(report.not_attempted.len(), 28);
    assert!(report.not_attempted.iter().all(|(_, _, why)| why == berth_core::engine::INTERRUPTED || !why.is_empty()));
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
