//! The offline pre-flight checks. Each fixture of `tests/fixtures/checks/`
//! marks its offending lines with `# expect <CODE> <severity>`, and the
//! checks must report exactly those findings; `clean-*.yaml` fixtures must
//! report none. The reference stack must be clean, and every code needs a
//! fixture and a section in docs/checks.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use berth_core::check::{codes, offline_checks};
use berth_core::diag::{Diagnostic, Severity};
use berth_core::expand::{expand, ExpandOptions};
use berth_core::load::{load_file, load_str};

/// Fixtures that expansion rejects too: the check repeats an expansion error.
const EXPANSION_REJECTS: &[&str] = &["brt027-instance-role-profile.yaml"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference_stack() -> PathBuf {
    root().join("../../stacks/ecs-sample/stack.yaml")
}

fn fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/checks"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

fn severity(word: &str) -> Severity {
    match word {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        other => panic!("unknown severity `{other}` in an expect marker"),
    }
}

/// (code, severity, line) of each `# expect CODE severity` marker.
fn expected(text: &str) -> BTreeSet<(String, Severity, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let marker = line.split("# expect ").nth(1)?;
            let mut words = marker.split_whitespace();
            let (code, word) = (words.next().unwrap(), words.next().unwrap());
            Some((code.to_owned(), severity(word), i + 1))
        })
        .collect()
}

fn reported(findings: &[Diagnostic]) -> BTreeSet<(String, Severity, usize)> {
    findings.iter().map(|d| (d.code.clone().expect("checks always have a code"), d.severity, d.line)).collect()
}

fn check_file(path: &Path) -> Vec<Diagnostic> {
    let loaded = load_file(path).unwrap_or_else(|e| panic!("{} does not parse: {e:?}", path.display()));
    offline_checks(&loaded, &Default::default())
}

/// The checks' findings on the reference stack with `from` replaced by `to`.
fn check_reference_with(from: &str, to: &str) -> Vec<Diagnostic> {
    let text = std::fs::read_to_string(reference_stack()).unwrap();
    assert!(text.contains(from), "the reference stack no longer contains `{from}`");
    let loaded = load_str(&reference_stack(), &text.replacen(from, to, 1)).unwrap();
    offline_checks(&loaded, &Default::default())
}

fn line_of(needle: &str) -> usize {
    let text = std::fs::read_to_string(reference_stack()).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn render(findings: &[Diagnostic]) -> String {
    findings.iter().map(|d| format!("{d}\n")).collect()
}

#[test]
fn each_fixture_reports_exactly_what_it_marks() {
    for path in fixtures() {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = expected(&text);
        let name = file_name(&path);
        assert_eq!(expected.is_empty(), name.starts_with("clean-"), "{name}: mark its findings, or name it clean-*");
        let findings = check_file(&path);
        assert_eq!(reported(&findings), expected, "{name}:\n{}", render(&findings));
        for finding in &findings {
            assert!(finding.column > 0, "{name}: unlocated finding {finding}");
            assert!(finding.help.as_ref().is_some_and(|h| !h.is_empty()), "{name}: no help for {finding}");
        }
    }
}

#[test]
fn fixtures_are_otherwise_valid_stacks() {
    let options = ExpandOptions {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        var_overrides: BTreeMap::new(),
        ..Default::default()
    };
    for path in fixtures() {
        let loaded = load_file(&path).unwrap();
        let result = expand(&loaded, &options);
        let name = file_name(&path);
        if EXPANSION_REJECTS.contains(&name) {
            assert!(result.is_err(), "{name} now expands: remove it from EXPANSION_REJECTS");
        } else if let Err(errors) = result {
            panic!("{name} does not expand:\n{}", render(&errors));
        }
    }
}

#[test]
fn every_code_has_a_fixture() {
    let names: Vec<String> = fixtures().iter().map(|p| file_name(p).to_owned()).collect();
    for code in codes::ALL {
        let prefix = format!("{}-", code.id.to_lowercase());
        assert!(names.iter().any(|n| n.starts_with(&prefix)), "no fixture {prefix}*.yaml for {}", code.id);
    }
}

#[test]
fn codes_are_unique_and_documented() {
    let docs = std::fs::read_to_string(root().join("../../docs/checks.md")).unwrap();
    let all: Vec<&codes::Code> = codes::ALL.iter().chain(codes::EXPANSION).chain(codes::LIVE).collect();
    let ids: BTreeSet<&str> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), all.len(), "duplicate codes");
    for code in codes::ALL.iter().chain(codes::EXPANSION) {
        let heading = format!("\n## {} ", code.id);
        let section =
            docs.split(&heading).nth(1).unwrap_or_else(|| panic!("docs/checks.md has no `## {}` section", code.id));
        let section = section.split("\n## ").next().unwrap();
        let severity = match code.severity {
            Severity::Error => "Severity: error",
            Severity::Warning => "Severity: warning",
        };
        assert!(section.contains(severity), "docs/checks.md: {} should say `{severity}`", code.id);
        for part in ["Example", "Fix", "Silence"] {
            assert!(section.contains(&format!("**{part}")), "docs/checks.md: {} lacks **{part}**", code.id);
        }
    }
}

