//! The last line of defence for secrets: every line berth prints to stderr
//! or stdout outside the plan (progress, errors, reports, BERTH_LOG output
//! of berth and the AWS SDK) passes through [`scrub`], which masks the secret
//! values expansion found. Plans are redacted where they are made
//! (`Plan::redact`); this catches what no model knows about, such as an AWS
//! error quoting a request or a trace log of a request body.

use std::io::Write;
use std::sync::RwLock;

use berth_core::plan::MASK;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds secret values to mask from now on (short ones would mask ordinary text).
pub fn register(secrets: &[String]) {
    let mut known = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        if !known.contains(secret) {
            known.push(secret.clone());
        }
    }
    // Longest first, so a secret containing another is masked whole.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret masked, and every value berth
/// generated for a secret (`generate:`), which no stack file holds.
pub fn scrub(text: &str) -> String {
    let known = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut text = text.to_owned();
    let generated = berth_aws::generated_values();
    for secret in known.iter().chain(generated.iter().filter(|s| s.len() >= 3)) {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), MASK);
        }
    }
    text
}

/// A writer for the log subscriber: each log event is formatted whole and
/// written in one call, so it is scrubbed whole before reaching stderr.
pub struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().lock().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_longest_first() {
        register(&["hunter2-long".into(), "hunter2".into(), "ab".into()]);
        assert_eq!(scrub("a hunter2-long and hunter2, ab"), format!("a {MASK} and {MASK}, ab"));
    }
}
