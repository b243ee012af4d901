//! berth's AWS provider: implements [`berth_core::provider::Provider`] with the
//! AWS SDK for Rust. Start at [`AwsProvider`]; each resource kind has one
//! handler (`<service>/<kind>.rs`), found through `handler::handler` (see
//! `docs/resources.md` for every kind's desired state).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::provider::{
    Discovered, Identity, Live, LiveChild, NodeRequest, Outputs, Provider, ProviderError, ProviderResult,
};
use serde_json::Value;
use tokio::sync::OnceCell;

pub use lock::{HeldLock, LockError, LockHolder, LockLocation};
pub use secretsmanager::generated_values;

mod autoscaling;
mod discover;
mod ec2;
mod ecs;
mod elb;
mod facts;
mod handler;
mod iam;
mod lock;
mod logs;
mod once;
mod retry;
mod rollout;
mod s3;
mod secretsmanager;
mod ssm;
mod util;

use handler::handler;

/// How to reach AWS: the standard credential chain plus these overrides.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// Region; falls back to the stack's `region:` and then the standard chain.
    pub region: Option<String>,
    /// A local endpoint such as moto (`AWS_ENDPOINT_URL` is honoured too).
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (default 3).
    pub max_attempts: Option<u32>,
    /// How long the first call (who is calling) may take, retries included,
    /// before berth says AWS does not answer (default 15 s).
    pub first_answer_timeout: Option<Duration>,
}

/// How long the first call may take by default: an endpoint that does not
/// answer is reported within this, not after minutes of retries.
pub const DEFAULT_FIRST_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// The SDK clients berth uses, built once from one configuration.
pub(crate) struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub appscaling: aws_sdk_applicationautoscaling::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub acm: aws_sdk_acm::Client,
    pub region: String,
}

/// The AWS implementation of [`Provider`].
#[derive(Clone)]
pub struct AwsProvider {
    clients: Arc<Clients>,
    identity: Arc<OnceCell<Identity>>,
    plain_http: bool,
    /// [`AwsOptions::first_answer_timeout`].
    first_answer_timeout: Duration,
}

impl AwsProvider {
    /// Loads configuration from the standard chain with `options` on top.
    pub async fn connect(options: &AwsOptions) -> Result<Self, ProviderError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(options.max_attempts.unwrap_or(3))
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| ProviderError::new("no AWS region: set `region:` in the stack, --region or AWS_REGION"))?;
        // A local endpoint has no virtual-host DNS for buckets.
        let endpoints: Vec<String> = [config.endpoint_url().map(str::to_owned)]
            .into_iter()
            .chain(["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"].map(|v| std::env::var(v).ok()))
            .flatten()
            .collect();
        let path_style = !endpoints.is_empty();
        let plain_http = endpoints.iter().any(|e| e.starts_with("http://"));
        // Every client also retries throttles that arrive under another error code.
        macro_rules! client {
            ($sdk:ident $(, $setting:ident($value:expr))*) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&config).retry_classifier(retry::RateExceeded)$(.$setting($value))*.build(),
                )
            };
        }
        let clients = Clients {
            ec2: client!(aws_sdk_ec2),
            iam: client!(aws_sdk_iam),
            s3: client!(aws_sdk_s3, force_path_style(path_style)),
            ecs: client!(aws_sdk_ecs),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            autoscaling: client!(aws_sdk_autoscaling),
            appscaling: client!(aws_sdk_applicationautoscaling),
            logs: client!(aws_sdk_cloudwatchlogs),
            ssm: client!(aws_sdk_ssm),
            sts: client!(aws_sdk_sts),
            tagging: client!(aws_sdk_resourcegroupstagging),
            secrets: client!(aws_sdk_secretsmanager),
            acm: client!(aws_sdk_acm),
            region,
        };
        Ok(AwsProvider {
            clients: Arc::new(clients),
            identity: Arc::new(OnceCell::new()),
            plain_http,
            first_answer_timeout: options.first_answer_timeout.unwrap_or(DEFAULT_FIRST_ANSWER_TIMEOUT),
        })
    }

    /// Whether AWS is reached over plain HTTP (a local endpoint), where
    /// requests cannot meet a policy that demands TLS.
    pub fn plain_http(&self) -> bool {
        self.plain_http
    }
}

impl AwsProvider {
    /// Sends the calls that create the resource of `req`, once.
    pub(crate) async fn send_create(&self, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        handler(req.kind).create(&self.clients, req).await
    }
}

/// Turns any SDK error into a [`ProviderError`] carrying AWS's code and message.
pub(crate) fn aws_error<E>(err: E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code().map(str::to_owned);
    let message = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => without_answer(&err),
    };
    ProviderError { code, message }
}

/// What went wrong with a call that got no AWS error back, in words: the
/// causes' messages (never their debug form), and what to do about the
/// usual ones.
fn without_answer(err: &dyn std::error::Error) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        next = cause.source();
    }
    let chain = causes.join(": ");
    let lower = chain.to_lowercase();
    let advice = if lower.contains("credential") {
        "no AWS credentials were found: set AWS_PROFILE (or --profile) to a configured profile, \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or sign in with `aws sso login`"
    } else if lower.contains("timeout") || lower.contains("timed out") {
        "AWS did not answer in time: check the network, the endpoint and the region"
    } else if lower.contains("dispatch failure") || lower.contains("connect") || lower.contains("dns") {
        "AWS could not be reached: check the network, the endpoint (--endpoint-url, AWS_ENDPOINT_URL) and the region"
    } else if lower.contains("error parsing") || lower.contains("unhandled error") {
        "the endpoint's answer is not an AWS API response: check the endpoint and the region"
    } else {
        return chain;
    };
    format!("{advice} ({chain})")
}

#[async_trait]
impl Provider for AwsProvider {
    async fn identity(&self) -> ProviderResult<Identity> {
        let identity = self
            .identity
            .get_or_try_init(|| async {
                let call = self.clients.sts.get_caller_identity().send();
                let limit = self.first_answer_timeout;
                let who = tokio::time::timeout(limit, call)
                    .await
                    .map_err(|_| {
                        ProviderError::new(format!(
                            "AWS did not answer within {}s (region {}): check the network, the endpoint \
                             (--endpoint-url, AWS_ENDPOINT_URL) and the region; --timeout changes the limit",
                            limit.as_secs(),
                            self.clients.region
                        ))
                    })?
                    .map_err(aws_error)?;
                Ok::<_, ProviderError>(Identity {
                    account_id: who.account().unwrap_or_default().to_owned(),
                    region: self.clients.region.clone(),
                })
            })
            .await?;
        Ok(identity.clone())
    }

    async fn read(&self, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        handler(req.kind).read(&self.clients, req).await
    }

    async fn create(&self, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        // Sent again only after reading back that it was not made: see once.rs.
        once::create(self, req).await
    }

    async fn update(&self, req: &NodeRequest<'_>, live: &Live, changed: &[String]) -> ProviderResult<Outputs> {
        handler(req.kind).update(&self.clients, req, live, changed).await
    }

    async fn children(
        &self,
        parent: &NodeRequest<'_>,
        live: &Live,
        declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        handler(parent.kind).children(&self.clients, parent, live, declared).await
    }

    async fn discover(&self, stack: &str) -> ProviderResult<Vec<Discovered>> {
        discover::discover(&self.clients, stack).await
    }

    async fn delete(&self, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        handler(req.kind).delete(&self.clients, req, live).await
    }
}
