//! One handler per resource kind, and the registry that maps a kind to it.
//!
//! Everything berth does with one kind (find it, create, update, delete it,
//! list its untagged children, recognise it in discovery) is that kind's
//! [`Handler`]. [`handler`] is an exhaustive match, so a kind without a
//! handler does not compile, and no handler is ever asked about a kind it
//! does not know.

use std::collections::BTreeMap;

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, LiveChild, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::Value;

use crate::util::{desired_tags, tag_changes};
use crate::{autoscaling, ec2, ecs, elb, iam, logs, s3, secretsmanager, ssm, Clients};

#[async_trait]
pub(crate) trait Handler: Send + Sync {
    fn kind(&self) -> Kind;

    /// The live resource the desired state names, `None` when there is none.
    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>>;

    /// Sends the calls that make the resource; [`crate::once`] sees to it
    /// that they make it once.
    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs>;

    /// Only the tags change in place (through [`Handler::tagger`]); any
    /// other field is one the engine replaces, so being asked is an error.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &["tags"])?;
        if let Some(tagger) = self.tagger() {
            retag(tagger, c, req, live).await?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()>;

    /// How the service changes this kind's tags; `None` for kinds without tags.
    fn tagger(&self) -> Option<&'static dyn Tagger> {
        None
    }

    /// Error codes saying that the resource a create was sending is already
    /// there (see [`crate::once`]).
    fn already_exists(&self) -> &'static [&'static str] {
        &[]
    }

    /// The untagged parts inside a live resource of this kind, so that those
    /// the file does not declare are removed.
    async fn children(
        &self,
        _c: &Clients,
        _parent: &NodeRequest<'_>,
        _live: &Live,
        _declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        Ok(Vec::new())
    }

    /// The identity fields of the resource behind `arn`, a resource the
    /// tagging API found, when it is one of this kind.
    async fn identify(&self, _c: &Clients, _arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        Ok(None)
    }

    /// What `stack` owns of this kind, for kinds the tagging API does not
    /// cover. `found` is what was discovered before: the tagging API's
    /// resources and the kinds listed earlier in [`Kind::ALL`].
    async fn discover(&self, _c: &Clients, _stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        Ok(Vec::new())
    }
}

/// The tagging calls of one service (or of one IAM entity type).
#[async_trait]
pub(crate) trait Tagger: Send + Sync {
    /// What the tagging calls name the resource by: its id, ARN or name.
    fn target<'a>(&self, req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str>;
    async fn tag(&self, c: &Clients, target: &str, tags: BTreeMap<String, String>) -> ProviderResult<()>;
    async fn untag(&self, c: &Clients, target: &str, keys: Vec<String>) -> ProviderResult<()>;
}

/// Brings the live resource's tags to the desired ones.
pub(crate) async fn retag(tagger: &dyn Tagger, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
    let target = tagger.target(req, live)?;
    let none = BTreeMap::new();
    let (upsert, remove) = tag_changes(live.tags.as_ref().unwrap_or(&none), &desired_tags(req));
    if !upsert.is_empty() {
        tagger.tag(c, target, upsert).await?;
    }
    if !remove.is_empty() {
        tagger.untag(c, target, remove).await?;
    }
    Ok(())
}

/// The error for an update of a field AWS cannot change in place (one the
/// engine replaces the resource for).
pub(crate) fn fixed_field(req: &NodeRequest<'_>, field: &str) -> ProviderError {
    ProviderError::new(format!("{}: `{field}` of a {} cannot be changed in place", req.address, req.kind))
}

/// Refuses an update of any field but those that change `in_place`.
pub(crate) fn check_in_place(req: &NodeRequest<'_>, changed: &[String], in_place: &[&str]) -> ProviderResult<()> {
    match changed.iter().find(|field| !in_place.contains(&field.as_str())) {
        Some(field) => Err(fixed_field(req, field)),
        None => Ok(()),
    }
}

/// What a data kind does: it is read, never created, updated or deleted.
#[async_trait]
pub(crate) trait DataSource: Send + Sync {
    fn kind(&self) -> Kind;
    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>>;
}

/// The handler of a data kind: reads through its source and refuses the rest.
pub(crate) struct ReadOnly<S>(pub S);

#[async_trait]
impl<S: DataSource> Handler for ReadOnly<S> {
    fn kind(&self) -> Kind {
        self.0.kind()
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        self.0.read(c, req).await
    }

    async fn create(&self, _c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        Err(read_only(req))
    }

    async fn update(&self, _c: &Clients, req: &NodeRequest<'_>, _: &Live, _: &[String]) -> ProviderResult<Outputs> {
        Err(read_only(req))
    }

    async fn delete(&self, _c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        Err(read_only(req))
    }
}

fn read_only(req: &NodeRequest<'_>) -> ProviderError {
    ProviderError::new(format!("{} is read-only", req.kind))
}

/// An ARN the tagging API returned, in the parts that tell kinds apart.
pub(crate) struct Arn<'a> {
    pub full: &'a str,
    /// `ecs`, `s3`, `elasticloadbalancing`, ...
    pub service: &'a str,
    /// Everything after the account: `cluster/prod`, `log-group:/ecs/app:*`, a bucket's name.
    pub resource: &'a str,
    /// The resource up to its first `/` (`cluster`), or all of it.
    pub resource_type: &'a str,
    /// The resource after its first `/` (`prod`), or "".
    pub path: &'a str,
}

impl<'a> Arn<'a> {
    pub(crate) fn parse(full: &'a str) -> Self {
        let resource = full.splitn(6, ':').nth(5).unwrap_or_default();
        let service = full.split(':').nth(2).unwrap_or_default();
        let (resource_type, path) = resource.split_once('/').unwrap_or((resource, ""));
        Arn { full, service, resource, resource_type, path }
    }
}

/// Every service's handlers: a kind's handler is listed by its service
/// module, next to the `mod` line of its file.
const SERVICES: &[&[&dyn Handler]] = &[
    ec2::HANDLERS,
    ssm::HANDLERS,
    iam::HANDLERS,
    s3::HANDLERS,
    secretsmanager::HANDLERS,
    logs::HANDLERS,
    autoscaling::HANDLERS,
    ecs::HANDLERS,
    elb::HANDLERS,
];

/// The handler of `kind` (every kind has one: `every_kind_has_its_own_handler`).
pub(crate) fn handler(kind: Kind) -> &'static dyn Handler {
    SERVICES
        .iter()
        .flat_map(|handlers| handlers.iter())
        .find(|h| h.kind() == kind)
        .copied()
        .unwrap_or_else(|| panic!("no handler for {kind}: list it in its service module's HANDLERS"))
}

/// Every kind's handler, in the order of [`Kind::ALL`].
pub(crate) fn handlers() -> impl Iterator<Item = &'static dyn Handler> {
    Kind::ALL.iter().map(|&kind| handler(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_handler() {
        for &kind in Kind::ALL {
            assert_eq!(handler(kind).kind(), kind, "the handler of {kind}");
        }
        let listed = SERVICES.iter().map(|handlers| handlers.len()).sum::<usize>();
        assert_eq!(listed, Kind::ALL.len(), "a kind is listed by two services, or twice");
    }

    #[test]
    fn arns_split_into_service_type_and_path() {
        let arn = Arn::parse("arn:aws:ecs:us-east-1:123456789012:service/prod/web");
        assert_eq!((arn.service, arn.resource_type, arn.path), ("ecs", "service", "prod/web"));
        let arn = Arn::parse("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app:*");
        assert_eq!((arn.service, arn.resource, arn.resource_type), ("logs", "log-group:/ecs/app:*", "log-group:"));
    }
}
