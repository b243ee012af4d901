//! An in-memory [`Provider`]: a cloud that stores each resource as its
//! desired state. Engine, renderer and CLI tests use it to run whole plans and
//! applies without a network.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::kind::Kind;
use crate::provider::{
    Discovered, Identity, Live, LiveChild, NodeRequest, Outputs, Provider, ProviderError, ProviderResult, STACK_TAG,
};

/// One stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The resource's kind.
    pub kind: Kind,
    /// The desired state it was last created or updated with, without `tags`.
    pub state: Value,
    /// The outputs made up for it (`name`, `id`, `arn`).
    pub outputs: Outputs,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// An in-memory cloud. Creates and updates of addresses listed in `fail` fail.
#[derive(Debug, Default)]
pub struct MemoryCloud {
    /// Every stored resource, by address.
    pub resources: Mutex<HashMap<String, Stored>>,
    /// Addresses whose creates and updates fail.
    pub fail: Vec<String>,
    /// Every mutating call, as `create ADDRESS`, `update ADDRESS [fields]`, `delete ADDRESS`.
    pub calls: Mutex<Vec<String>>,
    revisions: Mutex<u32>,
}

impl MemoryCloud {
    /// A cloud whose creates and updates of `fail` addresses fail.
    pub fn failing(fail: &[&str]) -> Self {
        MemoryCloud { fail: fail.iter().map(|s| s.to_string()).collect(), ..Default::default() }
    }

    /// The same resources, without the injected failures.
    pub fn healed(self) -> Self {
        MemoryCloud { resources: self.resources, ..Default::default() }
    }

    fn outputs(&self, req: &NodeRequest<'_>) -> Outputs {
        let name = req.desired.get("name").cloned().unwrap_or_else(|| json!(req.address));
        let arn = if req.kind == Kind::TaskDefinition {
            let mut revision = self.revisions.lock().expect("lock");
            *revision += 1;
            format!("arn:memory:task-definition/{}:{revision}", req.address)
        } else {
            format!("arn:memory:{}", req.address)
        };
        [("name", name), ("id", json!(format!("id-{}", req.address))), ("arn", json!(arn))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    fn store(&self, req: &NodeRequest<'_>) -> Outputs {
        let outputs = self.outputs(req);
        let mut state = req.desired.clone();
        let tags = state
            .as_object_mut()
            .and_then(|m| m.remove("tags"))
            .and_then(|t| serde_json::from_value(t).ok())
            .unwrap_or_default();
        let stored = Stored { kind: req.kind, state, outputs: outputs.clone(), tags };
        self.resources.lock().expect("lock").insert(req.address.into(), stored);
        outputs
    }

    fn record(&self, call: String) {
        self.calls.lock().expect("lock").push(call);
    }
}

#[async_trait]
impl Provider for MemoryCloud {
    async fn identity(&self) -> ProviderResult<Identity> {
        Ok(Identity { account_id: "123456789012".into(), region: "ap-northeast-2".into() })
    }

    async fn read(&self, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let data = |outputs: Value| Live {
            state: req.desired.clone(),
            outputs: serde_json::from_value(outputs).unwrap_or_default(),
            tags: None,
        };
        match req.kind {
            Kind::Network => return Ok(Some(data(json!({"vpc_id": "vpc-1", "subnet_ids": ["subnet-a", "subnet-b"]})))),
            Kind::SsmParameter => return Ok(Some(data(json!({"value": "ami-1"})))),
            _ => {}
        }
        let resources = self.resources.lock().expect("lock");
        Ok(resources.get(req.address).map(|r| Live {
            state: r.state.clone(),
            outputs: r.outputs.clone(),
            tags: req.kind.taggable().then(|| r.tags.clone()),
        }))
    }

    async fn create(&self, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        self.record(format!("create {}", req.address));
        if self.fail.iter().any(|f| f == req.address) {
            return Err(ProviderError::new("InvalidParameter: injected failure"));
        }
        Ok(self.store(req))
    }

    async fn update(&self, req: &NodeRequest<'_>, _live: &Live, changed: &[String]) -> ProviderResult<Outputs> {
        self.record(format!("update {} {changed:?}", req.address));
        if self.fail.iter().any(|f| f == req.address) {
            return Err(ProviderError::new("InvalidParameter: injected failure"));
        }
        Ok(self.store(req))
    }

    async fn delete(&self, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        self.record(format!("delete {}", req.address));
        self.resources.lock().expect("lock").remove(req.address);
        Ok(())
    }

    /// Stored resources below the parent's address, of its child kinds.
    async fn children(
        &self,
        parent: &NodeRequest<'_>,
        _live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let prefix = format!("{}.", parent.address);
        let resources = self.resources.lock().expect("lock");
        let mut children: Vec<LiveChild> = resources
            .iter()
            .filter(|(_, r)| parent.kind.child_kinds().contains(&r.kind))
            .filter_map(|(address, r)| {
                let label = address.strip_prefix(&prefix)?;
                let live = Live { state: r.state.clone(), outputs: r.outputs.clone(), tags: None };
                Some(LiveChild { kind: r.kind, label: label.to_owned(), live })
            })
            .collect();
        children.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(children)
    }

    async fn discover(&self, stack: &str) -> ProviderResult<Vec<Discovered>> {
        let resources = self.resources.lock().expect("lock");
        Ok(resources
            .iter()
            .filter(|(_, r)| r.tags.get(STACK_TAG).map(String::as_str) == Some(stack))
            .map(|(address, r)| Discovered { address: address.clone(), kind: r.kind, identity: r.state.clone() })
            .collect())
    }
}
