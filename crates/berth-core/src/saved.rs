//! Saved plans: `berth plan --out FILE` writes the plan with fingerprints of
//! what it was computed from; `berth apply FILE` applies it only if neither
//! the stack nor any resource it read has changed since.
//!
//! A saved plan holds no secret: the plan is masked, the stack and live
//! state are kept as SHA-256 digests, and sensitive `--var` values are left
//! out (they must be passed again). The digests leave sensitive fields and
//! values out too: a plain hash of a short secret gives it away to whoever
//! tries the likely values. A change of one shows in the masked plan
//! instead (`(sensitive, changed)` where it was `(sensitive)`, or another
//! action), which [`SavedPlan::staleness`] compares too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::Planned;
use crate::expand::Expanded;
use crate::plan::Plan;

/// Marks a file as a saved berth plan.
pub const SAVED_PLAN_KIND: &str = "berth-saved-plan";

/// A plan as written by `berth plan --out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`SAVED_PLAN_KIND`], so a saved plan is recognised as one.
    pub kind: String,
    /// The stack file (an absolute path, so the plan applies from any directory).
    pub stack_path: PathBuf,
    /// `--var` overrides, without sensitive values.
    pub vars: BTreeMap<String, String>,
    /// Digest of the expanded stack (every resource's desired state).
    pub stack_digest: String,
    /// Digest of every live resource read, by address (`absent` when it did not exist).
    pub live: BTreeMap<String, String>,
    /// The plan that was shown.
    pub plan: Plan,
}

fn digest(value: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(value).expect("serializable");
    format!("{:x}", Sha256::digest(bytes))
}

/// Digest of everything the stack file asks for but its secrets.
pub fn stack_digest(expanded: &Expanded) -> String {
    let nodes: Vec<(&str, Value)> = expanded
        .graph
        .nodes()
        .iter()
        .map(|n| (n.address.as_str(), without_secrets(&n.desired, &n.sensitive_fields, &expanded.secrets)))
        .collect();
    digest(&nodes)
}

/// `state` without the fields in `left_out`, and with every secret value in it masked.
fn without_secrets(state: &Value, left_out: &[String], secrets: &[String]) -> Value {
    let mut state = state.clone();
    if let Some(fields) = state.as_object_mut() {
        fields.retain(|field, _| !left_out.contains(field));
    }
    mask(&mut state, secrets);
    state
}

fn mask(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), crate::plan::MASK);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| mask(v, secrets)),
        _ => {}
    }
}

impl SavedPlan {
    /// Captures `planned` for later application.
    pub fn new(planned: &Planned, stack_path: PathBuf, vars: BTreeMap<String, String>) -> SavedPlan {
        let secrets = &planned.expanded().secrets;
        let vars = vars.into_iter().filter(|(_, v)| !secrets.contains(v)).collect();
        SavedPlan {
            kind: SAVED_PLAN_KIND.into(),
            stack_path,
            vars,
            stack_digest: stack_digest(planned.expanded()),
            live: live_digests(planned),
            plan: planned.plan.clone(),
        }
    }

    /// Why `fresh` (planned again now from the same file and vars) is not the
    /// plan that was saved, or `None` when it is.
    pub fn staleness(&self, fresh: &Planned) -> Option<String> {
        if stack_digest(fresh.expanded()) != self.stack_digest {
            return Some("the stack file (or a file or variable it uses) changed since the plan was made".into());
        }
        let now = live_digests(fresh);
        let mut moved: Vec<&str> = now
            .iter()
            .filter(|(address, d)| self.live.get(*address) != Some(*d))
            .map(|(address, _)| address.as_str())
            .collect();
        moved.extend(self.live.keys().filter(|a| !now.contains_key(*a)).map(String::as_str));
        if !moved.is_empty() {
            moved.sort();
            moved.dedup();
            return Some(format!("changed in AWS since the plan was made: {}", moved.join(", ")));
        }
        if fresh.plan.resources != self.plan.resources {
            return Some("planning again gives a different plan".into());
        }
        None
    }
}

fn live_digests(planned: &Planned) -> BTreeMap<String, String> {
    let expanded = planned.expanded();
    planned
        .live_states()
        .map(|(address, live)| {
            // Sensitive fields hold secrets; create-only ones are changed by
            // something else (an autoscaler), and the plan ignores them.
            let left_out: Vec<String> = expanded
                .graph
                .get(address)
                .map(|n| n.sensitive_fields.iter().chain(&n.create_only).cloned().collect())
                .unwrap_or_default();
            let digest = live.map(|live| digest_live(live, &left_out, &expanded.secrets));
            (address.to_owned(), digest.unwrap_or_else(|| "absent".into()))
        })
        .collect()
}

/// Digest of a live resource without the fields in `left_out` and with
/// every secret value masked.
fn digest_live(live: &crate::provider::Live, left_out: &[String], secrets: &[String]) -> String {
    digest(&(without_secrets(&live.state, left_out, secrets), &live.outputs, &live.tags))
}
