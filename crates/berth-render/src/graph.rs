//! The resource graph as a picture: Mermaid (GitHub renders it in markdown)
//! and Graphviz DOT. Each node shows its address and kind; arrows go from a
//! resource to the resources that need it, so they read in creation order.
//! Given a plan, nodes are coloured by what the plan does to them.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use berth_core::graph::Graph;
use berth_core::kind::Kind;
use berth_core::plan::{Action, Plan};

/// One node to draw.
struct Shape<'a> {
    address: &'a str,
    kind: Kind,
    /// What the plan does to it; `None` when drawn without a plan.
    action: Option<Action>,
}

/// The nodes and edges to draw, shared by both formats so they cannot disagree.
struct Picture<'a> {
    shapes: Vec<Shape<'a>>,
    /// `(dependency, dependent)` indexes into `shapes`, sorted.
    edges: Vec<(usize, usize)>,
}

impl<'a> Picture<'a> {
    fn new(graph: &'a Graph, plan: Option<&'a Plan>) -> Picture<'a> {
        let actions: HashMap<&str, Action> =
            plan.into_iter().flat_map(|p| &p.resources).map(|r| (r.address.as_str(), r.action)).collect();
        // A node the plan leaves out (data, or not owned by the stack) is not touched.
        let action_of = |address: &str| plan.map(|_| actions.get(address).copied().unwrap_or(Action::NoOp));
        let mut shapes: Vec<Shape> = graph
            .nodes()
            .iter()
            .map(|n| Shape { address: &n.address, kind: n.kind, action: action_of(&n.address) })
            .collect();
        // Resources removed from the stack file are only in the plan: drawn alone, being deleted.
        let removed = plan
            .into_iter()
            .flat_map(|p| &p.resources)
            .filter(|r| graph.get(&r.address).is_none())
            .map(|r| Shape { address: &r.address, kind: r.kind, action: Some(r.action) });
        shapes.extend(removed);
        let mut edges: Vec<(usize, usize)> =
            (0..graph.nodes().len()).flat_map(|i| graph.dependents_of(i).map(move |d| (i, d))).collect();
        edges.sort_unstable();
        edges.dedup();
        Picture { shapes, edges }
    }
}

/// Fill and border colours for an action: green, yellow, magenta, red, grey,
/// like the terminal's.
fn colours(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("#d3f4d8", "#1a7f37"),
        Action::Update => ("#fff3c4", "#9a6700"),
        Action::Replace => ("#f5d8f7", "#8e24aa"),
        Action::Delete => ("#ffd8d6", "#cf222e"),
        Action::NoOp => ("#eeeeee", "#8c959f"),
    }
}

/// Every action, in the order the Mermaid class definitions are written.
const ACTIONS: [Action; 5] = [Action::Create, Action::Update, Action::Replace, Action::Delete, Action::NoOp];

/// The Mermaid class of an action (`no-op` is not a valid class name).
fn class(action: Action) -> &'static str {
    match action {
        Action::NoOp => "noop",
        other => other.as_str(),
    }
}

/// The second line of a node's label: its kind, and the action when planned
/// (data sources are only read, whatever the plan does).
fn subtitle(shape: &Shape) -> String {
    match shape.action {
        Some(_) if shape.kind.is_data() => format!("{} (data)", shape.kind),
        Some(action) => format!("{} ({})", shape.kind, action.as_str()),
        None => shape.kind.to_string(),
    }
}

/// A Mermaid flowchart of the graph; with a plan, nodes are classed by action.
pub fn mermaid(graph: &Graph, plan: Option<&Plan>) -> String {
    let picture = Picture::new(graph, plan);
    let ids = mermaid_ids(&picture.shapes);
    let mut out = String::from("flowchart LR\n");
    for (shape, id) in picture.shapes.iter().zip(&ids) {
        let label = format!("{}<br/>{}", mermaid_text(shape.address), mermaid_text(&subtitle(shape)));
        let class = shape.action.map(|a| format!(":::{}", class(a))).unwrap_or_default();
        let _ = writeln!(out, "    {id}[\"{label}\"]{class}");
    }
    for (from, to) in &picture.edges {
        let _ = writeln!(out, "    {} --> {}", ids[*from], ids[*to]);
    }
    if plan.is_some() {
        for action in ACTIONS {
            let (fill, stroke) = colours(action);
            let dashed = if action == Action::Delete { ",stroke-dasharray:5 3" } else { "" };
            let _ = writeln!(out, "    classDef {} fill:{fill},stroke:{stroke},color:#1f2328{dashed}", class(action));
        }
    }
    out
}

