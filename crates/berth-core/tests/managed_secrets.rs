//! `secrets:` expansion without AWS: the secret's desired state (the value a
//! sensitive field, a generated one only its spec, the readers' policy), the
//! `value_from` a container gets for a secret of the file (with the `:KEY::`
//! suffix for one key of a JSON secret), and the errors of a malformed entry.

use std::path::Path;

use berth_core::diag::Diagnostic;
use berth_core::expand::{expand, ExpandOptions, Expanded};
use berth_core::kind::Kind;
use berth_core::load::load_str;
use serde_json::json;

const STACK: &str = r#"stack: shop
vars:
  api_token: { value: "tok-8f7e6d5c4b", sensitive: true }
iam:
  roles:
    shop-exec:
      trust: [ecs-tasks.amazonaws.com]
secrets:
  shop-db:
    name: shop/db
    generate: { length: 32, key: password }
    readers: [shop-exec]
  shop-api-token:
    value: "${var.api_token}"
    description: the API's token
    readers: [shop-exec, "arn:aws:iam::123456789012:role/ops"]
task_definitions:
  api:
    execution_role: shop-exec
    memory: 512
    containers:
      api:
        image: example/api
        secrets:
          DB_PASSWORD: { secret: shop-db, key: password }
          API_TOKEN: { secret: shop-api-token }
          OTHER: "arn:aws:ssm:${aws.region}:${aws.account_id}:parameter/other"
"#;

fn options() -> ExpandOptions {
    ExpandOptions { account_id: "123456789012".into(), region: "eu-west-1".into(), ..Default::default() }
}

fn expanded(text: &str) -> Result<Expanded, Vec<Diagnostic>> {
    expand(&load_str(Path::new("stack.yaml"), text).unwrap(), &options())
}

fn errors(text: &str) -> String {
    let errors = expanded(text).map(|_| ()).expect_err("the stack is refused");
    errors
        .iter()
        .map(|d| format!("{}:{}: {} ({})\n", d.line, d.column, d.message, d.help.as_deref().unwrap_or("")))
        .collect()
}

#[test]
fn secrets_expand_to_their_desired_state_and_containers_reference_them() {
    let expanded = expanded(STACK).unwrap();
    let db = expanded.graph.get("secrets.shop-db").unwrap();
    assert_eq!(db.kind, Kind::Secret);
    assert_eq!(db.desired["name"], "shop/db");
    assert_eq!(db.desired["generate"], json!({ "length": 32, "key": "password" }));
    assert!(db.desired.get("value").is_none(), "a generated value is never in any state");
    assert!(db.sensitive_fields.is_empty());
    assert_eq!(db.desired["tags"]["berth:id"], "secrets.shop-db");
    let reader = &db.desired["policy"]["Statement"][0];
    assert_eq!(reader["Principal"]["AWS"], "${ref:iam.roles.shop-exec#arn}");
    assert_eq!(reader["Action"], "secretsmanager:GetSecretValue");
    assert!(db.dependencies().contains("iam.roles.shop-exec"), "the policy waits for the role");

    let token = expanded.graph.get("secrets.shop-api-token").unwrap();
    assert_eq!(token.desired["name"], "shop-api-token", "the name defaults to the key");
    assert_eq!(token.desired["value"], "tok-8f7e6d5c4b");
    assert_eq!(token.desired["description"], "the API's token");
    assert_eq!(token.sensitive_fields, ["value"]);
    assert_eq!(
        token.desired["policy"]["Statement"][0]["Principal"]["AWS"],
        json!(["${ref:iam.roles.shop-exec#arn}", "arn:aws:iam::123456789012:role/ops"])
    );
    assert!(expanded.secrets.iter().any(|s| s == "tok-8f7e6d5c4b"), "the value is masked everywhere");

    let task = expanded.graph.get("task_definitions.api").unwrap();
    let secrets = &task.desired["container_definitions"][0]["secrets"];
    assert_eq!(
        *secrets,
        json!([
            { "name": "API_TOKEN", "value_from": "${ref:secrets.shop-api-token#arn}" },
            { "name": "DB_PASSWORD", "value_from": "${ref:secrets.shop-db#arn}:password::" },
            { "name": "OTHER", "value_from": "arn:aws:ssm:eu-west-1:123456789012:parameter/other" },
        ])
    );
    assert!(task.dependencies().contains("secrets.shop-db") && task.dependencies().contains("secrets.shop-api-token"));
}

