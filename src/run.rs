//! What each command does: load, expand, plan, render, confirm, apply; and
//! how an apply or destroy ends (Ctrl-C, SIGTERM) without leaving its lock.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use berth_aws::{AwsOptions, AwsProvider, HeldLock, LockLocation};
use berth_core::diag::Diagnostic;
use berth_core::engine::{Engine, Event, EventSink, Planned};
use berth_core::expand::{expand, sensitive_values, ExpandOptions, Expanded};
use berth_core::graph::Graph;
use berth_core::load::{load_file, LoadedStack};
use berth_core::plan::{Mode, Origin, Plan};
use berth_core::provider::Provider;
use berth_core::rollout::{FollowOptions, Outcome, Rollouts, Watch};
use berth_core::saved::{SavedPlan, SAVED_PLAN_KIND};
use berth_render::Style;

use crate::cli::{AwsArgs, Cli, Command, Format, GraphFormat, InputArgs, OutputFormat};
use crate::redact;

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Error = 1,
    /// `plan --detailed-exitcode` found changes.
    Changes = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

pub async fn run(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Completions { shell } => {
            let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "berth", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
        Command::Man => {
            let command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout()).context("cannot write the man page")?;
            Ok(Exit::Ok)
        }
        Command::Schema => {
            print!("{}", berth_core::model::json_schema());
            Ok(Exit::Ok)
        }
        Command::Validate { stack, vars, region } => validate(&stack, &vars, region),
        Command::Check { stack, vars, offline: true, aws } => validate(&stack, &vars, aws.region),
        Command::Check { stack, vars, offline: false, aws } => check_live(&stack, &vars, &aws).await,
        Command::Plan { stack, vars, aws, format, detailed_exitcode, destroy, graph, out } => {
            let mode = if destroy { Mode::Destroy } else { Mode::Apply };
            let input = Input::parse(&vars)?;
            let Some(Prepared { planned, .. }) = make_plan(&stack, &input, &aws, mode, None).await? else {
                return Ok(Exit::Error);
            };
            let plan = &planned.plan;
            if let Some(out) = &out {
                if mode == Mode::Destroy {
                    bail!("--out saves apply plans; run `berth destroy` to destroy");
                }
                // Absolute, so that `berth apply FILE` works from any directory.
                let stack_path = std::path::absolute(&stack).unwrap_or_else(|_| stack.clone());
                let saved = SavedPlan::new(&planned, stack_path, input.vars);
                write_private(out, serde_json::to_string_pretty(&saved)?.as_bytes())
                    .with_context(|| format!("cannot write {}", out.display()))?;
                eprintln!(
                    "Saved the plan to {}; apply exactly it with `berth apply {}`.",
                    out.display(),
                    out.display()
                );
            }
            let graph = graph.then(|| &planned.expanded().graph);
            print!("{}", redact::scrub(&render_plan(plan, format, graph)));
            if plan.diagnostics.iter().any(Diagnostic::is_error) {
                return Ok(Exit::Error);
            }
            Ok(if detailed_exitcode && plan.summary.has_changes() { Exit::Changes } else { Exit::Ok })
        }
        Command::Show { plan, format } => {
            let Some(saved) = read_saved_plan(&plan)? else {
                bail!("{} is not a saved plan (make one with `berth plan STACK --out FILE`)", plan.display());
            };
            print!("{}", render_plan(&saved.plan, format, None));
            Ok(Exit::Ok)
        }
        Command::Apply { stack, vars, aws, auto_approve, wait } => {
            let follow = (!wait.no_wait).then_some(wait.timeout.wait_timeout);
            match read_saved_plan(&stack)? {
                Some(saved) => {
                    let mut input = Input::parse(&vars)?;
                    let given = std::mem::replace(&mut input.vars, saved.vars.clone());
                    input.vars.extend(given);
                    let stack = saved.stack_path.clone();
                    let request = Converge {
                        mode: Mode::Apply,
                        auto_approve,
                        saved: Some(saved),
                        force_delete_buckets: false,
                        follow,
                    };
                    converge(&stack, &input, &aws, request).await
                }
                None => {
                    let request =
                        Converge { mode: Mode::Apply, auto_approve, saved: None, force_delete_buckets: false, follow };
                    converge(&stack, &Input::parse(&vars)?, &aws, request).await
                }
            }
        }
        Command::Wait { stack, vars, aws, timeout } => wait(&stack, &vars, &aws, timeout.wait_timeout).await,
        Command::Output { stack, vars, aws, format } => output(&stack, &vars, &aws, format).await,
        Command::Rollback { stack, service, vars, aws, timeout } => {
            rollback(&stack, &service, &vars, &aws, timeout.wait_timeout).await
        }
        Command::Unlock { stack, id, aws } => unlock(&stack, &id, &aws).await,
        Command::Graph { stack, vars, format, plan, aws } => draw_graph(&stack, &vars, format, plan, &aws).await,
        Command::Destroy { stack, vars, aws, auto_approve, force_delete_buckets } => {
            let request =
                Converge { mode: Mode::Destroy, auto_approve, saved: None, force_delete_buckets, follow: None };
            converge(&stack, &Input::parse(&vars)?, &aws, request).await
        }
    }
}