/// Node ids Mermaid accepts: addresses hold `.`, `/`, `[`, `:` and more,
/// which are syntax there. Letters, digits and `_` are kept and everything
/// else becomes `_`; the `n_` prefix keeps ids off keywords (`end`) and off
/// the `o`/`x` edge endings; a number suffix separates addresses that
/// sanitize alike.
fn mermaid_ids(shapes: &[Shape]) -> Vec<String> {
    let mut used = HashSet::new();
    shapes
        .iter()
        .map(|shape| {
            let base: String =
                shape.address.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            let base = format!("n_{base}");
            let mut id = base.clone();
            let mut n = 1;
            while !used.insert(id.clone()) {
                n += 1;
                id = format!("{base}_{n}");
            }
            id
        })
        .collect()
}

/// Text inside a quoted Mermaid label, with its special characters as
/// Mermaid entity codes (`#` first, since it starts them).
fn mermaid_text(text: &str) -> String {
    text.replace('#', "#35;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

/// A Graphviz DOT digraph of the graph; with a plan, nodes are filled by action.
pub fn dot(graph: &Graph, plan: Option<&Plan>) -> String {
    let picture = Picture::new(graph, plan);
    let mut out = String::from("digraph berth {\n    rankdir=LR;\n");
    out.push_str("    node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n");
    for shape in &picture.shapes {
        let label = format!("{}\\n{}", dot_text(shape.address), dot_text(&subtitle(shape)));
        let colour = match shape.action {
            Some(action) => {
                let (fill, stroke) = colours(action);
                let dashed = if action == Action::Delete { ", style=\"rounded,filled,dashed\"" } else { "" };
                format!(", fillcolor=\"{fill}\", color=\"{stroke}\"{dashed}")
            }
            None => String::new(),
        };
        let _ = writeln!(out, "    \"{}\" [label=\"{label}\"{colour}];", dot_text(shape.address));
    }
    for (from, to) in &picture.edges {
        let (from, to) = (dot_text(picture.shapes[*from].address), dot_text(picture.shapes[*to].address));
        let _ = writeln!(out, "    \"{from}\" -> \"{to}\";");
    }
    out.push_str("}\n");
    out
}

/// Text inside a quoted DOT string.
fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::graph::{reference, Node};
    use serde_json::json;

    fn node(address: &str, desired: serde_json::Value) -> Node {
        Node::new(address, Kind::SecurityGroupIngress, desired)
    }

    #[test]
    fn mermaid_ids_are_plain_and_unique() {
        let graph = Graph::new(vec![
            node("sg.a[tcp:80:0.0.0.0/0]", json!({})),
            node("sg.a_tcp_80_0_0_0_0_0_", json!({})),
            node("end", json!({"x": reference("sg.a[tcp:80:0.0.0.0/0]", "id")})),
            node("say \"<hi>\" #1", json!({})),
        ])
        .unwrap();
        let out = mermaid(&graph, None);
        assert_eq!(
            out,
            "flowchart LR\n    n_sg_a_tcp_80_0_0_0_0_0_[\"sg.a[tcp:80:0.0.0.0/0]<br/>security_group_ingress\"]\n    \
             n_sg_a_tcp_80_0_0_0_0_0__2[\"sg.a_tcp_80_0_0_0_0_0_<br/>security_group_ingress\"]\n    \
             n_end[\"end<br/>security_group_ingress\"]\n    \
             n_say___hi____1[\"say #quot;#lt;hi#gt;#quot; #35;1<br/>security_group_ingress\"]\n    \
             n_sg_a_tcp_80_0_0_0_0_0_ --> n_end\n"
        );
    }

    #[test]
    fn dot_quotes_addresses() {
        let graph = Graph::new(vec![node("a\"b\\c", json!({}))]).unwrap();
        assert!(dot(&graph, None).contains("\"a\\\"b\\\\c\" [label=\"a\\\"b\\\\c\\nsecurity_group_ingress\"];"));
    }
}