#[test]
fn a_secret_from_a_file_is_sensitive_whole_and_by_json_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.json"), r#"{"username": "shop", "password": "Pw-77ab90cd"}"#).unwrap();
    let text = "stack: s\nsecrets:\n  db: { file: db.json }\n";
    let loaded = load_str(&dir.path().join("stack.yaml"), text).unwrap();
    let expanded = expand(&loaded, &options()).unwrap();
    let db = expanded.graph.get("secrets.db").unwrap();
    assert_eq!(db.sensitive_fields, ["value"]);
    assert!(db.desired["value"].as_str().unwrap().contains("Pw-77ab90cd"));
    assert!(expanded.secrets.iter().any(|s| s == "Pw-77ab90cd"), "{:?}", expanded.secrets.len());
}

#[test]
fn a_secret_takes_exactly_one_source_of_its_value() {
    let none = errors("stack: s\nsecrets:\n  db: { readers: [] }\n");
    assert!(none.contains("3:") && none.contains("give one of `value`, `file` or `generate`"), "{none}");
    let two = errors("stack: s\nsecrets:\n  db:\n    value: x\n    generate: { length: 8 }\n");
    assert!(two.contains("5:") && two.contains("both `value` and `generate`"), "{two}");
    let long = errors("stack: s\nsecrets:\n  db:\n    generate: { length: 5000 }\n");
    assert!(long.contains("1 to 4096"), "{long}");
    let name = errors("stack: s\nsecrets:\n  db:\n    name: \"shop db\"\n    value: x\n");
    assert!(name.contains("not a Secrets Manager secret name"), "{name}");
}

#[test]
fn containers_name_secrets_and_keys_of_the_file() {
    let unknown = errors(&STACK.replace("{ secret: shop-api-token }", "{ secret: shop-api-tokn }"));
    assert!(
        unknown.contains("`shop-api-tokn` is not declared in `secrets`") && unknown.contains("shop-api-token"),
        "{unknown}"
    );
    let key = errors(&STACK.replace("key: password }\n          API", "key: pasword }\n          API"));
    assert!(key.contains("no key `pasword`") && key.contains("did you mean `password`?"), "{key}");
    let reader = errors(&STACK.replace("readers: [shop-exec]", "readers: [shop-exc]"));
    assert!(reader.contains("`shop-exc` is not declared in `iam.roles`"), "{reader}");
}

#[test]
fn a_saved_plan_digest_does_not_hash_a_secret_value() {
    // A plain hash of a short token gives it away: the digest must not depend on it.
    let other = STACK.replace("tok-8f7e6d5c4b", "tok-0a1b2c3d4e");
    let (one, two) = (expanded(STACK).unwrap(), expanded(&other).unwrap());
    assert_ne!(
        one.graph.get("secrets.shop-api-token").unwrap().desired,
        two.graph.get("secrets.shop-api-token").unwrap().desired
    );
    assert_eq!(berth_core::saved::stack_digest(&one), berth_core::saved::stack_digest(&two));
    // Anything else still changes it.
    let renamed = expanded(&STACK.replace("name: shop/db", "name: shop/database")).unwrap();
    assert_ne!(berth_core::saved::stack_digest(&one), berth_core::saved::stack_digest(&renamed));
}

#[test]
fn a_mistake_in_a_container_secret_is_reported_as_itself() {
    let text = STACK.replace("{ secret: shop-db, key: password }", "{ secret: shop-db, kee: password }");
    let errors = load_str(Path::new("stack.yaml"), &text).map(|_| ()).unwrap_err();
    let shown: String = errors.iter().map(|d| format!("{} {}\n", d.message, d.help.as_deref().unwrap_or(""))).collect();
    assert!(shown.contains("unknown field `kee`") && shown.contains("did you mean `key`?"), "{shown}");
}
