//! Real plans of the reference stack, made over the in-memory cloud, for the
//! renderer tests: the same path `berth plan` takes, without a network.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::engine::{Engine, NoEvents, Planned};
use berth_core::expand::{expand, ExpandOptions};
use berth_core::graph::Graph;
use berth_core::load::load_file;
use berth_core::memory::MemoryCloud;
use berth_core::plan::{Mode, Plan};
use tempfile::TempDir;

/// The directory of the reference stack.
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample")
}

/// A stack directory: the reference one, or a modified copy that lives as long as this value.
pub struct StackDir {
    path: PathBuf,
    _temp: Option<TempDir>,
}

impl StackDir {
    pub fn reference() -> StackDir {
        StackDir { path: reference_dir(), _temp: None }
    }

    /// A copy of the reference stack with `edit` applied to it.
    pub fn modified(edit: impl FnOnce(&Path)) -> StackDir {
        let temp = tempfile::tempdir().unwrap();
        copy_dir(&reference_dir(), temp.path());
        edit(temp.path());
        StackDir { path: temp.path().to_path_buf(), _temp: Some(temp) }
    }

    /// A copy of the reference stack whose stack file has each `(from, to)`
    /// replaced once; fails when the reference stack no longer holds a `from`.
    pub fn edited(replacements: &[(&str, &str)]) -> StackDir {
        StackDir::modified(|dir| {
            let path = dir.join("stack.yaml");
            let mut text = std::fs::read_to_string(&path).unwrap();
            for (from, to) in replacements {
                assert!(text.contains(from), "the reference stack's layout changed: no {from:?}");
                text = text.replacen(from, to, 1);
            }
            std::fs::write(&path, text).unwrap();
        })
    }

    pub fn stack_file(&self) -> PathBuf {
        self.path.join("stack.yaml")
    }

    /// Plans this stack against `cloud`, with `--var` overrides.
    pub async fn plan(&self, cloud: &MemoryCloud, vars: &[(&str, &str)], mode: Mode) -> Planned {
        let loaded = load_file(&self.stack_file()).unwrap();
        let options = ExpandOptions {
            account_id: "123456789012".into(),
            region: "ap-northeast-2".into(),
            var_overrides: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            ..Default::default()
        };
        let expanded = expand(&loaded, &options).unwrap();
        Engine::new(cloud, &NoEvents, 4).plan(expanded, &loaded.source, mode).await.unwrap()
    }

    /// Plans and applies, so `cloud` holds this stack.
    pub async fn apply(&self, cloud: &MemoryCloud, vars: &[(&str, &str)]) {
        let planned = self.plan(cloud, vars, Mode::Apply).await;
        let report = Engine::new(cloud, &NoEvents, 4).apply(&planned).await;
        assert!(report.succeeded(), "{report:?}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The reference env file with one value changed and one key added.
pub const MODIFIED_ENV: &str = "\
# Loaded by the app container through the task definition's environmentFiles.
AUTHOR_NAME=NOWIL
NODE_ENV=production
DB_PASSWORD=another-fake-password-91c2
API_TOKEN=tok-fake-5d1e0b
";

/// The reference stack with [`MODIFIED_ENV`] as its env file.
pub fn env_changed() -> StackDir {
    StackDir::modified(|dir| std::fs::write(dir.join("env/prod.env"), MODIFIED_ENV).unwrap())
}

/// The sensitive variable [`with_sensitive_var`] declares.
pub const DB_URL: &str = "postgres://user:S3cretValue@db/x";

/// The reference stack with a sensitive var passed to the app container's environment.
pub fn with_sensitive_var() -> StackDir {
    let vars = format!("vars:\n  db_url: {{ value: \"{DB_URL}\", sensitive: true }}\n");
    StackDir::edited(&[
        ("vars:\n", &vars),
        (
            "        environment_files: [ecs-sample-env/prod.env]\n",
            "        environment_files: [ecs-sample-env/prod.env]\n        environment: { DB_URL: \"${var.db_url}\", LOG_LEVEL: info }\n",
        ),
    ])
}

/// A plan with the graph it was made from.
pub struct Scenario {
    pub name: &'static str,
    pub plan: Plan,
    pub graph: Graph,
}

impl Scenario {
    pub fn new(name: &'static str, planned: Planned) -> Scenario {
        Scenario { name, graph: planned.expanded().graph.clone(), plan: planned.plan }
    }
}

/// Everything is created in an empty account.
pub async fn create(stack: &StackDir) -> Scenario {
    Scenario::new("create", stack.plan(&MemoryCloud::default(), &[], Mode::Apply).await)
}

/// The `app_image` var changes after the stack was applied.
pub async fn image_update(stack: &StackDir) -> Scenario {
    let cloud = MemoryCloud::default();
    stack.apply(&cloud, &[]).await;
    Scenario::new("image_update", stack.plan(&cloud, &[("app_image", "example-app:v2")], Mode::Apply).await)
}

/// The env file changes after the reference stack was applied.
pub async fn env_update() -> Scenario {
    let cloud = MemoryCloud::default();
    StackDir::reference().apply(&cloud, &[]).await;
    Scenario::new("env_update", env_changed().plan(&cloud, &[], Mode::Apply).await)
}

/// The whole stack is torn down after it was applied.
pub async fn destroy(stack: &StackDir) -> Scenario {
    let cloud = MemoryCloud::default();
    stack.apply(&cloud, &[]).await;
    Scenario::new("destroy", stack.plan(&cloud, &[], Mode::Destroy).await)
}

/// After the reference stack was applied, the target group's port changes
/// (AWS cannot change it in place) and the service is removed from the file.
pub async fn replace_and_delete() -> Scenario {
    let cloud = MemoryCloud::default();
    StackDir::reference().apply(&cloud, &[]).await;
    let changed = StackDir::modified(|dir| {
        let path = dir.join("stack.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen("    port: 80\n    target_type", "    port: 8080\n    target_type", 1);
        let text = &text[..text.find("\nservices:").expect("the reference stack declares services")];
        assert!(text.contains("port: 8080"), "the reference stack's layout changed");
        std::fs::write(&path, text).unwrap();
    });
    Scenario::new("replace_and_delete", changed.plan(&cloud, &[], Mode::Apply).await)
}
