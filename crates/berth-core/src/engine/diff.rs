//! Comparing desired and live states field by field, in canonical form, and describing the change for the plan.

use super::*;

/// The desired state without tags, and the tags, as berth compares them.
fn split_tags(kind: Kind, state: &Value) -> (Value, Option<Value>) {
    let mut state = state.clone();
    let tags = state.as_object_mut().and_then(|m| m.remove("tags"));
    (normalize(kind, &state), tags)
}

/// The live state with the file's name where the live resource answers to
/// it under its replacement's name (see [`Kind::answers_to`]).
pub(super) fn as_named(kind: Kind, desired: &Value, live_state: &Value) -> Value {
    let mut state = live_state.clone();
    let live_name = live_state.get("name").and_then(Value::as_str);
    if kind.creates_first() && live_name.is_some_and(|n| kind.answers_to(desired, n)) {
        state["name"] = desired["name"].clone();
    }
    state
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

/// Top-level fields whose desired and live values differ, compared in
/// canonical form; `tags` when the tags differ (for kinds that carry them).
pub fn changed_fields(kind: Kind, desired: &Value, live: &Live) -> Vec<String> {
    let live_state = normalize(kind, &as_named(kind, desired, &live.state));
    let (desired, desired_tags) = split_tags(kind, desired);
    let mut changed: Vec<String> = Vec::new();
    let empty = serde_json::Map::new();
    let d = desired.as_object().unwrap_or(&empty);
    let l = live_state.as_object().unwrap_or(&empty);
    for key in d.keys().chain(l.keys().filter(|k| !d.contains_key(*k))) {
        if d.get(key) != l.get(key) && !changed.contains(key) {
            changed.push(key.clone());
        }
    }
    if kind.taggable() && desired_tags.is_some() && desired_tags != live_tags(live) {
        changed.push("tags".into());
    }
    changed
}

pub(super) fn describe_change(node: &Node, plan: &NodePlan, desired: &Value) -> ResourceChange {
    let (desired_n, desired_tags) = split_tags(node.kind, desired);
    let mut fields = Vec::new();
    let field_names: Vec<String> = match plan.action {
        Action::Create => desired.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default(),
        Action::Update | Action::Replace => plan.changed.clone(),
        Action::NoOp | Action::Delete => vec![],
    };
    let live_n = plan.live.as_ref().map(|l| normalize(node.kind, &as_named(node.kind, desired, &l.state)));
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
            let detail =
                env_key_changes(before.as_ref().and_then(Value::as_str), after.as_ref().and_then(Value::as_str));
            // Without keys to name (a secret's value), the mask itself says that it changed.
            let changed = before.is_some() && after.is_some() && before != after && detail.is_empty();
            FieldChange {
                detail,
                sensitive: true,
                forces_replace,
                ..FieldChange::new(
                    field,
                    before.map(|_| Value::from(if changed { crate::plan::MASK_CHANGED } else { MASK })),
                    after.map(|_| Value::from(MASK)),
                )
            }
        } else {
            FieldChange { forces_replace, ..FieldChange::new(field, before, after) }
        });
    }
    let replace_reasons = fields
        .iter()
        .filter(|f| f.forces_replace)
        .map(|f| format!("`{}` cannot be changed in place", f.field))
        .collect();
    let note = match plan.action {
        Action::Update => node.kind.update_note().map(str::to_owned),
        Action::Replace if node.kind.creates_first() => {
            let live_name = plan.live.as_ref().and_then(|l| l.outputs.get("name")).and_then(Value::as_str);
            let name = node.kind.replacement(desired, live_name)["name"].as_str().map(str::to_owned);
            Some(format!(
                "the new one is created first{}, what uses the old one moves to it, then the old one is deleted",
                name.map(|n| format!(" (as `{n}`)")).unwrap_or_default()
            ))
        }
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
