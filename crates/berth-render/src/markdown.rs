//! The plan as a pull-request comment. Forges cap a comment's size (GitHub
//! at 65,535 characters), so the parts are given room in order of importance:
//! the summary, warnings and table first, then the dependency graph, then the
//! per-resource diffs. Whatever is cut is counted in a note.

use std::fmt::Write;

use berth_core::diag::{Diagnostic, Severity};
use berth_core::graph::Graph;
use berth_core::plan::{Action, Mode, Plan, ResourceChange};

use crate::diff::field_diff;
use crate::{mermaid, summary_line, symbol, verb};

/// GitHub's limit on the size of a comment.
pub const GITHUB_COMMENT_LIMIT: usize = 65_535;

/// The hidden first line of the comment for `stack`. CI looks for it to
/// update its previous comment instead of adding one per push.
pub fn comment_marker(stack: &str) -> String {
    format!("<!-- berth-plan: {stack} -->")
}

/// Markdown for a pull-request comment, at most `limit` bytes (so at most
/// `limit` characters). Per-resource diffs are left out first, saying how
/// many; the summary, warnings and table are kept, and are cut (saying so)
/// only when they alone exceed `limit`.
pub fn markdown(plan: &Plan, limit: usize) -> String {
    render(plan, None, limit)
}

/// [`markdown`] with the dependency graph as a Mermaid picture, coloured by
/// action. The picture is the first thing dropped when space is short.
pub fn markdown_with_graph(plan: &Plan, graph: &Graph, limit: usize) -> String {
    render(plan, Some(graph), limit)
}

fn render(plan: &Plan, graph: Option<&Graph>, limit: usize) -> String {
    let mut budget = Budget(limit);

    // Never cut: what the plan is, what it does, and the frames of the warning and table.
    let head = head(plan);
    budget.spend(&head);
    let warning = warning(plan);
    if let Some(w) = &warning {
        budget.spend(&w.intro);
        budget.spend("\n");
    }
    let has_table = plan.summary.has_changes();
    if has_table {
        budget.spend(TABLE_HEAD);
        budget.spend("\n");
    }

    // Lists that may be cut, most important first. Each keeps back room for
    // the notes of the parts after it, so a part that fills the comment
    // cannot hide that later parts were cut.
    let diagnostics: Vec<String> = plan.diagnostics.iter().map(diagnostic).collect();
    let rows: Vec<String> = plan.changes().map(row).collect();
    let details: Vec<String> = plan.changes().filter(|r| !r.fields.is_empty()).map(resource_details).collect();
    let details_room = details_note(details.len()).len();
    let graph_room = if graph.is_some() { GRAPH_NOTE.len() } else { 0 };
    let rows_room = rows_note(rows.len()).len() + graph_room + details_room;
    let diagnostics_room = diagnostics_note(diagnostics.len()).len() + rows_room;
    let warning_items = warning
        .as_ref()
        .map_or_else(String::new, |w| budget.fit(&w.items, Keep::Prefix, warning_note, diagnostics_room));
    let diagnostics = budget.fit(&diagnostics, Keep::Prefix, diagnostics_note, rows_room);
    let rows = budget.fit(&rows, Keep::Prefix, rows_note, graph_room + details_room);

    // The picture only if every diff fits too: reviewers need the diffs more.
    let details_len: usize = details.iter().map(String::len).sum();
    let picture = graph.map_or_else(String::new, |graph| match graph_block(graph, plan) {
        Some(picture) if budget.0 >= picture.len() + details_len => {
            budget.spend(&picture);
            picture
        }
        _ if budget.0 >= GRAPH_NOTE.len() + details_room => {
            budget.spend(GRAPH_NOTE);
            GRAPH_NOTE.to_owned()
        }
        _ => String::new(),
    });
    let details = budget.fit(&details, Keep::AnyThatFit, details_note, 0);

    let mut out = head;
    if let Some(w) = &warning {
        out.push_str(&w.intro);
        out.push_str(&warning_items);
        out.push('\n');
    }
    out.push_str(&diagnostics);
    if has_table {
        out.push_str(TABLE_HEAD);
        out.push_str(&rows);
        out.push('\n');
    }
    out.push_str(&picture);
    out.push_str(&details);
    cut_to(out, limit)
}

/// Room left under the limit, handed out in order of importance.
struct Budget(usize);

/// How a list is cut when it does not fit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The first items, so "n more" means the last n (ordered lists, table rows).
    Prefix,
    /// Every item that fits (independent blocks: a huge diff does not hide the small ones after it).
    AnyThatFit,
}

