//! The engine: plans by reading every node's live state (concurrently, in
//! dependency order, since a node's identity may come from its parent's
//! outputs), and applies a plan by walking the graph with bounded
//! parallelism. It never prints: progress goes to an [`EventSink`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;

use crate::diag::{Diagnostic, Severity};
use crate::expand::Expanded;
use crate::graph::{Graph, Node, REF_PREFIX};
use crate::interpolate::{pieces, Piece};
use crate::kind::Kind;
use crate::load::Source;
use crate::normalize::normalize;
use crate::plan::{env_key_changes, Action, FieldChange, Mode, Plan, ResourceChange, MASK, UNKNOWN};
use crate::provider::{Discovered, Live, LiveChild, NodeRequest, Outputs, Provider, PROTECT_TAG, STACK_TAG};

/// Progress reported while the engine works.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Live state of `done` of `total` resources read.
    Read {
        address: String,
        done: usize,
        total: usize,
    },
    Started {
        address: String,
        action: Action,
    },
    Finished {
        address: String,
        action: Action,
        elapsed: Duration,
    },
    Failed {
        address: String,
        action: Action,
        error: String,
        elapsed: Duration,
    },
    /// Not attempted because a resource it needs failed.
    Skipped {
        address: String,
        action: Action,
        blocked_by: String,
    },
    /// A new fact about a service's rollout (an ECS event, tasks running, a
    /// healthy target), secrets masked.
    Rollout {
        address: String,
        message: String,
    },
    /// Still waiting, after each poll: the services not yet done and how
    /// long it has been (for a line a terminal updates in place).
    RolloutWaiting {
        waiting: Vec<String>,
        elapsed: Duration,
    },
    /// A service's rollout ended.
    RolloutEnded {
        address: String,
        outcome: crate::rollout::Outcome,
    },
}

/// Receives the engine's events (a renderer, a log, a test recorder).
pub trait EventSink: Send + Sync {
    fn event(&self, event: Event);
}

/// Discards events.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn event(&self, _event: Event) {}
}

/// Reading live state failed, so no plan could be made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not read the live state of {}", .failures.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", "))]
pub struct ReadError {
    /// Each resource that could not be read, with the cloud's message.
    pub failures: Vec<(String, String)>,
}

/// What the engine knows about one node after planning.
#[derive(Debug, Clone)]
struct NodePlan {
    live: Option<Live>,
    action: Action,
    changed: Vec<String>,
    /// What the resource holds of the kinds it manages exactly.
    children: Vec<LiveChild>,
}

/// A resource the stack owns but does not declare: deleted. Either found
/// by its tags, or a child (an ingress rule, an attachment) of a resource
/// the stack owns.
#[derive(Debug, Clone)]
struct Orphan {
    address: String,
    kind: Kind,
    /// Identity fields merged with the live state, for the provider's delete.
    desired: Value,
    live: Live,
    /// Why it is deleted, for the plan.
    note: String,
    /// A child, which has no tags to say it was ever berth's: the plan shows
    /// its content so the reviewer sees what goes.
    show_content: bool,
}

/// A resource found by its tags, with what it holds of its child kinds.
struct Tagged {
    orphan: Orphan,
    children: Vec<LiveChild>,
}

/// Why an orphan found by its tags is deleted.
pub const NO_LONGER_DECLARED: &str = "no longer in the stack file";
/// Why a child of an owned resource is deleted.
pub const NOT_DECLARED: &str = "not in the stack file";

/// A plan with what is needed to apply it.
pub struct Planned {
    pub plan: Plan,
    expanded: Expanded,
    nodes: Vec<NodePlan>,
    orphans: Vec<Orphan>,
    /// Outputs of every node that exists, read while planning.
    live_outputs: HashMap<String, Outputs>,
}

impl Planned {
    /// The expanded stack this plan was made for.
    pub fn expanded(&self) -> &Expanded {
        &self.expanded
    }

    /// Resources the plan deletes because the file does not declare them,
    /// with their live state.
    pub fn undeclared(&self) -> impl Iterator<Item = (Kind, &Value)> {
        self.orphans.iter().map(|o| (o.kind, &o.desired))
    }

    /// What was read for every managed node and every resource found by its
    /// tags (`None` where nothing exists), by address.
    pub fn live_states(&self) -> impl Iterator<Item = (&str, Option<&Live>)> {
        let nodes = self
            .expanded
            .graph
            .nodes()
            .iter()
            .zip(&self.nodes)
            .filter(|(node, _)| !node.kind.is_data())
            .map(|(node, plan)| (node.address.as_str(), plan.live.as_ref()));
        nodes.chain(self.orphans.iter().map(|o| (o.address.as_str(), Some(&o.live))))
    }
}

