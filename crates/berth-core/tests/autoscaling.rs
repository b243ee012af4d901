//! Service autoscaling without a network: what `autoscaling:` expands into,
//! how its state compares, and that under it the live desired count of the
//! service is never a change while the create still sends the file's count.

use std::path::Path;

use berth_core::engine::{Engine, NoEvents, Planned};
use berth_core::expand::{expand, ExpandOptions};
use berth_core::kind::Kind;
use berth_core::load::load_str;
use berth_core::memory::MemoryCloud;
use berth_core::normalize::normalize;
use berth_core::plan::{Action, Mode};
use berth_core::saved::SavedPlan;
use serde_json::json;

const STACK: &str = r#"stack: sc
security_groups:
  tasks: { description: tasks }
clusters:
  sc: {}
task_definitions:
  api:
    requires: [FARGATE]
    network_mode: awsvpc
    cpu: 256
    memory: 512
    containers:
      api: { image: nginx, ports: [80] }
target_groups:
  web: { protocol: HTTP, port: 80, target_type: ip }
  api: { protocol: HTTP, port: 80, target_type: ip }
load_balancers:
  lb:
    listeners:
      - port: 80
        protocol: HTTP
        forward: web
        rules:
          - { priority: 10, path: ["/api/*"], forward: api }
services:
  api:
    cluster: sc
    task_definition: api
    launch_type: FARGATE
    desired_count: 2
    network: { subnets: default, security_groups: [tasks] }
    load_balancer: { target_group: api, container: api, port: 80 }
    autoscaling:
      min: 2
      max: 6
      cpu: 60
      requests_per_target: 1000
"#;

const SERVICE: &str = "services.api";
const SCALING: &str = "services.api.autoscaling";

fn options() -> ExpandOptions {
    ExpandOptions { account_id: "123456789012".into(), region: "ap-northeast-2".into(), ..Default::default() }
}

async fn plan(cloud: &MemoryCloud, text: &str) -> Planned {
    let loaded = load_str(Path::new("stack.yaml"), text).unwrap();
    let expanded = expand(&loaded, &options()).unwrap();
    Engine::new(cloud, &NoEvents, 4).plan(expanded, &loaded.source, Mode::Apply).await.unwrap()
}

fn changes(planned: &Planned) -> Vec<(String, Action, Vec<String>)> {
    planned
        .plan
        .changes()
        .map(|r| (r.address.clone(), r.action, r.fields.iter().map(|f| f.field.clone()).collect()))
        .collect()
}

#[test]
fn autoscaling_is_a_part_of_its_service_and_the_count_is_create_only() {
    let expanded = expand(&load_str(Path::new("stack.yaml"), STACK).unwrap(), &options()).unwrap();
    let service = expanded.graph.get(SERVICE).unwrap();
    assert!(service.create_only.contains("desired_count"));
    assert_eq!(service.desired["desired_count"], 2, "the create still sends the file's count");
    let scaling = expanded.graph.get(SCALING).unwrap();
    assert_eq!((scaling.kind, scaling.parent.as_deref()), (Kind::ServiceAutoscaling, Some(SERVICE)));
    assert_eq!(
        scaling.desired,
        json!({
            "resource_id": "service/sc/api", "min": 2, "max": 6,
            "policies": [
                { "name": "cpu", "metric": "ECSServiceAverageCPUUtilization", "target": 60.0 },
                {
                    "name": "requests-per-target", "metric": "ALBRequestCountPerTarget", "target": 1000.0,
                    "load_balancer_arn": "${ref:load_balancers.lb#arn}",
                    "target_group_arn": "${ref:target_groups.api#arn}",
                },
            ],
        })
    );
    // Without `autoscaling:` the count is the file's, compared as any field.
    let plain = STACK.split("    autoscaling:").next().unwrap();
    let expanded = expand(&load_str(Path::new("stack.yaml"), plain).unwrap(), &options()).unwrap();
    assert!(expanded.graph.get(SERVICE).unwrap().create_only.is_empty());
    assert!(expanded.graph.get(SCALING).is_none());
}

