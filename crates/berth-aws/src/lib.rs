//! berth's AWS provider: implements [`berth_core::provider::Provider`] with the
//! AWS SDK for Rust. Start at [`AwsProvider`]; each module handles the kinds of
//! one AWS service (see `docs/resources.md` for every kind's desired state).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use berth_core::kind::Kind;
use berth_core::provider::{
    Discovered, Identity, Live, LiveChild, NodeRequest, Outputs, Provider, ProviderError, ProviderResult,
};
use serde_json::Value;
use tokio::sync::OnceCell;

pub use lock::{HeldLock, LockError, LockHolder, LockLocation};

mod autoscaling;
mod discover;
mod ec2;
mod ecs;
mod elb;
mod facts;
mod iam;
mod lock;
mod logs;
mod once;
mod retry;
mod rollout;
mod s3;
mod ssm;
mod util;

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
}

/// The SDK clients berth uses, built once from one configuration.
pub(crate) struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Set by `destroy --force-delete-buckets`: bucket deletes empty the bucket first.
    pub empty_buckets: std::sync::atomic::AtomicBool,
    pub region: String,
}

/// The AWS implementation of [`Provider`].
#[derive(Clone)]
pub struct AwsProvider {
    clients: Arc<Clients>,
    identity: Arc<OnceCell<Identity>>,
    plain_http: bool,
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
            logs: client!(aws_sdk_cloudwatchlogs),
            ssm: client!(aws_sdk_ssm),
            sts: client!(aws_sdk_sts),
            tagging: client!(aws_sdk_resourcegroupstagging),
            secrets: client!(aws_sdk_secretsmanager),
            empty_buckets: std::sync::atomic::AtomicBool::new(false),
            region,
        };
        Ok(AwsProvider { clients: Arc::new(clients), identity: Arc::new(OnceCell::new()), plain_http })
    }

    /// Whether AWS is reached over plain HTTP (a local endpoint), where
    /// requests cannot meet a policy that demands TLS.
    pub fn plain_http(&self) -> bool {
        self.plain_http
    }
}

