//! The plan as a pull-request comment.

use std::fmt::Write;

use berth_core::plan::{Action, Plan};

use crate::{field_lines, summary_line, symbol, Style};

/// GitHub's limit on the size of a comment.
pub const GITHUB_COMMENT_LIMIT: usize = 65_535;

/// Markdown for a pull-request comment, at most `limit` characters: details are
/// cut first (saying how many), never the summary, warnings or table.
pub fn markdown(plan: &Plan, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "## berth plan for `{}`\n", plan.stack);
    let _ = writeln!(head, "**{}**\n", summary_line(plan));
    let destructive: Vec<&str> = plan
        .changes()
        .filter(|r| matches!(r.action, Action::Delete | Action::Replace))
        .map(|r| r.address.as_str())
        .collect();
    if !destructive.is_empty() {
        let _ = writeln!(head, "> [!WARNING]\n> This plan deletes or replaces {} resource(s):", destructive.len());
        for address in &destructive {
            let _ = writeln!(head, "> - `{address}`");
        }
        head.push('\n');
    }
    for d in &plan.diagnostics {
        let _ = writeln!(head, "> [!CAUTION]\n> {}\n", d.to_string().replace('\n', "\n> "));
    }
    if plan.summary.has_changes() {
        let _ = writeln!(head, "| | resource | kind | action |\n|---|---|---|---|");
        for r in plan.changes() {
            let _ = writeln!(head, "| `{}` | `{}` | {} | {} |", symbol(r.action), r.address, r.kind, r.action.as_str());
        }
        head.push('\n');
    }
    let mut details = Vec::new();
    for r in plan.changes().filter(|r| !r.fields.is_empty()) {
        let mut block = format!("<details><summary><code>{}</code> {}</summary>\n\n```diff\n", r.address, r.action.as_str());
        if let Some(note) = &r.note {
            let _ = writeln!(block, "# {note}");
        }
        for field in &r.fields {
            for line in field_lines(field, Style { color: false }, "") {
                let _ = writeln!(block, "{line}");
            }
        }
        block.push_str("```\n</details>\n\n");
        details.push(block);
    }
    let mut out = head;
    let mut left_out = 0;
    for (i, block) in details.iter().enumerate() {
        let note_room = 100;
        if out.len() + block.len() + note_room > limit {
            left_out = details.len() - i;
            break;
        }
        out.push_str(block);
    }
    if left_out > 0 {
        let _ = writeln!(out, "_{left_out} resource diff(s) left out to stay under the comment size limit; run `berth plan` for all of them._");
    }
    out
}