/// How an apply or destroy went, resource by resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    pub done: Vec<(String, Action, Duration)>,
    pub failed: Vec<(String, Action, String)>,
    pub not_attempted: Vec<(String, Action, String)>,
    /// The desired state, references resolved, of every resource created,
    /// updated or replaced (what a service now runs, for following its rollout).
    pub applied: Vec<(String, Kind, Value)>,
    /// Where the stack's listeners answer after the apply.
    pub endpoints: Vec<crate::outputs::Endpoint>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.not_attempted.is_empty()
    }
}

/// Plans and applies over one provider.
pub struct Engine<'a> {
    provider: &'a dyn Provider,
    sink: &'a dyn EventSink,
    parallelism: usize,
    stop: Arc<AtomicBool>,
}

/// Replaces `${ref:ADDRESS#ATTR}` placeholders with known outputs, or [`UNKNOWN`].
pub fn resolve(value: &Value, outputs: &HashMap<String, Outputs>) -> Value {
    match value {
        Value::String(s) if s.contains(REF_PREFIX) => resolve_string(s, outputs),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, outputs)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), resolve(v, outputs))).collect()),
        other => other.clone(),
    }
}

fn lookup<'o>(placeholder: &str, outputs: &'o HashMap<String, Outputs>) -> Option<&'o Value> {
    let (address, attr) = placeholder.rsplit_once('#')?;
    outputs.get(address)?.get(attr)
}

fn resolve_string(s: &str, outputs: &HashMap<String, Outputs>) -> Value {
    // A string that is exactly one reference takes the output's own type (a list of subnets).
    if let Some(inner) = s.strip_prefix(REF_PREFIX).and_then(|r| r.strip_suffix('}')) {
        if !inner.contains('}') {
            return lookup(inner, outputs).cloned().unwrap_or_else(|| Value::from(UNKNOWN));
        }
    }
    let mut out = String::new();
    for piece in pieces(s, REF_PREFIX) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Expr(LITERAL) => out.push_str("${"),
            Piece::Expr(inner) | Piece::Unclosed(inner) => match lookup(inner, outputs) {
                Some(Value::String(v)) => out.push_str(v),
                Some(other) => out.push_str(&other.to_string()),
                None => return Value::from(UNKNOWN),
            },
        }
    }
    Value::String(out)
}

/// What [`crate::graph::LITERAL_DOLLAR_BRACE`] holds between its markers.
const LITERAL: &str = "#literal";

fn contains_unknown(value: &Value) -> bool {
    match value {
        Value::String(s) => s == UNKNOWN,
        Value::Array(items) => items.iter().any(contains_unknown),
        Value::Object(map) => map.values().any(contains_unknown),
        _ => false,
    }
}

/// Why work was not started after the user interrupted.
pub const INTERRUPTED: &str = "the run was interrupted";

/// Outcome of one node in a graph walk.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Done,
    Failed(String),
    Skipped(String),
}

type NodeFuture<'f> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'f>>;

/// Runs `run` on every node once all the nodes it waits for are done
/// (dependencies, or dependents when `reverse`), at most `parallelism` at a
/// time. A node whose prerequisite failed is skipped, and so on down the line.
async fn walk<'f>(
    graph: &Graph,
    reverse: bool,
    parallelism: usize,
    stop: &AtomicBool,
    run: impl Fn(usize) -> NodeFuture<'f>,
) -> Vec<Outcome> {
    let n = graph.nodes().len();
    let waits_for = |i: usize| -> Vec<usize> {
        if reverse {
            graph.dependents_of(i).collect()
        } else {
            graph.dependencies_of(i).collect()
        }
    };
    let unblocks = |i: usize| -> Vec<usize> {
        if reverse {
            graph.dependencies_of(i).collect()
        } else {
            graph.dependents_of(i).collect()
        }
    };
    let mut remaining: Vec<usize> = (0..n).map(|i| waits_for(i).len()).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    let order = graph.topological_order().unwrap_or_else(|_| (0..n).collect());
    let mut ready: VecDeque<usize> = order.iter().copied().filter(|&i| remaining[i] == 0).collect();
    if reverse {
        ready = ready.into_iter().rev().collect();
    }
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some(i) = ready.pop_front() else { break };
            let blocked_by = waits_for(i).into_iter().find(|&p| outcomes[p] != Some(Outcome::Done));
            if let Some(p) = blocked_by {
                outcomes[i] = Some(Outcome::Skipped(graph.nodes()[p].address.clone()));
                release(i, &unblocks, &mut remaining, &mut ready);
                continue;
            }
            if stop.load(Ordering::SeqCst) {
                outcomes[i] = Some(Outcome::Skipped(INTERRUPTED.into()));
                release(i, &unblocks, &mut remaining, &mut ready);
                continue;
            }
            let fut = run(i);
            running.push(async move { (i, fut.await) });
        }
        let Some((i, result)) = running.next().await else { break };
        outcomes[i] = Some(match result {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        });
        release(i, &unblocks, &mut remaining, &mut ready);
    }
    outcomes.into_iter().map(|o| o.unwrap_or(Outcome::Skipped("a dependency cycle".into()))).collect()
}

