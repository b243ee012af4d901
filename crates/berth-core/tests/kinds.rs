//! The guard for "a kind is one unit": every kind in `Kind::ALL` has its
//! spec (the compiler sees to that: `Kind::spec` is one exhaustive match),
//! is produced by a section of the stack file or below a parent (expanding
//! the repository's stacks and check fixtures makes every kind), and has its row in
//! `docs/resources.md`, the one list of kinds (`docs/plan-format.md` points
//! to it). The provider's handler for each kind is checked by berth-aws's
//! `every_kind_has_its_own_handler`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_core::expand::{expand, ExpandOptions};
use berth_core::kind::Kind;
use berth_core::load::load_file;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every stack file under `stacks/`, and the check fixtures (small stacks
/// that each show one thing, a kind among them).
fn stack_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repository().join("stacks")).unwrap() {
        let file = entry.unwrap().path().join("stack.yaml");
        if file.exists() {
            found.push(file);
        }
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checks");
    for entry in std::fs::read_dir(fixtures).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_some_and(|e| e == "yaml") {
            found.push(file);
        }
    }
    assert!(found.len() > 1);
    found
}

#[test]
fn every_kind_is_made_by_a_section_or_a_parent() {
    let options = ExpandOptions { account_id: "123456789012".into(), region: "eu-west-1".into(), ..Default::default() };
    let mut made = BTreeSet::new();
    for file in stack_files() {
        let loaded = load_file(&file).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        // A few fixtures show what expansion refuses (checks.rs's EXPANSION_REJECTS).
        if let Ok(expanded) = expand(&loaded, &options) {
            made.extend(expanded.graph.nodes().iter().map(|n| n.kind));
        }
    }
    let missing: Vec<Kind> = Kind::ALL.iter().copied().filter(|k| !made.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "no stack under stacks/ or tests/fixtures/checks makes {missing:?}: give the kind a section \
         (expand/sections) or a parent, and use it in a stack there"
    );
}

#[test]
fn every_kind_is_documented() {
    let resources = std::fs::read_to_string(repository().join("docs/resources.md")).unwrap();
    let plan_format = std::fs::read_to_string(repository().join("docs/plan-format.md")).unwrap();
    for kind in Kind::ALL {
        let row = format!("| `{kind}`");
        assert!(resources.lines().any(|l| l.starts_with(&row)), "docs/resources.md has no row for `{kind}`");
    }
    let kind_row = plan_format.lines().find(|l| l.starts_with("| `kind` |")).expect("plan-format.md documents `kind`");
    assert!(kind_row.contains("docs/resources.md"), "plan-format.md should point to the list of kinds: {kind_row}");
}