fn stdout_style() -> Style {
    Style { color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
}

fn stderr_style() -> Style {
    Style { color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
}

/// What a command reads the stack with, from its arguments.
#[derive(Default)]
struct Input {
    /// `--var` overrides.
    vars: BTreeMap<String, String>,
    /// `BERTH_VAR_<NAME>` variables of the environment, by name.
    env_vars: BTreeMap<String, String>,
    /// `--allow-path` folders.
    allowed_dirs: Vec<PathBuf>,
}

impl Input {
    fn parse(args: &InputArgs) -> Result<Input> {
        let vars = args
            .vars
            .iter()
            .map(|v| match v.split_once('=') {
                Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
                _ => bail!("--var `{v}` is not NAME=VALUE"),
            })
            .collect::<Result<_>>()?;
        let env_vars = std::env::vars()
            .filter_map(|(key, value)| Some((key.strip_prefix("BERTH_VAR_")?.to_owned(), value)))
            .collect();
        Ok(Input { vars, env_vars, allowed_dirs: args.allow_paths.clone() })
    }

    fn options(&self, account_id: String, region: String) -> ExpandOptions {
        ExpandOptions {
            account_id,
            region,
            var_overrides: self.vars.clone(),
            env_vars: self.env_vars.clone(),
            allowed_dirs: self.allowed_dirs.clone(),
            ..ExpandOptions::default()
        }
    }
}

/// Prints findings made before anything was sent to AWS.
fn report_diagnostics(diagnostics: &[Diagnostic]) {
    report_with(diagnostics, "nothing was sent to AWS");
}

/// Prints findings made after reading AWS (the live checks).
fn report_after_reads(diagnostics: &[Diagnostic]) {
    report_with(diagnostics, "nothing was changed in AWS (berth only read from it)");
}

fn report_with(diagnostics: &[Diagnostic], outcome: &str) {
    eprint!("{}", redact::scrub(&berth_render::diagnostics_text(diagnostics)));
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!("{errors} error(s); {outcome}.");
    }
}

/// Loads the stack and runs the offline checks; `None` (after reporting) when
/// either finds an error, so nothing reaches AWS. The stack's secrets are
/// registered first: a finding may quote a value built from a sensitive var.
fn load(path: &Path, region: Option<String>, input: &Input) -> Option<(LoadedStack, Vec<Diagnostic>)> {
    let loaded = match load_file(path) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            report_diagnostics(&diagnostics);
            return None;
        }
    };
    let options = offline_options(&loaded, region, input);
    redact::register(&sensitive_values(&loaded, &options));
    let findings = berth_core::check::offline_checks(&loaded, &options);
    if findings.iter().any(Diagnostic::is_error) {
        report_diagnostics(&findings);
        return None;
    }
    Some((loaded, findings))
}

/// Expands the stack, registering its secrets so nothing printed from now on shows them.
fn expand_reported(loaded: &LoadedStack, options: &ExpandOptions) -> Option<Expanded> {
    match expand(loaded, options) {
        Ok(expanded) => {
            redact::register(&expanded.secrets);
            Some(expanded)
        }
        Err(diagnostics) => {
            report_diagnostics(&diagnostics);
            None
        }
    }
}

/// Expansion options without AWS: the account id is not known, so a
/// stand-in keeps names well-formed.
/// Refuses a `--region` AWS does not have, before anything is sent (the
/// stack's `region:` is checked, located, with the stack).
fn check_region_flag(region: Option<&str>) -> Result<()> {
    match region.map(berth_core::limits::check_region) {
        Some(Err((message, help))) => bail!("--region: {message}; {help}"),
        _ => Ok(()),
    }
}

fn offline_options(loaded: &LoadedStack, region: Option<String>, input: &Input) -> ExpandOptions {
    let region = region.or(loaded.stack.region.clone()).unwrap_or_else(|| "us-east-1".into());
    input.options("000000000000".into(), region)
}

fn validate(path: &Path, vars: &InputArgs, region: Option<String>) -> Result<Exit> {
    check_region_flag(region.as_deref())?;
    let input = Input::parse(vars)?;
    let Some((loaded, mut warnings)) = load(path, region.clone(), &input) else { return Ok(Exit::Error) };
    let options = offline_options(&loaded, region, &input);
    let Some(expanded) = expand_reported(&loaded, &options) else {
        report_diagnostics(&warnings);
        return Ok(Exit::Error);
    };
    warnings.extend(expanded.warnings.iter().cloned());
    report_diagnostics(&warnings);
    println!(
        "{} is valid: {} resources in stack `{}`, {} warning(s).",
        path.display(),
        expanded.managed_count(),
        expanded.stack,
        warnings.len()
    );
    Ok(Exit::Ok)
}

