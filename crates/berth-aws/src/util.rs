//! Small helpers shared by the handlers: reading desired-state fields,
//! building tag maps and outputs.

use std::collections::BTreeMap;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::{Map, Value};

use crate::aws_error;

/// A required string field of the desired state.
pub(crate) fn str_field<'a>(req: &'a NodeRequest<'_>, field: &str) -> ProviderResult<&'a str> {
    req.desired
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::new(format!("{}: desired state lacks string `{field}`", req.address)))
}

/// Nested desired-state values (inside containers, strategies, health checks, ...).
pub(crate) fn get_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

pub(crate) fn get_i32(value: &Value, key: &str) -> Option<i32> {
    value.get(key).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

pub(crate) fn get_strings(value: &Value, key: &str) -> Option<Vec<String>> {
    let items = value.get(key)?.as_array()?;
    Some(items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

pub(crate) fn get_items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
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

/// Tags to add or change, and keys to remove, to go from `live` to `desired`.
pub(crate) fn tag_changes(
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let upsert =
        desired.iter().filter(|(k, v)| live.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let remove = live.keys().filter(|k| !desired.contains_key(*k)).cloned().collect();
    (upsert, remove)
}

/// Maps a failed call whose error code is one of `codes` to `Ok(None)`: the
/// resource (or its parent) does not exist.
pub(crate) fn absent_on<T, E>(result: Result<T, E>, codes: &[&str]) -> ProviderResult<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code().is_some_and(|code| codes.contains(&code)) => Ok(None),
        Err(e) => Err(aws_error(e)),
    }
}

/// An idempotency token for creating the resource of `req` in this run of
/// berth: the same for every attempt of this process, so that AWS answers a
/// repeated create with the first one's resource, and new in the next run.
/// 32 characters, within every API's limit (ECS allows 36).
pub(crate) fn client_token(req: &NodeRequest<'_>) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    static RUN: std::sync::OnceLock<(u128, u32)> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos());
        (now.unwrap_or_default(), std::process::id())
    });
    let half = |salt: u8| {
        let mut hasher = DefaultHasher::new();
        (salt, run, req.stack, req.address).hash(&mut hasher);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

/// An error about the node itself (its desired or live state).
pub(crate) fn invalid(req: &NodeRequest<'_>, err: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("{}: {err}", req.address))
}

/// Outputs from `(name, value)` pairs.
pub(crate) fn outputs<const N: usize>(pairs: [(&str, Value); N]) -> Outputs {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The outputs of a resource known by its name and ARN.
pub(crate) fn name_and_arn(name: &str, arn: impl Into<Value>) -> Outputs {
    outputs([("name", name.into()), ("arn", arn.into())])
}

/// A tag map from an SDK's tags as `(key, value)` pairs: a tag without a key
/// is left out, one without a value has the empty one.
pub(crate) fn tags_from<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    pairs.into_iter().filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned()))).collect()
}

/// The `arn` output of a live resource, which updates and deletes act on.
pub(crate) fn live_arn<'a>(req: &NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
    live.outputs.get("arn").and_then(Value::as_str).ok_or_else(|| invalid(req, "live resource has no `arn`"))
}

/// A JSON object in the documented shape: absent values and empty lists are
/// left out, never written as `null` or `[]`.
#[derive(Default)]
pub(crate) struct Shape(Map<String, Value>);

impl Shape {
    pub(crate) fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn opt(self, key: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(value) => self.set(key, value),
            None => self,
        }
    }

    pub(crate) fn list<T: Into<Value>>(self, key: &str, items: impl IntoIterator<Item = T>) -> Self {
        let items: Vec<Value> = items.into_iter().map(Into::into).collect();
        if items.is_empty() {
            self
        } else {
            self.set(key, items)
        }
    }

    pub(crate) fn build(self) -> Value {
        Value::Object(self.0)
    }
}
