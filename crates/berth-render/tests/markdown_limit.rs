//! The pull-request comment stays under the forge's limit however big the
//! plan, and what is cut goes in order: graph, then diffs, then table rows;
//! never the summary line or the warning.

use berth_core::graph::{reference, Graph, Node};
use berth_core::kind::Kind;
use berth_core::plan::{Action, FieldChange, Mode, Plan, ResourceChange};
use berth_render::{markdown, markdown_with_graph, summary_line, GITHUB_COMMENT_LIMIT};
use serde_json::json;

fn address(i: usize) -> String {
    format!("task_definitions.service-with-a-fairly-long-name-{i:04}")
}

/// `n` resources cycling through every action, each with a big field.
fn big_plan(n: usize) -> Plan {
    let actions = [Action::Create, Action::Update, Action::Replace, Action::Delete];
    let resources = (0..n)
        .map(|i| {
            let action = actions[i % actions.len()];
            let document = |image: &str| {
                json!((0..40).map(|c| json!({"name": format!("container-{c}"), "image": image})).collect::<Vec<_>>())
            };
            let fields = match action {
                Action::Delete => vec![],
                _ => vec![FieldChange {
                    forces_replace: action == Action::Replace,
                    ..FieldChange::new(
                        "container_definitions",
                        (action != Action::Create).then(|| document("app:v1")),
                        Some(document("app:v2")),
                    )
                }],
            };
            let replace_reasons = if action == Action::Replace {
                vec!["`container_definitions` cannot be changed in place".into()]
            } else {
                vec![]
            };
            ResourceChange {
                address: address(i),
                kind: Kind::TaskDefinition,
                action,
                fields,
                replace_reasons,
                note: None,
            }
        })
        .collect();
    Plan::new("big", Mode::Apply, resources, vec![])
}

/// A chain graph over the plan's addresses.
fn chain_graph(n: usize) -> Graph {
    let nodes = (0..n)
        .map(|i| {
            let desired = if i == 0 { json!({}) } else { json!({"after": reference(&address(i - 1), "arn")}) };
            Node::new(address(i), Kind::TaskDefinition, desired)
        })
        .collect();
    Graph::new(nodes).unwrap()
}

#[test]
fn two_thousand_resources_fit_in_one_github_comment() {
    let plan = big_plan(2_000);
    for out in
        [markdown(&plan, GITHUB_COMMENT_LIMIT), markdown_with_graph(&plan, &chain_graph(2_000), GITHUB_COMMENT_LIMIT)]
    {
        assert!(out.len() <= GITHUB_COMMENT_LIMIT, "{} bytes", out.len());
        assert!(out.contains(&summary_line(&plan)));
        assert!(out.contains("> [!WARNING]\n> This plan deletes 500 and replaces 500 resource(s)"));
        // The warning's list alone is too long: it is cut, and says so.
        assert!(out.contains("more (see the table)"), "{out}");
        assert!(out.contains("left out of the table"), "{out}");
        assert!(out.contains("resource diff(s) left out"), "{out}");
        assert!(!out.contains("```mermaid"));
    }
}

#[test]
fn the_table_is_kept_and_diffs_are_cut_first() {
    let plan = big_plan(120);
    let out = markdown(&plan, GITHUB_COMMENT_LIMIT);
    assert!(out.len() <= GITHUB_COMMENT_LIMIT, "{} bytes", out.len());
    assert_eq!(out.matches("| task_definition |").count(), 120, "every table row is kept");
    assert!(!out.contains("left out of the table"));
    let shown = out.matches("<details>").count();
    assert!(shown > 0 && shown < 90, "{shown} diffs shown");
    assert!(out.contains(&format!("_{} resource diff(s) left out", 90 - shown)), "{out}");
}

#[test]
fn the_graph_is_dropped_before_any_diff() {
    let plan = big_plan(8);
    let graph = chain_graph(8);
    let full = markdown_with_graph(&plan, &graph, GITHUB_COMMENT_LIMIT);
    assert!(full.contains("```mermaid"));
    let without_graph = markdown(&plan, GITHUB_COMMENT_LIMIT);
    assert!(full.len() > without_graph.len());

    // Room for everything but the picture: every diff stays, the picture goes.
    let limit = without_graph.len() + 200;
    let out = markdown_with_graph(&plan, &graph, limit);
    assert!(out.len() <= limit);
    assert!(!out.contains("```mermaid"));
    assert!(out.contains("The dependency graph was left out"));
    assert_eq!(out.matches("```diff").count(), without_graph.matches("```diff").count());
}

#[test]
fn a_graph_mermaid_would_refuse_to_draw_is_left_out() {
    // 599 edges: past Mermaid's default of 500, GitHub would show an error box.
    let out = markdown_with_graph(&big_plan(8), &chain_graph(600), usize::MAX);
    assert!(!out.contains("```mermaid"));
    assert!(out.contains("The dependency graph was left out"));
    assert_eq!(out.matches("```diff").count(), 6);
}

#[test]
fn no_limit_is_too_small_to_respect() {
    let plan = big_plan(40);
    let graph = chain_graph(40);
    for limit in [0, 1, 50, 200, 1_000, 5_000, 20_000] {
        assert!(markdown(&plan, limit).len() <= limit, "limit {limit}");
        assert!(markdown_with_graph(&plan, &graph, limit).len() <= limit, "limit {limit}");
    }
    // Once the headline fits, it is always there.
    assert!(markdown(&plan, 1_000).contains(&summary_line(&plan)));
}

#[test]
fn sections_come_in_reading_order() {
    let plan = big_plan(8);
    let out = markdown_with_graph(&plan, &chain_graph(8), GITHUB_COMMENT_LIMIT);
    let at = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("{needle:?} missing:\n{out}"));
    assert_eq!(at("<!-- berth-plan: big -->"), 0);
    assert!(at("**Plan:") < at("> [!WARNING]"));
    assert!(at("> [!WARNING]") < at("| | resource |"));
    assert!(at("| | resource |") < at("```mermaid"));
    assert!(at("```mermaid") < at("```diff"));
}
