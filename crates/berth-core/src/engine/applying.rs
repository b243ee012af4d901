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
        self.retire_replaced(planned, &outcomes, &mut report).await;
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
            // The old one goes once its dependents have moved: see `retire_replaced`.
            (Action::Replace, Some(live)) if node.kind.creates_first() => {
                let replacement = node.kind.replacement(&desired, live_name(live));
                self.provider.create(&NodeRequest { desired: &replacement, ..req }).await
            }
            (Action::Replace, Some(live)) => match self.provider.delete(&req, live).await {
                Ok(()) => self.provider.create(&req).await,
                Err(e) => Err(e),
            },
            (Action::Delete, Some(live)) if !plan.empties.is_empty() => {
                let mut emptied = desired.clone();
                emptied[EMPTY_FIRST] = Value::from(plan.empties.clone());
                self.provider.delete(&NodeRequest { desired: &emptied, ..req }, live).await.map(|()| Outputs::new())
            }
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

    /// Deletes what create-first replacements replaced, dependents first,
    /// once every node that used the old one has moved to the new one.
    async fn retire_replaced(&self, planned: &Planned, outcomes: &[Outcome], report: &mut ApplyReport) {
        let graph = &planned.expanded.graph;
        let mut order = graph.topological_order().unwrap_or_default();
        order.reverse();
        let mut retired = Vec::new();
        for i in order {
            let (node, plan) = (&graph.nodes()[i], &planned.nodes[i]);
            let create_first = node.kind.creates_first();
            let Some(live) = plan.live.as_ref().filter(|_| plan.action == Action::Replace && create_first) else {
                continue;
            };
            // A failed create leaves the old one in use: nothing to retire.
            if outcomes[i] != Outcome::Done {
                continue;
            }
            let address = format!("{} (old)", node.address);
            if let Some(user) = graph.dependents_of(i).find(|&d| outcomes[d] != Outcome::Done) {
                let why = format!("kept: {} still uses it", graph.nodes()[user].address);
                report.not_attempted.push((address, Action::Delete, why));
                continue;
            }
            let mut desired = live.state.clone();
            if let (Some(fields), Some(name)) = (desired.as_object_mut(), live_name(live)) {
                fields.insert("name".into(), Value::from(name));
            }
            retired.push((address, node.kind, desired, live.clone()));
        }
        let items = retired.iter().map(|(address, kind, desired, live)| (address.as_str(), *kind, desired, live));
        self.delete_each(planned, items, report).await;
    }

    /// Deletes resources removed from the file, one at a time in teardown order.
    async fn delete_orphans(&self, planned: &Planned, report: &mut ApplyReport) {
        let items = planned.orphans.iter().map(|o| (o.address.as_str(), o.kind, &o.desired, &o.live));
        self.delete_each(planned, items, report).await;
    }

    /// Deletes each of `items` (address, kind, identity, live state) in turn, reporting each.
    async fn delete_each<'i>(
        &self,
        planned: &Planned,
        items: impl Iterator<Item = (&'i str, Kind, &'i Value, &'i Live)>,
        report: &mut ApplyReport,
    ) {
        let stack = planned.expanded.stack.as_str();
        for (address, kind, desired, live) in items {
            let address = address.to_owned();
            if self.stop.load(Ordering::SeqCst) {
                report.not_attempted.push((address, Action::Delete, INTERRUPTED.into()));
                continue;
            }
            let start = Instant::now();
            self.sink.event(Event::Started { address: address.clone(), action: Action::Delete });
            let req = NodeRequest { stack, address: &address, kind, desired };
            match self.provider.delete(&req, live).await {
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

/// The name a live resource has in AWS (its state may show the file's name
/// for it; see [`Kind::replacement`]).
fn live_name(live: &Live) -> Option<&str> {
    live.outputs.get("name").or_else(|| live.state.get("name")).and_then(Value::as_str)
}