/// A valid stack expanded for the account the provider reaches.
struct Connected {
    loaded: LoadedStack,
    /// What the plan is made against and from.
    origin: Origin,
    /// Warnings of the offline checks.
    warnings: Vec<Diagnostic>,
    provider: AwsProvider,
    expanded: Expanded,
}

/// Loads, checks and expands the stack; `None` (after reporting) when it is
/// invalid. It is expanded offline first so that a broken stack sends nothing
/// to AWS, not even STS.
async fn connect_and_expand(path: &Path, input: &Input, aws: &AwsArgs) -> Result<Option<Connected>> {
    check_region_flag(aws.region.as_deref())?;
    let Some((loaded, mut warnings)) = load(path, aws.region.clone(), input) else { return Ok(None) };
    let offline = offline_options(&loaded, aws.region.clone(), input);
    if expand_reported(&loaded, &offline).is_none() {
        return Ok(None);
    }
    let provider = connect(&loaded, aws).await?;
    let identity = provider.identity().await.context("cannot identify the AWS account berth is working in")?;
    let options =
        ExpandOptions { plain_http: provider.plain_http(), ..input.options(identity.account_id, identity.region) };
    let Some(expanded) = expand_reported(&loaded, &options) else { return Ok(None) };
    warnings.extend(expanded.warnings.iter().cloned());
    if let (Some(flag), Some(file)) = (&aws.region, &loaded.stack.region) {
        if flag != file {
            warnings.push(loaded.source.diagnostic(
                berth_core::diag::Severity::Warning,
                None,
                &["region"],
                format!("--region {flag} differs from the file's region {file}: this plans a second copy of the stack in {flag}"),
                Some(format!("leave out --region to work on the stack in {file}")),
            ));
        }
    }
    let origin = Origin {
        account: options.account_id.clone(),
        region: options.region.clone(),
        endpoint: aws.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok()),
        stack_file: path.display().to_string(),
        vars: options.shown_vars(&loaded.stack),
    };
    Ok(Some(Connected { loaded, origin, warnings, provider, expanded }))
}

/// The offline checks again, knowing the managed policies only IAM holds
/// (attached by ARN), which makes the access checks certain: their findings
/// replace the offline ones in `connected.warnings`. Only the commands that
/// check (plan, apply, destroy, check) pay for the IAM reads.
async fn recheck_with_iam_policies(connected: &mut Connected, input: &Input, aws: &AwsArgs) {
    let Connected { loaded, provider, expanded, warnings, .. } = connected;
    let policies = berth_core::check::managed_policy_documents(&loaded.stack, provider).await;
    if policies.is_empty() {
        return;
    }
    let offline = offline_options(loaded, aws.region.clone(), input);
    *warnings = berth_core::check::checks_with_policies(loaded, &offline, &policies);
    warnings.extend(expanded.warnings.iter().cloned());
}

/// `berth check`: the offline checks, then those that read AWS.
async fn check_live(path: &Path, vars: &InputArgs, aws: &AwsArgs) -> Result<Exit> {
    let input = Input::parse(vars)?;
    let Some(mut connected) = connect_and_expand(path, &input, aws).await? else {
        return Ok(Exit::Error);
    };
    recheck_with_iam_policies(&mut connected, &input, aws).await;
    let Connected { loaded, warnings: mut findings, provider, expanded, .. } = connected;
    findings.extend(berth_core::check::live_checks(&expanded, &loaded.source, &provider).await);
    report_after_reads(&findings);
    if findings.iter().any(Diagnostic::is_error) {
        return Ok(Exit::Error);
    }
    println!("{}: all checks passed, {} warning(s).", path.display(), findings.len());
    Ok(Exit::Ok)
}

/// Prints engine progress to stderr, so stdout stays the plan or report.
struct Progress {
    style: Style,
    live_counter: bool,
}

impl EventSink for Progress {
    fn event(&self, event: Event) {
        let mut err = std::io::stderr().lock();
        match &event {
            Event::Read { done, total, .. } if self.live_counter => {
                let _ = write!(err, "\rReading live state: {done}/{total}");
                if done == total {
                    let _ = writeln!(err);
                }
            }
            Event::RolloutWaiting { waiting, elapsed } if self.live_counter => {
                let _ = write!(err, "\r\x1b[2K{}", berth_render::waiting_line(waiting, *elapsed));
            }
            _ => {
                if let Some(line) = berth_render::event_line(&event, self.style) {
                    // A terminal's waiting line is cleared before a new fact is printed.
                    let clear = if self.live_counter { "\r\x1b[2K" } else { "" };
                    let _ = writeln!(err, "{clear}{}", redact::scrub(&line));
                }
            }
        }
    }
}

async fn connect(loaded: &LoadedStack, aws: &AwsArgs) -> Result<AwsProvider> {
    let options = AwsOptions {
        profile: aws.profile.clone(),
        region: aws.region.clone().or(loaded.stack.region.clone()),
        endpoint_url: aws.endpoint_url.clone(),
        max_attempts: Some(aws.max_retries.max(1)),
        first_answer_timeout: Some(aws.timeout),
    };
    AwsProvider::connect(&options).await.context("cannot configure AWS access")
}

