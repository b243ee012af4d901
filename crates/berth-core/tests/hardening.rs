//! A stack file is untrusted input: expansion must stay safe and honest with
//! hostile or careless files. Variable cycles are located errors (not a stack
//! overflow), sensitive values are masked in their resolved form, files that
//! look like credentials are masked and warned about, and stack-wide tags AWS
//! would refuse are refused first. No network.

use std::path::{Path, PathBuf};

use berth_core::diag::{Diagnostic, Severity};
use berth_core::engine::{Engine, NoEvents};
use berth_core::expand::{expand, ExpandOptions, Expanded};
use berth_core::load::{load_str, LoadedStack};
use berth_core::memory::MemoryCloud;
use berth_core::plan::Mode;

fn reference_stack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml")
}

/// The reference stack with `from` replaced by `to`, read as if it were the reference file.
fn edited(from: &str, to: &str) -> LoadedStack {
    edited_at(&reference_stack(), from, to)
}

fn edited_at(path: &Path, from: &str, to: &str) -> LoadedStack {
    let text = std::fs::read_to_string(reference_stack()).unwrap();
    assert!(text.contains(from), "the reference stack no longer contains `{from}`");
    load_str(path, &text.replacen(from, to, 1)).unwrap()
}

fn options() -> ExpandOptions {
    ExpandOptions { account_id: "123456789012".into(), region: "ap-northeast-2".into(), ..Default::default() }
}

fn errors(loaded: &LoadedStack, options: &ExpandOptions) -> Vec<Diagnostic> {
    expand(loaded, options).map(|_| ()).expect_err("expansion should fail")
}

fn line_of(loaded: &LoadedStack, needle: &str) -> usize {
    loaded.source.text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

const APP_IMAGE: &str = "app_image: \"${aws.account_id}.dkr.ecr.${aws.region}.amazonaws.com/example-app:latest\"";

#[test]
fn a_variable_using_itself_is_a_located_cycle() {
    let loaded = edited(APP_IMAGE, "app_image: \"${var.app_image}:latest\"");
    let errs = errors(&loaded, &options());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].message, "variable cycle: vars.app_image -> vars.app_image");
    assert_eq!(errs[0].line, line_of(&loaded, "app_image:"));
}

#[test]
fn two_variables_using_each_other_are_a_located_cycle() {
    let loaded = edited(APP_IMAGE, "app_image: \"${var.registry}/app\"\n  registry: \"${var.app_image}\"");
    let errs = errors(&loaded, &options());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].message, "variable cycle: vars.app_image -> vars.registry -> vars.app_image");
    assert_eq!(errs[0].line, line_of(&loaded, "app_image:"));
}

#[test]
fn a_long_chain_of_variables_is_bounded() {
    let chain: String = (0..200).map(|i| format!("  v{i}: \"${{var.v{}}}\"\n", i + 1)).collect();
    let loaded = edited(APP_IMAGE, &format!("app_image: \"${{var.v0}}\"\n{chain}  v200: end"));
    let errs = errors(&loaded, &options());
    assert!(errs.iter().any(|e| e.message.contains("more than 32 deep")), "{errs:?}");
}

const SECRET_VAR: &str = "db-${aws.region}-S3cretPass";
const SECRET_RESOLVED: &str = "db-ap-northeast-2-S3cretPass";

fn with_sensitive_var() -> LoadedStack {
    let text = std::fs::read_to_string(reference_stack())
        .unwrap()
        .replacen("vars:\n", &format!("vars:\n  database_url: {{ value: \"{SECRET_VAR}\", sensitive: true }}\n"), 1)
        .replacen(
            "        memory_reservation: 256\n",
            "        memory_reservation: 256\n        environment: { DATABASE_URL: \"${var.database_url}\" }\n",
            1,
        );
    load_str(&reference_stack(), &text).unwrap()
}

