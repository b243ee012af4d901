//! The plan: what berth will change, as one serializable structure
//! (`format_version` versioned) that every renderer reads. Secret values never
//! enter it: sensitive fields carry masks, and [`Plan::redact`] scrubs known
//! secret strings from everything else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::env_file::parse_env;
use crate::kind::Kind;

/// Version of the plan's JSON form; bumped on any incompatible change.
pub const FORMAT_VERSION: &str = "1.2";

/// Shown where a value depends on a resource that does not exist yet.
pub const UNKNOWN: &str = "(known after apply)";

/// Shown instead of a secret.
pub const MASK: &str = "(sensitive)";

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Live state matches the file: nothing to do.
    NoOp,
    /// Does not exist yet: created.
    Create,
    /// Changed in place.
    Update,
    /// A field AWS cannot change in place differs: deleted and created again.
    Replace,
    /// Deleted: destroy mode, or no longer in the file.
    Delete,
}

impl Action {
    /// The action as the text plan names it (`no-op`, `create`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

/// One changed field of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Top-level field of the desired state (`container_definitions`, `tags`, ...).
    pub field: String,
    /// The live value; absent when the resource or field does not exist yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after the apply; absent when the field goes away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// AWS cannot change this field in place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replace: bool,
    /// The values are secret: `before`/`after` are masks and `detail` says what changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// For a sensitive field, what changed without the values (`API_TOKEN: (added)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
    /// For a field that exists on both sides, the paths inside it that differ
    /// (since format 1.2); the renderers show these instead of the whole values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PathChange>,
    /// How many equal attributes and items [`FieldChange::changes`] leaves out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unchanged: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl FieldChange {
    /// The change of a field that is not secret and does not force a replacement.
    pub fn new(field: impl Into<String>, before: Option<Value>, after: Option<Value>) -> FieldChange {
        FieldChange {
            field: field.into(),
            before,
            after,
            forces_replace: false,
            sensitive: false,
            detail: Vec::new(),
            changes: Vec::new(),
            unchanged: 0,
        }
    }

    /// Works out [`FieldChange::changes`] from the values as they are now
    /// (after masking, so that a path never carries more than the values do).
    fn trace_paths(&mut self) {
        (self.changes, self.unchanged) = match (&self.before, &self.after) {
            (Some(before), Some(after)) if !self.sensitive => {
                crate::path_diff::path_changes(&self.field, before, after)
            }
            _ => (Vec::new(), 0),
        };
    }
}

/// One difference inside a field, at a path such as
/// `container_definitions["app"].image`, `tags["berth:stack"]`,
/// `port_mappings[container_port=80].host_port` or `Statement[1]`; a path
/// ending in `[]` is a member of a set, added (only `after`) or removed
/// (only `before`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathChange {
    /// Where, starting with the field's name.
    pub path: String,
    /// The value there before; absent when it is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value there after; absent when it is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

impl PathChange {
    pub(crate) fn new(path: String, before: Option<Value>, after: Option<Value>) -> PathChange {
        PathChange { path, before, after }
    }
}

/// The change to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Unique within the stack and stable between runs (`services.web`): use it as a key.
    pub address: String,
    /// The kind of AWS resource.
    pub kind: Kind,
    /// What the plan does to it.
    pub action: Action,
    /// What changes: every field for a create, the changed ones for an update or replace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Why a replace is needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_reasons: Vec<String>,
    /// What the action means for this kind (a new task definition revision, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Resources created.
    pub create: usize,
    /// Resources updated in place.
    pub update: usize,
    /// Resources replaced.
    pub replace: usize,
    /// Resources deleted.
    pub delete: usize,
    /// Resources left as they are (`no_op`).
    pub unchanged: usize,
}

impl Summary {
    /// Whether anything will change.
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.replace + self.delete > 0
    }
}

/// Whether the plan converges the stack or tears it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Converge AWS to the file (`berth plan`).
    Apply,
    /// Delete what the stack owns (`berth plan --destroy`).
    Destroy,
}

/// Everything `berth plan` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`] of the plan's JSON form.
    pub format_version: String,
    /// The stack's name (`stack:` in the file).
    pub stack: String,
    /// Whether the plan converges the stack or tears it down.
    pub mode: Mode,
    /// Every resource of the stack in dependency order (for destroy: reverse), no-ops included.
    pub resources: Vec<ResourceChange>,
    /// Counts per action.
    pub summary: Summary,
    /// Problems found while planning; a plan with an error cannot be applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// Where the stack's listeners answer, for load balancers that exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<crate::outputs::Endpoint>,
    /// What the plan was made against and from (since format 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where and from what a plan was made, so that a reviewer knows which
/// account it describes and which inputs it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The AWS account id the plan read.
    pub account: String,
    /// The region it read.
    pub region: String,
    /// The endpoint, when not AWS's own (`--endpoint-url`, `AWS_ENDPOINT_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The stack file, as given.
    pub stack_file: String,
    /// Every variable's value (from the file, `--var` or `BERTH_VAR_<NAME>`),
    /// a sensitive one as `(sensitive)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