/// A plan ready to apply, with the provider it was read through.
struct Prepared {
    planned: Planned,
    provider: AwsProvider,
}

/// The stack lock this run holds, if any, shared with whatever ends the run
/// (its normal end, an error, Ctrl-C or SIGTERM), which releases it.
/// Taking the lock holds the slot, so a release waits for a put in flight
/// rather than missing the lock it creates.
#[derive(Clone, Default)]
struct LockSlot(Arc<tokio::sync::Mutex<Option<(AwsProvider, HeldLock)>>>);

impl LockSlot {
    /// Takes the lock; it is recorded here even if the caller is cancelled meanwhile.
    async fn take(&self, provider: &AwsProvider, location: &LockLocation, stack: &str, operation: &str) -> Result<()> {
        let mut slot = self.0.clone().lock_owned().await;
        let (provider, location, stack, operation) =
            (provider.clone(), location.clone(), stack.to_owned(), operation.to_owned());
        let taking = tokio::spawn(async move {
            let lock = provider.lock(&location, &stack, &operation).await?;
            *slot = Some((provider, lock));
            Ok::<_, berth_aws::LockError>(())
        });
        taking.await.context("taking the stack lock")?.map_err(anyhow::Error::from)
    }

    async fn release(&self) {
        let held = self.0.lock().await.take();
        if let Some((provider, lock)) = held {
            if let Err(e) = provider.unlock(&lock).await {
                eprintln!("warning: could not release the stack lock: {e}");
            }
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM (how CI cancels a job), as one request to
/// stop: the first one received is recorded, by name.
#[derive(Clone)]
struct Interrupts(tokio::sync::watch::Receiver<Option<&'static str>>);

impl Interrupts {
    /// From now on these signals no longer end the process: the run stops itself.
    fn install() -> Result<Interrupts> {
        let (sender, receiver) = tokio::sync::watch::channel(None);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?;
            let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
            tokio::spawn(async move {
                loop {
                    let name = tokio::select! {
                        _ = interrupt.recv() => "Ctrl-C",
                        _ = terminate.recv() => "SIGTERM",
                    };
                    record_first(&sender, name);
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                record_first(&sender, "Ctrl-C");
            }
        });
        Ok(Interrupts(receiver))
    }

    /// Waits for the first signal and names it.
    async fn received(&self) -> &'static str {
        let mut receiver = self.0.clone();
        let first = receiver.wait_for(Option::is_some).await.map(|name| *name);
        match first {
            Ok(name) => name.unwrap_or("a signal"),
            // The listener is gone: no signal will be reported.
            Err(_) => std::future::pending().await,
        }
    }
}

/// Records `name` unless a signal was received before.
fn record_first(sender: &tokio::sync::watch::Sender<Option<&'static str>>, name: &'static str) {
    sender.send_if_modified(|first| first.is_none() && first.replace(name).is_none());
}

async fn make_plan(
    path: &Path,
    input: &Input,
    aws: &AwsArgs,
    mode: Mode,
    lock_slot: Option<&LockSlot>,
) -> Result<Option<Prepared>> {
    let Some(mut connected) = connect_and_expand(path, input, aws).await? else {
        return Ok(None);
    };
    recheck_with_iam_policies(&mut connected, input, aws).await;
    if connected.warnings.iter().any(Diagnostic::is_error) {
        report_after_reads(&connected.warnings);
        return Ok(None);
    }
    let Connected { loaded, origin, warnings, provider, expanded } = connected;
    let lock = if lock_slot.is_some() { lock_location(&loaded, aws)? } else { None };
    if mode == Mode::Apply {
        let findings = berth_core::check::live_checks(&expanded, &loaded.source, &provider).await;
        if findings.iter().any(Diagnostic::is_error) {
            report_after_reads(&findings);
            return Ok(None);
        }
    }
    let operation = match mode {
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
    };
    if let (Some(slot), Some(location)) = (lock_slot, &lock) {
        slot.take(&provider, location, &expanded.stack, operation)
            .await
            .map_err(|e| lock_refusal(e, path, aws, location))?;
    }
    let progress = Progress { style: stderr_style(), live_counter: std::io::stderr().is_terminal() };
    let engine = Engine::new(&provider, &progress, aws.parallelism);
    let planned = engine.plan(expanded, &loaded.source, mode).await;
    let mut prepared = match planned {
        Ok(planned) => Prepared { planned, provider },
        Err(err) => {
            // The caller releases the lock.
            let details: Vec<String> = err.failures.iter().map(|(a, e)| format!("  {a}: {e}")).collect();
            // The error is scrubbed where it is printed (main).
            bail!("{err}:\n{}", details.join("\n"));
        }
    };
    prepared.planned.plan.diagnostics.extend(warnings);
    prepared.planned.plan.origin = Some(origin);
    Ok(Some(prepared))
}

/// Writes a file only its owner may read: a saved plan names the stack's
/// resources and may hold values of variables. The mode is set when the file
/// is created, so it is never readable by others, not even for a moment.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode on open: refuse to write into one others may read.
        if let Ok(metadata) = std::fs::metadata(path) {
            if metadata.permissions().mode() & 0o077 != 0 {
                std::fs::remove_file(path)?;
            }
        }
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)
}

/// A plan in `format`; markdown with a picture of `graph` when given.
fn render_plan(plan: &Plan, format: Format, graph: Option<&Graph>) -> String {
    match (format, graph) {
        (Format::Text, _) => berth_render::plan_text(plan, stdout_style()),
        (Format::Json, _) => berth_render::plan_json(plan) + "\n",
        (Format::Markdown, Some(graph)) => {
            berth_render::markdown_with_graph(plan, graph, berth_render::GITHUB_COMMENT_LIMIT)
        }
        (Format::Markdown, None) => berth_render::markdown(plan, berth_render::GITHUB_COMMENT_LIMIT),
    }
}

/// A saved plan, if `path` holds one rather than a stack.
fn read_saved_plan(path: &Path) -> Result<Option<SavedPlan>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Ok(None) };
    if value.get("kind").and_then(|k| k.as_str()) != Some(SAVED_PLAN_KIND) {
        return Ok(None);
    }
    let saved = serde_json::from_value(value)
        .with_context(|| format!("{} is not a saved plan of this berth version", path.display()))?;
    Ok(Some(saved))
}

