//! Commands that need no AWS: validate, check --offline, graph, schema.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn berth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("NO_COLOR", "1")
        // Offline commands must not need credentials or an endpoint.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stack() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/ecs-sample/stack.yaml").to_string_lossy().into_owned()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn validate_and_offline_check_pass_the_reference_stack() {
    let out = stdout(&berth(&["validate", &stack()]));
    let valid = format!("is valid: {} resources", common::reference_count());
    assert!(out.contains(&valid), "{out}");
    let out = stdout(&berth(&["check", &stack(), "--offline"]));
    assert!(out.contains("0 warning(s)"), "{out}");
}

#[test]
fn graph_draws_every_resource_and_edge() {
    // The whole rendering: a resource or an edge lost or added shows in the snapshot.
    insta::assert_snapshot!("graph_mermaid", stdout(&berth(&["graph", &stack(), "--format", "mermaid"])));
    insta::assert_snapshot!("graph_dot", stdout(&berth(&["graph", &stack(), "--format", "dot"])));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let printed = stdout(&berth(&["schema"]));
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/stack.schema.json")).unwrap();
    assert_eq!(printed, committed);
}

#[test]
fn a_region_aws_does_not_have_is_refused_offline() {
    let output = berth(&["validate", &stack(), "--region", "us-esat-1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--region: `us-esat-1` is not an AWS region; did you mean `us-east-1`?"), "{stderr}");
}

#[test]
fn completions_man_page_and_version_are_generated() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef berth"),
        ("fish", "complete -c berth"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout(&berth(&["completions", shell]));
        assert!(script.contains(marker), "{shell}: {script}");
        // Every command is offered.
        for command in ["plan", "apply", "destroy", "show", "validate"] {
            assert!(script.contains(command), "{shell} completion lacks `{command}`");
        }
    }
    let man = stdout(&berth(&["man"]));
    assert!(man.starts_with(".ie") || man.contains(".TH berth"), "{}", &man[..man.len().min(400)]);
    assert!(man.contains("plan") && man.contains("destroy"), "the man page lists the commands");
    let version = stdout(&berth(&["--version"]));
    let expected = format!("berth {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected) && version.trim_end().ends_with(')'), "{version}");
}
