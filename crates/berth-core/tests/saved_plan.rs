//! Saved plans refuse to apply when the stack or the live state moved.

use std::path::{Path, PathBuf};

use berth_core::engine::{Engine, NoEvents, Planned};
use berth_core::expand::{expand, ExpandOptions};
use berth_core::load::load_file;
use berth_core::memory::MemoryCloud;
use berth_core::plan::Mode;
use berth_core::saved::SavedPlan;
use serde_json::json;

fn stack_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml")
}

async fn plan(cloud: &MemoryCloud, image: Option<&str>) -> Planned {
    let loaded = load_file(&stack_path()).unwrap();
    let options = ExpandOptions {
        account_id: "123456789012".into(),
        region: "ap-northeast-2".into(),
        var_overrides: image.map(|i| ("app_image".to_owned(), i.to_owned())).into_iter().collect(),
        ..Default::default()
    };
    let expanded = expand(&loaded, &options).unwrap();
    Engine::new(cloud, &NoEvents, 4).plan(expanded, &loaded.source, Mode::Apply).await.unwrap()
}

#[tokio::test]
async fn a_saved_plan_is_fresh_until_the_file_or_aws_changes() {
    let cloud = MemoryCloud::default();
    let first = plan(&cloud, None).await;
    assert!(Engine::new(&cloud, &NoEvents, 4).apply(&first).await.succeeded());

    let planned = plan(&cloud, Some("app:v2")).await;
    let saved = SavedPlan::new(&planned, stack_path(), Default::default());
    let text = serde_json::to_string(&saved).unwrap();
    let saved: SavedPlan = serde_json::from_str(&text).unwrap();

    assert_eq!(saved.staleness(&plan(&cloud, Some("app:v2")).await), None);

    let other_image = saved.staleness(&plan(&cloud, Some("app:v3")).await).unwrap();
    assert!(other_image.contains("stack file"), "{other_image}");

    // Someone changes the log group's retention behind berth's back.
    cloud.resources.lock().unwrap().get_mut("log_groups./ecs/example-app").unwrap().state["retention_days"] = json!(30);
    let moved = saved.staleness(&plan(&cloud, Some("app:v2")).await).unwrap();
    assert!(moved.contains("log_groups./ecs/example-app"), "{moved}");
}

#[tokio::test]
async fn a_saved_plan_holds_no_secret() {
    let cloud = MemoryCloud::default();
    let planned = plan(&cloud, None).await;
    let text = serde_json::to_string(&SavedPlan::new(&planned, stack_path(), Default::default())).unwrap();
    assert!(!planned.expanded().secrets.is_empty());
    for secret in &planned.expanded().secrets {
        assert!(!text.contains(secret.as_str()), "saved plan leaks a secret");
    }
}
