//! Resolving `${ref:ADDRESS#ATTR}` placeholders against the outputs known so far.

use super::*;

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

pub(super) fn contains_unknown(value: &Value) -> bool {
    match value {
        Value::String(s) => s == UNKNOWN,
        Value::Array(items) => items.iter().any(contains_unknown),
        Value::Object(map) => map.values().any(contains_unknown),
        _ => false,
    }
}
