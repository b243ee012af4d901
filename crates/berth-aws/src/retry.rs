//! Throttles the SDK's standard classifiers miss: ECS (and others) sometimes
//! throttle with a `ClientException` whose message says "Rate exceeded"
//! instead of a throttling error code. They are retried with the SDK's
//! backoff and jitter like any throttle; other client errors are not.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

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

#[cfg(test)]
mod tests {
    use super::is_throttle_text;

    #[test]
    fn throttle_texts() {
        assert!(is_throttle_text("ClientException: Rate exceeded"));
        assert!(is_throttle_text(r#"{"__type":"ThrottlingException","message":"x"}"#));
        assert!(!is_throttle_text("ClientException: Unable to assume role"));
    }
}
