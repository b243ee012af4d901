//! The boundary between the engine and a cloud: a [`Provider`] reads, creates,
//! updates and deletes one node at a time. The AWS implementation lives in
//! `berth-aws`; tests use fakes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::kind::Kind;

/// Attribute values a resource exposes to its dependents (`arn`, `id`, ...).
pub type Outputs = BTreeMap<String, Value>;

/// Tag key naming the stack that owns a resource.
pub const STACK_TAG: &str = "berth:stack";
/// Tag key holding the resource's address in its stack.
pub const ID_TAG: &str = "berth:id";
/// Tag marking a protected resource, so it stays protected once removed from the file.
pub const PROTECT_TAG: &str = "berth:protect";
/// Service tag holding a digest of the environment files its tasks load: a
/// change means running tasks must be restarted to see the new values.
pub const ENV_DIGEST_TAG: &str = "berth:env-digest";

/// What the provider is asked to act on: one node with its desired state
/// fully resolved (references replaced by the values they point to).
#[derive(Debug, Clone)]
pub struct NodeRequest<'a> {
    /// The stack the node belongs to (its `berth:stack` tag).
    pub stack: &'a str,
    /// The node's address in the stack.
    pub address: &'a str,
    /// The kind of resource.
    pub kind: Kind,
    /// Desired state, in the shape documented per kind in `docs/resources.md`.
    /// Taggable kinds carry a `tags` object that already includes berth's
    /// ownership tags.
    pub desired: &'a Value,
}

/// A resource as it exists in AWS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// The fields berth manages, in the same shape as the desired state.
    pub state: Value,
    /// What dependents may refer to.
    pub outputs: Outputs,
    /// The resource's tags; `None` for kinds that take none.
    pub tags: Option<BTreeMap<String, String>>,
}

/// A provider failure, with the cloud's own message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// The cloud's error code, when it gave one (`NoSuchEntity`, ...).
    pub code: Option<String>,
    /// What went wrong, in the cloud's words.
    pub message: String,
}

impl ProviderError {
    /// An error with a message and no code.
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError { code: None, message: message.into() }
    }
}

/// Result type of provider calls.
pub type ProviderResult<T> = Result<T, ProviderError>;

/// The caller's identity, for `${aws.account_id}` and `${aws.region}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The AWS account id.
    pub account_id: String,
    /// The region berth works in.
    pub region: String,
}

/// A resource found by its ownership tags rather than from the stack file.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// From the `berth:id` tag.
    pub address: String,
    /// The kind of resource found.
    pub kind: Kind,
    /// The identity fields [`Provider::read`] needs (`name`, `vpc_id`, ...).
    pub identity: Value,
}

/// A live item inside a resource that has no tags of its own (an ingress
/// rule, a policy attachment), as its parent lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveChild {
    /// The kind of the item.
    pub kind: Kind,
    /// Its address below the parent's, from its content:
    /// `ingress[tcp 22 0.0.0.0/0]`, `inline_policies.admin`.
    pub label: String,
    /// Its state in the shape of the kind's desired state, and its outputs.
    pub live: Live,
}

/// A cloud that can hold a stack.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Who we are and where.
    async fn identity(&self) -> ProviderResult<Identity>;
    /// Reads the live resource, or `None` when it does not exist.
    async fn read(&self, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>>;
    /// Creates the resource and returns its outputs.
    async fn create(&self, req: &NodeRequest<'_>) -> ProviderResult<Outputs>;
    /// Updates the resource in place; `changed` names the top-level desired
    /// fields that differ from `live`. Returns the outputs after the update.
    async fn update(&self, req: &NodeRequest<'_>, live: &Live, changed: &[String]) -> ProviderResult<Outputs>;
    /// Deletes the resource.
    async fn delete(&self, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()>;
    /// The live children of an existing resource, of the kinds
    /// [`Kind::child_kinds`] names for it. `declared` holds the desired
    /// states of the children the file declares, for providers that can
    /// skip work for them.
    async fn children(
        &self,
        _parent: &NodeRequest<'_>,
        _live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        Ok(Vec::new())
    }
    /// Resources tagged `berth:stack=<stack>`, so that those no longer in the
    /// file are deleted too. Kinds without tags are found through their parent.
    async fn discover(&self, _stack: &str) -> ProviderResult<Vec<Discovered>> {
        Ok(Vec::new())
    }
}
