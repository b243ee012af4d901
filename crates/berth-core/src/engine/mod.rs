//! The engine: plans by reading every node's live state (concurrently, in
//! dependency order, since a node's identity may come from its parent's
//! outputs), and applies a plan by walking the graph with bounded
//! parallelism. It never prints: progress goes to an [`EventSink`].
//! Scheduling is in `walk`, reading and deciding in `planning`, carrying out
//! in `applying`, what the file no longer declares in `orphans`, and the
//! field-by-field comparison in `diff`.

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

mod applying;
mod diff;
mod orphans;
mod planning;
mod resolve;
mod walk;

pub use diff::changed_fields;
use diff::describe_change;
use orphans::{content_fields, is_protected, undeclared_children};
use resolve::contains_unknown;
pub use resolve::resolve;
use walk::{walk, Outcome};

/// Progress reported while the engine works.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Live state of `done` of `total` resources read.
    Read {
        /// The resource read.
        address: String,
        /// How many resources have been read so far.
        done: usize,
        /// How many resources there are to read.
        total: usize,
    },
    /// Work on a resource began.
    Started {
        /// The resource.
        address: String,
        /// What is done to it.
        action: Action,
    },
    /// A resource's change succeeded.
    Finished {
        /// The resource.
        address: String,
        /// What was done to it.
        action: Action,
        /// How long it took.
        elapsed: Duration,
    },
    /// A resource's change failed.
    Failed {
        /// The resource.
        address: String,
        /// What was attempted.
        action: Action,
        /// The cloud's message.
        error: String,
        /// How long it took to fail.
        elapsed: Duration,
    },
    /// Not attempted because a resource it needs failed.
    Skipped {
        /// The resource.
        address: String,
        /// What would have been done to it.
        action: Action,
        /// The failed resource it needed, or another reason such as [`INTERRUPTED`].
        blocked_by: String,
    },
    /// A new fact about a service's rollout (an ECS event, tasks running, a
    /// healthy target), secrets masked.
    Rollout {
        /// The service's address (`services.web`).
        address: String,
        /// The fact, in one line.
        message: String,
    },
    /// Still waiting, after each poll: the services not yet done and how
    /// long it has been (for a line a terminal updates in place).
    RolloutWaiting {
        /// Names of the services not yet done.
        waiting: Vec<String>,
        /// Time since following began.
        elapsed: Duration,
    },
    /// A service's rollout ended.
    RolloutEnded {
        /// The service's address (`services.web`).
        address: String,
        /// How it ended.
        outcome: crate::rollout::Outcome,
    },
}

/// Receives the engine's events (a renderer, a log, a test recorder).
pub trait EventSink: Send + Sync {
    /// Handles one event as it happens.
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
    /// Objects berth does not manage that deleting this bucket deletes first
    /// (`destroy --force-delete-buckets`), as the plan lists them.
    empties: Vec<String>,
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

/// The field of a bucket's delete request listing the objects to delete first.
pub const EMPTY_FIRST: &str = "empty_first";

/// Why an orphan found by its tags is deleted.
pub const NO_LONGER_DECLARED: &str = "no longer in the stack file";
/// Why a child of an owned resource is deleted.
pub const NOT_DECLARED: &str = "not in the stack file";

/// A plan with what is needed to apply it.
pub struct Planned {
    /// What the plan does, as it is shown and saved.
    pub plan: Plan,
    expanded: Expanded,
    nodes: Vec<NodePlan>,
    orphans: Vec<Orphan>,
    /// Outputs of every node that exists, read while planning.
    live_outputs: HashMap<String, Outputs>,
}

impl Planned {
    /// Makes the deletes of these buckets delete the objects listed first
    /// (objects berth does not manage, as `(bucket, keys)`), and says so in
    /// the plan: only what the plan lists is deleted.
    pub fn empty_buckets(&mut self, held: &[(String, Vec<String>)]) {
        for (bucket, keys) in held {
            let nodes = self.expanded.graph.nodes().iter().zip(&mut self.nodes);
            let Some((node, plan)) = nodes.into_iter().find(|(node, plan)| {
                node.kind == Kind::S3Bucket && plan.action == Action::Delete && node.desired["name"] == bucket.as_str()
            }) else {
                continue;
            };
            plan.empties = keys.clone();
            if let Some(change) = self.plan.resources.iter_mut().find(|r| r.address == node.address) {
                let shown: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
                let more = if keys.len() > 5 { format!(" and {} more", keys.len() - 5) } else { String::new() };
                change.note = Some(format!(
                    "empties {} object(s) berth does not manage first: {}{more}",
                    keys.len(),
                    shown.join(", ")
                ));
            }
        }
    }

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
    /// Each resource changed, with what was done and how long it took.
    pub done: Vec<(String, Action, Duration)>,
    /// Each resource whose change failed, with the cloud's message.
    pub failed: Vec<(String, Action, String)>,
    /// Each resource not attempted, with why (a failed dependency, an interruption).
    pub not_attempted: Vec<(String, Action, String)>,
    /// The desired state, references resolved, of every resource created,
    /// updated or replaced (what a service now runs, for following its rollout).
    pub applied: Vec<(String, Kind, Value)>,
    /// Where the stack's listeners answer after the apply.
    pub endpoints: Vec<crate::outputs::Endpoint>,
}

impl ApplyReport {
    /// Whether every resource was done: nothing failed and nothing was left out.
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

/// Why work was not started after the user interrupted.
pub const INTERRUPTED: &str = "the run was interrupted";

impl<'a> Engine<'a> {
    /// An engine acting through `provider`, reporting to `sink`, working on at most `parallelism` resources at once.
    pub fn new(provider: &'a dyn Provider, sink: &'a dyn EventSink, parallelism: usize) -> Self {
        Engine { provider, sink, parallelism, stop: Arc::new(AtomicBool::new(false)) }
    }

    /// Once `stop` is set, no new work starts; calls in flight finish and the
    /// report lists the rest as not attempted.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }
}

/// The stack a live resource's tags say owns it.
fn owner(live: &Live) -> Option<&str> {
    live.tags.as_ref().and_then(|t| t.get(STACK_TAG)).map(String::as_str)
}