impl Plan {
    /// Builds a plan and counts its actions.
    pub fn new(stack: &str, mode: Mode, resources: Vec<ResourceChange>, diagnostics: Vec<Diagnostic>) -> Plan {
        let mut summary = Summary::default();
        for r in &resources {
            match r.action {
                Action::NoOp => summary.unchanged += 1,
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        let mut plan = Plan {
            format_version: FORMAT_VERSION.into(),
            stack: stack.into(),
            mode,
            resources,
            summary,
            diagnostics,
            endpoints: Vec::new(),
            origin: None,
        };
        plan.trace_paths();
        plan
    }

    fn trace_paths(&mut self) {
        self.resources.iter_mut().flat_map(|r| r.fields.iter_mut()).for_each(FieldChange::trace_paths);
    }

    /// Resources that change.
    pub fn changes(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resources.iter().filter(|r| r.action != Action::NoOp)
    }

    /// Replaces every occurrence of the given secret strings by [`MASK`].
    pub fn redact(&mut self, secrets: &[String]) {
        let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 3).collect();
        if secrets.is_empty() {
            return;
        }
        for field in self.resources.iter_mut().flat_map(|r| r.fields.iter_mut()) {
            // The old value of a secret is not known as a secret: mask `before`
            // wherever `after` holds one, saying whether it changed.
            if let (Some(before), Some(after)) = (&mut field.before, &field.after) {
                mask_where_secret(before, after, &secrets);
            }
            for value in [&mut field.before, &mut field.after].into_iter().flatten() {
                redact_value(value, &secrets);
            }
        }
        self.trace_paths();
    }
}

/// Shown for the previous value of a secret that changed.
pub const MASK_CHANGED: &str = "(sensitive, changed)";

fn mask_where_secret(before: &mut Value, after: &Value, secrets: &[&String]) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, a) in a {
                if let Some(b) = b.get_mut(key) {
                    mask_where_secret(b, a, secrets);
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            // Named items (environment variables) pair by name, others by position.
            for (i, a) in a.iter().enumerate() {
                let name = a.get("name");
                let partner = match name {
                    Some(name) => b.iter_mut().find(|b| b.get("name") == Some(name)),
                    None => b.get_mut(i),
                };
                if let Some(b) = partner {
                    mask_where_secret(b, a, secrets);
                }
            }
        }
        (b @ Value::String(_), Value::String(a)) if secrets.iter().any(|s| a.contains(s.as_str())) => {
            *b = Value::from(if b.as_str() == Some(a) { MASK } else { MASK_CHANGED });
        }
        _ => {}
    }
}

fn redact_value(value: &mut Value, secrets: &[&String]) {
    match value {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), MASK);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_value(v, secrets)),
        _ => {}
    }
}

/// What changed between two versions of a secret env file, by key only.
pub fn env_key_changes(before: Option<&str>, after: Option<&str>) -> Vec<String> {
    let before: std::collections::BTreeMap<String, String> =
        before.map(parse_env).unwrap_or_default().into_iter().collect();
    let after: std::collections::BTreeMap<String, String> =
        after.map(parse_env).unwrap_or_default().into_iter().collect();
    let mut out = Vec::new();
    for (key, value) in &after {
        match before.get(key) {
            None => out.push(format!("{key}: (added)")),
            Some(old) if old != value => out.push(format!("{key}: (changed)")),
            Some(_) => {}
        }
    }
    out.extend(before.keys().filter(|k| !after.contains_key(*k)).map(|k| format!("{k}: (removed)")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_secret_hides_its_old_value_too() {
        let field = FieldChange::new(
            "container_definitions",
            Some(json!([{"environment": [{"name": "DB", "value": "old-secret"}, {"name": "X", "value": "1"}]}])),
            Some(json!([{"environment": [{"name": "X", "value": "2"}, {"name": "DB", "value": "new-secret"}]}])),
        );
        let change = ResourceChange {
            address: "a".into(),
            kind: Kind::TaskDefinition,
            action: Action::Update,
            fields: vec![field],
            replace_reasons: vec![],
            note: None,
        };
        let mut plan = Plan::new("s", Mode::Apply, vec![change], vec![]);
        plan.redact(&["new-secret".to_owned()]);
        let text = serde_json::to_string(&plan).unwrap();
        assert!(!text.contains("secret\""), "{text}");
        assert!(text.contains(MASK_CHANGED), "{text}");
        // The paths are traced from the masked values.
        let paths = &plan.resources[0].fields[0].changes;
        let shown: Vec<(&str, Option<&Value>)> = paths.iter().map(|c| (c.path.as_str(), c.before.as_ref())).collect();
        assert_eq!(
            shown,
            [
                ("container_definitions[0].environment[\"X\"].value", Some(&json!("1"))),
                ("container_definitions[0].environment[\"DB\"].value", Some(&json!(MASK_CHANGED))),
            ]
        );
    }

    #[test]
    fn env_changes_name_keys_never_values() {
        let changes = env_key_changes(Some("A=1\nB=secret\nC=3\n"), Some("A=1\nB=other\nD=4\n"));
        assert_eq!(changes, ["B: (changed)", "D: (added)", "C: (removed)"]);
        assert!(!changes.iter().any(|c| c.contains("secret") || c.contains("other")));
    }
}