/// `apply` and `destroy`: plan, show, confirm, then carry out. With a saved
/// plan, the fresh plan must be exactly the saved one. With a lock location,
/// the stack's lock is held from before planning until the end.
/// What `apply` or `destroy` was asked to do.
struct Converge {
    mode: Mode,
    auto_approve: bool,
    /// Apply exactly this saved plan, if it is still fresh.
    saved: Option<SavedPlan>,
    /// Destroy buckets even when they hold objects berth does not manage.
    force_delete_buckets: bool,
    /// Follow the rollouts of the services it changes, for at most this long.
    follow: Option<Duration>,
}

/// The lock, when there is one, is released on every way out short of SIGKILL:
/// success, failure, an error, and Ctrl-C or SIGTERM at any point.
async fn converge(path: &Path, input: &Input, aws: &AwsArgs, request: Converge) -> Result<Exit> {
    let interrupts = Interrupts::install()?;
    let lock = LockSlot::default();
    // Reading live state is cut short by a signal; applying is stopped by
    // one, between calls (see `carry_out`).
    let planned = tokio::select! {
        planned = make_plan(path, input, aws, request.mode, Some(&lock)) => planned,
        signal = interrupts.received() => {
            eprintln!("\nInterrupted ({signal}) while planning; nothing was changed.");
            Ok(None)
        }
    };
    let result = match planned {
        Ok(Some(mut prepared)) => carry_out(&mut prepared, aws, &request, &interrupts).await,
        Ok(None) => Ok(Exit::Error),
        Err(e) => Err(e),
    };
    lock.release().await;
    result
}

async fn carry_out(
    prepared: &mut Prepared,
    aws: &AwsArgs,
    request: &Converge,
    interrupts: &Interrupts,
) -> Result<Exit> {
    if let Some(reason) = request.saved.as_ref().and_then(|s| s.staleness(&prepared.planned)) {
        eprintln!("error: the saved plan is stale: {reason}. Nothing was changed; run `berth plan` again.");
        return Ok(Exit::Error);
    }
    // Listing the buckets' objects is only worth it for a destroy that will run.
    let plan = &prepared.planned.plan;
    let will_run = plan.summary.has_changes() && !plan.diagnostics.iter().any(Diagnostic::is_error);
    let held = match request.mode {
        Mode::Destroy if will_run => unmanaged_objects(prepared).await?,
        _ => Vec::new(),
    };
    if request.force_delete_buckets {
        prepared.planned.empty_buckets(&held);
    }
    let prepared = &*prepared;
    let planned = &prepared.planned;
    let plan = &planned.plan;
    print!("{}", redact::scrub(&berth_render::plan_text(plan, stdout_style())));
    if plan.diagnostics.iter().any(Diagnostic::is_error) {
        eprintln!("Nothing was changed: fix the errors above first.");
        return Ok(Exit::Error);
    }
    if !plan.summary.has_changes() {
        return Ok(Exit::Ok);
    }
    if !request.force_delete_buckets && !held.is_empty() {
        refuse_to_delete_data(&held);
        return Ok(Exit::Error);
    }
    if !request.auto_approve && !confirm(request.mode, &plan.stack, interrupts).await? {
        eprintln!("Cancelled; nothing was changed.");
        return Ok(Exit::Error);
    }
    let style = stdout_style();
    let progress = Progress { style: stderr_style(), live_counter: false };
    let stop = Arc::new(AtomicBool::new(false));
    let on_interrupt = stop.clone();
    let interrupted = interrupts.clone();
    tokio::spawn(async move {
        let signal = interrupted.received().await;
        on_interrupt.store(true, Ordering::SeqCst);
        eprintln!("\nInterrupted: starting nothing new, letting the calls in flight finish ({signal})...");
    });
    let engine = Engine::new(&prepared.provider, &progress, aws.parallelism).with_stop(stop.clone());
    let started = std::time::SystemTime::now();
    let report = engine.apply(planned).await;
    print!("{}", redact::scrub(&berth_render::report_text(&report, request.mode, style)));
    if !report.succeeded() {
        return Ok(Exit::Error);
    }
    let Some(timeout) = request.follow else {
        print!("{}", berth_render::outputs_text(&report.endpoints, &[]));
        return Ok(Exit::Ok);
    };
    let watches: Vec<Watch> = report
        .applied
        .iter()
        .filter(|(_, kind, _)| *kind == berth_core::kind::Kind::EcsService)
        .filter_map(|(address, _, desired)| watch_of(address, desired))
        .collect();
    let options = FollowOptions {
        timeout,
        secrets: planned.expanded().secrets.clone(),
        events_since: Some(started),
        ..FollowOptions::default()
    };
    let (exit, counts) = follow_rollouts(&prepared.provider, watches, &options, &stop).await;
    print!("{}", berth_render::outputs_text(&report.endpoints, &counts));
    Ok(exit)
}
/// What a service's applied desired state says its rollout must end on.
fn watch_of(address: &str, desired: &serde_json::Value) -> Option<Watch> {
    let text = |field: &str| desired.get(field).and_then(|v| v.as_str()).map(str::to_owned);
    let target_groups = desired
        .get("load_balancers")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|lb| lb.get("target_group_arn").and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    Some(Watch {
        address: address.to_owned(),
        cluster: text("cluster")?,
        name: text("name")?,
        task_definition: text("task_definition")?,
        target_groups,
    })
}

