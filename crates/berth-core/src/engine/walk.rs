//! Scheduling: runs work on every node of the graph once what it waits for is done, with bounded parallelism.

use super::*;

/// Outcome of one node in a graph walk.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    Done,
    Failed(String),
    Skipped(String),
}

type NodeFuture<'f> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'f>>;

/// Runs `run` on every node once all the nodes it waits for are done
/// (dependencies, or dependents when `reverse`), at most `parallelism` at a
/// time. A node whose prerequisite failed is skipped, and so on down the line.
pub(super) async fn walk<'f>(
    graph: &Graph,
    reverse: bool,
    parallelism: usize,
    stop: &AtomicBool,
    run: impl Fn(usize) -> NodeFuture<'f>,
) -> Vec<Outcome> {
    let n = graph.nodes().len();
    let waits_for = |i: usize| -> Vec<usize> {
        if reverse {
            graph.dependents_of(i).collect()
        } else {
            graph.dependencies_of(i).collect()
        }
    };
    let unblocks = |i: usize| -> Vec<usize> {
        if reverse {
            graph.dependencies_of(i).collect()
        } else {
            graph.dependents_of(i).collect()
        }
    };
    let mut remaining: Vec<usize> = (0..n).map(|i| waits_for(i).len()).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    let order = graph.topological_order().unwrap_or_else(|_| (0..n).collect());
    let mut ready: VecDeque<usize> = order.iter().copied().filter(|&i| remaining[i] == 0).collect();
    if reverse {
        ready = ready.into_iter().rev().collect();
    }
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some(i) = ready.pop_front() else { break };
            let blocked_by = waits_for(i).into_iter().find(|&p| outcomes[p] != Some(Outcome::Done));
            if let Some(p) = blocked_by {
                outcomes[i] = Some(Outcome::Skipped(graph.nodes()[p].address.clone()));
                release(i, &unblocks, &mut remaining, &mut ready);
                continue;
            }
            if stop.load(Ordering::SeqCst) {
                outcomes[i] = Some(Outcome::Skipped(INTERRUPTED.into()));
                release(i, &unblocks, &mut remaining, &mut ready);
                continue;
            }
            let fut = run(i);
            running.push(async move { (i, fut.await) });
        }
        let Some((i, result)) = running.next().await else { break };
        outcomes[i] = Some(match result {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        });
        release(i, &unblocks, &mut remaining, &mut ready);
    }
    outcomes.into_iter().map(|o| o.unwrap_or(Outcome::Skipped("a dependency cycle".into()))).collect()
}

fn release(i: usize, unblocks: &impl Fn(usize) -> Vec<usize>, remaining: &mut [usize], ready: &mut VecDeque<usize>) {
    for next in unblocks(i) {
        remaining[next] -= 1;
        if remaining[next] == 0 {
            ready.push_back(next);
        }
    }
}
