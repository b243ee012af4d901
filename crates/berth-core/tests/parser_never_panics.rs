//! The stack parser and expansion never panic, whatever the input: random
//! text, and random edits of the reference stack (which reach deeper).

use std::collections::BTreeMap;
use std::path::Path;

use berth_core::expand::{expand, ExpandOptions};
use berth_core::load::load_str;
use proptest::prelude::*;

fn reference_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml")).unwrap()
}

fn parse_and_expand(text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml");
    if let Ok(loaded) = load_str(&path, text) {
        let options = ExpandOptions {
            account_id: "123456789012".into(),
            region: "ap-northeast-2".into(),
            var_overrides: BTreeMap::new(),
            ..Default::default()
        };
        let _ = expand(&loaded, &options);
        let _ = berth_core::check::offline_checks(&loaded, &Default::default());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_text(text in "\\PC{0,400}") {
        parse_and_expand(&text);
    }

    #[test]
    fn edited_reference_stack(at in 0usize..5000, cut in 0usize..40, insert in "[ -~\\n\\t]{0,12}") {
        let text = reference_text();
        let mut bytes: Vec<char> = text.chars().collect();
        let at = at % bytes.len();
        let end = (at + cut).min(bytes.len());
        bytes.splice(at..end, insert.chars());
        parse_and_expand(&bytes.into_iter().collect::<String>());
    }
}
