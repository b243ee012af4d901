//! Planning: reads every node's live state in dependency order and decides what to do with it.

use super::*;

impl Engine<'_> {
    /// Reads the live state of every node and decides what to do with it.
    pub async fn plan(&self, expanded: Expanded, source: &Source, mode: Mode) -> Result<Planned, ReadError> {
        let graph = &expanded.graph;
        let total = graph.nodes().len();
        let shared = Mutex::new(Shared {
            outputs: HashMap::new(),
            live_outputs: HashMap::new(),
            nodes: vec![None; total],
            read: 0,
        });
        let stack = expanded.stack.as_str();
        let outcomes = walk(graph, false, self.parallelism, &AtomicBool::new(false), |i| {
            let shared = &shared;
            Box::pin(async move { self.plan_node(graph, stack, mode, i, shared).await })
        })
        .await;
        let failures: Vec<(String, String)> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Failed(e) => Some((graph.nodes()[i].address.clone(), e.clone())),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            return Err(ReadError { failures });
        }
        let shared = shared.into_inner().expect("no walk future panicked");
        let mut nodes: Vec<NodePlan> = shared.nodes.into_iter().map(|n| n.expect("every node was planned")).collect();
        let mut diagnostics = Vec::new();
        let mut order = graph.topological_order().unwrap_or_default();
        if mode == Mode::Destroy {
            order.reverse();
        }
        let unowned: HashMap<usize, String> =
            order.iter().filter_map(|&i| Some((i, self.ownership_problem(graph, &nodes, stack, i)?))).collect();
        // berth leaves alone what it does not own (an apply is refused outright).
        for &i in unowned.keys() {
            nodes[i].action = Action::NoOp;
        }
        let mut resources = Vec::new();
        for &i in &order {
            let node = &graph.nodes()[i];
            if node.kind.is_data() {
                continue;
            }
            let plan = &nodes[i];
            if let Some(problem) = unowned.get(&i) {
                let severity = if mode == Mode::Destroy { Severity::Warning } else { Severity::Error };
                diagnostics.push(located(source, node, severity, problem.clone()));
                continue;
            }
            let desired = resolve(&node.desired, &shared.outputs);
            let change = describe_change(node, plan, &desired);
            if node.protected && matches!(change.action, Action::Replace | Action::Delete) {
                let why = match change.action {
                    Action::Replace => {
                        format!("the change to {} needs a replacement", change.replace_reasons.join(", "))
                    }
                    _ => "this destroy would delete it".into(),
                };
                diagnostics.push(source.diagnostic(
                    Severity::Error,
                    None,
                    &node.origin.iter().map(String::as_str).collect::<Vec<_>>(),
                    format!("{} is protected (protect: true) and {why}", node.address),
                    Some("set `protect: false` first if it really must go".into()),
                ));
            }
            resources.push(change);
        }
        let tagged = match self.orphans(graph, &nodes, stack, &shared.outputs).await {
            Ok(tagged) => tagged,
            Err(e) => {
                diagnostics.push(source.diagnostic(
                    Severity::Warning,
                    None,
                    &[],
                    format!("could not look for resources removed from the stack file: {e}"),
                    Some("berth needs tag:GetResources and the list/describe permissions of each service".into()),
                ));
                Vec::new()
            }
        };
        let mut orphans = undeclared_children(graph, &nodes, &tagged, &shared.outputs);
        orphans.extend(tagged.into_iter().map(|t| t.orphan));
        orphans.sort_by(|a, b| (a.kind.teardown_rank(), &a.address).cmp(&(b.kind.teardown_rank(), &b.address)));
        for orphan in orphans.iter().filter(|o| is_protected(&o.live)) {
            diagnostics.push(source.diagnostic(
                Severity::Error,
                None,
                &[],
                format!("{} is protected and no longer in the stack file: berth will not delete it", orphan.address),
                Some("put it back with `protect: false` and apply, then remove it from the file".into()),
            ));
        }
        let orphan_changes = orphans.iter().map(|o| ResourceChange {
            address: o.address.clone(),
            kind: o.kind,
            action: Action::Delete,
            fields: if o.show_content { content_fields(o.kind, &o.live.state) } else { vec![] },
            replace_reasons: vec![],
            note: Some(o.note.clone()),
        });
        // Removed resources go after an apply's changes and before a destroy's.
        match mode {
            Mode::Apply => resources.extend(orphan_changes),
            Mode::Destroy => {
                let mut all: Vec<ResourceChange> = orphan_changes.collect();
                all.append(&mut resources);
                resources = all;
            }
        }
        let mut plan = Plan::new(stack, mode, resources, diagnostics);
        plan.redact(&expanded.secrets);
        if mode == Mode::Apply {
            plan.endpoints = crate::outputs::endpoints(&expanded.graph, &shared.live_outputs);
        }
        Ok(Planned { plan, expanded, nodes, orphans, live_outputs: shared.live_outputs })
    }

    async fn plan_node(
        &self,
        graph: &Graph,
        stack: &str,
        mode: Mode,
        i: usize,
        shared: &Mutex<Shared>,
    ) -> Result<(), String> {
        let node = &graph.nodes()[i];
        let (desired, skip_read) = {
            let s = shared.lock().expect("lock");
            let parent = node.parent.as_ref().and_then(|p| graph.index_of(p)).and_then(|p| s.nodes[p].as_ref());
            let desired = resolve(&node.desired, &s.outputs);
            // What lives inside a missing or replaced parent is (re)made with
            // it. A part with a name and tags of its own (an instance profile)
            // is still looked up when it can be, so that one that exists
            // without this stack's tags is refused now rather than by AWS
            // halfway through the apply.
            let skip_read = parent.is_some_and(|p| {
                p.action == Action::Replace || p.live.is_none() && (!node.kind.taggable() || contains_unknown(&desired))
            });
            (desired, skip_read)
        };
        let live = if skip_read {
            None
        } else {
            let req = NodeRequest { stack, address: &node.address, kind: node.kind, desired: &desired };
            self.provider.read(&req).await.map_err(|e| e.message)?
        };
        if node.kind.is_data() && live.is_none() {
            return Err(format!("{} not found ({})", node.kind, compact(&desired)));
        }
        let (action, changed) = match (&live, mode) {
            (_, _) if node.kind.is_data() => (Action::NoOp, vec![]),
            (None, Mode::Apply) => (Action::Create, vec![]),
            (None, Mode::Destroy) => (Action::NoOp, vec![]),
            (Some(_), Mode::Destroy) => (Action::Delete, vec![]),
            (Some(live), Mode::Apply) => {
                let mut changed = changed_fields(node.kind, &desired, live);
                // A field only the create sends is another's business once the resource exists.
                changed.retain(|field| !node.create_only.contains(field));
                let replace = changed.iter().any(|f| node.kind.replace_fields().contains(&f.as_str()));
                match (changed.is_empty(), replace) {
                    (true, _) => (Action::NoOp, changed),
                    (false, true) => (Action::Replace, changed),
                    (false, false) => (Action::Update, changed),
                }
            }
        };
        let lists_children = live.as_ref().is_some_and(|live| {
            !node.kind.child_kinds().is_empty() && node.exact_children && owner(live) == Some(stack)
        }) && action != Action::Replace;
        let declared = {
            let mut s = shared.lock().expect("lock");
            if action == Action::Create {
                s.outputs.insert(node.address.clone(), predicted_outputs(node.kind, &desired));
            }
            if let Some(live) = &live {
                s.live_outputs.insert(node.address.clone(), live.outputs.clone());
                // Dependents see what will still hold after the apply.
                let mut visible = live.outputs.clone();
                match action {
                    Action::Replace => visible.clear(),
                    Action::Update => node.kind.outputs_renewed_by_update().iter().for_each(|o| {
                        visible.remove(*o);
                    }),
                    _ => {}
                }
                s.outputs.insert(node.address.clone(), visible);
            }
            // Children are read with their parent's outputs known, as their own reads are.
            let children_of_node = graph.nodes().iter().filter(|n| n.parent.as_deref() == Some(node.address.as_str()));
            let declared: Vec<Value> = children_of_node.map(|n| resolve(&n.desired, &s.outputs)).collect();
            declared
        };
        let children = match &live {
            Some(parent) if lists_children => {
                let req = NodeRequest { stack, address: &node.address, kind: node.kind, desired: &desired };
                let mut children = self.provider.children(&req, parent, &declared).await.map_err(|e| e.message)?;
                children.retain(|c| node.kind.child_kinds().contains(&c.kind));
                children
            }
            _ => Vec::new(),
        };
        let mut s = shared.lock().expect("lock");
        s.nodes[i] = Some(NodePlan { live, action, changed, empties: Vec::new(), children });
        s.read += 1;
        let done = s.read;
        drop(s);
        self.sink.event(Event::Read { address: node.address.clone(), done, total: graph.nodes().len() });
        Ok(())
    }

    /// Why berth may not touch node `i`, if it may not.
    fn ownership_problem(&self, graph: &Graph, nodes: &[NodePlan], stack: &str, i: usize) -> Option<String> {
        let node = &graph.nodes()[i];
        let live = nodes[i].live.as_ref()?;
        if node.kind.taggable() {
            return match owner(live) {
                Some(owner) if owner == stack => None,
                Some(other) => Some(format!(
                    "{} `{}` already exists and belongs to stack `{other}`; berth never changes another stack's resources",
                    node.kind,
                    name_of(node)
                )),
                None => Some(format!(
                    "{} `{}` already exists without the tag {STACK_TAG}={stack}; berth never changes or deletes resources it does not own",
                    node.kind,
                    name_of(node)
                )),
            };
        }
        let parent = node.parent.as_ref().and_then(|p| graph.index_of(p))?;
        self.ownership_problem(graph, nodes, stack, parent)
            .map(|_| format!("{} belongs to a resource this stack does not own", node.address))
    }
}

/// State shared by the futures of one walk.
struct Shared {
    outputs: HashMap<String, Outputs>,
    live_outputs: HashMap<String, Outputs>,
    nodes: Vec<Option<NodePlan>>,
    read: usize,
}

/// Outputs of a resource yet to be created that follow from its desired
/// state, so the plan can show them instead of "(known after apply)".
fn predicted_outputs(kind: Kind, desired: &Value) -> Outputs {
    let known: serde_json::Map<String, Value> = desired
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !contains_unknown(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (kind.spec().predicted_outputs)(&known)
}

fn name_of(node: &Node) -> String {
    ["name", "family"]
        .iter()
        .find_map(|k| node.desired.get(*k).and_then(Value::as_str))
        .unwrap_or(&node.address)
        .to_owned()
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 120 {
        format!("{}...", &text[..117])
    } else {
        text
    }
}

fn located(source: &Source, node: &Node, severity: Severity, message: String) -> Diagnostic {
    let origin: Vec<&str> = node.origin.iter().map(String::as_str).collect();
    let help = Some(format!(
        "rename the resource in the stack, delete the existing one, or tag it {STACK_TAG}=<stack> if this stack should own it"
    ));
    source.diagnostic(severity, None, &origin, message, help)
}
