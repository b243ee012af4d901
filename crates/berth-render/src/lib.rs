//! Renderers: turn berth's [`Plan`], engine [`Event`]s and [`ApplyReport`]s
//! into text for terminals, markdown for pull requests and JSON for machines,
//! and the resource graph into Mermaid or Graphviz DOT pictures.
//! The text and markdown views are rendered from the same [`Plan`] that is
//! serialized as JSON, so they cannot disagree with it.

use std::fmt::Write;
use std::time::Duration;

use berth_core::diag::Diagnostic;
use berth_core::engine::{ApplyReport, Event};
use berth_core::plan::{Action, FieldChange, Mode, Plan, ResourceChange};
use berth_core::rollout::{Outcome, Watch};

mod diff;
mod graph;
mod markdown;

use diff::Mark;
pub use graph::{dot, mermaid};
pub use markdown::{comment_marker, markdown, markdown_with_graph, GITHUB_COMMENT_LIMIT};

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to write ANSI colour codes.
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn action(&self, action: Action, text: &str) -> String {
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
            Action::NoOp => "2",
        };
        self.paint(code, text)
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// The symbol shown before a resource for its action.
pub fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

/// What happens to a resource, after its name.
pub(crate) fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be deleted",
        Action::NoOp => "is unchanged",
    }
}

/// The summary line: `Plan: 3 to create, 1 to update, 0 to replace, 0 to delete.`,
/// and for a plan with errors (which nothing applies) `Plan failed: 2 errors.`.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    let errors = plan.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return format!("Plan failed: {errors} error{}.", if errors == 1 { "" } else { "s" });
    }
    if !s.has_changes() {
        return match plan.mode {
            Mode::Apply => format!("No changes. AWS matches the stack ({} resources).", s.unchanged),
            Mode::Destroy => "No changes. Nothing of this stack exists.".to_owned(),
        };
    }
    format!("Plan: {} to create, {} to update, {} to replace, {} to delete.", s.create, s.update, s.replace, s.delete)
}

/// The field's change as text lines, each starting with `indent` and the
/// change's marker (`+`, `-`, `~`), coloured by it.
pub fn field_lines(field: &FieldChange, style: Style, indent: &str) -> Vec<String> {
    diff::field_diff(field)
        .into_iter()
        .map(|line| {
            let text = format!("{indent}{} {}", line.mark.symbol(), line.text);
            // Coloured like the resource actions the markers stand for.
            match line.mark {
                Mark::Same => text,
                Mark::Added => style.action(Action::Create, &text),
                Mark::Removed => style.action(Action::Delete, &text),
                Mark::Changed => style.action(Action::Update, &text),
            }
        })
        .collect()
}