impl Budget {
    /// Spends on text that is always shown; [`cut_to`] enforces the limit
    /// if even that text exceeds it.
    fn spend(&mut self, text: &str) {
        self.0 = self.0.saturating_sub(text.len());
    }

    /// Spends `len` if it fits.
    fn try_spend(&mut self, len: usize) -> bool {
        let fits = len <= self.0;
        if fits {
            self.0 -= len;
        }
        fits
    }

    /// The items that fit, followed by `note(n)` when `n` were left out,
    /// keeping `hold` bytes back for what comes later.
    fn fit(&mut self, items: &[String], keep: Keep, note: fn(usize) -> String, hold: usize) -> String {
        let mut room = Budget(self.0.saturating_sub(hold));
        let out = room.fit_all(items, keep, note);
        self.spend(&out);
        out
    }

    fn fit_all(&mut self, items: &[String], keep: Keep, note: fn(usize) -> String) -> String {
        if self.try_spend(items.iter().map(String::len).sum()) {
            return items.concat();
        }
        // Room for the note is kept first: a note for fewer items is never longer.
        let mut room = Budget(self.0.saturating_sub(note(items.len()).len()));
        let mut out = String::new();
        let mut left_out = 0;
        for item in items {
            let may_take = keep == Keep::AnyThatFit || left_out == 0;
            if may_take && room.try_spend(item.len()) {
                out.push_str(item);
            } else {
                left_out += 1;
            }
        }
        self.spend(&out);
        let note = note(left_out);
        if self.try_spend(note.len()) {
            out.push_str(&note);
        }
        out
    }
}

fn warning_note(n: usize) -> String {
    format!("> - ... and {n} more (see the table)\n")
}

fn diagnostics_note(n: usize) -> String {
    format!("_{n} more diagnostic(s) left out to stay under the size limit; run `berth plan` to see them._\n\n")
}

/// Starts with a blank line: a line right after a table would be read as a row.
fn rows_note(n: usize) -> String {
    format!("\n_{n} more changed resource(s) left out of the table to stay under the size limit; run `berth plan` to see them._\n")
}

const GRAPH_NOTE: &str = "_The dependency graph was left out: too big for this comment; `berth graph` draws it._\n\n";

fn details_note(n: usize) -> String {
    format!("_{n} resource diff(s) left out to stay under the size limit; run `berth plan` to see them._\n")
}

/// `text` cut to at most `limit` bytes, on a character boundary. A last
/// resort for limits smaller than the parts that are never left out.
fn cut_to(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn head(plan: &Plan) -> String {
    let title = match plan.mode {
        Mode::Apply => "berth plan",
        Mode::Destroy => "berth destroy plan",
    };
    let mut head = format!(
        "{}\n## {title} for {}\n\n**{}**\n\n",
        comment_marker(&plan.stack),
        code(&plan.stack),
        summary_line(plan)
    );
    if let Some((place, vars)) = crate::origin_lines(plan) {
        head.push_str(&format!("Planned against {}.\n", code(&place)));
        if let Some(vars) = vars {
            head.push_str(&format!("Variables: {}.\n", code(&vars)));
        }
        head.push('\n');
    }
    if !plan.endpoints.is_empty() {
        let urls: Vec<String> = plan.endpoints.iter().map(|e| format!("<{}>", e.url)).collect();
        head.push_str(&format!("Endpoints: {}\n\n", urls.join(", ")));
    }
    head
}

/// The alert shown first when the plan deletes or replaces anything.
struct Warning {
    intro: String,
    /// One line per deleted or replaced resource, with the reason.
    items: Vec<String>,
}

fn warning(plan: &Plan) -> Option<Warning> {
    let s = &plan.summary;
    if s.delete + s.replace == 0 {
        return None;
    }
    let intro = "> [!WARNING]\n".to_owned();
    if plan.mode == Mode::Destroy {
        // Every resource goes: the table lists them, a second list adds nothing.
        let intro = intro
            + &format!("> This plan destroys stack {}: {} resource(s) will be deleted.\n", code(&plan.stack), s.delete);
        return Some(Warning { intro, items: vec![] });
    }
    let what = match (s.delete, s.replace) {
        (d, 0) => format!("deletes {d} resource(s)"),
        (0, r) => format!("replaces {r} resource(s)"),
        (d, r) => format!("deletes {d} and replaces {r} resource(s)"),
    };
    let mut intro = intro + &format!("> This plan {what}");
    if s.replace > 0 {
        intro.push_str(" (replacing deletes the resource, then creates it again)");
    }
    intro.push_str(":\n");
    let items = plan
        .changes()
        .filter(|r| matches!(r.action, Action::Delete | Action::Replace))
        .map(|r| {
            let why = match r.action {
                Action::Replace => r.replace_reasons.join("; "),
                _ => r.note.clone().unwrap_or_default(),
            };
            let why = if why.is_empty() { String::new() } else { format!(": {why}") };
            format!("> - {} {}{why}\n", code(&r.address), verb(r.action))
        })
        .collect();
    Some(Warning { intro, items })
}

fn diagnostic(d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "CAUTION",
        Severity::Warning => "WARNING",
    };
    format!("> [!{kind}]\n> {}\n\n", d.to_string().replace('\n', "\n> "))
}