/// Follows the services' rollouts to their end, printing what happens;
/// `Exit::Ok` only when every one is done, with the running and desired
/// tasks of each that is.
async fn follow_rollouts(
    provider: &AwsProvider,
    watches: Vec<Watch>,
    options: &FollowOptions,
    stop: &AtomicBool,
) -> (Exit, Vec<(String, i64, i64)>) {
    if watches.is_empty() {
        return (Exit::Ok, Vec::new());
    }
    eprintln!(
        "Following the rollout of {} service(s), for up to {} (--no-wait skips this)...",
        watches.len(),
        humantime::format_duration(options.timeout)
    );
    let progress = Progress { style: stderr_style(), live_counter: std::io::stderr().is_terminal() };
    let outcomes = berth_core::rollout::follow(provider, watches, options, &progress, stop).await;
    print!("{}", redact::scrub(&berth_render::rollout_text(&outcomes, stdout_style())));
    let counts: Vec<(String, i64, i64)> = outcomes
        .iter()
        .filter_map(|(w, o)| match o {
            Outcome::Done { running, desired } => Some((w.address.clone(), *running, *desired)),
            Outcome::Failed(_) => None,
        })
        .collect();
    let exit = if counts.len() == outcomes.len() { Exit::Ok } else { Exit::Error };
    (exit, counts)
}

/// `berth wait`: follows the rollout of every service of the stack onto
/// the task definition it is set to now.
async fn wait(path: &Path, vars: &InputArgs, aws: &AwsArgs, timeout: Duration) -> Result<Exit> {
    let Some(Connected { provider, expanded, .. }) = connect_and_expand(path, &Input::parse(vars)?, aws).await? else {
        return Ok(Exit::Error);
    };
    let mut by_cluster: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for node in expanded.graph.nodes().iter().filter(|n| n.kind == berth_core::kind::Kind::EcsService) {
        let (Some(cluster), Some(name)) = (node.desired["cluster"].as_str(), node.desired["name"].as_str()) else {
            continue;
        };
        by_cluster.entry(cluster.to_owned()).or_default().push((node.address.clone(), name.to_owned()));
    }
    let mut watches = Vec::new();
    for (cluster, services) in by_cluster {
        let names: Vec<String> = services.iter().map(|(_, name)| name.clone()).collect();
        let live = provider.services(&cluster, &names).await.map_err(anyhow::Error::msg)?;
        for (address, name) in services {
            let Some(status) = live.iter().find(|s| s.name == name) else {
                eprintln!("{address}: the service {name} does not exist in cluster {cluster}; apply the stack first.");
                return Ok(Exit::Error);
            };
            watches.push(Watch {
                address,
                cluster: cluster.clone(),
                name,
                task_definition: status.task_definition.clone(),
                target_groups: status.target_groups.clone(),
            });
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let on_interrupt = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.store(true, Ordering::SeqCst);
        }
    });
    // Events of the last minutes say how a rollout started elsewhere is going.
    let since = std::time::SystemTime::now() - Duration::from_secs(10 * 60);
    let options =
        FollowOptions { timeout, secrets: expanded.secrets, events_since: Some(since), ..FollowOptions::default() };
    Ok(follow_rollouts(&provider, watches, &options, &stop).await.0)
}