fn resource_text(r: &ResourceChange, style: Style, out: &mut String) {
    let head = format!("{} {} ({}) {}", symbol(r.action), r.address, r.kind, verb(r.action));
    let _ = writeln!(out, "  {}", style.action(r.action, &head));
    // Comments sit in the marker column, as in the markdown diff.
    if !r.replace_reasons.is_empty() {
        let _ = writeln!(out, "      # because {}", r.replace_reasons.join("; "));
    }
    if let Some(note) = &r.note {
        let _ = writeln!(out, "      # {note}");
    }
    for field in &r.fields {
        for line in field_lines(field, style, "      ") {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Diagnostics, one per paragraph.
pub fn diagnostics_text(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

/// Where the plan was made and from what: `account 123456789012, region
/// eu-west-1, endpoint http://127.0.0.1:5000, stack file stack.yaml`, and the
/// variables (`name = "value"`, sensitive ones masked), or `None`.
pub fn origin_lines(plan: &Plan) -> Option<(String, Option<String>)> {
    let origin = plan.origin.as_ref()?;
    let mut place = format!("account {}, region {}", origin.account, origin.region);
    if let Some(endpoint) = &origin.endpoint {
        place += &format!(", endpoint {endpoint}");
    }
    place += &format!(", stack file {}", origin.stack_file);
    let vars = (!origin.vars.is_empty()).then(|| {
        let shown: Vec<String> = origin
            .vars
            .iter()
            .map(|(name, value)| match value.as_str() {
                berth_core::plan::MASK => format!("{name} = {value}"),
                _ => format!("{name} = {value:?}"),
            })
            .collect();
        shown.join(", ")
    });
    Some((place, vars))
}

/// The plan for a terminal.
pub fn plan_text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if let Some((place, vars)) = origin_lines(plan) {
        let _ = writeln!(out, "Planned against {place}.");
        if let Some(vars) = vars {
            let _ = writeln!(out, "Variables: {vars}.");
        }
        out.push('\n');
    }
    if plan.summary.has_changes() {
        let what = match plan.mode {
            Mode::Apply => "berth will make these changes to stack",
            Mode::Destroy => "berth will delete these resources of stack",
        };
        let _ = writeln!(out, "{} `{}`:\n", style.bold(what), plan.stack);
        for r in plan.changes() {
            resource_text(r, style, &mut out);
            out.push('\n');
        }
    }
    out.push_str(&diagnostics_text(&plan.diagnostics));
    let _ = writeln!(out, "{}", style.bold(&summary_line(plan)));
    out
}

/// The plan as versioned JSON (see `docs/plan-format.md`).
pub fn plan_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("a plan always serializes")
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn progressive(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::NoOp => "reading",
    }
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::NoOp => "read",
    }
}

/// One progress line for an engine event (`None` for events not shown as lines).
pub fn event_line(event: &Event, style: Style) -> Option<String> {
    Some(match event {
        Event::Read { .. } => return None,
        Event::Started { address, action } => {
            style.action(*action, &format!("{} {address}: {}...", symbol(*action), progressive(*action)))
        }
        Event::Finished { address, action, elapsed } => {
            style.action(*action, &format!("{} {address}: {} ({})", symbol(*action), past(*action), seconds(*elapsed)))
        }
        Event::Failed { address, action, error, elapsed } => style
            .paint("31", &format!("! {address}: {} failed after {}: {error}", progressive(*action), seconds(*elapsed))),
        Event::Skipped { address, action, blocked_by } if blocked_by == berth_core::engine::INTERRUPTED => {
            format!("  {address}: not {} because {blocked_by}", past(*action))
        }
        Event::Skipped { address, action, blocked_by } => {
            format!("  {address}: not {} because {blocked_by} failed", past(*action))
        }
        Event::Rollout { address, message } => format!("  {address}: {message}"),
        // Only a terminal shows it, as a line updated in place.
        Event::RolloutWaiting { .. } => return None,
        Event::RolloutEnded { address, outcome: Outcome::Done { running, desired } } => {
            style.paint("32", &format!("✓ {address}: rollout complete, {running} of {desired} tasks running"))
        }
        Event::RolloutEnded { address, outcome: Outcome::Failed(why) } => {
            style.paint("31", &format!("! {address}: rollout failed: {why}"))
        }
    })
}

/// How the followed rollouts ended: each failure with its explanation.
pub fn rollout_text(outcomes: &[(Watch, Outcome)], style: Style) -> String {
    let mut out = String::new();
    let failed: Vec<(&Watch, &String)> = outcomes
        .iter()
        .filter_map(|(w, o)| match o {
            Outcome::Failed(why) => Some((w, why)),
            Outcome::Done { .. } => None,
        })
        .collect();
    if failed.is_empty() {
        let running: Vec<String> = outcomes
            .iter()
            .filter_map(|(w, o)| match o {
                Outcome::Done { running, desired } => Some(format!("{} {running}/{desired}", w.name)),
                Outcome::Failed(_) => None,
            })
            .collect();
        let _ = writeln!(out, "{} {} (running/desired).", style.paint("32;1", "Rollout complete:"), running.join(", "));
        return out;
    }
    let _ =
        writeln!(out, "{} {} of {} service(s).", style.paint("31;1", "Rollout failed:"), failed.len(), outcomes.len());
    for (watch, why) in failed {
        let _ = writeln!(
            out,
            "
  {} ({}, {}):",
            watch.address,
            watch.name,
            berth_core::rollout::revision(&watch.task_definition)
        );
        for line in why.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// The waiting line a terminal updates in place while rollouts are followed.
pub fn waiting_line(waiting: &[String], elapsed: Duration) -> String {
    format!("  waiting for {} ({})", waiting.join(", "), seconds(elapsed))
}

/// The stack's outputs after an apply: where its listeners answer, and how
/// many tasks each followed service runs.
pub fn outputs_text(endpoints: &[berth_core::outputs::Endpoint], services: &[(String, i64, i64)]) -> String {
    let mut out = String::new();
    if endpoints.is_empty() && services.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nOutputs:");
    for endpoint in endpoints {
        let _ = writeln!(out, "  {}: {}", endpoint.address, endpoint.url);
    }
    for (address, running, desired) in services {
        let _ = writeln!(out, "  {address}: {running}/{desired} tasks running");
    }
    out
}

/// What an apply or destroy did, failed and left undone; a destroy's
/// headline counts only deletes.
pub fn report_text(report: &ApplyReport, mode: Mode, style: Style) -> String {
    let mut out = String::new();
    let count = |a: Action| report.done.iter().filter(|(_, action, _)| *action == a).count();
    let (name, done) = match mode {
        Mode::Apply => (
            "Apply",
            format!(
                "{} created, {} updated, {} replaced, {} deleted.",
                count(Action::Create),
                count(Action::Update),
                count(Action::Replace),
                count(Action::Delete)
            ),
        ),
        Mode::Destroy => ("Destroy", format!("{} deleted.", count(Action::Delete))),
    };
    if report.succeeded() {
        let _ = writeln!(out, "{} {done}", style.paint("32;1", &format!("{name} complete:")));
        return out;
    }
    let _ = writeln!(out, "{} {done}", style.paint("31;1", &format!("{name} failed:")));
    let _ = writeln!(out, "\nApplied:");
    if report.done.is_empty() {
        let _ = writeln!(out, "  (nothing)");
    }
    for (address, action, _) in &report.done {
        let _ = writeln!(out, "  {} {address} ({})", symbol(*action), past(*action));
    }
    let _ = writeln!(out, "\nFailed:");
    for (address, action, error) in &report.failed {
        let _ = writeln!(out, "  {} {address}: {error}", symbol(*action));
    }
    if !report.not_attempted.is_empty() {
        let _ = writeln!(out, "\nNot attempted (they need a resource that failed):");
        for (address, action, by) in &report.not_attempted {
            let _ = writeln!(out, "  {} {address} (needs {by})", symbol(*action));
        }
    }
    let _ = writeln!(out, "\nRun `berth apply` again once the cause is fixed: it continues from what exists.");
    out
}
