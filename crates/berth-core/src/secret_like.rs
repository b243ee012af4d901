//! Recognising text that looks like a credential, so that it is masked (and
//! the user warned) even where the stack file did not say it is sensitive:
//! an env file holding `AWS_SECRET_ACCESS_KEY=...`, a private key block, a
//! literal password in a container's `environment:`.

/// Words that, in a variable or key name, mean its value is a credential.
const SECRET_NAME_WORDS: &[&str] =
    &["SECRET", "PASSWORD", "PASSWD", "TOKEN", "PRIVATE_KEY", "API_KEY", "APIKEY", "CREDENTIAL"];

/// Whether a variable called `name` (any case) would hold a credential.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    SECRET_NAME_WORDS.iter().any(|w| upper.contains(w))
}

/// Whether `value` itself looks like a credential: an AWS access key id or a private key.
pub fn is_secret_value(value: &str) -> bool {
    let value = value.trim();
    let access_key_id = value.len() == 20
        && (value.starts_with("AKIA") || value.starts_with("ASIA"))
        && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    access_key_id || (value.contains("-----BEGIN") && value.contains("PRIVATE KEY"))
}

/// What in a file looks like credentials: the values to mask, and what was
/// recognised (for the warning; never the values themselves). Lines are
/// `KEY=VALUE` (env files) or `key = value` (AWS credentials files).
pub fn credentials_in(content: &str) -> Option<(Vec<String>, String)> {
    let mut values = Vec::new();
    let mut what = Vec::new();
    let mut in_private_key = false;
    for (number, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("-----BEGIN") && line.contains("PRIVATE KEY") {
            in_private_key = true;
            what.push(format!("a private key (line {})", number + 1));
            continue;
        }
        if in_private_key {
            in_private_key = !line.starts_with("-----END");
            if in_private_key && !line.is_empty() {
                values.push(line.to_owned());
            }
            continue;
        }
        let Some((key, value)) = line.trim_start_matches("export ").split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim().trim_matches('"').trim_matches('\''));
        if key.starts_with('#') || value.is_empty() {
            continue;
        }
        if is_secret_name(key) || is_secret_value(value) {
            values.push(value.to_owned());
            what.push(format!("`{key}` (line {})", number + 1));
        }
    }
    (!what.is_empty()).then(|| (values, what.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_keys_and_private_keys_are_recognised() {
        let content = "REGION=us-east-1\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\n[default]\naws_secret_access_key = abcdefSecret\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        let (values, what) = credentials_in(content).unwrap();
        assert_eq!(values, ["wJalrXUtnFEMI/K7MDENG", "abcdefSecret", "b3BlbnNzaC1rZXktdjEAAAA"]);
        assert!(what.contains("`AWS_SECRET_ACCESS_KEY` (line 2)"), "{what}");
        assert!(what.contains("a private key (line 5)"), "{what}");
        assert!(!what.contains("wJalr"), "the warning must not quote a value: {what}");
    }

    #[test]
    fn ordinary_settings_are_not_credentials() {
        assert_eq!(credentials_in("NODE_ENV=production\nPORT=3000\n# TOKEN=commented\nEMPTY_TOKEN=\n"), None);
        assert!(is_secret_value("AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_secret_value("AKIA-not-a-key"));
        assert!(is_secret_name("db_password") && is_secret_name("GITHUB_TOKEN") && !is_secret_name("PORT"));
    }
}
