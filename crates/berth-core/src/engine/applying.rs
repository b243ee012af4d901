//! Applying: carries out a plan in dependency order (reverse order for a destroy), then deletes what the file no longer declares.

use super::*;

impl Engine<'_> {
    /// Carries out a plan: creates, updates and replaces in dependency order
    /// (deletes in reverse order for a destroy plan).
    pub async fn apply(&self, planned: &Planned) -> ApplyReport {
        let graph = &planned.expanded.graph;
        let stack = planned.expanded.stack.as_str();
        let reverse = planned.plan.mode == Mode::Destroy;
        let mut report = ApplyReport::default();
        if reverse {
            self.delete_orphans(planned, &mut report).await;
        }
        // A destroy resolves against what exists; an apply against what it makes.
        let outputs = if reverse { planned.live_outputs.clone() } else { HashMap::new() };
        let shared = Mutex::new(outputs);
        let started: Mutex<HashMap<usize, Instant>> = Mutex::new(HashMap::new());
        let outcomes = walk(graph, reverse, self.parallelism, &self.stop, |i| {
            let shared = &shared;
            let started = &started;
            Box::pin(async move {
                started.lock().expect("lock").insert(i, Instant::now());
                self.apply_node(planned, stack, i, shared).await
            })
        })
        .await;
        let started = started.into_inner().expect("lock");
        let outputs = shared.into_inner().expect("lock");
        let mut order = graph.topological_order().unwrap_or_default();
        if reverse {
            order.reverse();
        }
        for i in order {
            let action = planned.nodes[i].action;
            if action == Action::NoOp {
                continue;
            }
            let node = &graph.nodes()[i];
            let address = node.address.clone();
            match &outcomes[i] {
                Outcome::Done => {
                    if action != Action::Delete {
                        report.applied.push((address.clone(), node.kind, resolve(&node.desired, &outputs)));
                    }
                    report.done.push((address, action, started.get(&i).map(|s| s.elapsed()).unwrap_or_default()))
                }
                Outcome::Failed(e) => report.failed.push((address, action, e.clone())),
                Outcome::Skipped(by) => {
                    self.sink.event(Event::Skipped { address: address.clone(), action, blocked_by: by.clone() });
                    report.not_attempted.push((address, action, by.clone()));
                }
            }
        }
        if !reverse {
            self.delete_orphans(planned, &mut report).await;
            report.endpoints = crate::outputs::endpoints(graph, &outputs);
        }
        report
    }

    async fn apply_node(
        &self,
        planned: &Planned,
        stack: &str,
        i: usize,
        shared: &Mutex<HashMap<String, Outputs>>,
    ) -> Result<(), String> {
        let node = &planned.expanded.graph.nodes()[i];
        let plan = &planned.nodes[i];
        let desired = resolve(&node.desired, &shared.lock().expect("lock"));
        if plan.action == Action::NoOp {
            if let Some(live) = &plan.live {
                shared.lock().expect("lock").insert(node.address.clone(), live.outputs.clone());
            }
            return Ok(());
        }
        if plan.action != Action::Delete && contains_unknown(&desired) {
            return Err(format!(
                "{}: a value it refers to is still unknown after its dependencies were applied",
                node.address
            ));
        }
        let start = Instant::now();
        self.sink.event(Event::Started { address: node.address.clone(), action: plan.action });
        let req = NodeRequest { stack, address: &node.address, kind: node.kind, desired: &desired };
        let result = match (plan.action, &plan.live) {
            (Action::Create, _) => self.provider.create(&req).await,
            (Action::Update, Some(live)) => self.provider.update(&req, live, &plan.changed).await.map(|mut out| {
                for (k, v) in &live.outputs {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
                out
            }),
            (Action::Replace, Some(live)) => match self.provider.delete(&req, live).await {
                Ok(()) => self.provider.create(&req).await,
                Err(e) => Err(e),
            },
            (Action::Delete, Some(live)) => self.provider.delete(&req, live).await.map(|()| Outputs::new()),
            (action, None) => Err(crate::provider::ProviderError::new(format!(
                "cannot {} a resource that does not exist",
                action.as_str()
            ))),
            (Action::NoOp, _) => unreachable!("handled above"),
        };
        let elapsed = start.elapsed();
        match result {
            Ok(outputs) => {
                if plan.action != Action::Delete {
                    shared.lock().expect("lock").insert(node.address.clone(), outputs);
                }
                self.sink.event(Event::Finished { address: node.address.clone(), action: plan.action, elapsed });
                Ok(())
            }
            Err(e) => {
                self.sink.event(Event::Failed {
                    address: node.address.clone(),
                    action: plan.action,
                    error: e.message.clone(),
                    elapsed,
                });
                Err(e.message)
            }
        }
    }

    /// Deletes resources removed from the file, one at a time in teardown order.
    async fn delete_orphans(&self, planned: &Planned, report: &mut ApplyReport) {
        let stack = planned.expanded.stack.as_str();
        for orphan in &planned.orphans {
            if self.stop.load(Ordering::SeqCst) {
                report.not_attempted.push((orphan.address.clone(), Action::Delete, INTERRUPTED.into()));
                continue;
            }
            let start = Instant::now();
            let address = orphan.address.clone();
            self.sink.event(Event::Started { address: address.clone(), action: Action::Delete });
            let req = NodeRequest { stack, address: &orphan.address, kind: orphan.kind, desired: &orphan.desired };
            match self.provider.delete(&req, &orphan.live).await {
                Ok(()) => {
                    let elapsed = start.elapsed();
                    self.sink.event(Event::Finished { address: address.clone(), action: Action::Delete, elapsed });
                    report.done.push((address, Action::Delete, elapsed));
                }
                Err(e) => {
                    let elapsed = start.elapsed();
                    self.sink.event(Event::Failed {
                        address: address.clone(),
                        action: Action::Delete,
                        error: e.message.clone(),
                        elapsed,
                    });
                    report.failed.push((address, Action::Delete, e.message));
                }
            }
        }
    }
}
