//! Finding what a stack owns by its tags, for resources no longer in the
//! stack file. The Resource Groups Tagging API covers most kinds, and the
//! handlers recognise their kinds' ARNs among its answers; key pairs, launch
//! templates, auto scaling groups, capacity providers, listeners and IAM are
//! not covered by it (on AWS or on moto), and their handlers list them.

use aws_sdk_resourcegroupstagging::types::TagFilter;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, ProviderResult, ID_TAG, STACK_TAG};
use serde_json::Value;

use crate::handler::{handlers, Arn};
use crate::{aws_error, Clients};

/// Every resource tagged as owned by `stack` that berth can identify.
pub(crate) async fn discover(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let mut found = tagged_resources(c, stack).await?;
    // After the tagging API's answers: listeners are listed per load balancer found there.
    for kind_handler in handlers() {
        let listed = kind_handler.discover(c, stack, &found).await?;
        found.extend(listed);
    }
    Ok(found)
}

/// A discovered resource, when its tags give it an address.
pub(crate) fn discovered(address: Option<&str>, kind: Kind, identity: Value) -> Option<Discovered> {
    Some(Discovered { address: address?.to_owned(), kind, identity })
}

/// The `berth:id` tag's value among an SDK's tags as `(key, value)` pairs.
pub(crate) fn id_tag<'a>(tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Option<&'a str> {
    tags.into_iter().find(|(k, _)| *k == Some(ID_TAG)).and_then(|(_, v)| v)
}

/// Resources the tagging API finds, identified from their ARNs.
async fn tagged_resources(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .tagging
            .get_resources()
            .tag_filters(TagFilter::builder().key(STACK_TAG).values(stack).build())
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(aws_error)?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else { continue };
            let address = mapping.tags().iter().find(|t| t.key() == ID_TAG).map(|t| t.value());
            if let Some((kind, identity)) = identify(c, &Arn::parse(arn)).await? {
                found.extend(discovered(address, kind, identity));
            }
        }
        token = page.pagination_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// The kind of the resource behind `arn` and its identity, from the first
/// handler that recognises it (no two recognise the same ARN).
async fn identify(c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<(Kind, Value)>> {
    for kind_handler in handlers() {
        if let Some(identity) = kind_handler.identify(c, arn).await? {
            return Ok(Some((kind_handler.kind(), identity)));
        }
    }
    Ok(None)
}