fn release(i: usize, unblocks: &impl Fn(usize) -> Vec<usize>, remaining: &mut [usize], ready: &mut VecDeque<usize>) {
    for next in unblocks(i) {
        remaining[next] -= 1;
        if remaining[next] == 0 {
            ready.push_back(next);
        }
    }
}

/// State shared by the futures of one walk.
struct Shared {
    outputs: HashMap<String, Outputs>,
    live_outputs: HashMap<String, Outputs>,
    nodes: Vec<Option<NodePlan>>,
    read: usize,
}

impl<'a> Engine<'a> {
    pub fn new(provider: &'a dyn Provider, sink: &'a dyn EventSink, parallelism: usize) -> Self {
        Engine { provider, sink, parallelism, stop: Arc::new(AtomicBool::new(false)) }
    }

    /// Once `stop` is set, no new work starts; calls in flight finish and the
    /// report lists the rest as not attempted.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }

    /// Reads the live state of every node and decides what to do with it.
    pub async fn plan(&self, expanded: Expanded, source: &Source, mode: Mode) -> Result<Planned, ReadError> {
        let graph = &expanded.graph;
        let total = graph.nodes().len();
        let shared = Mutex::new(Shared {
            outputs: HashMap::new(),
            live_outputs: HashMap::new(),
            nodes: vec![None; total],
            read: 0,
        });
        let stack = expanded.stack.as_str();
        let outcomes = walk(graph, false, self.parallelism, &AtomicBool::new(false), |i| {
            let shared = &shared;
            Box::pin(async move { self.plan_node(graph, stack, mode, i, shared).await })
        })
        .await;
        let failures: Vec<(String, String)> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Failed(e) => Some((graph.nodes()[i].address.clone(), e.clone())),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            return Err(ReadError { failures });
        }
        let shared = shared.into_inner().expect("no walk future panicked");
        let mut nodes: Vec<NodePlan> = shared.nodes.into_iter().map(|n| n.expect("every node was planned")).collect();
        let mut diagnostics = Vec::new();
        let mut order = graph.topological_order().unwrap_or_default();
        if mode == Mode::Destroy {
            order.reverse();
        }
        let unowned: HashMap<usize, String> =
            order.iter().filter_map(|&i| Some((i, self.ownership_problem(graph, &nodes, stack, i)?))).collect();
        // berth leaves alone what it does not own (an apply is refused outright).
        for &i in unowned.keys() {
            nodes[i].action = Action::NoOp;
        }
        let mut resources = Vec::new();
        for &i in &order {
            let node = &graph.nodes()[i];
            if node.kind.is_data() {
                continue;
            }
            let plan = &nodes[i];
            if let Some(problem) = unowned.get(&i) {
                let severity = if mode == Mode::Destroy { Severity::Warning } else { Severity::Error };
                diagnostics.push(located(source, node, severity, problem.clone()));
                continue;
            }
            let desired = resolve(&node.desired, &shared.outputs);
            let change = describe_change(node, plan, &desired);
            if node.protected && matches!(change.action, Action::Replace | Action::Delete) {
                let why = match change.action {
                    Action::Replace => {
                        format!("the change to {} needs a replacement", change.replace_reasons.join(", "))
                    }
                    _ => "this destroy would delete it".into(),
                };
                diagnostics.push(source.diagnostic(
                    Severity::Error,
                    None,
                    &node.origin.iter().map(String::as_str).collect::<Vec<_>>(),
                    format!("{} is protected (protect: true) and {why}", node.address),
                    Some("set `protect: false` first if it really must go".into()),
                ));
            }
            resources.push(change);
        }
        let tagged = match self.orphans(graph, &nodes, stack, &shared.outputs).await {
            Ok(tagged) => tagged,
            Err(e) => {
                diagnostics.push(source.diagnostic(
                    Severity::Warning,
                    None,
                    &[],
                    format!("could not look for resources removed from the stack file: {e}"),
                    Some("berth needs tag:GetResources and the list/describe permissions of each service".into()),
                ));
                Vec::new()
            }
        };
        let mut orphans = undeclared_children(graph, &nodes, &tagged, &shared.outputs);
        orphans.extend(tagged.into_iter().map(|t| t.orphan));
        orphans.sort_by(|a, b| (a.kind.teardown_rank(), &a.address).cmp(&(b.kind.teardown_rank(), &b.address)));
        for orphan in orphans.iter().filter(|o| is_protected(&o.live)) {
            diagnostics.push(source.diagnostic(
                Severity::Error,
                None,
                &[],
                format!("{} is protected and no longer in the stack file: berth will not delete it", orphan.address),
                Some("put it back with `protect: false` and apply, then remove it from the file".into()),
            ));
        }
        let orphan_changes = orphans.iter().map(|o| ResourceChange {
            address: o.address.clone(),
            kind: o.kind,
            action: Action::Delete,
            fields: if o.show_content { content_fields(o.kind, &o.live.state) } else { vec![] },
            replace_reasons: vec![],
            note: Some(o.note.clone()),
        });
        // Removed resources go after an apply's changes and before a destroy's.
        match mode {
            Mode::Apply => resources.extend(orphan_changes),
            Mode::Destroy => {
                let mut all: Vec<ResourceChange> = orphan_changes.collect();
                all.append(&mut resources);
                resources = all;
            }
        }
        let mut plan = Plan::new(stack, mode, resources, diagnostics);
        plan.redact(&expanded.secrets);
        if mode == Mode::Apply {
            plan.endpoints = crate::outputs::endpoints(&expanded.graph, &shared.live_outputs);
        }
        Ok(Planned { plan, expanded, nodes, orphans, live_outputs: shared.live_outputs })
    }

    /// Resources tagged with the stack that the file no longer declares, or
    /// declares under another name (a rename is a replace: the old one goes),
    /// confirmed by reading each one, with their children.
    async fn orphans(
        &self,
        graph: &Graph,
        nodes: &[NodePlan],
        stack: &str,
        outputs: &HashMap<String, Outputs>,
    ) -> Result<Vec<Tagged>, String> {
        let mut found: Vec<(Discovered, Option<Renamed>)> = Vec::new();
        for d in self.provider.discover(stack).await.map_err(|e| e.message)? {
            match graph.get(&d.address) {
                None => found.push((d, None)),
                Some(node) => {
                    if let Some(renamed) = renamed(node, &d.identity, outputs) {
                        found.push((d, Some(renamed)));
                    }
                }
            }
        }
        found.sort_by(|(a, _), (b, _)| (a.kind.teardown_rank(), &a.address).cmp(&(b.kind.teardown_rank(), &b.address)));
        found.dedup_by(|(a, _), (b, _)| a.address == b.address && a.identity == b.identity);
        let reads = futures::stream::iter(found.into_iter().map(|(d, renamed)| async move {
            let req = NodeRequest { stack, address: &d.address, kind: d.kind, desired: &d.identity };
            let live = self.provider.read(&req).await.map_err(|e| format!("{}: {}", d.address, e.message))?;
            let Some(live) = live.filter(|live| owner(live) == Some(stack)) else { return Ok(None) };
            // Never the resource a node of the file reads as its own.
            let own = graph.index_of(&d.address).and_then(|i| nodes[i].live.as_ref());
            if own.is_some_and(|own| same_resource(own, &live)) {
                return Ok(None);
            }
            let mut desired = live.state.clone();
            if let (Some(fields), Some(identity)) = (desired.as_object_mut(), d.identity.as_object()) {
                for (k, v) in identity {
                    fields.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let children = if d.kind.child_kinds().is_empty() {
                Vec::new()
            } else {
                let req = NodeRequest { desired: &desired, ..req };
                let listed = self.provider.children(&req, &live, &[]).await;
                listed.map_err(|e| format!("{}: {}", d.address, e.message))?
            };
            let (address, note) = match renamed {
                None => (d.address, NO_LONGER_DECLARED.to_owned()),
                Some(Renamed { field, was }) => (
                    format!("{} (was {was})", d.address),
                    format!("renamed in the stack file ({field} was `{was}`): the old one is deleted"),
                ),
            };
            let orphan = Orphan { address, kind: d.kind, desired, live, note, show_content: false };
            Ok::<_, String>(Some(Tagged { orphan, children }))
        }))
        .buffered(self.parallelism.max(1))
        .collect::<Vec<_>>()
        .await;
        reads.into_iter().filter_map(Result::transpose).collect()
    }

    /// Deletes resources removed from the file, one at a time in teardown order.
    async fn delete_orphans(&self, planned: &Planned, report: &mut ApplyReport) {
        let stack = planned.expanded.stack.as_str();
        for orphan in &planned.orphans {
            if self.stop.load(Ordering::SeqCst) {
                report.not_attempted.push((orphan.address.clone(), Action::Delete, INTERRUPTED.into()));
                continue;
            }
            let start = Instant::now();
            let address = orphan.address.clone();
            self.sink.event(Event::Started { address: address.clone(), action: Action::Delete });
            let req = NodeRequest { stack, address: &orphan.address, kind: orphan.kind, desired: &orphan.desired };
            match self.provider.delete(&req, &orphan.live).await {
                Ok(()) => {
                    let elapsed = start.elapsed();
                    self.sink.event(Event::Finished { address: address.clone(), action: Action::Delete, elapsed });
                    report.done.push((address, Action::Delete, elapsed));
                }
                Err(e) => {
                    let elapsed = start.elapsed();
                    self.sink.event(Event::Failed {
                        address: address.clone(),
                        action: Action::Delete,
                        error: e.message.clone(),
                        elapsed,
                    });
                    report.failed.push((address, Action::Delete, e.message));
                }
            }
        }
    }

    async fn plan_node(
        &self,
        graph: &Graph,
        stack: &str,
        mode: Mode,
        i: usize,
        shared: &Mutex<Shared>,
    ) -> Result<(), String> {
        let node = &graph.nodes()[i];
        let (desired, skip_read) = {
            let s = shared.lock().expect("lock");
            let parent = node.parent.as_ref().and_then(|p| graph.index_of(p)).and_then(|p| s.nodes[p].as_ref());
            let desired = resolve(&node.desired, &s.outputs);
            // What lives inside a missing or replaced parent is (re)made with
            // it. A part with a name and tags of its own (an instance profile)
            // is still looked up when it can be, so that one that exists
            // without this stack's tags is refused now rather than by AWS
            // halfway through the apply.
            let skip_read = parent.is_some_and(|p| {
                p.action == Action::Replace || p.live.is_none() && (!node.kind.taggable() || contains_unknown(&desired))
            });
            (desired, skip_read)
        };
        let live = if skip_read {
            None
        } else {
            let req = NodeRequest { stack, address: &node.address, kind: node.kind, desired: &desired };
            self.provider.read(&req).await.map_err(|e| e.message)?
        };
        if node.kind.is_data() && live.is_none() {
            return Err(format!("{} not found ({})", node.kind, compact(&desired)));
        }
        let (action, changed) = match (&live, mode) {
            (_, _) if node.kind.is_data() => (Action::NoOp, vec![]),
            (None, Mode::Apply) => (Action::Create, vec![]),
            (None, Mode::Destroy) => (Action::NoOp, vec![]),
            (Some(_), Mode::Destroy) => (Action::Delete, vec![]),
            (Some(live), Mode::Apply) => {
                let changed = changed_fields(node, &desired, live);
                let replace = changed.iter().any(|f| node.kind.replace_fields().contains(&f.as_str()));
                match (changed.is_empty(), replace) {
                    (true, _) => (Action::NoOp, changed),
                    (false, true) => (Action::Replace, changed),
                    (false, false) => (Action::Update, changed),
                }
            }
        };
        let lists_children = live.as_ref().is_some_and(|live| {
            !node.kind.child_kinds().is_empty() && node.exact_children && owner(live) == Some(stack)
        }) && action != Action::Replace;
        let declared = {
            let mut s = shared.lock().expect("lock");
            if action == Action::Create {
                s.outputs.insert(node.address.clone(), predicted_outputs(node.kind, &desired));
            }
            if let Some(live) = &live {
                s.live_outputs.insert(node.address.clone(), live.outputs.clone());
                // Dependents see what will still hold after the apply.
                let mut visible = live.outputs.clone();
                match action {
                    Action::Replace => visible.clear(),
                    Action::Update => node.kind.outputs_renewed_by_update().iter().for_each(|o| {
                        visible.remove(*o);
                    }),
                    _ => {}
                }
                s.outputs.insert(node.address.clone(), visible);
            }
            // Children are read with their parent's outputs known, as their own reads are.
            let children_of_node = graph.nodes().iter().filter(|n| n.parent.as_deref() == Some(node.address.as_str()));
            let declared: Vec<Value> = children_of_node.map(|n| resolve(&n.desired, &s.outputs)).collect();
            declared
        };
        let children = match &live {
            Some(parent) if lists_children => {
                let req = NodeRequest { stack, address: &node.address, kind: node.kind, desired: &desired };
                let mut children = self.provider.children(&req, parent, &declared).await.map_err(|e| e.message)?;
                children.retain(|c| node.kind.child_kinds().contains(&c.kind));
                children
            }
            _ => Vec::new(),
        };
        let mut s = shared.lock().expect("lock");
        s.nodes[i] = Some(NodePlan { live, action, changed, children });
        s.read += 1;
        let done = s.read;
        drop(s);
        self.sink.event(Event::Read { address: node.address.clone(), done, total: graph.nodes().len() });
        Ok(())
    }

    /// Why berth may not touch node `i`, if it may not.
    fn ownership_problem(&self, graph: &Graph, nodes: &[NodePlan], stack: &str, i: usize) -> Option<String> {
        let node = &graph.nodes()[i];
        let live = nodes[i].live.as_ref()?;
        if node.kind.taggable() {
            return match owner(live) {
                Some(owner) if owner == stack => None,
                Some(other) => Some(format!(
                    "{} `{}` already exists and belongs to stack `{other}`; berth never changes another stack's resources",
                    node.kind,
                    name_of(node)
                )),
                None => Some(format!(
                    "{} `{}` already exists without the tag {STACK_TAG}={stack}; berth never changes or deletes resources it does not own",
                    node.kind,
                    name_of(node)
                )),
            };
        }
        let parent = node.parent.as_ref().and_then(|p| graph.index_of(p))?;
        self.ownership_problem(graph, nodes, stack, parent)
            .map(|_| format!("{} belongs to a resource this stack does not own", node.address))
    }

    /// Carries out a plan: creates, updates and replaces in dependency order
    /// (deletes in reverse order for a destroy plan).
    pub async fn apply(&self, planned: &Planned) -> ApplyReport {
        let graph = &planned.expanded.graph;
        let stack = planned.expanded.stack.as_str();
        let reverse = planned.plan.mode == Mode::Destroy;
        let mut report = ApplyReport::default();
        if reverse {
            self.delete_orphans(planned, &mut report).await;
        }
        // A destroy resolves against what exists; an apply against what it makes.
        let outputs = if reverse { planned.live_outputs.clone() } else { HashMap::new() };
        let shared = Mutex::new(outputs);
        let started: Mutex<HashMap<usize, Instant>> = Mutex::new(HashMap::new());
        let outcomes = walk(graph, reverse, self.parallelism, &self.stop, |i| {
            let shared = &shared;
            let started = &started;
            Box::pin(async move {
                started.lock().expect("lock").insert(i, Instant::now());
                self.apply_node(planned, stack, i, shared).await
            })
        })
        .await;
        let started = started.into_inner().expect("lock");
        let outputs = shared.into_inner().expect("lock");
        let mut order = graph.topological_order().unwrap_or_default();
        if reverse {
            order.reverse();
        }
        for i in order {
            let action = planned.nodes[i].action;
            if action == Action::NoOp {
                continue;
            }
            let node = &graph.nodes()[i];
            let address = node.address.clone();
            match &outcomes[i] {
                Outcome::Done => {
                    if action != Action::Delete {
                        report.applied.push((address.clone(), node.kind, resolve(&node.desired, &outputs)));
                    }
                    report.done.push((address, action, started.get(&i).map(|s| s.elapsed()).unwrap_or_default()))
                }
                Outcome::Failed(e) => report.failed.push((address, action, e.clone())),
                Outcome::Skipped(by) => {
                    self.sink.event(Event::Skipped { address: address.clone(), action, blocked_by: by.clone() });
                    report.not_attempted.push((address, action, by.clone()));
                }
            }
        }
        if !reverse {
            self.delete_orphans(planned, &mut report).await;
            report.endpoints = crate::outputs::endpoints(graph, &outputs);
        }
        report
    }

    async fn apply_node(
        &self,
        planned: &Planned,
        stack: &str,
        i: usize,
        shared: &Mutex<HashMap<String, Outputs>>,
    ) -> Result<(), String> {
        let node = &planned.expanded.graph.nodes()[i];
        let plan = &planned.nodes[i];
        let desired = resolve(&node.desired, &shared.lock().expect("lock"));
        if plan.action == Action::NoOp {
            if let Some(live) = &plan.live {
                shared.lock().expect("lock").insert(node.address.clone(), live.outputs.clone());
            }
            return Ok(());
        }
        if plan.action != Action::Delete && contains_unknown(&desired) {
            return Err(format!(
                "{}: a value it refers to is still unknown after its dependencies were applied",
                node.address
            ));
        }
        let start = Instant::now();
        self.sink.event(Event::Started { address: node.address.clone(), action: plan.action });
        let req = NodeRequest { stack, address: &node.address, kind: node.kind, desired: &desired };
        let result = match (plan.action, &plan.live) {
            (Action::Create, _) => self.provider.create(&req).await,
            (Action::Update, Some(live)) => self.provider.update(&req, live, &plan.changed).await.map(|mut out| {
                for (k, v) in &live.outputs {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
                out
            }),
            (Action::Replace, Some(live)) => match self.provider.delete(&req, live).await {
                Ok(()) => self.provider.create(&req).await,
                Err(e) => Err(e),
            },
            (Action::Delete, Some(live)) => self.provider.delete(&req, live).await.map(|()| Outputs::new()),
            (action, None) => Err(crate::provider::ProviderError::new(format!(
                "cannot {} a resource that does not exist",
                action.as_str()
            ))),
            (Action::NoOp, _) => unreachable!("handled above"),
        };
        let elapsed = start.elapsed();
        match result {
            Ok(outputs) => {
                if plan.action != Action::Delete {
                    shared.lock().expect("lock").insert(node.address.clone(), outputs);
                }
                self.sink.event(Event::Finished { address: node.address.clone(), action: plan.action, elapsed });
                Ok(())
            }
            Err(e) => {
                self.sink.event(Event::Failed {
                    address: node.address.clone(),
                    action: plan.action,
                    error: e.message.clone(),
                    elapsed,
                });
                Err(e.message)
            }
        }
    }
}

/// Outputs of a resource yet to be created that follow from its desired
/// state, so the plan can show them instead of "(known after apply)".
fn predicted_outputs(kind: Kind, desired: &Value) -> Outputs {
    let known: serde_json::Map<String, Value> = desired
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !contains_unknown(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (kind.spec().predicted_outputs)(&known)
}

/// The stack a live resource's tags say owns it.
fn owner(live: &Live) -> Option<&str> {
    live.tags.as_ref().and_then(|t| t.get(STACK_TAG)).map(String::as_str)
}

/// What identifies an item of `kind`, in canonical form: equal keys are the same AWS item.
fn identity_key(kind: Kind, state: &Value) -> String {
    let state = normalize(kind, state);
    let fields: Vec<&Value> = kind.identity_fields().iter().map(|f| state.get(*f).unwrap_or(&Value::Null)).collect();
    serde_json::to_string(&fields).expect("JSON values serialize")
}

/// What changed in the identity of a resource the file still declares.
struct Renamed {
    field: String,
    was: String,
}

/// Whether the resource found with `identity` under `node`'s address is
/// another one than the node stands for now: a field that identifies it and
/// cannot change in place (a name, the cluster of a service) differs from
/// the desired value.
fn renamed(node: &Node, identity: &Value, outputs: &HashMap<String, Outputs>) -> Option<Renamed> {
    let desired = resolve(&node.desired, outputs);
    let identifying = identity.as_object()?.iter().filter(|(f, _)| node.kind.replace_fields().contains(&f.as_str()));
    identifying.into_iter().find_map(|(field, was)| {
        let now = desired.get(field)?;
        (!contains_unknown(now) && now != was).then(|| Renamed {
            field: field.clone(),
            was: was.as_str().map(str::to_owned).unwrap_or_else(|| was.to_string()),
        })
    })
}

/// Whether two reads are of one AWS resource (the same ARN or id).
fn same_resource(a: &Live, b: &Live) -> bool {
    ["arn", "id"].iter().any(|o| a.outputs.get(*o).is_some_and(|v| b.outputs.get(*o) == Some(v)))
}

/// The live children that no node of the file stands for, of the file's
/// resources and of the tagged resources it no longer declares (all of
/// whose children go). A child may be listed by two parents (an
/// attachment, by its role and by its policy): it is deleted once, named
/// below the parent that comes first in teardown order (the role).
fn undeclared_children(
    graph: &Graph,
    nodes: &[NodePlan],
    tagged: &[Tagged],
    outputs: &HashMap<String, Outputs>,
) -> Vec<Orphan> {
    let declared: HashSet<(Kind, String)> =
        graph.nodes().iter().map(|n| (n.kind, identity_key(n.kind, &resolve(&n.desired, outputs)))).collect();
    let mut seen = HashSet::new();
    let mut addresses: HashSet<String> = graph.nodes().iter().map(|n| n.address.clone()).collect();
    let mut found = Vec::new();
    let mut parents: Vec<(&str, Kind, &[LiveChild])> =
        graph.nodes().iter().zip(nodes).map(|(n, p)| (n.address.as_str(), n.kind, p.children.as_slice())).collect();
    parents.extend(tagged.iter().map(|t| (t.orphan.address.as_str(), t.orphan.kind, t.children.as_slice())));
    parents.sort_by_key(|(_, kind, _)| kind.teardown_rank());
    for (parent, _, children) in parents {
        for child in children {
            let key = (child.kind, identity_key(child.kind, &child.live.state));
            if declared.contains(&key) || !seen.insert(key) {
                continue;
            }
            let base = format!("{parent}.{}", child.label);
            let address = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}#{n}") });
            let address = address.into_iter().find(|a| !addresses.contains(a)).expect("an unused address");
            addresses.insert(address.clone());
            found.push(Orphan {
                address,
                kind: child.kind,
                desired: child.live.state.clone(),
                live: child.live.clone(),
                note: NOT_DECLARED.to_owned(),
                show_content: true,
            });
        }
    }
    found
}

/// A deleted child's content as the fields it loses, so the plan shows
/// what goes. Object contents are left out: they may be secret.
fn content_fields(kind: Kind, state: &Value) -> Vec<FieldChange> {
    let state = normalize(kind, state);
    let Some(fields) = state.as_object() else { return Vec::new() };
    fields
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "tags" | "content"))
        .map(|(name, value)| FieldChange {
            field: name.clone(),
            before: Some(value.clone()),
            after: None,
            forces_replace: false,
            sensitive: false,
            detail: vec![],
        })
        .collect()
}

