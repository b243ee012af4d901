//! Retry classification on top of the SDK's.
//!
//! - [`RateExceeded`] (every client): throttles the SDK's standard
//!   classifiers miss. ECS (and others) sometimes throttle with a
//!   `ClientException` whose message says "Rate exceeded" instead of a
//!   throttling error code. They are retried with the SDK's backoff and
//!   jitter like any throttle; other client errors are not.
//! - [`ThrottlesOnly`] (per call, on creates): the SDK retries transport
//!   failures (a connection closed before the answer, a timeout) and 5xx
//!   answers for every operation, idempotent or not. For a create that is
//!   how one request becomes two resources: the first attempt reached AWS,
//!   its answer was lost, the retry makes a second load balancer or task
//!   definition revision, or fails with "already exists". Such calls are
//!   retried by the SDK only for throttles, which AWS sends before acting;
//!   `crate::once` reads the resource back before sending them again.
//! - [`NoRetryOnServerError`] (per call): for a read that moto answers with a
//!   500 every time, so that its retries do not cost the full backoff.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_types::retry::ErrorKind;

/// Classifies "rate exceeded" client errors as throttling.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RateExceeded;

/// Whether an error text is a throttle in disguise.
pub(crate) fn is_throttle_text(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["rate exceeded", "too many requests", "throttl", "requestlimitexceeded", "slow down"]
        .iter()
        .any(|p| text.contains(p))
}

impl ClassifyRetry for RateExceeded {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let described = error.as_operation_error().map(|e| e.to_string()).unwrap_or_default();
        // Unmodeled errors display only their code; the message is in the body.
        let body = ctx.response().and_then(|r| r.body().bytes()).map(String::from_utf8_lossy).unwrap_or_default();
        if is_throttle_text(&described) || is_throttle_text(&body) {
            RetryAction::throttling_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "berth: throttles reported as client errors"
    }
}

/// Lets the SDK retry a call only when it was throttled (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ThrottlesOnly;

impl ClassifyRetry for ThrottlesOnly {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, _ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        only_throttles(previous)
    }

    fn name(&self) -> &'static str {
        "berth: a create is retried by the SDK only when throttled"
    }

    /// After every other classifier, so that it sees their verdict.
    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// The verdict of [`ThrottlesOnly`] on what the other classifiers decided.
fn only_throttles(previous: &RetryAction) -> RetryAction {
    match previous {
        RetryAction::RetryIndicated(RetryReason::RetryableError { kind: ErrorKind::ThrottlingError, .. }) => {
            RetryAction::NoActionIndicated
        }
        RetryAction::RetryIndicated(_) => RetryAction::RetryForbidden,
        _ => RetryAction::NoActionIndicated,
    }
}

/// Does not retry an answer with a 5xx status that is not a throttle;
/// transport failures and throttles are still retried.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NoRetryOnServerError;

impl ClassifyRetry for NoRetryOnServerError {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        let server_error = ctx.response().is_some_and(|r| r.status().is_server_error());
        match previous {
            RetryAction::RetryIndicated(RetryReason::RetryableError { kind, .. })
                if server_error && *kind != ErrorKind::ThrottlingError =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "berth: no retry of a server error"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
    use aws_smithy_types::retry::ErrorKind;

    use super::{is_throttle_text, only_throttles};

    #[test]
    fn creates_are_retried_only_when_throttled() {
        let retry = |kind| RetryAction::retryable_error(kind);
        assert_eq!(only_throttles(&retry(ErrorKind::ThrottlingError)), RetryAction::NoActionIndicated);
        assert_eq!(only_throttles(&retry(ErrorKind::TransientError)), RetryAction::RetryForbidden);
        assert_eq!(only_throttles(&retry(ErrorKind::ServerError)), RetryAction::RetryForbidden);
        assert_eq!(only_throttles(&RetryAction::NoActionIndicated), RetryAction::NoActionIndicated);
    }

    #[test]
    fn throttle_texts() {
        assert!(is_throttle_text("ClientException: Rate exceeded"));
        assert!(is_throttle_text(r#"{"__type":"ThrottlingException","message":"x"}"#));
        assert!(!is_throttle_text("ClientException: Unable to assume role"));
    }
}
