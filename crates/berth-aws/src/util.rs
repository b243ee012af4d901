//! Small helpers shared by the service modules: reading desired-state fields
//! and building tag maps.

use std::collections::BTreeMap;

use berth_core::provider::{NodeRequest, ProviderError, ProviderResult};
use serde_json::Value;

/// A required string field of the desired state.
pub(crate) fn str_field<'a>(req: &'a NodeRequest<'_>, field: &str) -> ProviderResult<&'a str> {
    req.desired
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::new(format!("{}: desired state lacks string `{field}`", req.address)))
}

/// An optional string field of the desired state.
pub(crate) fn opt_str<'a>(req: &'a NodeRequest<'_>, field: &str) -> Option<&'a str> {
    req.desired.get(field).and_then(Value::as_str)
}

/// A required integer field of the desired state.
pub(crate) fn int_field(req: &NodeRequest<'_>, field: &str) -> ProviderResult<i64> {
    req.desired
        .get(field)
        .and_then(Value::as_i64)
        .ok_or_else(|| ProviderError::new(format!("{}: desired state lacks integer `{field}`", req.address)))
}

/// A list of strings field of the desired state (empty when absent).
pub(crate) fn str_list(req: &NodeRequest<'_>, field: &str) -> Vec<String> {
    req.desired
        .get(field)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The desired tags (including berth's ownership tags).
pub(crate) fn desired_tags(req: &NodeRequest<'_>) -> BTreeMap<String, String> {
    req.desired
        .get("tags")
        .and_then(Value::as_object)
        .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default()
}

/// A tag map as a JSON object, for `Live.state.tags`.
pub(crate) fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Object(tags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// Tags to add or change, and keys to remove, to go from `live` to `desired`.
pub(crate) fn tag_changes(
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let upsert = desired
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = live.keys().filter(|k| !desired.contains_key(*k)).cloned().collect();
    (upsert, remove)
}
