//! berth under faults: the reference stack is applied through a proxy that
//! answers a share of the requests with a throttle, a 500, or a dropped
//! connection (before the request reaches moto, or after moto acted on it,
//! so that berth never hears about a change that was made). The apply
//! converges, at worst with a second run, to exactly one of each resource; a
//! plan without the proxy then shows no changes; and a destroy through the
//! same faults leaves nothing behind.

mod common;

use std::collections::BTreeMap;

use berth_testkit::{Fault, FaultConfig, FaultProxy, Moto};
use common::{assert_census, assert_nothing_left, reference_census, reference_stack, run_berth};

/// Attempts per AWS call (`--max-retries`).
const MAX_RETRIES: &str = "10";
/// Runs of `berth apply` (or destroy) through the faults before giving up:
/// a run that fails must leave the second one to finish the job.
const MAX_RUNS: usize = 2;

/// How a converge through the proxy went.
struct Outcome {
    /// Runs it took (1 when the first run converged).
    runs: usize,
    /// Faults injected over all the runs, by kind.
    injected: BTreeMap<Fault, usize>,
    /// Operations that changed something although berth never got the answer.
    lost_answers: Vec<String>,
}

/// Runs `berth COMMAND` on the reference stack through `proxy` until it
/// succeeds, at most [`MAX_RUNS`] times.
fn converge(proxy: &FaultProxy, command: &str) -> Outcome {
    let stack = reference_stack();
    let mut failures = Vec::new();
    for run in 1..=MAX_RUNS {
        let args = [command, stack.to_str().unwrap(), "--auto-approve", "--max-retries", MAX_RETRIES];
        let result = run_berth(&proxy.env(), &args);
        if result.code == 0 {
            let records = proxy.records();
            let lost_answers = records
                .iter()
                .filter(|r| r.mutating && r.fault == Some(Fault::DropAfter))
                .map(|r| r.operation.clone())
                .collect();
            return Outcome { runs: run, injected: proxy.injected(), lost_answers };
        }
        let failed: Vec<&str> =
            result.stderr.lines().filter(|l| l.starts_with("! ") || l.starts_with("error")).collect();
        eprintln!("berth {command} run {run} exited {}: {}", result.code, failed.join(" | "));
        failures.push(format!("--- run {run} exited {}\n{}{}", result.code, result.stdout, result.stderr));
    }
    panic!(
        "berth {command} did not converge in {MAX_RUNS} runs through {:?} faults:\n{}",
        proxy.injected(),
        failures.join("\n")
    );
}

/// Applies the reference stack through `faults`, checks what AWS holds and
/// that a plan without faults is empty, then destroys through the same faults.
async fn apply_and_destroy_through(faults: FaultConfig) {
    let moto = Moto::start();
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let description = format!("{:.0}% faults, seed {}", faults.rate * 100.0, faults.seed);

    let proxy = FaultProxy::start(&moto.endpoint, faults.clone());
    let applied = converge(&proxy, "apply");
    eprintln!(
        "{description}: apply converged in {} run(s); injected {:?}; answers lost after the change was made: {:?}",
        applied.runs, applied.injected, applied.lost_answers
    );
    // Exactly one of each: no second load balancer, revision, listener or rule.
    assert_census(&moto, &reference_census(), &description).await;
    let plan = run_berth(&moto.env(), &["plan", stack, "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    drop(proxy);

    let proxy = FaultProxy::start(&moto.endpoint, FaultConfig { seed: faults.seed + 1000, ..faults.clone() });
    let destroyed = converge(&proxy, "destroy");
    eprintln!("{description}: destroy converged in {} run(s); injected {:?}", destroyed.runs, destroyed.injected);
    assert_nothing_left(&moto).await;
    let after = run_berth(&moto.env(), &["plan", stack, "--destroy", "--detailed-exitcode"]).expect(0);
    assert!(after.stdout.contains("Nothing of this stack exists"), "{}", after.stdout);

    // The faults did happen, of every kind (the proxy deals them in turn).
    for kind in &faults.kinds {
        let injected = applied.injected.get(kind).into_iter().chain(destroyed.injected.get(kind)).sum::<usize>();
        assert!(injected > 0, "{description}: no {kind:?} injected");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_with_10_percent_of_requests_failing() {
    apply_and_destroy_through(FaultConfig::all(0.10, 10)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_with_20_percent_of_requests_failing() {
    apply_and_destroy_through(FaultConfig::all(0.20, 20)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_with_30_percent_of_requests_failing() {
    apply_and_destroy_through(FaultConfig::all(0.30, 30)).await;
}

/// The nasty case alone, often: half of the requests that change something
/// reach moto and act, and their answer never comes back. Every create must
/// find what it made instead of making it twice (or failing on "already
/// exists"): moto makes a second load balancer, listener or task definition
/// revision, and replaces a cluster, service or auto scaling group, when a
/// create is repeated.
#[tokio::test(flavor = "multi_thread")]
async fn creates_whose_answer_is_lost_are_made_once() {
    let moto = Moto::start();
    let faults =
        FaultConfig { rate: 0.5, seed: 50, kinds: vec![Fault::DropAfter], only_mutating: true, ..FaultConfig::none() };
    let proxy = FaultProxy::start(&moto.endpoint, faults);
    let applied = converge(&proxy, "apply");
    eprintln!("50% lost answers: apply converged in {} run(s); lost: {:?}", applied.runs, applied.lost_answers);
    let makes = ["Create", "Register", "Import", "Authorize", "AddRole"];
    let creates = applied.lost_answers.iter().filter(|op| makes.iter().any(|m| op.starts_with(m))).count();
    assert!(creates >= 5, "too few creates lost their answer to mean anything: {:?}", applied.lost_answers);
    assert_census(&moto, &reference_census(), "50% lost answers").await;
    let stack = reference_stack();
    run_berth(&moto.env(), &["plan", stack.to_str().unwrap(), "--detailed-exitcode"]).expect(0);
}
