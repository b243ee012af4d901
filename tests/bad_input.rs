//! The corpus of broken stacks in tests/corpus: each is refused with a short
//! error naming file, line and column, exit code 1, and no request reaches
//! the AWS endpoint (a listener stands in for it and counts connections).
//! Each file's first line, `# expect: TEXT`, is what its error must say.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn every_broken_stack_is_refused_before_any_aws_call() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut stacks: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    stacks.sort();
    assert!(stacks.len() >= 40, "the corpus should hold at least 40 broken stacks, found {}", stacks.len());

    for stack in &stacks {
        let text = std::fs::read_to_string(stack).unwrap();
        let name = stack.file_name().unwrap().to_string_lossy();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: the first line must be `# expect: <what the error says>`"));
        for command in ["plan", "apply"] {
            let output = Command::new(env!("CARGO_BIN_EXE_berth"))
                .args([command, stack.to_str().unwrap(), "--auto-approve"].iter().take(if command == "plan" {
                    2
                } else {
                    3
                }))
                .env("AWS_ENDPOINT_URL", &endpoint)
                .env("AWS_ACCESS_KEY_ID", "corpus")
                .env("AWS_SECRET_ACCESS_KEY", "corpus")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{name}: berth {command} should exit 1\n{stderr}");
            let located = stderr
                .lines()
                .find(|l| l.contains(&*name) && l.contains(": error"))
                .unwrap_or_else(|| panic!("{name}: no located error in:\n{stderr}"));
            let position: Vec<usize> = located
                .split(&format!("{name}:"))
                .nth(1)
                .unwrap()
                .split(':')
                .take(2)
                .map(|n| n.parse().unwrap_or_else(|_| panic!("{name}: no line:column in `{located}`")))
                .collect();
            assert!(position[0] > 0 && position[1] > 0, "{name}: position missing in `{located}`");
            assert!(stderr.lines().count() <= 6, "{name}: the error should be short:\n{stderr}");
            assert!(stderr.contains(expected), "{name}: the error should say `{expected}`:\n{stderr}");
        }
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "a broken stack must not reach the AWS endpoint");

    // Control: a valid stack does reach the stand-in endpoint, so the count above means something.
    let valid = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/ecs-sample/stack.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["plan", valid.to_str().unwrap(), "--max-retries", "1"])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "corpus")
        .env("AWS_SECRET_ACCESS_KEY", "corpus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(connections.load(Ordering::SeqCst) > 0, "the valid stack should have called the endpoint");
}