fn is_protected(live: &Live) -> bool {
    live.tags.as_ref().and_then(|t| t.get(PROTECT_TAG)).is_some_and(|v| v == "true")
}

fn name_of(node: &Node) -> String {
    ["name", "family"]
        .iter()
        .find_map(|k| node.desired.get(*k).and_then(Value::as_str))
        .unwrap_or(&node.address)
        .to_owned()
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 120 {
        format!("{}...", &text[..117])
    } else {
        text
    }
}

fn located(source: &Source, node: &Node, severity: Severity, message: String) -> Diagnostic {
    let origin: Vec<&str> = node.origin.iter().map(String::as_str).collect();
    let help = Some(format!(
        "rename the resource in the stack, delete the existing one, or tag it {STACK_TAG}=<stack> if this stack should own it"
    ));
    source.diagnostic(severity, None, &origin, message, help)
}

/// The desired state without tags, and the tags, as berth compares them.
fn split_tags(kind: Kind, state: &Value) -> (Value, Option<Value>) {
    let mut state = state.clone();
    let tags = state.as_object_mut().and_then(|m| m.remove("tags"));
    (normalize(kind, &state), tags)
}

fn split_raw(state: &Value) -> Value {
    let mut state = state.clone();
    if let Some(fields) = state.as_object_mut() {
        fields.remove("tags");
    }
    state
}

