//! Creates that happen once, whatever the network does.
//!
//! A create whose answer is lost (the connection drops after AWS acted, a
//! timeout, a 5xx) may or may not have made the resource. Sending it again
//! blindly is how one apply ends up with two load balancers, two task
//! definition revisions or a service overwritten under its own name (moto),
//! or with "already exists" errors (AWS and moto). So:
//!
//! 1. the calls that make something are sent with [`send_once!`]: the SDK
//!    retries them only when throttled (AWS throttles before acting);
//! 2. when such a create fails with an unknown outcome or an "already
//!    exists" error, [`create`] reads the resource back. If it is there and
//!    carries this stack's ownership tags (it was made by this very create a
//!    moment ago, or by a run that died before hearing the answer), the
//!    create is done: the remaining fields are brought in line through the
//!    provider's update (tags, a service's deployment settings, a log group's
//!    retention, an instance profile's role, ...). If nothing is there, the
//!    create is sent again, up to the configured number of attempts.
//!
//! A resource that exists without this stack's tags is never adopted: the
//! original error is returned, as the plan would have refused it.

use std::time::Duration;

use berth_core::engine::changed_fields;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, Provider, ProviderError, ProviderResult, ID_TAG, STACK_TAG};

use crate::handler::handler;
use crate::AwsProvider;

/// Sends `$call` (a fluent builder of the SDK crate `$sdk`) letting the SDK
/// retry it only when it is throttled; see [`crate::retry::ThrottlesOnly`].
macro_rules! send_once {
    ($sdk:ident, $call:expr) => {
        $call
            .customize()
            .config_override($sdk::config::Builder::default().retry_classifier($crate::retry::ThrottlesOnly))
            .send()
            .await
    };
}
pub(crate) use send_once;

/// Error codes of a server-side failure: the request may have been acted on.
const SERVER_FAULTS: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// Creates the resource of `req` so that it exists once (see the module docs).
pub(crate) async fn create(provider: &AwsProvider, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
    let attempts = provider.clients.ecs.config().retry_config().map_or(3, |r| r.max_attempts()).max(1);
    let mut result = provider.send_create(req).await;
    // Each round reads the resource back, then sends the create again or
    // completes the resource found (which can fail the same way).
    let mut round = 0;
    loop {
        round += 1;
        let error = match result {
            Ok(outputs) => return Ok(outputs),
            Err(error) => error,
        };
        let unknown = outcome_unknown(&error);
        if (!unknown && !already_exists(req.kind, &error)) || round > attempts {
            return Err(error);
        }
        let live = provider.read(req).await.map_err(|read| ProviderError {
            code: error.code.clone(),
            message: format!(
                "{}; reading it back to see whether it was made failed too: {}",
                error.message, read.message
            ),
        })?;
        result = match live {
            Some(live) if owned(req, &live, unknown) => finish(provider, req, live).await,
            Some(_) => return Err(error),
            None if unknown => {
                tokio::time::sleep(Duration::from_millis(100 << round.min(6))).await;
                provider.send_create(req).await
            }
            None => return Err(error),
        };
    }
}

/// Whether the failed request may have been acted on: no answer, or a
/// server-side failure. Errors without a code are transport failures
/// (or answers that could not be read).
fn outcome_unknown(error: &ProviderError) -> bool {
    error.code.as_deref().is_none_or(|code| SERVER_FAULTS.contains(&code))
}

/// Whether `error` says that the resource of `kind` is already there: one of
/// its handler's codes, or ECS's way of saying so.
fn already_exists(kind: Kind, error: &ProviderError) -> bool {
    let message = error.message.to_ascii_lowercase();
    match error.code.as_deref() {
        Some(code) if handler(kind).already_exists().contains(&code) => true,
        // ECS: a capacity provider that exists, or CreateService without the
        // first request's client token ("Creation of service was not idempotent").
        Some("ClientException" | "InvalidParameterException") => {
            message.contains("already exists") || message.contains("not idempotent")
        }
        _ => false,
    }
}

