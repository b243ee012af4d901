//! PLACEHOLDER: being written.

use berth_core::provider::{Live, NodeRequest, Outputs, ProviderError, ProviderResult};

use crate::Clients;

pub(crate) async fn read(_c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
    Err(ProviderError::new(format!("{}: not supported yet", req.kind)))
}

pub(crate) async fn create(_c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    Err(ProviderError::new(format!("{}: not supported yet", req.kind)))
}

pub(crate) async fn update(_c: &Clients, req: &NodeRequest<'_>, _live: &Live, _changed: &[String]) -> ProviderResult<Outputs> {
    Err(ProviderError::new(format!("{}: not supported yet", req.kind)))
}

pub(crate) async fn delete(_c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
    Err(ProviderError::new(format!("{}: not supported yet", req.kind)))
}
