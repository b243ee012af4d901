//! Structural comparison of two values of one field, down to the paths that
//! differ, so that a reviewer reads `container_definitions["app"].image:
//! "a" -> "b"` instead of a text diff of two pretty-printed documents.
//!
//! Objects compare by key. Lists of named things pair their items by a key
//! that names each item on both sides (a container's `name`, a port
//! mapping's `container_port`, a statement's `Sid`), other lists of objects
//! by content; lists of distinct scalars whose common members keep their
//! order compare as sets. Strings holding JSON documents (a policy AWS
//! returns as text) compare as the documents. Everything else is a leaf:
//! a long text keeps its line diff in the renderers.

use serde_json::Value;

use crate::plan::PathChange;

/// Keys that name the items of a list, in the order they are tried: the
/// first one present, scalar and distinct in every item of both sides wins.
const ITEM_KEYS: &[&str] = &["name", "Sid", "container_name", "container_port", "priority", "container_path", "field"];

/// What differs between two values of a field named `field`, and how many
/// equal attributes or items were passed over on the way to it.
pub fn path_changes(field: &str, before: &Value, after: &Value) -> (Vec<PathChange>, usize) {
    let mut walk = Walk::default();
    walk.compare(field.to_owned(), before, after);
    (walk.changes, walk.unchanged)
}

#[derive(Default)]
struct Walk {
    changes: Vec<PathChange>,
    unchanged: usize,
}

impl Walk {
    fn compare(&mut self, path: String, before: &Value, after: &Value) {
        if before == after {
            self.unchanged += 1;
            return;
        }
        let (changes, unchanged) = (self.changes.len(), self.unchanged);
        match (before, after) {
            (Value::Object(b), Value::Object(a)) => {
                for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                    self.pair(format!("{path}{}", key_segment(key)), b.get(key), a.get(key));
                }
            }
            (Value::Array(b), Value::Array(a)) => self.compare_lists(&path, b, a),
            (Value::String(b), Value::String(a)) => match (document(b), document(a)) {
                (Some(b), Some(a)) => self.compare(path.clone(), &b, &a),
                _ => self.leaf(path.clone(), before, after),
            },
            _ => self.leaf(path.clone(), before, after),
        }
        if self.changes.len() == changes {
            // Only the order of paired items differs: the whole value is the change.
            self.unchanged = unchanged;
            self.leaf(path, before, after);
        }
    }

    fn pair(&mut self, path: String, before: Option<&Value>, after: Option<&Value>) {
        match (before, after) {
            (Some(b), Some(a)) => self.compare(path, b, a),
            (b, a) => self.changes.push(PathChange::new(path, b.cloned(), a.cloned())),
        }
    }

    fn leaf(&mut self, path: String, before: &Value, after: &Value) {
        self.changes.push(PathChange::new(path, Some(before.clone()), Some(after.clone())));
    }

    fn compare_lists(&mut self, path: &str, before: &[Value], after: &[Value]) {
        if is_set(before, after) {
            let members = format!("{path}[]");
            for b in before.iter().filter(|b| !after.contains(b)) {
                self.changes.push(PathChange::new(members.clone(), Some(b.clone()), None));
            }
            for a in after.iter().filter(|a| !before.contains(a)) {
                self.changes.push(PathChange::new(members.clone(), None, Some(a.clone())));
            }
            self.unchanged += after.iter().filter(|a| before.contains(a)).count();
            return;
        }
        if let Some(key) = ITEM_KEYS.iter().find(|key| names_items(key, before) && names_items(key, after)) {
            let segment = |item: &Value| match (*key, &item[*key]) {
                ("name", name) => format!("[{name}]"),
                (key, value) => format!("[{key}={value}]"),
            };
            for a in after {
                let b = before.iter().find(|b| b[*key] == a[*key]);
                self.pair(format!("{path}{}", segment(a)), b, Some(a));
            }
            for b in before.iter().filter(|b| !after.iter().any(|a| a[*key] == b[*key])) {
                self.pair(format!("{path}{}", segment(b)), Some(b), None);
            }
            return;
        }
        // Without names, equal items pair with each other; what is left pairs
        // by position when as many went as came (one statement edited), or
        // else is shown as removed and added.
        let mut taken = vec![false; before.len()];
        let mut unmatched_after = Vec::new();
        for (i, a) in after.iter().enumerate() {
            match (0..before.len()).find(|&j| !taken[j] && before[j] == *a) {
                Some(j) => {
                    taken[j] = true;
                    self.unchanged += 1;
                }
                None => unmatched_after.push(i),
            }
        }
        let unmatched_before: Vec<usize> = (0..before.len()).filter(|&j| !taken[j]).collect();
        if unmatched_before.len() == unmatched_after.len() {
            for (&j, &i) in unmatched_before.iter().zip(&unmatched_after) {
                self.compare(format!("{path}[{i}]"), &before[j], &after[i]);
            }
        } else {
            for &j in &unmatched_before {
                self.changes.push(PathChange::new(format!("{path}[{j}]"), Some(before[j].clone()), None));
            }
            for &i in &unmatched_after {
                self.changes.push(PathChange::new(format!("{path}[{i}]"), None, Some(after[i].clone())));
            }
        }
    }
}

/// `.key`, or `["key"]` for a key that is not an identifier (`berth:stack`).
fn key_segment(key: &str) -> String {
    let mut chars = key.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        format!(".{key}")
    } else {
        format!("[{}]", Value::from(key))
    }
}

/// A JSON object or array held as text.
fn document(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().filter(|v: &Value| v.is_object() || v.is_array())
}

