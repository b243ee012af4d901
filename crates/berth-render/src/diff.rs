//! A field's change as marked lines. The terminal and markdown views both
//! render these, so they show the same diff and differ only in where the
//! marker goes.

use berth_core::plan::{FieldChange, MASK, MASK_CHANGED};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// Values whose one-line form is longer than this are shown as a block.
const INLINE_WIDTH: usize = 70;

/// Unchanged lines kept around each changed part of a long value.
const CONTEXT_LINES: usize = 3;

/// How a line relates the old value to the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Same,
    Added,
    Removed,
    Changed,
}

impl Mark {
    /// The terminal marker, as Terraform writes it.
    pub(crate) fn symbol(self) -> char {
        match self {
            Mark::Same => ' ',
            Mark::Added => '+',
            Mark::Removed => '-',
            Mark::Changed => '~',
        }
    }

    /// The marker in a markdown ```diff block: GitHub colours lines starting
    /// with `!` but not `~` (Atlantis rewrites `~` the same way).
    pub(crate) fn diff_symbol(self) -> char {
        match self {
            Mark::Changed => '!',
            other => other.symbol(),
        }
    }
}

/// One line of a field's change. `text` carries the indentation of nested
/// lines but not the marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiffLine {
    pub mark: Mark,
    pub text: String,
}

fn line(mark: Mark, text: impl Into<String>) -> DiffLine {
    DiffLine { mark, text: text.into() }
}

/// Nested lines (a long value, a sensitive field's keys) sit under the field name.
const NESTED: &str = "    ";

/// A value on one line, quoted like JSON.
fn inline(value: &Value) -> String {
    value.to_string()
}

/// The value as lines, each ending in `\n`: text with newlines (user data) as
/// it is, documents (objects, arrays, and strings holding JSON such as a
/// policy AWS returned as text) as pretty JSON, other scalars inline.
fn as_lines(value: &Value) -> String {
    let text = match value {
        Value::String(s) if s.contains('\n') => s.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(doc @ (Value::Object(_) | Value::Array(_))) => pretty(&doc),
            _ => inline(value),
        },
        Value::Object(_) | Value::Array(_) => pretty(value),
        _ => inline(value),
    };
    // Without a final newline the last line would differ from an otherwise equal one.
    if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always serialize")
}

/// Whether the value reads better as a block of lines than inline.
fn is_long(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.contains('\n'))
        || (inline(value).len() > INLINE_WIDTH && as_lines(value).lines().nth(1).is_some())
}

/// Every line of `value`, nested under a header, all with `mark`.
fn block(mark: Mark, header: String, value: &Value) -> Vec<DiffLine> {
    let mut out = vec![line(mark, header)];
    out.extend(as_lines(value).lines().map(|l| line(mark, format!("{NESTED}{l}"))));
    out
}

/// A line diff of two long values, changed parts with a little context and
/// `...` where unchanged lines were left out.
fn line_diff(header: String, before: &Value, after: &Value) -> Vec<DiffLine> {
    let (old, new) = (as_lines(before), as_lines(after));
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = vec![line(Mark::Changed, header)];
    for (i, group) in diff.grouped_ops(CONTEXT_LINES).iter().enumerate() {
        if i > 0 {
            out.push(line(Mark::Same, format!("{NESTED}...")));
        }
        for change in group.iter().flat_map(|op| diff.iter_changes(op)) {
            let mark = match change.tag() {
                ChangeTag::Delete => Mark::Removed,
                ChangeTag::Insert => Mark::Added,
                ChangeTag::Equal => Mark::Same,
            };
            out.push(line(mark, format!("{NESTED}{}", change.value().trim_end_matches('\n'))));
        }
    }
    out
}