async fn plan_json(loaded: &LoadedStack, expanded: Expanded) -> String {
    let cloud = MemoryCloud::default();
    let planned = Engine::new(&cloud, &NoEvents, 4).plan(expanded, &loaded.source, Mode::Apply).await.unwrap();
    serde_json::to_string(&planned.plan).unwrap()
}

#[tokio::test]
async fn a_sensitive_variable_is_masked_in_its_resolved_form() {
    let loaded = with_sensitive_var();
    let expanded = expand(&loaded, &options()).unwrap();
    assert!(expanded.secrets.iter().any(|s| s == SECRET_RESOLVED), "{:?}", expanded.secrets);
    let plan = plan_json(&loaded, expanded).await;
    assert!(plan.contains("DATABASE_URL"), "the variable is used: {plan}");
    assert!(!plan.contains("S3cretPass"), "the resolved secret leaked into the plan");
}

#[tokio::test]
async fn an_override_of_a_sensitive_variable_is_literal_and_masked() {
    let loaded = with_sensitive_var();
    let mut options = options();
    options.var_overrides.insert("database_url".into(), "over-${aws.region}-Ridden".into());
    let expanded = expand(&loaded, &options).unwrap();
    assert!(expanded.secrets.iter().any(|s| s == "over-${aws.region}-Ridden"), "{:?}", expanded.secrets);
    let task = expanded.graph.get("task_definitions.example-app").unwrap();
    assert!(task.desired.to_string().contains("over-${aws.region}-Ridden"), "an override is taken literally");
    let plan = plan_json(&loaded, expanded).await;
    assert!(!plan.contains("Ridden"), "the override leaked into the plan");
}

/// A copy of the reference stack's folder whose env file holds `env`.
fn stack_folder_with_env(env: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let source = reference_stack().parent().unwrap().to_path_buf();
    for sub in ["env", "keys"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(source.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.path().join("env/prod.env"), env).unwrap();
    let path = dir.path().join("stack.yaml");
    (dir, path)
}

#[tokio::test]
async fn a_file_that_looks_like_credentials_is_masked_and_warned_about() {
    let env = "NODE_ENV=production\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY\n";
    let (_dir, path) = stack_folder_with_env(env);
    let loaded = edited_at(&path, "        sensitive: true ", "        sensitive: false");
    let expanded = expand(&loaded, &options()).unwrap();
    let warning = expanded.warnings.iter().find(|w| w.code.as_deref() == Some("BRT043")).expect("a BRT043 warning");
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.line, line_of(&loaded, "prod.env:"), "{warning}");
    assert!(warning.message.contains("AWS_SECRET_ACCESS_KEY"), "{warning}");
    assert!(warning.help.as_deref().unwrap().contains("sensitive: true"), "{warning}");
    assert!(!warning.to_string().contains("wJalr"), "the warning quotes no value");
    let plan = plan_json(&loaded, expanded).await;
    assert!(!plan.contains("wJalrXUtnFEMI"), "the credential leaked into the plan: {plan}");

    // Marked sensitive: no warning, still masked.
    let loaded = edited_at(&path, "readers: [ecs-task-execution-role]", "readers: [ecs-task-execution-role]");
    let expanded = expand(&loaded, &options()).unwrap();
    assert!(expanded.warnings.is_empty(), "{:?}", expanded.warnings);
}

#[test]
fn env_file_lines_that_are_not_key_value_are_a_warning() {
    let (_dir, path) = stack_folder_with_env("# fine\nGOOD=1\nnot a variable\nBAD KEY=2\n\n");
    let loaded = edited_at(&path, "readers: [ecs-task-execution-role]", "readers: [ecs-task-execution-role]");
    let expanded = expand(&loaded, &options()).unwrap();
    let warning = expanded.warnings.iter().find(|w| w.code.as_deref() == Some("BRT044")).expect("a BRT044 warning");
    assert!(warning.message.contains("line 3, 4 is not KEY=VALUE"), "{warning}");
    assert!(!warning.message.contains("not a variable"), "the warning quotes no line: {warning}");
}