/// Whether every item has `key` as a scalar, each a different one.
fn names_items(key: &str, items: &[Value]) -> bool {
    let ids: Vec<&Value> = items.iter().filter_map(|item| item.get(key)).filter(|v| is_scalar(v)).collect();
    ids.len() == items.len() && ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id))
}

fn is_scalar(value: &Value) -> bool {
    !(value.is_object() || value.is_array() || value.is_null())
}

/// Lists of distinct scalars whose shared members are in the same order on
/// both sides: adding and removing members describes the change exactly.
/// (A reordered list, such as a command's arguments, is shown whole.)
fn is_set(before: &[Value], after: &[Value]) -> bool {
    let distinct =
        |items: &[Value]| items.iter().all(is_scalar) && items.iter().enumerate().all(|(i, v)| !items[..i].contains(v));
    if !distinct(before) || !distinct(after) || before.is_empty() && after.is_empty() {
        return false;
    }
    let shared_before: Vec<&Value> = before.iter().filter(|v| after.contains(v)).collect();
    let shared_after: Vec<&Value> = after.iter().filter(|v| before.contains(v)).collect();
    shared_before == shared_after
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(before: Value, after: Value) -> (Vec<String>, usize) {
        let (changes, unchanged) = path_changes("f", &before, &after);
        let shown = changes
            .iter()
            .map(|c| {
                let value = |v: &Option<Value>| v.as_ref().map_or("_".to_owned(), Value::to_string);
                format!("{}: {} -> {}", c.path, value(&c.before), value(&c.after))
            })
            .collect();
        (shown, unchanged)
    }

    #[test]
    fn a_changed_image_is_one_path_and_the_rest_is_counted() {
        let containers = |image: &str| {
            json!([
                {"name": "app", "image": image, "essential": true, "log_configuration": {"log_driver": "awslogs"}},
                {"name": "proxy", "image": "nginx", "links": ["app"]},
            ])
        };
        let (shown, unchanged) = lines(containers("app:1"), containers("app:2"));
        assert_eq!(shown, [r#"f["app"].image: "app:1" -> "app:2""#]);
        // name, essential and log_configuration of app, and the proxy container.
        assert_eq!(unchanged, 4);
    }

    #[test]
    fn objects_compare_by_key_whatever_their_order() {
        let before: Value = serde_json::from_str(r#"{"berth:stack": "s", "team": "a", "old": "x"}"#).unwrap();
        let after: Value = serde_json::from_str(r#"{"team": "b", "berth:stack": "s", "new": "y"}"#).unwrap();
        let (shown, unchanged) = lines(before, after);
        assert_eq!(shown, [r#"f.team: "a" -> "b""#, r#"f.new: _ -> "y""#, r#"f.old: "x" -> _"#]);
        assert_eq!(unchanged, 1);
        let (shown, _) = lines(json!({"berth:id": "a"}), json!({"berth:id": "b"}));
        assert_eq!(shown, [r#"f["berth:id"]: "a" -> "b""#]);
    }

    #[test]
    fn named_items_pair_by_name_and_keyed_items_by_their_key() {
        let env = |extra: bool| {
            let mut items = vec![json!({"name": "A", "value": "1"})];
            if extra {
                items.push(json!({"name": "B", "value": "2"}));
            }
            Value::from(items)
        };
        let (shown, _) = lines(env(false), env(true));
        assert_eq!(shown, [r#"f["B"]: _ -> {"name":"B","value":"2"}"#]);
        let ports = |host: u16| json!([{"container_port": 80, "host_port": host}, {"container_port": 443}]);
        let (shown, unchanged) = lines(ports(0), ports(8080));
        assert_eq!(shown, ["f[container_port=80].host_port: 0 -> 8080"]);
        assert_eq!(unchanged, 2);
    }

    #[test]
    fn scalar_lists_compare_as_sets_unless_reordered() {
        let (shown, unchanged) = lines(json!(["sg-1", "sg-2"]), json!(["sg-2", "sg-3"]));
        assert_eq!(shown, [r#"f[]: "sg-1" -> _"#, r#"f[]: _ -> "sg-3""#]);
        assert_eq!(unchanged, 1);
        let (shown, _) = lines(json!(["node", "a.js", "--x"]), json!(["node", "--x", "a.js"]));
        assert_eq!(shown, [r#"f: ["node","a.js","--x"] -> ["node","--x","a.js"]"#]);
    }

    #[test]
    fn statements_without_sid_pair_by_content_then_position() {
        let doc = |actions: Value| {
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
                {"Effect": "Allow", "Action": actions, "Resource": "*"},
            ]})
            .to_string()
        };
        let (shown, _) =
            lines(json!(doc(json!(["s3:GetObject"]))), json!(doc(json!(["s3:GetObject", "s3:ListBucket"]))));
        assert_eq!(shown, [r#"f.Statement[1].Action[]: _ -> "s3:ListBucket""#]);
        let statement = |action: &str| json!({"Effect": "Allow", "Action": action});
        let (shown, _) = lines(json!([statement("a")]), json!([statement("a"), statement("b"), statement("c")]));
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown.iter().all(|s| s.contains(": _ -> {")), "{shown:?}");
    }

    #[test]
    fn reordered_named_items_are_shown_whole() {
        let (shown, _) = lines(json!([{"name": "a"}, {"name": "b"}]), json!([{"name": "b"}, {"name": "a"}]));
        assert_eq!(shown.len(), 1);
        assert!(shown[0].starts_with("f: "), "{shown:?}");
    }

    #[test]
    fn text_is_a_leaf() {
        let (shown, unchanged) = lines(json!("#!/bin/sh\necho a\n"), json!("#!/bin/sh\necho b\n"));
        assert_eq!(shown.len(), 1);
        assert!(shown[0].starts_with("f: "));
        assert_eq!(unchanged, 0);
    }
}