const TABLE_HEAD: &str = "| | resource | kind | action | changes |\n|---|---|---|---|---|\n";

fn row(r: &ResourceChange) -> String {
    let changes = match r.action {
        Action::Update | Action::Replace => r
            .fields
            .iter()
            .map(|f| {
                let forces = if f.forces_replace { " (forces replacement)" } else { "" };
                format!("{}{forces}", code(&f.field))
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => r.note.as_deref().map(cell).unwrap_or_default(),
    };
    format!("| {} | {} | {} | {} | {changes} |\n", code(symbol(r.action)), code(&r.address), r.kind, r.action.as_str())
}

/// Mermaid's defaults (GitHub keeps them): past either, it shows an error instead of the picture.
const MERMAID_MAX_TEXT: usize = 50_000;
const MERMAID_MAX_EDGES: usize = 500;

/// The collapsed Mermaid picture, or `None` when Mermaid would refuse to draw it.
fn graph_block(graph: &Graph, plan: &Plan) -> Option<String> {
    let edges: usize = (0..graph.nodes().len()).map(|i| graph.dependents_of(i).count()).sum();
    let picture = mermaid(graph, Some(plan));
    (picture.len() <= MERMAID_MAX_TEXT && edges <= MERMAID_MAX_EDGES).then(|| {
        format!("<details><summary>Dependency graph</summary>\n\n{}\n</details>\n\n", fenced("mermaid", &picture))
    })
}

/// One resource's field diff, collapsed.
fn resource_details(r: &ResourceChange) -> String {
    let mut body = String::new();
    if !r.replace_reasons.is_empty() {
        let _ = writeln!(body, "# because {}", r.replace_reasons.join("; "));
    }
    if let Some(note) = &r.note {
        let _ = writeln!(body, "# {note}");
    }
    // The marker goes in the first column, where GitHub's diff highlighting looks for it.
    for line in r.fields.iter().flat_map(field_diff) {
        let _ = writeln!(body, "{} {}", line.mark.diff_symbol(), line.text);
    }
    format!(
        "<details><summary><code>{}</code> ({}) {}</summary>\n\n{}\n</details>\n\n",
        html(&r.address),
        r.kind,
        verb(r.action),
        fenced("diff", &body)
    )
}

/// A fenced code block whose fence is longer than any run of backticks in `body`.
fn fenced(lang: &str, body: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(body).max(2) + 1);
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{body}{newline}{fence}\n")
}

/// `text` as inline code, safe inside a table cell.
fn code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    cell(&format!("{ticks}{pad}{text}{pad}{ticks}"))
}

/// `text` safe inside a table cell: a `|` would end the cell, a newline the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_code_spans_outlast_backticks_inside() {
        assert_eq!(fenced("diff", "a ``` b\n"), "````diff\na ``` b\n````\n");
        assert_eq!(fenced("diff", "plain"), "```diff\nplain\n```\n");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
    }

    #[test]
    fn a_list_keeps_its_prefix_and_counts_the_rest() {
        let items: Vec<String> = (0..10).map(|i| format!("item {i}\n")).collect();
        let mut budget = Budget(40);
        let out = budget.fit(&items, Keep::Prefix, |n| format!("{n} more\n"), 0);
        assert_eq!(out, "item 0\nitem 1\nitem 2\nitem 3\n6 more\n");
        assert!(out.len() <= 40);
    }

    #[test]
    fn independent_blocks_skip_only_what_does_not_fit() {
        let items = vec!["a".repeat(30), "b".repeat(5), "c".repeat(5)];
        let out = Budget(20).fit(&items, Keep::AnyThatFit, |n| format!("-{n}"), 0);
        assert_eq!(out, "bbbbbccccc-1");
    }

    #[test]
    fn cutting_respects_character_boundaries() {
        assert_eq!(cut_to("ééé".into(), 3), "é");
    }
}