/// `berth rollback`: the service of the stack goes back one revision, and
/// the rollout is followed.
async fn rollback(path: &Path, service: &str, vars: &InputArgs, aws: &AwsArgs, timeout: Duration) -> Result<Exit> {
    let Some(Connected { provider, expanded, .. }) = connect_and_expand(path, &Input::parse(vars)?, aws).await? else {
        return Ok(Exit::Error);
    };
    let services = expanded.graph.nodes().iter().filter(|n| n.kind == berth_core::kind::Kind::EcsService);
    let Some(node) = services.clone().find(|n| n.desired["name"] == service) else {
        let names: Vec<&str> = services.filter_map(|n| n.desired["name"].as_str()).collect();
        bail!("stack `{}` has no service `{service}` (its services: {})", expanded.stack, names.join(", "));
    };
    let cluster = node.desired["cluster"].as_str().unwrap_or_default().to_owned();
    let request = berth_core::provider::NodeRequest {
        stack: &expanded.stack,
        address: &node.address,
        kind: node.kind,
        desired: &node.desired,
    };
    let live = provider.read(&request).await.map_err(anyhow::Error::msg)?;
    let owner = live.as_ref().and_then(|l| l.tags.as_ref()).and_then(|t| t.get(berth_core::provider::STACK_TAG));
    if owner.map(String::as_str) != Some(expanded.stack.as_str()) {
        bail!(
            "service {service} in cluster {cluster} is not one of stack `{}`'s; berth leaves it alone",
            expanded.stack
        );
    }
    let (from, to) = provider.roll_back(&cluster, service).await.map_err(anyhow::Error::msg)?;
    let revision = berth_core::rollout::revision;
    eprintln!("Moved {service} back from {} to {}.", revision(&from), revision(&to));
    let target_groups = provider.services(&cluster, &[service.to_owned()]).await.map_err(anyhow::Error::msg)?;
    let watch = Watch {
        address: node.address.clone(),
        cluster,
        name: service.to_owned(),
        task_definition: to.clone(),
        target_groups: target_groups.into_iter().flat_map(|s| s.target_groups).collect(),
    };
    let options = FollowOptions {
        timeout,
        secrets: expanded.secrets.clone(),
        events_since: Some(std::time::SystemTime::now()),
        ..FollowOptions::default()
    };
    let stop = AtomicBool::new(false);
    let (exit, _) = follow_rollouts(&provider, vec![watch], &options, &stop).await;
    println!(
        "The stack file still asks for what {} was: the next `berth plan` shows {service} moving back to it. \
         Change the file (the image, say) before the next apply.",
        revision(&from)
    );
    Ok(exit)
}

