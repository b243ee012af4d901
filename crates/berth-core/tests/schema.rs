//! The committed JSON Schema is generated from the Rust types; this fails when it is stale.

use std::path::Path;

#[test]
fn committed_schema_matches_the_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/stack.schema.json");
    let generated = berth_core::model::json_schema();
    if std::env::var_os("BERTH_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/stack.schema.json is stale: regenerate it with `BERTH_UPDATE_SCHEMA=1 cargo test -p berth-core --test schema`"
    );
}

#[test]
fn reference_stack_validates_against_the_schema_shape() {
    // The schema must at least know every top-level key of the reference stack.
    let schema: serde_json::Value = serde_json::from_str(&berth_core::model::json_schema()).unwrap();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml"))
            .unwrap();
    let stack: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    for key in stack.as_object().unwrap().keys() {
        assert!(schema["properties"].get(key).is_some(), "schema lacks `{key}`");
    }
}
