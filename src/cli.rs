//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The version and the git commit berth was built from (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BERTH_COMMIT"), ")");

/// berth: declarative ECS stacks. Plan, apply and destroy everything an ECS
/// service needs from one YAML file.
#[derive(Debug, Parser)]
#[command(name = "berth", version = VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script: `berth completions bash > /etc/bash_completion.d/berth`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print berth's man page (roff): `berth man > berth.1 && man ./berth.1`.
    Man,
    /// Check a stack file offline: parse, resolve references, build the graph.
    Validate {
        /// The stack file.
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        /// Region for `${aws.region}` when the file has none.
        #[arg(long)]
        region: Option<String>,
    },
    /// Run the pre-flight checks alone (see docs/checks.md): the offline ones,
    /// then those that read AWS (registered instances, env files, secrets).
    Check {
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        /// Only the checks that need no AWS access.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Show what `apply` would change.
    Plan {
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan a destroy instead.
        #[arg(long)]
        destroy: bool,
        /// With `--format markdown`: include a mermaid picture of the graph.
        #[arg(long)]
        graph: bool,
        /// Also save the plan, for `berth apply FILE` to apply exactly it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a plan saved with `plan --out`, without reading AWS.
    Show {
        /// The saved plan.
        plan: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Converge AWS to the stack file, or apply a plan saved with `plan --out`.
    Apply {
        /// The stack file, or a saved plan.
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// Apply without asking.
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Follow the rollout of the stack's services (started by another apply,
    /// by CI or by hand) until each is done or has failed, and say why.
    Wait {
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        timeout: TimeoutArgs,
    },
    /// Move a service of the stack back to the task definition revision
    /// before the one it runs, and follow that rollout. The stack file is
    /// not changed: the next plan shows the file's revision again.
    Rollback {
        stack: PathBuf,
        /// The service's name.
        service: String,
        #[command(flatten)]
        vars: InputArgs,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        timeout: TimeoutArgs,
    },
    /// Print the stack's outputs: where its listeners answer and how many
    /// tasks each service runs.
    Output {
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Delete everything the stack owns, in reverse dependency order.
    Destroy {
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// Destroy without asking.
        #[arg(long)]
        auto_approve: bool,
        /// Also delete buckets that hold objects berth does not manage, with those objects.
        #[arg(long)]
        force_delete_buckets: bool,
    },
    /// Draw the resource graph (offline), or with `--plan` coloured by action.
    Graph {
        stack: PathBuf,
        #[command(flatten)]
        vars: InputArgs,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// Read AWS and colour each resource by what a plan would do to it.
        #[arg(long)]
        plan: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Remove a stale stack lock left by an apply or destroy that died.
    Unlock {
        stack: PathBuf,
        /// The lock id, as the refusal message shows it.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Print the JSON Schema of the stack format.
    Schema,
}

/// How apply follows the rollout of the services it changed.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// End when the API calls are done, without following the rollout.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
}

/// How long a rollout is followed.
#[derive(Debug, Args)]
pub struct TimeoutArgs {
    /// Give up following a rollout after this long (`90s`, `15m`, `1h`).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub wait_timeout: Duration,
}

/// What the stack file is read with: variable overrides and where its files may be.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Override a variable of the stack: `--var app_image=nginx:1.27` (taken literally, never interpolated).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Also let the stack read files under DIR (by default only under the stack file's folder).
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_paths: Vec<PathBuf>,
}

/// Where and how to reach AWS.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// Named profile from the AWS config files.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Region (overrides the stack's `region:`).
    #[arg(long)]
    pub region: Option<String>,
    /// A local endpoint such as moto (`AWS_ENDPOINT_URL` works too).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Attempts per AWS call, the first included.
    #[arg(long, default_value_t = 4)]
    pub max_retries: u32,
    /// How long AWS may take to answer berth's first call (who is calling),
    /// retries included, before berth says the endpoint does not answer.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Resources worked on at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// Hold a lock object here during apply and destroy (`s3://bucket/key`); plan never locks.
    #[arg(long, env = "BERTH_LOCK", value_name = "S3_URL")]
    pub lock: Option<String>,
    /// Call a lock held longer than this probably stale (`30m`, `2h`, `1d`).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub lock_stale_after: std::time::Duration,
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// Formats of `berth output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Graph picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}