/// `berth output`: the endpoints the stack's live load balancers give, and
/// each service's running and desired tasks, read now.
async fn output(path: &Path, vars: &InputArgs, aws: &AwsArgs, format: OutputFormat) -> Result<Exit> {
    let input = Input::parse(vars)?;
    let Some(Prepared { planned, provider, .. }) = make_plan(path, &input, aws, Mode::Apply, None).await? else {
        return Ok(Exit::Error);
    };
    let mut services = Vec::new();
    for node in planned.expanded().graph.nodes().iter().filter(|n| n.kind == berth_core::kind::Kind::EcsService) {
        let (Some(cluster), Some(name)) = (node.desired["cluster"].as_str(), node.desired["name"].as_str()) else {
            continue;
        };
        let live = provider.services(cluster, &[name.to_owned()]).await.map_err(anyhow::Error::msg)?;
        if let Some(status) = live.first() {
            services.push((node.address.clone(), status.running, status.desired));
        }
    }
    let endpoints = &planned.plan.endpoints;
    match format {
        OutputFormat::Text => print!("{}", berth_render::outputs_text(endpoints, &services)),
        OutputFormat::Json => {
            let services: Vec<serde_json::Value> = services
                .iter()
                .map(|(a, r, d)| serde_json::json!({ "address": a, "running": r, "desired": d }))
                .collect();
            let json = serde_json::json!({ "stack": planned.plan.stack, "endpoints": endpoints, "services": services });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(Exit::Ok)
}

/// `berth graph`: offline from the file, or coloured by a fresh plan.
async fn draw_graph(
    path: &Path,
    vars: &InputArgs,
    format: GraphFormat,
    with_plan: bool,
    aws: &AwsArgs,
) -> Result<Exit> {
    let input = Input::parse(vars)?;
    let draw = |graph: &berth_core::graph::Graph, plan: Option<&berth_core::plan::Plan>| match format {
        GraphFormat::Mermaid => berth_render::mermaid(graph, plan),
        GraphFormat::Dot => berth_render::dot(graph, plan),
    };
    if with_plan {
        let Some(Prepared { planned, .. }) = make_plan(path, &input, aws, Mode::Apply, None).await? else {
            return Ok(Exit::Error);
        };
        print!("{}", redact::scrub(&draw(&planned.expanded().graph, Some(&planned.plan))));
        return Ok(Exit::Ok);
    }
    let Some((loaded, _)) = load(path, aws.region.clone(), &input) else { return Ok(Exit::Error) };
    let Some(expanded) = expand_reported(&loaded, &offline_options(&loaded, aws.region.clone(), &input)) else {
        return Ok(Exit::Error);
    };
    print!("{}", redact::scrub(&draw(&expanded.graph, None)));
    Ok(Exit::Ok)
}

/// The lock location: `--lock` (or `BERTH_LOCK`), else the stack's `lock:`.
fn lock_location(loaded: &LoadedStack, aws: &AwsArgs) -> Result<Option<LockLocation>> {
    let url = aws.lock.clone().or_else(|| loaded.stack.lock.clone());
    url.as_deref().map(LockLocation::parse).transpose().map_err(anyhow::Error::msg)
}

/// Why the lock could not be taken, with what to do about it: the command
/// that removes it names this stack file (and `--lock` when it did not come
/// from the file), and a lock older than `--lock-stale-after` is called stale.
fn lock_refusal(error: anyhow::Error, path: &Path, aws: &AwsArgs, location: &LockLocation) -> anyhow::Error {
    let Some(berth_aws::LockError::Held { holder, .. }) = error.downcast_ref::<berth_aws::LockError>() else {
        return error;
    };
    let lock_arg = match &aws.lock {
        Some(_) => format!(" --lock s3://{}/{}", location.bucket, location.key),
        None => String::new(),
    };
    let command = format!("berth unlock {} --id {}{lock_arg}", path.display(), holder.id);
    let advice = if holder.age() > aws.lock_stale_after {
        format!(
            "it is older than {} (--lock-stale-after), so it is probably stale: if no apply or destroy of this stack is running, remove it with `{command}`",
            humantime::format_duration(aws.lock_stale_after)
        )
    } else {
        format!("wait for it to finish, or if it is stale run `{command}`")
    };
    anyhow::anyhow!("{error}; {advice}")
}

/// `berth unlock`: removes a stale lock, given its id.
async fn unlock(path: &Path, id: &str, aws: &AwsArgs) -> Result<Exit> {
    let Some((loaded, _)) = load(path, aws.region.clone(), &Input::default()) else { return Ok(Exit::Error) };
    let Some(location) = lock_location(&loaded, aws)? else {
        bail!("the stack has no `lock:`: give the lock's location with --lock s3://bucket/key (or BERTH_LOCK)")
    };
    let provider = connect(&loaded, aws).await?;
    provider.force_unlock(&location, id).await?;
    println!("Removed the lock of stack `{}` (s3://{}/{}).", loaded.stack.stack, location.bucket, location.key);
    Ok(Exit::Ok)
}

/// The stack's buckets that hold objects berth does not manage, with their
/// keys: destroying them deletes someone's data.
async fn unmanaged_objects(prepared: &Prepared) -> Result<Vec<(String, Vec<String>)>> {
    let planned = &prepared.planned;
    let deleted: Vec<(&str, &str)> = planned
        .undeclared()
        .filter(|(kind, _)| *kind == berth_core::kind::Kind::S3Object)
        .filter_map(|(_, state)| Some((state["bucket"].as_str()?, state["key"].as_str()?)))
        .collect();
    Ok(berth_core::check::unmanaged_objects(planned.expanded(), &deleted, &prepared.provider).await?)
}

fn refuse_to_delete_data(held: &[(String, Vec<String>)]) {
    for (bucket, keys) in held {
        let shown: Vec<&str> = keys.iter().take(3).map(String::as_str).collect();
        let more = if keys.len() > 3 { format!(" and {} more", keys.len() - 3) } else { String::new() };
        eprintln!(
            "error: bucket {bucket} holds {} object(s) berth does not manage ({}{more})",
            keys.len(),
            shown.join(", ")
        );
    }
    eprintln!("Nothing was deleted. Move that data, or pass --force-delete-buckets to delete it with the buckets.");
}

/// Asks on the terminal; refuses when there is none rather than waiting forever.
/// A signal while waiting for the answer counts as no.
async fn confirm(mode: Mode, stack: &str, interrupts: &Interrupts) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for confirmation: pass --auto-approve to apply without asking");
    }
    let (question, expected) = match mode {
        Mode::Apply => ("Apply these changes? Only 'yes' is accepted: ".to_owned(), "yes".to_owned()),
        Mode::Destroy => {
            (format!("Destroy every resource of stack `{stack}`? Type the stack name to confirm: "), stack.to_owned())
        }
    };
    eprint!("{question}");
    // A plain thread, not the runtime's blocking pool: the read cannot be
    // cancelled, and the runtime would wait for it on shutdown.
    let (sender, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = sender.send(std::io::stdin().lock().read_line(&mut answer).map(|_| answer));
    });
    tokio::select! {
        answer = answer => Ok(answer.context("reading the answer")??.trim() == expected),
        signal = interrupts.received() => {
            eprintln!("\nInterrupted ({signal}) at the prompt.");
            Ok(false)
        }
    }
}
