//! Test support for berth: starts a private `moto_server` (a local AWS
//! endpoint) on a free port of 127.0.0.1 and hands out SDK configuration for
//! it. A test that needs moto fails loudly when `moto_server` is missing: it
//! never skips. [`FaultProxy`] goes between berth and moto to inject faults,
//! and with a [`RolloutScript`] plays the ECS rollout moto cannot.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod fault_proxy;
pub mod rollout_script;

pub use fault_proxy::{Fault, FaultConfig, FaultProxy};
pub use rollout_script::{RolloutScript, TargetHealth};

/// SDKs the end-to-end tests read moto with that the root crate does not
/// depend on itself.
pub mod sdk {
    pub use aws_sdk_autoscaling as autoscaling;
}

/// The moto version the tests are written against (see `.ci/run`).
pub const MOTO_VERSION: &str = "5.2.1";

/// Region the tests use (the reference stack's).
pub const REGION: &str = "ap-northeast-2";

/// A running moto_server, stopped when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Moto {
    /// Starts a fresh server; every test gets its own, so tests share no state.
    ///
    /// # Panics
    /// When `moto_server` cannot be started or does not listen within 30 s.
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Without it, AWS-managed policies such as
            // AmazonECSTaskExecutionRolePolicy do not exist on moto.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            // moto starts no tasks; this makes services report one running.
            .env("MOTO_ECS_SERVICE_RUNNING", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}): these tests need it. Install it with \
                     `pip install 'moto[server]=={MOTO_VERSION}'` (or run .ci/run)"
                )
            });
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start ({status}); is moto[server] {MOTO_VERSION} installed?");
            }
            assert!(Instant::now() < deadline, "moto_server did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// Wipes everything the server holds (every account), for a test that
    /// runs several scenarios on one warm server: a fresh server spends its
    /// first seconds importing each service's code.
    ///
    /// # Panics
    /// When the server does not answer the reset with 200.
    pub fn reset(&self) {
        use std::io::{Read, Write};
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect to moto_server");
        let request = format!(
            "POST /moto-api/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("send the reset");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read the reset's answer");
        assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "moto reset: {answer}");
    }

    /// Environment for a berth process (or SDK) talking to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        aws_env(&self.endpoint)
    }

    /// SDK configuration pointing at this server, for reading back what berth did.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint).await
    }

    /// An S3 client with path-style addressing, which a local endpoint needs.
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config = self.sdk_config().await;
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for a berth process (or SDK) talking to the AWS endpoint
/// `endpoint` with moto's dummy credentials.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
}

/// SDK configuration for the AWS endpoint `endpoint` (moto, or a proxy in
/// front of it) with moto's dummy credentials.
pub async fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_credential_types::Credentials::new("testing", "testing", None, None, "berth-testkit");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port on 127.0.0.1");
    listener.local_addr().expect("local address").port()
}

/// Puts moto's dummy credentials in this process's environment, for tests
/// that build berth's provider in-process. Every test sets the same values,
/// so concurrent calls agree.
pub fn use_test_credentials() {
    for (key, value) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ] {
        std::env::set_var(key, value);
    }
}

impl Moto {
    /// Options for berth's in-process provider, pointing at this server.
    pub fn region(&self) -> &'static str {
        REGION
    }
}