/// The change of one field as marked lines: the paths that differ inside
/// it when the plan traced them, else the values.
pub(crate) fn field_diff(field: &FieldChange) -> Vec<DiffLine> {
    let name = &field.field;
    let replace = if field.forces_replace { " # forces replacement" } else { "" };
    if field.sensitive {
        // The values are masks; the detail names what changed (env keys) without values.
        let shown = match field.before.as_ref().and_then(Value::as_str) {
            Some(MASK_CHANGED) => MASK_CHANGED,
            _ => MASK,
        };
        let mut out = vec![line(mark(&field.before, &field.after), format!("{name}: {shown}{replace}"))];
        out.extend(field.detail.iter().map(|d| line(Mark::Same, format!("{NESTED}{d}"))));
        return out;
    }
    if field.changes.is_empty() {
        return value_diff(name, &field.before, &field.after, replace);
    }
    let mut out: Vec<DiffLine> = field
        .changes
        .iter()
        .enumerate()
        .flat_map(|(i, c)| value_diff(&c.path, &c.before, &c.after, if i == 0 { replace } else { "" }))
        .collect();
    if field.unchanged > 0 {
        let plural = if field.unchanged == 1 { "" } else { "s" };
        out.push(line(Mark::Same, format!("{NESTED}# ({} unchanged attribute{plural} hidden)", field.unchanged)));
    }
    out
}

fn mark(before: &Option<Value>, after: &Option<Value>) -> Mark {
    match (before, after) {
        (None, _) => Mark::Added,
        (_, None) => Mark::Removed,
        _ => Mark::Changed,
    }
}

/// The change of one value, named `name`, as marked lines.
fn value_diff(name: &str, before: &Option<Value>, after: &Option<Value>, replace: &str) -> Vec<DiffLine> {
    let mark = mark(before, after);
    match (before, after) {
        (Some(before), Some(after)) if is_long(before) || is_long(after) => {
            line_diff(format!("{name}:{replace}"), before, after)
        }
        (Some(before), Some(after)) => {
            vec![line(mark, format!("{name}: {} -> {}{replace}", inline(before), inline(after)))]
        }
        (None, Some(value)) | (Some(value), None) if is_long(value) => block(mark, format!("{name}:{replace}"), value),
        (None, Some(value)) | (Some(value), None) => {
            vec![line(mark, format!("{name}: {}{replace}", inline(value)))]
        }
        (None, None) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(before: Option<Value>, after: Option<Value>) -> FieldChange {
        FieldChange::new("f", before, after)
    }

    fn rendered(field: &FieldChange) -> Vec<String> {
        field_diff(field).into_iter().map(|l| format!("{}{}", l.mark.symbol(), l.text)).collect()
    }

    #[test]
    fn traced_paths_are_shown_instead_of_the_values() {
        let mut field = change(Some(json!({"a": 1, "b": 2})), Some(json!({"a": 1, "b": 3})));
        field.changes = vec![serde_json::from_value(json!({"path": "f.b", "before": 2, "after": 3})).unwrap()];
        field.unchanged = 1;
        assert_eq!(rendered(&field), ["~f.b: 2 -> 3", "     # (1 unchanged attribute hidden)"]);
    }

    #[test]
    fn short_values_stay_on_one_line() {
        assert_eq!(rendered(&change(Some(json!(1)), Some(json!(2)))), ["~f: 1 -> 2"]);
        let arn = json!("arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role-long-name");
        assert_eq!(rendered(&change(None, Some(arn.clone()))), [format!("+f: {arn}")]);
    }

    #[test]
    fn a_policy_held_as_text_is_diffed_as_a_document() {
        let policy = |action: &str| {
            json!(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
                    .to_string()
            )
        };
        let lines = rendered(&change(Some(policy("s3:GetObject")), Some(policy("s3:PutObject"))));
        let changed: Vec<&str> = lines.iter().filter(|l| !l.starts_with(' ')).map(|l| l.trim_end()).collect();
        assert_eq!(
            changed,
            ["~f:", "-          \"Action\": \"s3:GetObject\",", "+          \"Action\": \"s3:PutObject\","]
        );
    }

    #[test]
    fn far_apart_changes_are_separate_hunks() {
        let text = |x: &str, y: &str| json!(format!("{x}\n{}{y}\n", "same\n".repeat(10)));
        let lines = rendered(&change(Some(text("a", "b")), Some(text("A", "B"))));
        assert_eq!(lines.iter().filter(|l| l.trim() == "...").count(), 1, "{lines:#?}");
        assert_eq!(lines.iter().filter(|l| l.starts_with('-')).count(), 2);
    }

    #[test]
    fn text_without_final_newline_equals_text_with_one() {
        let lines = rendered(&change(Some(json!("a\nb")), Some(json!("a\nb\nc\n"))));
        assert_eq!(lines.iter().filter(|l| l.starts_with('-')).count(), 0, "{lines:#?}");
    }
}