#[test]
fn files_outside_the_stack_folder_need_allow_path() {
    let (dir, path) = stack_folder_with_env("A=1\n");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("shared.env"), "B=2\n").unwrap();
    let file = outside.path().join("shared.env");
    let loaded = edited_at(&path, "file: env/prod.env", &format!("file: {}", file.display()));
    let errs = errors(&loaded, &options());
    assert!(errs[0].message.contains("is outside the stack's folder"), "{errs:?}");
    assert_eq!(errs[0].line, line_of(&loaded, "  file: /"));
    let allowed = ExpandOptions { allowed_dirs: vec![outside.path().to_path_buf()], ..options() };
    let expanded = expand(&loaded, &allowed).unwrap();
    let object = expanded.graph.get("buckets.ecs-sample-env.objects[prod.env]").unwrap();
    assert_eq!(object.desired["content"], "B=2\n");
    drop(dir);
}

#[test]
fn stack_wide_tags_aws_refuses_are_located_errors() {
    let many: String = (0..47).map(|i| format!("  t{i}: x\n")).collect();
    let loaded = edited("tags:\n  project: ecs-sample\n", &format!("tags:\n  project: ecs-sample\n{many}"));
    let errs = errors(&loaded, &options());
    assert!(errs[0].message.contains("48 stack-wide tags"), "{errs:?}");
    assert_eq!(errs[0].line, line_of(&loaded, "tags:"));

    let loaded = edited("  project: ecs-sample\n", "  project: ecs-sample\n  aws:owner: x\n");
    let errs = errors(&loaded, &options());
    assert!(errs[0].message.contains("starts with `aws:`"), "{errs:?}");
    assert_eq!(errs[0].line, line_of(&loaded, "aws:owner"));

    let long_key = "k".repeat(129);
    let loaded = edited(
        "  project: ecs-sample\n",
        &format!("  project: ecs-sample\n  {long_key}: x\n  v: {}\n", "v".repeat(257)),
    );
    let errs = errors(&loaded, &options());
    let messages: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("tag key of 129 characters")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("has 257 characters")), "{messages:?}");

    // 46 stack-wide tags still fit beside berth's own.
    let fits: String = (0..45).map(|i| format!("  t{i}: x\n")).collect();
    let loaded = edited("tags:\n  project: ecs-sample\n", &format!("tags:\n  project: ecs-sample\n{fits}"));
    expand(&loaded, &options()).unwrap();
}

#[test]
fn a_literal_secret_in_environment_is_a_warning_that_quotes_no_value() {
    let loaded = edited(
        "        memory_reservation: 256\n",
        "        memory_reservation: 256\n        environment: { DB_PASSWORD: hunter2-prod, PORT: \"3000\" }\n",
    );
    let expanded = expand(&loaded, &options()).unwrap();
    let found: Vec<&Diagnostic> = expanded.warnings.iter().filter(|w| w.code.as_deref() == Some("BRT045")).collect();
    assert_eq!(found.len(), 1, "{:?}", expanded.warnings);
    assert!(found[0].message.contains("`DB_PASSWORD`"), "{}", found[0]);
    assert!(found[0].help.as_deref().unwrap().contains("secrets:"), "{}", found[0]);
    assert!(!found[0].to_string().contains("hunter2"), "{}", found[0]);

    // From a sensitive var: not reported. Allowed on the task: not reported.
    let loaded = with_sensitive_var();
    assert!(expand(&loaded, &options()).unwrap().warnings.is_empty());
    let text = loaded.source.text.replace(
        "environment: { DATABASE_URL: \"${var.database_url}\" }",
        "environment: { DB_PASSWORD: hunter2-prod }",
    );
    let text = text.replacen("    requires: [EC2]\n", "    requires: [EC2]\n    allow: [BRT045]\n", 1);
    let loaded = load_str(&reference_stack(), &text).unwrap();
    assert!(expand(&loaded, &options()).unwrap().warnings.is_empty());
}