#[test]
fn reference_stack_is_clean() {
    let findings = check_file(&reference_stack());
    assert!(findings.is_empty(), "{}", render(&findings));
}

#[test]
fn the_walkthrough_task_that_did_not_fit() {
    let findings = check_reference_with("memory: 450", "memory: 500");
    assert_eq!(findings.len(), 1, "{}", render(&findings));
    let finding = &findings[0];
    assert_eq!((finding.code.as_deref(), finding.severity), (Some("BRT001"), Severity::Error));
    assert_eq!(finding.line, line_of("memory: 450"));
    assert!(finding.message.contains("500 > 466"), "{}", finding.message);
    assert!(finding.help.as_deref().unwrap().contains("t2.micro"), "{finding}");
}

#[test]
fn without_task_memory_the_containers_reservations_count() {
    let findings = check_reference_with("memory: 450", "cpu: 512");
    assert!(findings.is_empty(), "256 + 128 MiB fits:\n{}", render(&findings));
    let text = std::fs::read_to_string(reference_stack()).unwrap().replacen("memory: 450", "cpu: 512", 1).replacen(
        "memory_reservation: 256",
        "memory_reservation: 400",
        1,
    );
    let findings = offline_checks(&load_str(&reference_stack(), &text).unwrap(), &Default::default());
    assert_eq!(findings.len(), 1, "{}", render(&findings));
    assert_eq!(findings[0].code.as_deref(), Some("BRT001"));
    assert!(findings[0].message.contains("528 > 466"), "{}", findings[0].message);
}

#[test]
fn the_walkthrough_deployment_deadlock() {
    // Default limits (100/200) and a fixed host port on the only instance.
    let findings = check_reference_with(
        "deployment: { minimum_healthy_percent: 0, maximum_percent: 100 }",
        "deployment: { minimum_healthy_percent: 100, maximum_percent: 200 }",
    );
    let findings_with_port = {
        let text = std::fs::read_to_string(reference_stack()).unwrap();
        let text = text
            .replacen(
                "minimum_healthy_percent: 0, maximum_percent: 100",
                "minimum_healthy_percent: 100, maximum_percent: 200",
                1,
            )
            .replacen("{ container: 80, host: 0 }", "{ container: 80, host: 80 }", 1);
        offline_checks(&load_str(&reference_stack(), &text).unwrap(), &Default::default())
    };
    assert!(findings.is_empty(), "a dynamic host port cannot deadlock:\n{}", render(&findings));
    assert_eq!(reported(&findings_with_port).len(), 1, "{}", render(&findings_with_port));
    let finding = &findings_with_port[0];
    assert_eq!(finding.code.as_deref(), Some("BRT008"));
    assert_eq!(finding.line, line_of("deployment:"));
    assert!(finding.help.as_deref().unwrap().contains("host: 0"), "{finding}");
}