fn live_tags(live: &Live) -> Option<Value> {
    live.tags.as_ref().map(|t| Value::Object(t.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect()))
}

/// Top-level fields whose desired and live values differ.
fn changed_fields(node: &Node, desired: &Value, live: &Live) -> Vec<String> {
    let (desired, desired_tags) = split_tags(node.kind, desired);
    let live_state = normalize(node.kind, &live.state);
    let mut changed: Vec<String> = Vec::new();
    let empty = serde_json::Map::new();
    let d = desired.as_object().unwrap_or(&empty);
    let l = live_state.as_object().unwrap_or(&empty);
    for key in d.keys().chain(l.keys().filter(|k| !d.contains_key(*k))) {
        if d.get(key) != l.get(key) && !changed.contains(key) {
            changed.push(key.clone());
        }
    }
    if node.kind.taggable() && desired_tags.is_some() && desired_tags != live_tags(live) {
        changed.push("tags".into());
    }
    changed
}

fn describe_change(node: &Node, plan: &NodePlan, desired: &Value) -> ResourceChange {
    let (desired_n, desired_tags) = split_tags(node.kind, desired);
    let mut fields = Vec::new();
    let field_names: Vec<String> = match plan.action {
        Action::Create => desired.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default(),
        Action::Update | Action::Replace => plan.changed.clone(),
        Action::NoOp | Action::Delete => vec![],
    };
    let live_n = plan.live.as_ref().map(|l| normalize(node.kind, &l.state));
    // A create shows the values as berth will send them; a change compares canonical forms.
    let desired_n = if plan.action == Action::Create { split_raw(desired) } else { desired_n };
    for field in field_names {
        let (before, after) = if field == "tags" {
            (plan.live.as_ref().and_then(live_tags), desired_tags.clone())
        } else {
            (live_n.as_ref().and_then(|l| l.get(&field).cloned()), desired_n.get(&field).cloned())
        };
        let before = if plan.action == Action::Create { None } else { before };
        let forces_replace = plan.action == Action::Replace && node.kind.replace_fields().contains(&field.as_str());
        fields.push(if node.sensitive_fields.contains(&field) {
            FieldChange {
                detail: env_key_changes(
                    before.as_ref().and_then(Value::as_str),
                    after.as_ref().and_then(Value::as_str),
                ),
                before: before.map(|_| Value::from(MASK)),
                after: after.map(|_| Value::from(MASK)),
                field,
                forces_replace,
                sensitive: true,
            }
        } else {
            FieldChange { field, before, after, forces_replace, sensitive: false, detail: vec![] }
        });
    }
    let replace_reasons = fields
        .iter()
        .filter(|f| f.forces_replace)
        .map(|f| format!("`{}` cannot be changed in place", f.field))
        .collect();
    let note = match plan.action {
        Action::Update => node.kind.update_note().map(str::to_owned),
        _ => None,
    };
    ResourceChange {
        address: node.address.clone(),
        kind: node.kind,
        action: plan.action,
        fields,
        replace_reasons,
        note,
    }
}