/// Whether the resource found after a failed create is this one, made by
/// this stack. Parts without tags (rules, attachments, policies, objects)
/// belong to a parent the plan already found to be this stack's.
fn owned(req: &NodeRequest<'_>, live: &Live, unknown: bool) -> bool {
    if !req.kind.taggable() {
        return true;
    }
    let tags = live.tags.clone().unwrap_or_default();
    if tags.get(STACK_TAG).map(String::as_str) == Some(req.stack) {
        return tags.get(ID_TAG).is_none_or(|id| id == req.address);
    }
    // A bucket's tags come with CreateBucket on AWS but are a separate call
    // when that is refused (and on moto, which ignores them): a bucket this
    // very create just made may have none yet.
    unknown && req.kind == Kind::S3Bucket && tags.is_empty()
}

/// Completes a create whose resource was found: updates what differs.
async fn finish(provider: &AwsProvider, req: &NodeRequest<'_>, live: Live) -> ProviderResult<Outputs> {
    let changed = changed_fields(req.kind, req.desired, &live);
    if let Some(field) = changed.iter().find(|f| req.kind.replace_fields().contains(&f.as_str())) {
        return Err(ProviderError::new(format!(
            "{}: found this stack's {} after a failed create, but its `{field}` is not the desired one; \
             run apply again to replace it",
            req.address, req.kind
        )));
    }
    if changed.is_empty() {
        return Ok(live.outputs);
    }
    let mut outputs = provider.update(req, &live, &changed).await?;
    for (key, value) in live.outputs {
        outputs.entry(key).or_insert(value);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn error(code: Option<&str>, message: &str) -> ProviderError {
        ProviderError { code: code.map(str::to_owned), message: message.into() }
    }

    #[test]
    fn lost_answers_and_duplicates_are_recognised() {
        assert!(outcome_unknown(&error(None, "dispatch failure: io error")));
        assert!(outcome_unknown(&error(Some("InternalError"), "InternalError: oops")));
        assert!(!outcome_unknown(&error(Some("ValidationError"), "bad")));
        assert!(already_exists(Kind::SecurityGroup, &error(Some("InvalidGroup.Duplicate"), "exists")));
        assert!(!already_exists(Kind::KeyPair, &error(Some("InvalidGroup.Duplicate"), "exists")));
        let not_idempotent = error(Some("InvalidParameterException"), "Creation of service was not idempotent.");
        assert!(already_exists(Kind::EcsService, &not_idempotent));
        let provider_exists = error(Some("ClientException"), "The capacity provider cp already exists.");
        assert!(already_exists(Kind::CapacityProvider, &provider_exists));
        assert!(!already_exists(Kind::IamRole, &error(Some("ClientException"), "Unable to assume role")));
    }

    #[test]
    fn only_this_stacks_resources_are_adopted() {
        let desired = json!({ "name": "g" });
        let req = |kind| NodeRequest { stack: "s", address: "a", kind, desired: &desired };
        let live = |tags: &[(&str, &str)]| Live {
            tags: Some(tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()),
            ..Live::default()
        };
        let ours = live(&[(STACK_TAG, "s"), (ID_TAG, "a")]);
        assert!(owned(&req(Kind::SecurityGroup), &ours, false));
        assert!(!owned(&req(Kind::SecurityGroup), &live(&[(STACK_TAG, "other")]), true));
        assert!(!owned(&req(Kind::SecurityGroup), &live(&[(STACK_TAG, "s"), (ID_TAG, "b")]), true));
        assert!(!owned(&req(Kind::SecurityGroup), &live(&[]), true));
        assert!(owned(&req(Kind::S3Bucket), &live(&[]), true));
        assert!(!owned(&req(Kind::S3Bucket), &live(&[]), false));
        assert!(owned(&req(Kind::SecurityGroupIngress), &Live::default(), false));
    }

    #[test]
    fn what_differs_after_adoption() {
        let desired = json!({ "name": "/ecs/app", "retention_days": 14, "tags": { STACK_TAG: "s" } });
        let live = Live {
            state: json!({ "name": "/ecs/app" }),
            tags: Some(BTreeMap::from([(STACK_TAG.to_owned(), "s".to_owned())])),
            ..Live::default()
        };
        assert_eq!(changed_fields(Kind::LogGroup, &desired, &live), ["retention_days"]);
        let untagged = Live { tags: Some(BTreeMap::new()), ..live };
        assert_eq!(changed_fields(Kind::LogGroup, &desired, &untagged), ["retention_days", "tags"]);
    }
}
