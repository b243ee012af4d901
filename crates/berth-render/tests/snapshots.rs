//! Every format of the reference stack's plans, as reviewed snapshots: a
//! change to what users read shows up as a snapshot diff.

mod common;

use std::collections::BTreeMap;

use berth_core::kind::Kind;
use berth_core::memory::{MemoryCloud, Stored};
use berth_core::plan::Mode;
use berth_core::provider::Outputs;
use berth_render::{dot, markdown, markdown_with_graph, mermaid, plan_json, plan_text, Style, GITHUB_COMMENT_LIMIT};
use common::{create, destroy, env_update, image_update, replace_and_delete, Scenario, StackDir};

/// Snapshots the text, JSON and markdown views of `scenario`.
fn assert_views(scenario: &Scenario) {
    // Plans hold no times or random ids, but diagnostics name the stack
    // file by its path, which depends on the checkout.
    insta::with_settings!({ filters => vec![(r#"[^\s"]*/stack\.yaml"#, "[STACK_FILE]")] }, {
        insta::assert_snapshot!(format!("{}_text", scenario.name), plan_text(&scenario.plan, Style { color: false }));
        insta::assert_snapshot!(format!("{}_json", scenario.name), plan_json(&scenario.plan));
        insta::assert_snapshot!(format!("{}_markdown", scenario.name), markdown(&scenario.plan, GITHUB_COMMENT_LIMIT));
    });
}

#[tokio::test]
async fn create_in_an_empty_account() {
    assert_views(&create(&StackDir::reference()).await);
}

#[tokio::test]
async fn update_after_an_image_change() {
    let scenario = image_update(&StackDir::reference()).await;
    assert_views(&scenario);
    insta::assert_snapshot!(
        "image_update_markdown_with_graph",
        markdown_with_graph(&scenario.plan, &scenario.graph, GITHUB_COMMENT_LIMIT)
    );
}

#[tokio::test]
async fn update_after_an_env_file_change() {
    assert_views(&env_update().await);
}

#[tokio::test]
async fn destroy_after_apply() {
    let scenario = destroy(&StackDir::reference()).await;
    assert_views(&scenario);
    insta::assert_snapshot!("destroy_mermaid", mermaid(&scenario.graph, Some(&scenario.plan)));
}

#[tokio::test]
async fn graph_pictures() {
    let scenario = image_update(&StackDir::reference()).await;
    insta::assert_snapshot!("graph_mermaid", mermaid(&scenario.graph, None));
    insta::assert_snapshot!("graph_dot", dot(&scenario.graph, None));
    insta::assert_snapshot!("image_update_mermaid", mermaid(&scenario.graph, Some(&scenario.plan)));
    insta::assert_snapshot!("image_update_dot", dot(&scenario.graph, Some(&scenario.plan)));
}

#[tokio::test]
async fn replace_and_delete_come_with_a_warning() {
    assert_views(&replace_and_delete().await);
}

#[tokio::test]
async fn a_resource_owned_by_no_stack_is_a_plan_error() {
    let cloud = MemoryCloud::default();
    let unowned = Stored {
        kind: Kind::S3Bucket,
        state: serde_json::json!({"name": "ecs-sample-env-123456789012"}),
        outputs: Outputs::new(),
        tags: BTreeMap::new(),
    };
    cloud.resources.lock().unwrap().insert("buckets.ecs-sample-env".into(), unowned);
    let planned = StackDir::reference().plan(&cloud, &[], Mode::Apply).await;
    assert_views(&Scenario::new("unowned", planned));
}

#[tokio::test]
async fn every_view_says_where_and_from_what_the_plan_was_made() {
    let mut plan = image_update(&StackDir::reference()).await.plan;
    plan.origin = Some(berth_core::plan::Origin {
        account: "123456789012".into(),
        region: "ap-northeast-2".into(),
        endpoint: Some("http://127.0.0.1:5000".into()),
        stack_file: "stacks/ecs-sample/stack.yaml".into(),
        vars: BTreeMap::from([
            ("app_image".to_owned(), "example-app:v2".to_owned()),
            ("db_password".to_owned(), berth_core::plan::MASK.to_owned()),
        ]),
    });
    let place = "account 123456789012, region ap-northeast-2, endpoint http://127.0.0.1:5000, stack file stacks/ecs-sample/stack.yaml";
    let vars = r#"app_image = "example-app:v2", db_password = (sensitive)"#;
    let text = plan_text(&plan, Style { color: false });
    assert!(text.starts_with(&format!("Planned against {place}.\nVariables: {vars}.\n")), "{text}");
    let markdown = markdown(&plan, GITHUB_COMMENT_LIMIT);
    assert!(markdown.contains(&format!("Planned against `{place}`.\nVariables: `{vars}`.")), "{markdown}");
    let json: serde_json::Value = serde_json::from_str(&plan_json(&plan)).unwrap();
    assert_eq!(json["format_version"], "1.2");
    assert_eq!(json["origin"]["account"], "123456789012");
    assert_eq!(json["origin"]["vars"]["db_password"], "(sensitive)");
}

/// An env var added, a tag changed and one added, after the reference stack
/// was applied: each shows as the one path that differs, not as a text diff
/// of the whole document.
#[tokio::test]
async fn nested_changes_show_only_the_paths_that_differ() {
    let cloud = MemoryCloud::default();
    StackDir::reference().apply(&cloud, &[]).await;
    let edited = StackDir::edited(&[
        ("tags:\n  project: ecs-sample\n", "tags:\n  project: shop\n  team: web\n"),
        (
            "        environment_files: [ecs-sample-env/prod.env]\n",
            "        environment_files: [ecs-sample-env/prod.env]\n        environment: { LOG_LEVEL: info }\n",
        ),
    ]);
    let planned = edited.plan(&cloud, &[], Mode::Apply).await;
    let scenario = Scenario::new("nested_update", planned);
    let text = plan_text(&scenario.plan, Style { color: false });
    assert!(text.contains(r#"~ tags.project: "ecs-sample" -> "shop""#), "{text}");
    assert!(!text.contains(r#""berth:stack""#), "unchanged tags are hidden: {text}");
    assert_views(&scenario);
}
