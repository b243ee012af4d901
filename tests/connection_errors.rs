//! When AWS cannot be used at all, berth says why in words and soon: no
//! credentials, or an endpoint that never answers. No Rust debug output.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn reference_stack() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/ecs-sample/stack.yaml").to_str().unwrap().to_owned()
}

/// Runs berth with only `env` (and PATH) in its environment, no shared AWS
/// files and no instance metadata.
fn berth_alone(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run berth")
}

fn assert_no_debug_dump(stderr: &str) {
    for debug in ["Error {", "ErrorMetadata {", "CredentialsNotLoaded(", "DispatchFailure(", "Some("] {
        assert!(!stderr.contains(debug), "a Rust debug representation was printed:\n{stderr}");
    }
}

#[test]
fn no_credentials_at_all_is_said_in_words() {
    let out = berth_alone(&["plan", &reference_stack()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS credentials were found") && stderr.contains("AWS_PROFILE"), "{stderr}");
    assert_no_debug_dump(&stderr);
}

#[test]
fn an_endpoint_that_never_answers_is_reported_within_the_timeout() {
    // Accepts connections and never answers them. The message comes only
    // from berth's own limit, so the test needs no clock.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let out = berth_alone(&["plan", &reference_stack(), "--timeout", "2s"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AWS did not answer within 2s") && stderr.contains("--timeout"), "{stderr}");
    assert_no_debug_dump(&stderr);
    drop(silent);
}
