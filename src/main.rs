//! The `berth` command: a thin binary over the berth-core, berth-aws and
//! berth-render crates. It parses arguments, then hands over to [`run`].

mod cli;
mod redact;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // BERTH_LOG=debug (any tracing filter) logs what berth and the AWS SDK do, to stderr, secrets masked.
    if let Ok(filter) = std::env::var("BERTH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(|| redact::ScrubbedStderr)
            .init();
    }
    let runtime = tokio::runtime::Runtime::new().expect("start the async runtime");
    match runtime.block_on(run::run(args)) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("{}", redact::scrub(&format!("error: {err:#}")));
            run::Exit::Error.into()
        }
    }
}