impl AwsProvider {
    /// From now on, deleting a bucket deletes every object in it first (for
    /// `destroy --force-delete-buckets`; otherwise berth never empties a bucket).
    pub fn empty_buckets_on_delete(&self) {
        self.clients.empty_buckets.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AwsProvider {
    /// Sends the calls that create the resource of `req`, once.
    pub(crate) async fn send_create(&self, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let c = &self.clients;
        match service_of(req.kind) {
            Service::Ec2 => ec2::create(c, req).await,
            Service::Iam => iam::create(c, req).await,
            Service::S3 => s3::create(c, req).await,
            Service::Logs => logs::create(c, req).await,
            Service::Autoscaling => autoscaling::create(c, req).await,
            Service::Ecs => ecs::create(c, req).await,
            Service::Elb => elb::create(c, req).await,
            Service::Data => Err(ProviderError::new(format!("{} is read-only", req.kind))),
        }
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
        _ => DisplayErrorContext(&err).to_string(),
    };
    ProviderError { code, message }
}

#[async_trait]
impl Provider for AwsProvider {
    async fn identity(&self) -> ProviderResult<Identity> {
        let identity = self
            .identity
            .get_or_try_init(|| async {
                let who = self.clients.sts.get_caller_identity().send().await.map_err(aws_error)?;
                Ok::<_, ProviderError>(Identity {
                    account_id: who.account().unwrap_or_default().to_owned(),
                    region: self.clients.region.clone(),
                })
            })
            .await?;
        Ok(identity.clone())
    }

    async fn read(&self, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let c = &self.clients;
        match req.kind {
            Kind::Network | Kind::KeyPair | Kind::SecurityGroup | Kind::SecurityGroupIngress | Kind::LaunchTemplate => {
                ec2::read(c, req).await
            }
            Kind::SsmParameter => ssm::read(c, req).await,
            Kind::IamPolicy
            | Kind::IamRole
            | Kind::IamRolePolicyAttachment
            | Kind::IamRoleInlinePolicy
            | Kind::IamInstanceProfile => iam::read(c, req).await,
            Kind::S3Bucket | Kind::S3PublicAccessBlock | Kind::S3BucketPolicy | Kind::S3Object => {
                s3::read(c, req).await
            }
            Kind::LogGroup => logs::read(c, req).await,
            Kind::AutoscalingGroup => autoscaling::read(c, req).await,
            Kind::CapacityProvider
            | Kind::EcsCluster
            | Kind::ClusterCapacityProviders
            | Kind::TaskDefinition
            | Kind::EcsService => ecs::read(c, req).await,
            Kind::TargetGroup | Kind::LoadBalancer | Kind::Listener => elb::read(c, req).await,
        }
    }

    async fn create(&self, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        // Sent again only after reading back that it was not made: see once.rs.
        once::create(self, req).await
    }

    async fn update(&self, req: &NodeRequest<'_>, live: &Live, changed: &[String]) -> ProviderResult<Outputs> {
        let c = &self.clients;
        match service_of(req.kind) {
            Service::Ec2 => ec2::update(c, req, live, changed).await,
            Service::Iam => iam::update(c, req, live, changed).await,
            Service::S3 => s3::update(c, req, live, changed).await,
            Service::Logs => logs::update(c, req, live, changed).await,
            Service::Autoscaling => autoscaling::update(c, req, live, changed).await,
            Service::Ecs => ecs::update(c, req, live, changed).await,
            Service::Elb => elb::update(c, req, live, changed).await,
            Service::Data => Err(ProviderError::new(format!("{} is read-only", req.kind))),
        }
    }

    async fn children(
        &self,
        parent: &NodeRequest<'_>,
        live: &Live,
        declared: &[Value],
    ) -> ProviderResult<Vec<LiveChild>> {
        let c = &self.clients;
        match parent.kind {
            Kind::SecurityGroup => ec2::ingress_rules(c, live).await,
            Kind::IamRole => iam::role_children(c, parent, declared).await,
            Kind::IamPolicy => iam::policy_attachments(c, parent, live).await,
            Kind::S3Bucket => s3::bucket_children(c, parent, declared).await,
            Kind::EcsCluster => ecs::cluster_children(c, parent).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn discover(&self, stack: &str) -> ProviderResult<Vec<Discovered>> {
        discover::discover(&self.clients, stack).await
    }

    async fn delete(&self, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let c = &self.clients;
        match service_of(req.kind) {
            Service::Ec2 => ec2::delete(c, req, live).await,
            Service::Iam => iam::delete(c, req, live).await,
            Service::S3 => s3::delete(c, req, live).await,
            Service::Logs => logs::delete(c, req, live).await,
            Service::Autoscaling => autoscaling::delete(c, req, live).await,
            Service::Ecs => ecs::delete(c, req, live).await,
            Service::Elb => elb::delete(c, req, live).await,
            Service::Data => Err(ProviderError::new(format!("{} is read-only", req.kind))),
        }
    }
}

enum Service {
    Data,
    Ec2,
    Iam,
    S3,
    Logs,
    Autoscaling,
    Ecs,
    Elb,
}

fn service_of(kind: Kind) -> Service {
    use Kind::*;
    match kind {
        Network | SsmParameter => Service::Data,
        KeyPair | SecurityGroup | SecurityGroupIngress | LaunchTemplate => Service::Ec2,
        IamPolicy | IamRole | IamRolePolicyAttachment | IamRoleInlinePolicy | IamInstanceProfile => Service::Iam,
        S3Bucket | S3PublicAccessBlock | S3BucketPolicy | S3Object => Service::S3,
        LogGroup => Service::Logs,
        AutoscalingGroup => Service::Autoscaling,
        CapacityProvider | EcsCluster | ClusterCapacityProviders | TaskDefinition | EcsService => Service::Ecs,
        TargetGroup | LoadBalancer | Listener => Service::Elb,
    }
}
