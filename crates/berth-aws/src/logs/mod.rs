//! CloudWatch Logs: log groups, and the service's tagging calls.

use std::collections::BTreeMap;

use async_trait::async_trait;
use berth_core::provider::{Live, NodeRequest, ProviderResult};

use crate::handler::Tagger;
use crate::util::live_arn;
use crate::{aws_error, Clients};

pub(crate) mod log_group;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[&log_group::LogGroup];

/// CloudWatch Logs tags a resource by its ARN.
pub(crate) struct LogsTags;

#[async_trait]
impl Tagger for LogsTags {
    fn target<'a>(&self, req: &'a NodeRequest<'_>, live: &'a Live) -> ProviderResult<&'a str> {
        live_arn(req, live)
    }

    async fn tag(&self, c: &Clients, arn: &str, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let call = c.logs.tag_resource().resource_arn(arn).set_tags(Some(tags.into_iter().collect()));
        call.send().await.map_err(aws_error)?;
        Ok(())
    }

    async fn untag(&self, c: &Clients, arn: &str, keys: Vec<String>) -> ProviderResult<()> {
        c.logs.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map_err(aws_error)?;
        Ok(())
    }
}