#[test]
fn the_walkthrough_proxy_that_started_first() {
    let findings = check_reference_with("        depends_on: { example-app-container: START }\n", "");
    assert_eq!(
        reported(&findings),
        BTreeSet::from([("BRT011".to_owned(), Severity::Warning, line_of("links: [example-app-container]"))]),
        "{}",
        render(&findings)
    );
}

#[test]
fn removing_the_env_file_policy_is_caught() {
    // The bucket policy still admits its reader: the role needs no policy of its own.
    let findings = check_reference_with("Action: [s3:GetObject]", "Action: [s3:ListBucket]");
    assert!(findings.is_empty(), "{}", render(&findings));
    // Without it, berth knows every policy involved: an error, before AWS is touched.
    let text = std::fs::read_to_string(reference_stack())
        .unwrap()
        .replacen("Action: [s3:GetObject]", "Action: [s3:ListBucket]", 1)
        .replacen("    readers: [ecs-task-execution-role]", "    readers: []", 1);
    let findings = offline_checks(&load_str(&reference_stack(), &text).unwrap(), &Default::default());
    assert_eq!(
        reported(&findings),
        BTreeSet::from([("BRT062".to_owned(), Severity::Error, line_of("environment_files:"))]),
        "{}",
        render(&findings)
    );
    assert!(findings[0].message.contains("s3:GetObject"), "{}", findings[0].message);
    assert!(
        findings[0].message.contains("arn:aws:s3:::ecs-sample-env-${aws.account_id}/prod.env"),
        "{}",
        findings[0].message
    );
}

#[test]
fn an_explicit_deny_is_reported_as_such() {
    let deny = "            - Effect: Deny\n              Action: [s3:*]\n              Resource: [\"*\"]\n";
    let findings = check_reference_with(
        "            - Effect: Allow\n              Action: [s3:GetBucketLocation]",
        &format!("{deny}            - Effect: Allow\n              Action: [s3:GetBucketLocation]"),
    );
    // A Deny wins over the bucket policy's Allow too: certain, so an error.
    assert!(
        !findings.is_empty() && findings.iter().all(|d| d.code.as_deref() == Some("BRT062")),
        "{}",
        render(&findings)
    );
    assert!(findings.iter().any(|d| d.message.contains("denies s3:GetObject")), "{}", render(&findings));
}

#[test]
fn allow_lists_do_not_silence_other_resources() {
    // The warning is reported on the task; an `allow` on the cluster does not reach it.
    let text = std::fs::read_to_string(reference_stack())
        .unwrap()
        .replacen("        depends_on: { example-app-container: START }\n", "", 1)
        .replacen("  ecs-sample:\n    capacity:\n", "  ecs-sample:\n    allow: [BRT011]\n    capacity:\n", 1);
    let findings = offline_checks(&load_str(&reference_stack(), &text).unwrap(), &Default::default());
    assert_eq!(reported(&findings).into_iter().map(|f| f.0).collect::<Vec<_>>(), ["BRT011"], "{}", render(&findings));
}

#[test]
fn checks_see_the_values_given_on_the_command_line_and_in_the_environment() {
    let text =
        "stack: s\nregion: us-east-1\nvars:\n  bucket: good-bucket-name\nbuckets:\n  b:\n    name: \"${var.bucket}\"\n";
    let loaded = load_str(Path::new("stack.yaml"), text).unwrap();
    assert!(offline_checks(&loaded, &ExpandOptions::default()).is_empty(), "the file's default is a good name");
    for options in [
        ExpandOptions { var_overrides: [("bucket".into(), "Bad_Bucket".into())].into(), ..Default::default() },
        ExpandOptions { env_vars: [("bucket".into(), "Bad_Bucket".into())].into(), ..Default::default() },
    ] {
        let findings = offline_checks(&loaded, &options);
        assert_eq!(reported(&findings), [("BRT033".to_owned(), Severity::Error, 7)].into(), "{}", render(&findings));
    }
}