#[test]
fn the_request_count_policy_compares_as_the_label_aws_keeps() {
    let desired = json!({
        "resource_id": "service/sc/api", "min": 2, "max": 6,
        "policies": [
            {
                "name": "requests-per-target", "metric": "ALBRequestCountPerTarget", "target": 1000.0,
                "load_balancer_arn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/lb/50dc6c495c0c9188",
                "target_group_arn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/api/73e2d6bc24d8a067",
            },
            { "name": "cpu", "metric": "ECSServiceAverageCPUUtilization", "target": 60.0 },
        ],
    });
    let live = json!({
        "resource_id": "service/sc/api", "min": 2, "max": 6,
        "policies": [
            { "name": "cpu", "metric": "ECSServiceAverageCPUUtilization", "target": 60 },
            {
                "name": "requests-per-target", "metric": "ALBRequestCountPerTarget", "target": 1000,
                "resource_label": "app/lb/50dc6c495c0c9188/targetgroup/api/73e2d6bc24d8a067",
            },
        ],
    });
    let kind = Kind::ServiceAutoscaling;
    assert_eq!(normalize(kind, &desired), normalize(kind, &live));
    assert_eq!(normalize(kind, &desired)["policies"][0]["name"], "cpu", "policies are sorted by name");
    let mut other = live.clone();
    other["policies"][0]["target"] = json!(60.5);
    assert_ne!(normalize(kind, &desired), normalize(kind, &other));
}

#[tokio::test]
async fn the_autoscalers_count_is_no_change_and_the_range_updates_alone() {
    let cloud = MemoryCloud::default();
    let first = plan(&cloud, STACK).await;
    assert!(first.plan.changes().all(|r| r.action == Action::Create));
    assert!(Engine::new(&cloud, &NoEvents, 4).apply(&first).await.succeeded());
    let stored = |address: &str| cloud.resources.lock().unwrap()[address].state.clone();
    assert_eq!(stored(SERVICE)["desired_count"], 2, "the create sent the file's count");
    assert_eq!(stored(SCALING)["max"], 6);

    // The autoscaler scales out: not a change, nor does it make a saved plan stale.
    let saved = SavedPlan::new(&plan(&cloud, STACK).await, "stack.yaml".into(), Default::default());
    cloud.resources.lock().unwrap().get_mut(SERVICE).unwrap().state["desired_count"] = json!(5);
    let again = plan(&cloud, STACK).await;
    assert!(!again.plan.summary.has_changes(), "{:?}", changes(&again));
    assert_eq!(saved.staleness(&again), None);

    // A new range and target update the autoscaling alone, never the count.
    let edited = STACK.replace("max: 6", "max: 8").replace("cpu: 60", "cpu: 50");
    let planned = plan(&cloud, &edited).await;
    assert_eq!(changes(&planned), [(SCALING.to_owned(), Action::Update, vec!["max".into(), "policies".into()])]);
    assert!(Engine::new(&cloud, &NoEvents, 4).apply(&planned).await.succeeded());
    assert_eq!(stored(SERVICE)["desired_count"], 5, "the update left the autoscaler's count alone");
    assert!(!plan(&cloud, &edited).await.plan.summary.has_changes());

    // Without `autoscaling:` the scalable target goes, and the file's count is the count again.
    let plain = STACK.split("    autoscaling:").next().unwrap();
    let planned = plan(&cloud, plain).await;
    let found = changes(&planned);
    assert!(found.contains(&(SERVICE.to_owned(), Action::Update, vec!["desired_count".into()])), "{found:?}");
    assert!(found.iter().any(|(a, action, _)| a == SCALING && *action == Action::Delete), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(Engine::new(&cloud, &NoEvents, 4).apply(&planned).await.succeeded());
    assert!(!cloud.resources.lock().unwrap().contains_key(SCALING));
    assert!(!plan(&cloud, plain).await.plan.summary.has_changes());
}
