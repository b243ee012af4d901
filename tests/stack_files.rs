//! The files a stack file names, through the real binary: a FIFO or a device
//! is refused at once (it used to hang berth, or read /dev/zero until memory
//! ran out), a symlink out of the stack's folder is refused unless
//! `--allow-path` admits its target, and a file that looks like credentials
//! is warned about with its values kept out of the output.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{copy_reference_stack, finish_berth, Run};

/// `berth validate STACK ARGS` offline, failing the test if it hangs.
fn validate(stack: &Path, args: &[&str]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("validate")
        .arg(stack)
        .args(args)
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish_berth(child, Duration::from_secs(20))
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |t| t.replace("file: env/prod.env", "file: env/pipe.env"));
    let status = Command::new("mkfifo").arg(dir.path().join("env/pipe.env")).status().unwrap();
    assert!(status.success());
    let run = validate(&stack, &[]).expect(1);
    assert!(run.stderr.contains("`env/pipe.env` is a FIFO, not a regular file"), "{}", run.stderr);

    let stack = copy_reference_stack(dir.path(), |t| t.replace("file: env/prod.env", "file: /dev/zero"));
    let run = validate(&stack, &[]).expect(1);
    assert!(run.stderr.contains("`/dev/zero` is outside the stack's folder"), "{}", run.stderr);
    let run = validate(&stack, &["--allow-path", "/dev"]).expect(1);
    assert!(run.stderr.contains("`/dev/zero` is a device, not a regular file"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_folder_needs_allow_path() {
    let dir = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("common.env"), "NODE_ENV=production\n").unwrap();
    let stack = copy_reference_stack(dir.path(), |t| t.replace("file: env/prod.env", "file: env/common.env"));
    std::os::unix::fs::symlink(shared.path().join("common.env"), dir.path().join("env/common.env")).unwrap();
    let run = validate(&stack, &[]).expect(1);
    assert!(run.stderr.contains("`env/common.env` is outside the stack's folder (it resolves to"), "{}", run.stderr);
    assert!(run.stderr.contains("stack.yaml:81:9: error"), "located at the object's `file:`: {}", run.stderr);
    let run = validate(&stack, &["--allow-path", shared.path().to_str().unwrap()]).expect(0);
    assert!(run.stdout.contains("is valid"), "{}", run.stdout);
}

#[test]
fn a_file_that_looks_like_credentials_is_warned_about_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |t| t.replace("        sensitive: true ", "        sensitive: false"));
    std::fs::write(dir.path().join("env/prod.env"), "NODE_ENV=production\nAWS_SECRET_ACCESS_KEY=Zq8vR2xLk9TfW3mN\n")
        .unwrap();
    let run = validate(&stack, &[]).expect(0);
    assert!(run.stderr.contains("warning[BRT043]"), "{}", run.stderr);
    assert!(run.stderr.contains("add `sensitive: true`"), "{}", run.stderr);
    assert!(run.stdout.contains("1 warning(s)"), "{}", run.stdout);
    assert!(!run.stderr.contains("Zq8vR2xLk9TfW3mN") && !run.stdout.contains("Zq8vR2xLk9TfW3mN"));
}
