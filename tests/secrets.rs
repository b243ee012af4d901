//! No secret value reaches any output: plans in every format, apply and
//! destroy progress, saved plans, and BERTH_LOG=debug logs of berth and the
//! AWS SDK, through a create, an env-file change and a sensitive var change.

mod common;

use berth_testkit::Moto;
use common::{berth_with_env, copy_reference_stack};

const SENSITIVE_VAR: &str = "postgres://app:Sup3rS3cretDbPass@db.internal/app";
const CHANGED_VAR: &str = "postgres://app:An0therS3cretPass@db.internal/app";

/// The values of a `KEY=VALUE` env file.
fn env_values(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim().to_owned()))
        .filter(|v| v.len() >= 4)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_any_output_even_with_debug_logging() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |text| {
        text.replace("vars:\n", &format!("vars:\n  database_url: {{ value: \"{SENSITIVE_VAR}\", sensitive: true }}\n"))
            .replace(
                "        memory_reservation: 256\n",
                "        memory_reservation: 256\n        environment: { DATABASE_URL: \"${var.database_url}\" }\n",
            )
    });
    let stack = stack.to_str().unwrap();
    let env_file = dir.path().join("env/prod.env");
    let mut secrets = env_values(&env_file);
    secrets.push(SENSITIVE_VAR.into());
    assert!(secrets.len() >= 3, "{secrets:?}");

    let debug = [("BERTH_LOG", "debug")];
    let saved = dir.path().join("plan.berth");
    let saved = saved.to_str().unwrap();
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], code: i32| {
        let run = berth_with_env(&moto, args, &debug).expect(code);
        // Only what berth printed: the arguments hold the secret the user passed.
        outputs.push(format!("{}\n{}", run.stdout, run.stderr));
    };
    for format in ["text", "json", "markdown"] {
        run(&["plan", stack, "--format", format, "--graph"], 0);
    }
    run(&["plan", stack, "--out", saved], 0);
    run(&["apply", saved, "--auto-approve"], 0);

    // Change a secret in the env file, add a key, and change the sensitive var.
    let original = std::fs::read_to_string(&env_file).unwrap();
    std::fs::write(
        &env_file,
        original.replace("DB_PASSWORD=", "DB_PASSWORD=Rotated-") + "API_TOKEN=tok-9f8e7d6c5b4a\n",
    )
    .unwrap();
    secrets.extend(env_values(&env_file));
    secrets.push(CHANGED_VAR.into());
    let var = format!("database_url={CHANGED_VAR}");
    for format in ["text", "json", "markdown"] {
        run(&["plan", stack, "--format", format, "--var", &var, "--detailed-exitcode"], 2);
    }
    // --no-wait: moto keeps the first task definition in the service's PRIMARY
    // deployment after UpdateService (docs/moto.md).
    run(&["apply", stack, "--var", &var, "--auto-approve", "--no-wait"], 0);
    run(&["destroy", stack, "--var", &var, "--auto-approve"], 0);
    let saved_text = std::fs::read_to_string(saved).unwrap();
    outputs.push(saved_text);

    let everything = outputs.join("\n");
    assert!(everything.contains("DB_PASSWORD: (changed)"), "the env file change shows which key changed");
    assert!(everything.contains("API_TOKEN: (added)"));
    assert!(everything.contains("DEBUG"), "debug logging was on");
    for secret in &secrets {
        assert!(!everything.contains(secret.as_str()), "a secret value leaked: {secret}");
    }
}

/// A sensitive var built from a built-in (`${aws.region}`) is masked in its
/// resolved form everywhere berth writes: plans in every format, the saved
/// plan, progress, the report, and trace logs of berth and the AWS SDK
/// (which include request bodies).
#[tokio::test(flavor = "multi_thread")]
async fn a_sensitive_var_holding_a_builtin_is_masked_once_resolved() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |text| {
        text.replace(
            "vars:\n",
            "vars:\n  database_url: { value: \"postgres://app:Pw-${aws.region}-4f9e@db/app\", sensitive: true }\n",
        )
        .replace(
            "        memory_reservation: 256\n",
            "        memory_reservation: 256\n        environment: { DATABASE_URL: \"${var.database_url}\" }\n",
        )
    });
    let stack = stack.to_str().unwrap();
    let resolved = format!("Pw-{}-4f9e", berth_testkit::REGION);
    let saved = dir.path().join("plan.berth");
    let saved = saved.to_str().unwrap();
    let mut outputs = Vec::new();
    for format in ["text", "json", "markdown"] {
        let run = berth_with_env(&moto, &["plan", stack, "--format", format], &[]).expect(0);
        assert!(run.stdout.contains("DATABASE_URL"), "the variable is in the plan:\n{}", run.stdout);
        outputs.push(format!("{}\n{}", run.stdout, run.stderr));
    }
    berth_with_env(&moto, &["plan", stack, "--out", saved], &[]).expect(0);
    outputs.push(std::fs::read_to_string(saved).unwrap());
    let run = berth_with_env(&moto, &["apply", saved, "--auto-approve"], &[("BERTH_LOG", "trace")]).expect(0);
    assert!(run.stderr.contains("TRACE"), "trace logging was on");
    assert!(run.stderr.contains("RegisterTaskDefinition"), "the trace shows the request that holds the secret");
    outputs.push(format!("{}\n{}", run.stdout, run.stderr));

    // The value did reach AWS: masking is only in what berth prints.
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    let task = ecs.describe_task_definition().task_definition("example-app").send().await.unwrap();
    let containers = task.task_definition().unwrap().container_definitions();
    let sent = containers
        .iter()
        .flat_map(|c| c.environment())
        .find(|pair| pair.name() == Some("DATABASE_URL"))
        .and_then(|pair| pair.value());
    assert_eq!(
        sent,
        Some(format!("postgres://app:{resolved}@db/app").as_str()),
        "the container gets the resolved value"
    );

    let everything = outputs.join("\n");
    assert!(!everything.contains(&resolved), "the resolved secret leaked");
    assert!(!everything.contains("Pw-${aws.region}"), "the unresolved secret leaked");
}

/// Nothing printed about a broken stack shows a sensitive value, not even
/// transformed: the offline checks do not resolve sensitive vars (a bucket
/// name built from one is left to expansion and AWS), and an expansion error
/// quoting one (a managed policy that is not an ARN) masks it.
#[test]
fn errors_about_a_broken_stack_do_not_show_sensitive_values() {
    let dir = tempfile::tempdir().unwrap();
    let stack = copy_reference_stack(dir.path(), |text| {
        text.replace("vars:\n", "vars:\n  suffix: { value: \"Hunter2_Secret\", sensitive: true }\n")
            .replace("name: \"ecs-sample-env-${aws.account_id}\"", "name: \"ecs-sample-env-${var.suffix}\"")
            .replace(
                "        - arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
                "        - \"${var.suffix}\"",
            )
    });
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["validate", stack.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`(sensitive)` is not a policy ARN"), "the error is reported, masked: {stderr}");
    assert!(!stderr.to_lowercase().contains("hunter2"), "{stderr}");
}
