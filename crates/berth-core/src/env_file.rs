//! Env files (`KEY=VALUE` lines) as ECS reads them: parsed for the plan's
//! masking and checks, and checked for lines ECS would misread.

/// The values of `KEY=VALUE` lines of an env file, which must never be printed.
pub fn env_values(content: &str) -> Vec<String> {
    parse_env(content).into_iter().map(|(_, v)| v).filter(|v| !v.is_empty()).collect()
}

/// Whether `name` is an environment variable name a shell and docker accept.
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `KEY=VALUE` lines of an env file, skipping blanks and comments.
pub fn parse_env(content: &str) -> Vec<(String, String)> {
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .collect()
}

/// The numbers (from 1) of the lines ECS would not read as `KEY=VALUE`.
pub fn misread_lines(content: &str) -> Vec<usize> {
    content
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#') && !l.split_once('=').is_some_and(|(k, _)| valid_env_name(k))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_ecs_would_misread_are_numbered() {
        let content = "# comment\nAPI_URL=https://x\n\nnot a var\n1BAD=x\nexport A=b\nOK_2=\n";
        assert_eq!(misread_lines(content), [4, 5, 6]);
        assert_eq!(parse_env(content).len(), 4);
        assert_eq!(env_values(content), ["https://x", "x", "b"]);
    }
}
