//! The resource graph: nodes (one AWS resource each) and the dependencies
//! between them, built on petgraph.

use std::collections::{BTreeSet, HashMap};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value;

use crate::interpolate::{pieces, Piece};
use crate::kind::Kind;

/// Prefix of a reference to another node's output inside a desired value:
/// `${ref:ADDRESS#ATTR}`.
pub const REF_PREFIX: &str = "${ref:";

/// What literal text (file contents, `--var` values) holds instead of
/// [`REF_PREFIX`], so that it is never taken for a reference: resolution
/// turns it back into `${`, and the text reaches AWS byte for byte.
pub const LITERAL_DOLLAR_BRACE: &str = "${ref:#literal}";

/// `text` with every `${ref:` made literal (see [`LITERAL_DOLLAR_BRACE`]).
pub fn literal_text(text: &str) -> String {
    text.replace(REF_PREFIX, &format!("{LITERAL_DOLLAR_BRACE}ref:"))
}

/// Formats a reference to `attr` of the node at `address`.
pub fn reference(address: &str, attr: &str) -> String {
    format!("{REF_PREFIX}{address}#{attr}}}")
}

/// Every `(address, attr)` referenced inside `value`.
pub fn references_in(value: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => {
            for piece in pieces(s, REF_PREFIX) {
                match piece {
                    Piece::Expr(inner) => {
                        if let Some((address, attr)) = inner.rsplit_once('#').filter(|(a, _)| !a.is_empty()) {
                            found.push((address.to_owned(), attr.to_owned()));
                        }
                    }
                    Piece::Text(_) => {}
                    Piece::Unclosed(_) => break,
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

/// One AWS resource the stack stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique within the stack: `iam.roles.ecs-task-execution-role.inline_policies.read-env-file`.
    pub address: String,
    /// The kind of AWS resource.
    pub kind: Kind,
    /// Desired state (see `docs/resources.md`), possibly holding references.
    pub desired: Value,
    /// The node this one lives inside: it is read only when the parent exists.
    pub parent: Option<String>,
    /// Dependencies beyond the references in `desired`.
    pub extra_dependencies: BTreeSet<String>,
    /// Top-level desired fields whose values are secret.
    pub sensitive_fields: Vec<String>,
    /// Where the node comes from in the stack file.
    pub origin: Vec<String>,
    /// `protect: true`: never deleted or replaced.
    pub protected: bool,
    /// Whether live children the file does not declare are deleted (see
    /// [`Kind::child_kinds`]); off where another tool manages them too.
    pub exact_children: bool,
    /// Top-level desired fields sent only when the resource is created: the
    /// plan ignores their live value, which something else owns once it
    /// exists (a service's desired count under autoscaling).
    pub create_only: BTreeSet<String>,
}

impl Node {
    /// A node with no parent, extra dependencies, secrets, origin,
    /// protection or create-only fields, whose children are managed exactly.
    pub fn new(address: impl Into<String>, kind: Kind, desired: Value) -> Node {
        Node {
            address: address.into(),
            kind,
            desired,
            parent: None,
            extra_dependencies: BTreeSet::new(),
            sensitive_fields: vec![],
            origin: vec![],
            protected: false,
            exact_children: true,
            create_only: BTreeSet::new(),
        }
    }

    /// Every node this one needs to exist first.
    pub fn dependencies(&self) -> BTreeSet<String> {
        let mut deps: BTreeSet<String> = references_in(&self.desired).into_iter().map(|(a, _)| a).collect();
        deps.extend(self.extra_dependencies.iter().cloned());
        deps.extend(self.parent.iter().cloned());
        deps.remove(&self.address);
        deps
    }
}

/// A dependency cycle, naming every node on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

/// Nodes and their dependency edges (from dependency to dependent).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    by_address: HashMap<String, usize>,
    edges: DiGraph<usize, ()>,
}

impl Graph {
    /// Builds the graph; every dependency must name a node of `nodes`.
    pub fn new(nodes: Vec<Node>) -> Result<Graph, String> {
        let mut edges = DiGraph::new();
        let by_address: HashMap<String, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.address.clone(), i)).collect();
        for i in 0..nodes.len() {
            edges.add_node(i);
        }
        for (i, node) in nodes.iter().enumerate() {
            for dep in node.dependencies() {
                let &d = by_address
                    .get(&dep)
                    .ok_or_else(|| format!("{} depends on {dep}, which the stack does not define", node.address))?;
                edges.add_edge(NodeIndex::new(d), NodeIndex::new(i), ());
            }
        }
        Ok(Graph { nodes, by_address, edges })
    }

    /// Every node, in the order expansion made them.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node at `address`.
    pub fn get(&self, address: &str) -> Option<&Node> {
        self.by_address.get(address).map(|&i| &self.nodes[i])
    }

    /// Indexes of the nodes `index` depends on directly.
    pub fn dependencies_of(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.neighbors_directed(NodeIndex::new(index), petgraph::Direction::Incoming).map(|n| n.index())
    }

    /// Indexes of the nodes that depend on `index` directly.
    pub fn dependents_of(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.neighbors_directed(NodeIndex::new(index), petgraph::Direction::Outgoing).map(|n| n.index())
    }

    /// The index of the node at `address`, as the other methods take it.
    pub fn index_of(&self, address: &str) -> Option<usize> {
        self.by_address.get(address).copied()
    }

    /// Node indexes, dependencies first; or every cycle found.
    pub fn topological_order(&self) -> Result<Vec<usize>, Vec<Cycle>> {
        match toposort(&self.edges, None) {
            Ok(order) => Ok(order.into_iter().map(|n| n.index()).collect()),
            Err(_) => Err(self.cycles()),
        }
    }

    /// Every set of nodes that depend on each other, with addresses sorted so messages are stable.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles: Vec<Cycle> = tarjan_scc(&self.edges)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.edges.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                let mut names: Vec<String> = scc.iter().map(|n| self.nodes[n.index()].address.clone()).collect();
                names.sort();
                Cycle(names)
            })
            .collect();
        cycles.sort_by(|a, b| a.0.cmp(&b.0));
        cycles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(address: &str, desired: Value) -> Node {
        Node::new(address, Kind::S3Bucket, desired)
    }

    #[test]
    fn references_become_edges_in_order() {
        let graph = Graph::new(vec![
            node("b", json!({"x": reference("a", "arn")})),
            node("a", json!({})),
            node("c", json!({"y": [format!("{}/*", reference("b", "arn")), reference("a", "id")]})),
        ])
        .unwrap();
        let order: Vec<&str> =
            graph.topological_order().unwrap().into_iter().map(|i| graph.nodes()[i].address.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(graph.dependencies_of(2).count(), 2);
    }

    #[test]
    fn a_cycle_names_every_node_on_it() {
        let graph = Graph::new(vec![
            node("a", json!({"x": reference("c", "arn")})),
            node("b", json!({"x": reference("a", "arn")})),
            node("c", json!({"x": reference("b", "arn")})),
            node("d", json!({"x": reference("a", "arn")})),
        ])
        .unwrap();
        let cycles = graph.topological_order().unwrap_err();
        assert_eq!(cycles, vec![Cycle(vec!["a".into(), "b".into(), "c".into()])]);
    }

    #[test]
    fn unknown_dependency_is_an_error() {
        let err = Graph::new(vec![node("a", json!({"x": reference("zz", "arn")}))]).unwrap_err();
        assert!(err.contains("zz"), "{err}");
    }
}
