//! Secrets berth manages (`secrets:`) on moto through the real binary: a
//! generated JSON secret and one from a sensitive var, both readable only by
//! the execution role (their resource policy), used by a task definition by
//! key and whole. A changed var updates only the secret's value, shown
//! masked; a secret dropped from the file is deleted; no value (generated,
//! old or new) ever appears in anything berth prints or saves, trace logs
//! included; destroy leaves no secret, and its names are free again at once.

mod common;

use berth_testkit::Moto;
use common::{berth_with_env, changes};

const STACK: &str = r#"stack: ms
region: ap-northeast-2
vars:
  api_token: { sensitive: true }
iam:
  roles:
    ms-exec:
      trust: [ecs-tasks.amazonaws.com]
      managed_policies:
        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy
secrets:
  ms-db:
    name: ms/db
    generate: { length: 24, key: password }
    readers: [ms-exec]
  ms-api-token:
    value: "${var.api_token}"
    readers: [ms-exec]
task_definitions:
  api:
    requires: [FARGATE]
    network_mode: awsvpc
    cpu: 256
    memory: 512
    execution_role: ms-exec
    containers:
      api:
        image: nginx:1.27
        secrets:
          DB_PASSWORD: { secret: ms-db, key: password }
          API_TOKEN: { secret: ms-api-token }
"#;

const TOKEN: &str = "tok-Qx81vLm2Zp";
const NEW_TOKEN: &str = "tok-Rw93cNk7Yb";

#[tokio::test(flavor = "multi_thread")]
async fn managed_secrets_are_made_read_by_their_readers_and_never_shown() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack.yaml");
    std::fs::write(&stack, STACK).unwrap();
    let stack = stack.to_str().unwrap();
    let saved = dir.path().join("plan.berth");
    let saved = saved.to_str().unwrap();
    let mut printed = Vec::new();
    let mut run = |args: &[&str], token: &str, code: i32| {
        let env = [("BERTH_VAR_api_token", token), ("BERTH_LOG", "trace")];
        let run = berth_with_env(&moto, args, &env).expect(code);
        printed.push(format!("{}\n{}", run.stdout, run.stderr));
        run
    };

    run(&["plan", stack, "--out", saved], TOKEN, 0);
    let applied = run(&["apply", saved, "--auto-approve"], TOKEN, 0);
    assert!(applied.stderr.contains("CreateSecret"), "the trace shows the request that holds the generated value");

    let config = moto.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let db = secrets.get_secret_value().secret_id("ms/db").send().await.unwrap();
    let db_arn = db.arn().unwrap().to_owned();
    let generated: serde_json::Value = serde_json::from_str(db.secret_string().unwrap()).unwrap();
    let password = generated["password"].as_str().expect("a JSON object with the key asked for").to_owned();
    assert_eq!(password.chars().count(), 24, "the length asked for");
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()), "letters and digits");
    let token = secrets.get_secret_value().secret_id("ms-api-token").send().await.unwrap();
    assert_eq!(token.secret_string(), Some(TOKEN));
    let token_arn = token.arn().unwrap().to_owned();
    // moto stores resource policies but never enforces them (docs/moto.md):
    // the test reads the policy instead of trying to read as another role.
    for arn in [&db_arn, &token_arn] {
        let policy = secrets.get_resource_policy().secret_id(arn).send().await.unwrap();
        let policy = policy.resource_policy().expect("a resource policy");
        assert!(policy.contains(":role/ms-exec"), "the reader role is admitted: {policy}");
        let described = secrets.describe_secret().secret_id(arn).send().await.unwrap();
        assert!(described.tags().iter().any(|t| t.key() == Some("berth:stack") && t.value() == Some("ms")));
    }

    let ecs = aws_sdk_ecs::Client::new(&config);
    let task = ecs.describe_task_definition().task_definition("api").send().await.unwrap();
    let container = &task.task_definition().unwrap().container_definitions()[0];
    let value_from =
        |name: &str| container.secrets().iter().find(|s| s.name() == name).map(|s| s.value_from().to_owned()).unwrap();
    assert_eq!(value_from("DB_PASSWORD"), format!("{db_arn}:password::"), "one key of the JSON secret");
    assert_eq!(value_from("API_TOKEN"), token_arn, "the whole secret");

    let again = run(&["plan", stack, "--detailed-exitcode"], TOKEN, 0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);

    // A new token: only the secret's value changes, masked.
    let plan = run(&["plan", stack, "--format", "json", "--detailed-exitcode"], NEW_TOKEN, 2).json();
    assert_eq!(changes(&plan), [("secrets.ms-api-token".to_owned(), "update".to_owned())]);
    let secret = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == "secrets.ms-api-token").unwrap();
    assert_eq!(
        secret["fields"],
        serde_json::json!([{ "field": "value", "before": "(sensitive, changed)", "after": "(sensitive)", "sensitive": true }])
    );
    let text = run(&["plan", stack], NEW_TOKEN, 0);
    assert!(text.stdout.contains("value: (sensitive, changed)"), "{}", text.stdout);
    run(&["plan", stack, "--out", saved], NEW_TOKEN, 0);
    let saved_text = std::fs::read_to_string(saved).unwrap();
    run(&["apply", saved, "--auto-approve"], NEW_TOKEN, 0);
    let token = secrets.get_secret_value().secret_id("ms-api-token").send().await.unwrap();
    assert_eq!(token.secret_string(), Some(NEW_TOKEN));
    let db = secrets.get_secret_value().secret_id("ms/db").send().await.unwrap();
    assert!(db.secret_string().unwrap().contains(&password), "the generated value is never made again");
    run(&["plan", stack, "--detailed-exitcode"], NEW_TOKEN, 0);

    // A secret dropped from the file is found by its tags and deleted.
    let dropped = STACK
        .replace("  ms-api-token:\n    value: \"${var.api_token}\"\n    readers: [ms-exec]\n", "")
        .replace("          API_TOKEN: { secret: ms-api-token }\n", "");
    let dropped_stack = dir.path().join("dropped.yaml");
    std::fs::write(&dropped_stack, dropped).unwrap();
    let dropped_stack = dropped_stack.to_str().unwrap();
    let plan = run(&["plan", dropped_stack, "--format", "json"], NEW_TOKEN, 0).json();
    let mut planned = changes(&plan);
    planned.sort();
    assert_eq!(
        planned,
        [
            ("secrets.ms-api-token".to_owned(), "delete".to_owned()),
            ("task_definitions.api".to_owned(), "update".to_owned())
        ]
    );
    run(&["apply", dropped_stack, "--auto-approve"], NEW_TOKEN, 0);
    let gone = secrets.describe_secret().secret_id("ms-api-token").send().await;
    assert!(gone.is_err(), "the dropped secret is deleted");

    run(&["destroy", stack, "--auto-approve"], NEW_TOKEN, 0);
    let left = secrets.list_secrets().send().await.unwrap();
    assert!(left.secret_list().is_empty(), "destroy deletes the secrets at once: {:?}", left.secret_list());
    // Created again under the same names: nothing waits out a recovery window.
    run(&["apply", stack, "--auto-approve"], TOKEN, 0);
    run(&["destroy", stack, "--auto-approve"], TOKEN, 0);

    printed.push(saved_text);
    let everything = printed.join("\n");
    assert!(everything.contains("TRACE"), "trace logging was on");
    for secret in [TOKEN, NEW_TOKEN, password.as_str()] {
        assert!(!everything.contains(secret), "a secret value leaked: {secret}");
    }
}
