//! No secret reaches any output: env file values (before and after a change)
//! and sensitive vars, in every format, for create, update and destroy.

mod common;

use berth_core::memory::MemoryCloud;
use berth_core::plan::Mode;
use berth_render::{dot, markdown, markdown_with_graph, mermaid, plan_json, plan_text, Style, GITHUB_COMMENT_LIMIT};
use common::{
    create, destroy, env_update, image_update, reference_dir, with_sensitive_var, Scenario, StackDir, DB_URL,
    MODIFIED_ENV,
};

/// Every value of an env file (`KEY=value` lines).
fn env_values(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// Every secret the scenarios know, and distinctive parts of them.
fn secrets() -> Vec<String> {
    let original = std::fs::read_to_string(reference_dir().join("env/prod.env")).unwrap();
    let mut secrets = env_values(&original);
    secrets.extend(env_values(MODIFIED_ENV));
    secrets.extend([DB_URL.to_owned(), "S3cretValue".to_owned()]);
    assert!(secrets.len() >= 6 && secrets.iter().all(|s| s.len() >= 3), "{secrets:?}");
    secrets
}

/// Every rendering of the scenario's plan and graph.
fn outputs(scenario: &Scenario) -> Vec<(&'static str, String)> {
    let (plan, graph) = (&scenario.plan, &scenario.graph);
    vec![
        ("text", plan_text(plan, Style { color: false })),
        ("coloured text", plan_text(plan, Style { color: true })),
        ("json", plan_json(plan)),
        ("markdown", markdown(plan, GITHUB_COMMENT_LIMIT)),
        ("markdown with graph", markdown_with_graph(plan, graph, GITHUB_COMMENT_LIMIT)),
        ("mermaid", mermaid(graph, Some(plan))),
        ("dot", dot(graph, Some(plan))),
    ]
}

fn assert_no_secret(scenario: &Scenario) {
    for (format, output) in outputs(scenario) {
        for secret in secrets() {
            assert!(!output.contains(&secret), "{} {format} shows the secret {secret:?}:\n{output}", scenario.name);
        }
    }
}

#[tokio::test]
async fn the_reference_stack_shows_no_env_value() {
    let stack = StackDir::reference();
    for scenario in [create(&stack).await, image_update(&stack).await, env_update().await, destroy(&stack).await] {
        assert_no_secret(&scenario);
    }
}

#[tokio::test]
async fn an_env_file_change_names_keys_only() {
    let scenario = env_update().await;
    assert_no_secret(&scenario);
    for (format, output) in outputs(&scenario) {
        if matches!(format, "mermaid" | "dot") {
            continue;
        }
        for line in ["DB_PASSWORD: (changed)", "API_TOKEN: (added)"] {
            assert!(output.contains(line), "{format} lacks {line:?}:\n{output}");
        }
    }
}

#[tokio::test]
async fn a_sensitive_var_is_masked_in_every_format() {
    let stack = with_sensitive_var();
    let created = create(&stack).await;
    assert!(plan_text(&created.plan, Style { color: false }).contains("\"name\": \"DB_URL\""), "the var is used");
    for scenario in [created, image_update(&stack).await, destroy(&stack).await] {
        assert_no_secret(&scenario);
    }
}

/// The live state holds the previous value of a changed sensitive var, which
/// berth does not know as a secret: it is masked where the new value is.
#[tokio::test]
async fn a_changed_sensitive_var_hides_its_previous_value() {
    let stack = with_sensitive_var();
    let cloud = MemoryCloud::default();
    stack.apply(&cloud, &[]).await;
    let planned = stack.plan(&cloud, &[("db_url", "postgres://user:N3wSecret@db/x")], Mode::Apply).await;
    let scenario = Scenario::new("changed_var", planned);
    assert_no_secret(&scenario);
    for (format, output) in outputs(&scenario) {
        assert!(!output.contains("N3wSecret"), "{format}:\n{output}");
    }
}
