//! What the stack owns but the file does not declare: resources found by their tags, renamed ones, and undeclared children of owned resources.

use super::*;

impl Engine<'_> {
    /// Resources tagged with the stack that the file no longer declares, or
    /// declares under another name (a rename is a replace: the old one goes),
    /// confirmed by reading each one, with their children.
    pub(super) async fn orphans(
        &self,
        graph: &Graph,
        nodes: &[NodePlan],
        stack: &str,
        outputs: &HashMap<String, Outputs>,
    ) -> Result<Vec<Tagged>, String> {
        let mut found: Vec<(Discovered, Option<Renamed>)> = Vec::new();
        for d in self.provider.discover(stack).await.map_err(|e| e.message)? {
            match graph.get(&d.address) {
                None => found.push((d, None)),
                Some(node) => {
                    if let Some(renamed) = renamed(node, &d.identity, outputs) {
                        found.push((d, Some(renamed)));
                    }
                }
            }
        }
        found.sort_by(|(a, _), (b, _)| (a.kind.teardown_rank(), &a.address).cmp(&(b.kind.teardown_rank(), &b.address)));
        found.dedup_by(|(a, _), (b, _)| a.address == b.address && a.identity == b.identity);
        let reads = futures::stream::iter(found.into_iter().map(|(d, renamed)| async move {
            let req = NodeRequest { stack, address: &d.address, kind: d.kind, desired: &d.identity };
            let live = self.provider.read(&req).await.map_err(|e| format!("{}: {}", d.address, e.message))?;
            let Some(live) = live.filter(|live| owner(live) == Some(stack)) else { return Ok(None) };
            // Never the resource a node of the file reads as its own.
            let own = graph.index_of(&d.address).and_then(|i| nodes[i].live.as_ref());
            if own.is_some_and(|own| same_resource(own, &live)) {
                return Ok(None);
            }
            let mut desired = live.state.clone();
            if let (Some(fields), Some(identity)) = (desired.as_object_mut(), d.identity.as_object()) {
                for (k, v) in identity {
                    fields.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let children = if d.kind.child_kinds().is_empty() {
                Vec::new()
            } else {
                let req = NodeRequest { desired: &desired, ..req };
                let listed = self.provider.children(&req, &live, &[]).await;
                listed.map_err(|e| format!("{}: {}", d.address, e.message))?
            };
            let (address, note) = match renamed {
                None => (d.address, NO_LONGER_DECLARED.to_owned()),
                Some(Renamed { field, was }) => (
                    format!("{} (was {was})", d.address),
                    format!("renamed in the stack file ({field} was `{was}`): the old one is deleted"),
                ),
            };
            let orphan = Orphan { address, kind: d.kind, desired, live, note, show_content: false };
            Ok::<_, String>(Some(Tagged { orphan, children }))
        }))
        .buffered(self.parallelism.max(1))
        .collect::<Vec<_>>()
        .await;
        reads.into_iter().filter_map(Result::transpose).collect()
    }
}

/// What identifies an item of `kind`, in canonical form: equal keys are the same AWS item.
fn identity_key(kind: Kind, state: &Value) -> String {
    let state = normalize(kind, state);
    let fields: Vec<&Value> = kind.identity_fields().iter().map(|f| state.get(*f).unwrap_or(&Value::Null)).collect();
    serde_json::to_string(&fields).expect("JSON values serialize")
}

/// What changed in the identity of a resource the file still declares.
struct Renamed {
    field: String,
    was: String,
}

/// Whether the resource found with `identity` under `node`'s address is
/// another one than the node stands for now: a field that identifies it and
/// cannot change in place (a name, the cluster of a service) differs from
/// the desired value.
fn renamed(node: &Node, identity: &Value, outputs: &HashMap<String, Outputs>) -> Option<Renamed> {
    let desired = resolve(&node.desired, outputs);
    let identifying = identity.as_object()?.iter().filter(|(f, _)| node.kind.replace_fields().contains(&f.as_str()));
    identifying.into_iter().find_map(|(field, was)| {
        let now = desired.get(field)?;
        (!contains_unknown(now) && now != was).then(|| Renamed {
            field: field.clone(),
            was: was.as_str().map(str::to_owned).unwrap_or_else(|| was.to_string()),
        })
    })
}

/// Whether two reads are of one AWS resource (the same ARN or id).
fn same_resource(a: &Live, b: &Live) -> bool {
    ["arn", "id"].iter().any(|o| a.outputs.get(*o).is_some_and(|v| b.outputs.get(*o) == Some(v)))
}

/// The live children that no node of the file stands for, of the file's
/// resources and of the tagged resources it no longer declares (all of
/// whose children go). A child may be listed by two parents (an
/// attachment, by its role and by its policy): it is deleted once, named
/// below the parent that comes first in teardown order (the role).
pub(super) fn undeclared_children(
    graph: &Graph,
    nodes: &[NodePlan],
    tagged: &[Tagged],
    outputs: &HashMap<String, Outputs>,
) -> Vec<Orphan> {
    let declared: HashSet<(Kind, String)> =
        graph.nodes().iter().map(|n| (n.kind, identity_key(n.kind, &resolve(&n.desired, outputs)))).collect();
    let mut seen = HashSet::new();
    let mut addresses: HashSet<String> = graph.nodes().iter().map(|n| n.address.clone()).collect();
    let mut found = Vec::new();
    let mut parents: Vec<(&str, Kind, &[LiveChild])> =
        graph.nodes().iter().zip(nodes).map(|(n, p)| (n.address.as_str(), n.kind, p.children.as_slice())).collect();
    parents.extend(tagged.iter().map(|t| (t.orphan.address.as_str(), t.orphan.kind, t.children.as_slice())));
    parents.sort_by_key(|(_, kind, _)| kind.teardown_rank());
    for (parent, _, children) in parents {
        for child in children {
            let key = (child.kind, identity_key(child.kind, &child.live.state));
            if declared.contains(&key) || !seen.insert(key) {
                continue;
            }
            let base = format!("{parent}.{}", child.label);
            let address = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}#{n}") });
            let address = address.into_iter().find(|a| !addresses.contains(a)).expect("an unused address");
            addresses.insert(address.clone());
            found.push(Orphan {
                address,
                kind: child.kind,
                desired: child.live.state.clone(),
                live: child.live.clone(),
                note: NOT_DECLARED.to_owned(),
                show_content: true,
            });
        }
    }
    found
}

/// A deleted child's content as the fields it loses, so the plan shows
/// what goes. Object contents are left out: they may be secret.
pub(super) fn content_fields(kind: Kind, state: &Value) -> Vec<FieldChange> {
    let state = normalize(kind, state);
    let Some(fields) = state.as_object() else { return Vec::new() };
    fields
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "tags" | "content"))
        .map(|(name, value)| FieldChange::new(name.clone(), Some(value.clone()), None))
        .collect()
}

pub(super) fn is_protected(live: &Live) -> bool {
    live.tags.as_ref().and_then(|t| t.get(PROTECT_TAG)).is_some_and(|v| v == "true")
}