/// Plans and applies `loaded` on an empty in-memory cloud; returns what it stored.
async fn apply_on_memory(loaded: &LoadedStack, options: &ExpandOptions) -> MemoryCloud {
    let cloud = MemoryCloud::default();
    let expanded = expand(loaded, options).unwrap();
    let engine = Engine::new(&cloud, &NoEvents, 4);
    let planned = engine.plan(expanded, &loaded.source, Mode::Apply).await.unwrap();
    assert!(engine.apply(&planned).await.succeeded());
    cloud
}

const PLACEHOLDER: &str = "${ref:iam.roles.ecs-task-execution-role#arn}";

#[tokio::test]
async fn a_var_override_holding_a_placeholder_is_taken_literally() {
    let loaded = edited("app_image: \"", "app_image: \"");
    let mut options = options();
    options.var_overrides.insert("app_image".into(), format!("registry/{PLACEHOLDER}:1"));
    let cloud = apply_on_memory(&loaded, &options).await;
    let resources = cloud.resources.lock().unwrap();
    let task = &resources["task_definitions.example-app"].state;
    let images: Vec<&str> =
        task["container_definitions"].as_array().unwrap().iter().filter_map(|c| c["image"].as_str()).collect();
    assert!(images.contains(&format!("registry/{PLACEHOLDER}:1").as_str()), "{images:?}");
}

#[tokio::test]
async fn an_env_file_holding_a_placeholder_is_uploaded_byte_for_byte() {
    let env = format!("ROLE={PLACEHOLDER}\nLITERAL=${{ref:\nDOLLARS=$${{ref:x#y}}\n");
    let (_dir, path) = stack_folder_with_env(&env);
    let loaded = edited_at(&path, "readers: [ecs-task-execution-role]", "readers: [ecs-task-execution-role]");
    let cloud = apply_on_memory(&loaded, &options()).await;
    let resources = cloud.resources.lock().unwrap();
    let object = &resources["buckets.ecs-sample-env.objects[prod.env]"].state;
    assert_eq!(object["content"].as_str(), Some(env.as_str()));
}

/// The reference stack with its variable `app_image` required (no value in the file).
fn image_required() -> LoadedStack {
    edited(APP_IMAGE, "app_image: { sensitive: true }")
}

#[test]
fn a_required_variable_left_unset_is_a_located_error_naming_how_to_set_it() {
    let loaded = image_required();
    let errs = errors(&loaded, &options());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].message, "variable `app_image` has no value");
    assert_eq!(
        errs[0].help.as_deref(),
        Some("pass --var app_image=VALUE or set the environment variable BERTH_VAR_app_image")
    );
    assert_eq!(errs[0].line, line_of(&loaded, "app_image:"));
}

#[test]
fn a_required_variable_is_set_by_the_environment_and_masked_and_var_wins() {
    let loaded = image_required();
    let mut options = options();
    options.env_vars.insert("app_image".into(), "registry.example/app:from-env".into());
    // Variables the file does not declare are someone else's: ignored.
    options.env_vars.insert("not_declared".into(), "x".into());
    let expanded = expand(&loaded, &options).unwrap();
    assert!(expanded.secrets.contains(&"registry.example/app:from-env".to_owned()));
    let image = |expanded: &Expanded| {
        let td = expanded.graph.get("task_definitions.example-app").unwrap();
        td.desired["container_definitions"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|c| c["image"].as_str().filter(|i| i.starts_with("registry.example")).map(str::to_owned))
    };
    assert_eq!(image(&expanded).as_deref(), Some("registry.example/app:from-env"));
    options.var_overrides.insert("app_image".into(), "registry.example/app:from-var".into());
    let expanded = expand(&loaded, &options).unwrap();
    assert_eq!(image(&expanded).as_deref(), Some("registry.example/app:from-var"));
    assert!(expanded.secrets.contains(&"registry.example/app:from-var".to_owned()));
}
