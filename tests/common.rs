//! Shared helpers of the end-to-end tests: run the real `berth` binary
//! against a private moto_server.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use berth_testkit::Moto;

/// The reference stack as a user starts from it.
pub fn reference_stack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/ecs-sample/stack.yaml")
}

/// What one berth run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "berth exited {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `berth ARGS` against `moto`, with no terminal on stdin.
pub fn berth(moto: &Moto, args: &[&str]) -> Run {
    berth_with_env(moto, args, &[])
}

/// Runs `berth ARGS` against `moto` with extra environment variables.
pub fn berth_with_env(moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .envs(moto.env())
        .envs(env.iter().copied())
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run berth");
    Run::from(output)
}

/// (address, action) of every change in a JSON plan.
pub fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap().to_owned(), r["action"].as_str().unwrap().to_owned()))
        .collect()
}

/// Copies the reference stack with its key and env files into `dir`, with
/// `edit` applied to the stack text; returns the copy's path.
pub fn copy_reference_stack(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let source = reference_stack();
    let source_dir = source.parent().unwrap();
    for sub in ["keys", "env"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(source_dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let text = std::fs::read_to_string(&source).unwrap();
    let copy = dir.join("stack.yaml");
    std::fs::write(&copy, edit(&text)).unwrap();
    copy
}

/// Runs `berth ARGS` with exactly the AWS environment `env` (from
/// [`Moto::env`] or [`berth_testkit::FaultProxy::env`]), with no terminal on stdin.
pub fn run_berth(env: &[(&'static str, String)], args: &[&str]) -> Run {
    let output = berth_command(env, args).stdout(Stdio::piped()).stderr(Stdio::piped()).output().expect("run berth");
    Run::from(output)
}

/// Starts `berth ARGS` with the AWS environment `env` and returns at once,
/// for a test that kills it.
pub fn spawn_berth(env: &[(&'static str, String)], args: &[&str]) -> Child {
    berth_command(env, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start berth")
}

fn berth_command(env: &[(&'static str, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}
