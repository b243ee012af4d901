//! Reading a stack file: YAML to the typed [`Stack`], with every problem
//! reported as a [`Diagnostic`] at the file, line and column it concerns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::diag::{did_you_mean, Diagnostic, Severity};
use crate::model::Stack;

/// A parsed stack with what is needed to locate its parts.
#[derive(Debug, Clone)]
pub struct LoadedStack {
    /// The typed stack.
    pub stack: Stack,
    /// Its text and key positions, for locating diagnostics.
    pub source: Source,
}

/// The stack file's path, text and the position of every key.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The stack file's path, as given.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    positions: HashMap<Vec<String>, (usize, usize)>,
}

impl Source {
    /// Indexes `text` so paths can be turned into positions.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut index = PositionIndex::default();
        // A syntax error is reported by the typed parse; positions found so far stay usable.
        let _ = Parser::new_from_str(&text).load(&mut index, false);
        Source { path: path.into(), text, positions: index.positions }
    }

    /// The directory relative paths in the file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
    }

    /// 1-based line and column of the key at `path`, or of its nearest parent.
    pub fn position(&self, path: &[&str]) -> (usize, usize) {
        let mut path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        loop {
            if let Some(pos) = self.positions.get(&path) {
                return *pos;
            }
            if path.pop().is_none() {
                return (0, 0);
            }
        }
    }

    /// A diagnostic located at `path`.
    pub fn error(&self, path: &[&str], message: impl Into<String>, help: Option<String>) -> Diagnostic {
        self.diagnostic(Severity::Error, None, path, message, help)
    }

    /// A diagnostic of any severity located at `path`.
    pub fn diagnostic(
        &self,
        severity: Severity,
        code: Option<&str>,
        path: &[&str],
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let (line, column) = self.position(path);
        Diagnostic {
            severity,
            code: code.map(str::to_owned),
            file: self.path.clone(),
            line,
            column,
            message: message.into(),
            help,
        }
    }
}

/// Largest stack file berth reads: the reference stack is 5 KiB.
pub const MAX_STACK_FILE_BYTES: u64 = 1024 * 1024;

/// How deep mappings and sequences may nest: the reference stack needs 7.
/// The parsers recurse (or slow down) with depth, so a hostile file is
/// refused before they see it.
pub const MAX_NESTING: usize = 64;

/// Reads and parses a stack file.
pub fn load_file(path: &Path) -> Result<LoadedStack, Vec<Diagnostic>> {
    let text = crate::files::read_regular(path, &path.display().to_string(), MAX_STACK_FILE_BYTES).map_err(|e| {
        vec![Diagnostic {
            severity: Severity::Error,
            code: None,
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the stack file: {}", e.message),
            help: Some(e.help),
        }]
    })?;
    load_str(path, &text)
}

/// Parses stack text; `path` is used for messages and relative paths.
pub fn load_str(path: &Path, text: &str) -> Result<LoadedStack, Vec<Diagnostic>> {
    if text.len() as u64 > MAX_STACK_FILE_BYTES {
        return Err(vec![located(
            path,
            (1, 1),
            format!("the stack file is larger than {} KiB", MAX_STACK_FILE_BYTES / 1024),
            "split it, or move large documents into files it names",
        )]);
    }
    prescan(path, text).map_err(|d| vec![d])?;
    let source = Source::new(path, text);
    match serde_yaml::from_str::<Stack>(text) {
        Ok(stack) => Ok(LoadedStack { stack, source }),
        Err(err) => Err(vec![yaml_diagnostic(&source, &err)]),
    }
}

fn located(path: &Path, (line, column): (usize, usize), message: String, help: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code: None,
        file: path.to_path_buf(),
        line,
        column,
        message,
        help: Some(help.to_owned()),
    }
}

/// Refuses, before the recursive parse, what a stack file never needs and a
/// hostile one uses: nesting deeper than [`MAX_NESTING`], YAML tags other
/// than the core ones (`!Ref` would be silently dropped), and more than one
/// document. Stops at the first problem, so its cost is bounded by it;
/// syntax errors are left to the typed parse, which reports them better.
fn prescan(path: &Path, text: &str) -> Result<(), Diagnostic> {
    if let Some(at) = deep_flow(text) {
        return Err(too_deep(path, at));
    }
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut documents = 0usize;
    loop {
        let Ok((event, mark)) = parser.next_token() else { return Ok(()) };
        let at = (mark.line(), mark.col() + 1);
        let tag = match &event {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(located(
                        path,
                        at,
                        "a second YAML document starts here; a stack file holds exactly one".into(),
                        "remove the `---` line and what follows, or merge the documents into one",
                    ));
                }
                None
            }
            Event::MappingStart(_, tag) | Event::SequenceStart(_, tag) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(path, at));
                }
                tag.as_ref()
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                None
            }
            Event::Scalar(_, _, _, tag) => tag.as_ref(),
            _ => None,
        };
        if let Some(tag) = tag {
            if tag.handle != "tag:yaml.org,2002:" && tag.handle != "!!" {
                return Err(located(
                    path,
                    at,
                    format!("YAML tag `{}{}` is not supported", tag.handle, tag.suffix),
                    "berth stacks are plain YAML: write the value without a tag (references are `${section.name.attr}`)",
                ));
            }
        }
    }
}

fn too_deep(path: &Path, at: (usize, usize)) -> Diagnostic {
    located(
        path,
        at,
        format!("mappings and lists nest more than {MAX_NESTING} levels deep here"),
        "a stack file needs fewer than 10 levels; flatten this value",
    )
}

/// Where flow collections (`[`, `{`) first nest deeper than [`MAX_NESTING`],
/// found in one pass over the text. The YAML scanner looks ahead to the end
/// of a flow collection before producing its first event, in time quadratic
/// in its depth, so depth is bounded before the scanner runs. Brackets inside
/// quotes and comments do not count, nor do those inside a plain scalar of
/// block context (`cmd: echo [x`), where no flow collection can start.
fn deep_flow(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    // The previous significant character on this line, to tell where a value starts.
    let mut previous: Option<char> = None;
    let mut chars = text.chars().peekable();
    let (mut line, mut column) = (1usize, 0usize);
    let mut quote: Option<char> = None;
    // A `#` starts a comment only after whitespace (`a#b` is text).
    let mut after_space = true;
    while let Some(c) = chars.next() {
        column += 1;
        let space_before = std::mem::replace(&mut after_space, c.is_whitespace());
        if c == '\n' {
            (line, column) = (line + 1, 0);
            if quote.is_none() {
                previous = None;
            }
            continue;
        }
        if let Some(q) = quote {
            match (q, c) {
                ('"', '\\') => {
                    chars.next();
                    column += 1;
                }
                ('\'', '\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    column += 1;
                }
                _ if c == q => {
                    quote = None;
                    previous = Some(c);
                }
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        let value_starts = matches!(previous, None | Some(':' | '-' | ',' | '[' | '{' | '?'));
        match c {
            '#' if space_before => {
                // A comment: skip to the end of the line.
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
                continue;
            }
            '"' | '\'' if value_starts || depth > 0 && matches!(previous, Some(',' | '[' | '{' | ':')) => {
                quote = Some(c)
            }
            '[' | '{' if depth > 0 || value_starts => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some((line, column));
                }
            }
            ']' | '}' if depth > 0 => depth -= 1,
            // Text of a plain scalar: a bracket after it starts nothing either.
            '[' | '{' => {
                previous = Some('a');
                continue;
            }
            _ => {}
        }
        previous = Some(c);
    }
    None
}

fn yaml_diagnostic(source: &Source, err: &serde_yaml::Error) -> Diagnostic {
    let full = err.to_string();
    // serde_yaml appends " at line L column C"; the position is reported separately.
    let message = match full.rfind(" at line ") {
        Some(at) => full[..at].to_owned(),
        None => full.clone(),
    };
    let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
    Diagnostic {
        severity: Severity::Error,
        code: None,
        file: source.path.clone(),
        line,
        column,
        help: unknown_field_help(&message),
        message,
    }
}

/// For "unknown field `x`, expected one of `a`, `b`": the closest expected field.
fn unknown_field_help(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (field, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match did_you_mean(field, candidates.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !candidates.is_empty() => Some(format!("valid keys here: {}", candidates.join(", "))),
        None => None,
    }
}

enum Frame {
    Mapping { path: Vec<String>, key: Option<String> },
    Sequence { path: Vec<String>, index: usize },
}

/// Records the position of every mapping key and sequence item by its path.
#[derive(Default)]
struct PositionIndex {
    stack: Vec<Frame>,
    positions: HashMap<Vec<String>, (usize, usize)>,
}

impl PositionIndex {
    /// The path of the value starting now, recording its position when it is a sequence item.
    fn enter_value(&mut self, mark: Marker) -> Option<Vec<String>> {
        let path = match self.stack.last_mut()? {
            Frame::Mapping { path, key } => {
                let mut p = path.clone();
                p.push(key.take()?);
                p
            }
            Frame::Sequence { path, index } => {
                let mut p = path.clone();
                p.push(index.to_string());
                *index += 1;
                self.positions.entry(p.clone()).or_insert((mark.line(), mark.col() + 1));
                p
            }
        };
        Some(path)
    }
}

impl MarkedEventReceiver for PositionIndex {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Mapping { path, key: key @ None }) = self.stack.last_mut() {
                    let mut p = path.clone();
                    p.push(value.clone());
                    self.positions.entry(p).or_insert((mark.line(), mark.col() + 1));
                    *key = Some(value);
                } else {
                    self.enter_value(mark);
                }
            }
            Event::MappingStart(..) => {
                let path = if self.stack.is_empty() { Some(Vec::new()) } else { self.enter_value(mark) };
                self.stack.push(Frame::Mapping { path: path.unwrap_or_default(), key: None });
            }
            Event::SequenceStart(..) => {
                let path = if self.stack.is_empty() { Some(Vec::new()) } else { self.enter_value(mark) };
                self.stack.push(Frame::Sequence { path: path.unwrap_or_default(), index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                self.enter_value(mark);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_items() {
        let text = "stack: s\nservices:\n  web:\n    cluster: c\n    ports: [1, 2]\n";
        let source = Source::new("s.yaml", text);
        assert_eq!(source.position(&["stack"]), (1, 1));
        assert_eq!(source.position(&["services", "web", "cluster"]), (4, 5));
        assert_eq!(source.position(&["services", "web", "ports", "1"]), (5, 16));
        // An unknown path falls back to its nearest known parent.
        assert_eq!(source.position(&["services", "web", "nope"]), (3, 3));
    }

    #[test]
    fn unknown_key_is_located_with_a_suggestion() {
        let text = "stack: s\ntask_definitions:\n  app:\n    containers:\n      web:\n        image: nginx\n        memory_reservaton: 128\n";
        let errs = load_str(Path::new("stack.yaml"), text).unwrap_err();
        assert_eq!(errs.len(), 1);
        let e = &errs[0];
        assert_eq!((e.line, e.column), (7, 9), "{e}");
        assert!(e.message.contains("unknown field `memory_reservaton`"), "{}", e.message);
        assert_eq!(e.help.as_deref(), Some("did you mean `memory_reservation`?"));
    }

    #[test]
    fn wrong_type_is_located() {
        let text = "stack: s\nservices:\n  web:\n    cluster: c\n    task_definition: t\n    desired_count: many\n";
        let errs = load_str(Path::new("stack.yaml"), text).unwrap_err();
        assert_eq!(errs[0].line, 6, "{}", errs[0]);
        assert!(errs[0].message.contains("desired_count"), "{}", errs[0].message);
    }

    #[test]
    fn deep_nesting_is_refused_quickly_and_located() {
        let started = std::time::Instant::now();
        let flow = format!("stack: s\nvars: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
        let errs = load_str(Path::new("stack.yaml"), &flow).unwrap_err();
        assert!(errs[0].message.contains("more than 64 levels"), "{}", errs[0]);
        assert_eq!(errs[0].line, 2, "{}", errs[0]);
        let block = format!("stack: s\nvars:\n  {}x\n", "- ".repeat(3000));
        let errs = load_str(Path::new("stack.yaml"), &block).unwrap_err();
        assert!(errs[0].message.contains("more than 64 levels"), "{}", errs[0]);
        assert_eq!(errs[0].line, 3, "{}", errs[0]);
        let mut indented = String::from("stack: s\nvars:\n");
        for level in 0..100 {
            indented.push_str(&format!("{}k{level}:\n", " ".repeat(level + 2)));
        }
        let errs = load_str(Path::new("stack.yaml"), &indented).unwrap_err();
        assert!(errs[0].message.contains("more than 64 levels"), "{}", errs[0]);
        assert!(errs[0].line > 60, "{}", errs[0]);
        assert!(started.elapsed().as_secs() < 10, "took {:?}", started.elapsed());
        // 64 levels are fine as far as nesting goes.
        let ok = format!("stack: s\ntags: {{a: {}{}}}\n", "[".repeat(60), "]".repeat(60));
        let errs = load_str(Path::new("stack.yaml"), &ok).unwrap_err();
        assert!(!errs[0].message.contains("levels"), "{}", errs[0]);
    }

    #[test]
    fn brackets_in_quotes_comments_and_plain_text_are_not_nesting() {
        let many = "[".repeat(100);
        let text = format!(
            "a: \"{many}\"\nb: '{many} it''s'\n# {many}\nc: echo {many}\nd: x#{many}\ne: [1, \"{many}\", {{k: '{many}'}}]\n"
        );
        assert_eq!(deep_flow(&text), None);
        assert_eq!(deep_flow(&format!("a:\n  - {}", "[".repeat(65))), Some((2, 69)));
        assert_eq!(deep_flow(&format!("a: {}", "{x: ".repeat(65))), Some((1, 4 + 64 * 4)));
    }

    #[test]
    fn a_big_file_is_refused() {
        let text = format!("stack: s\n#{}\n", "x".repeat(MAX_STACK_FILE_BYTES as usize));
        let errs = load_str(Path::new("stack.yaml"), &text).unwrap_err();
        assert!(errs[0].message.contains("larger than 1024 KiB"), "{}", errs[0]);
    }

    #[test]
    fn custom_tags_and_second_documents_are_located() {
        let errs = load_str(Path::new("stack.yaml"), "stack: s\nregion: !Ref Region\n").unwrap_err();
        assert!(errs[0].message.contains("YAML tag `!Ref` is not supported"), "{}", errs[0]);
        assert_eq!(errs[0].line, 2, "{}", errs[0]);
        let errs = load_str(Path::new("stack.yaml"), "stack: s\n---\nstack: t\n").unwrap_err();
        assert!(errs[0].message.contains("second YAML document"), "{}", errs[0]);
        assert_eq!((errs[0].line, errs[0].column), (2, 1), "{}", errs[0]);
        assert!(load_str(Path::new("stack.yaml"), "---\nstack: !!str s\n").is_ok());
    }

    #[test]
    fn yaml_syntax_error_is_located() {
        let errs = load_str(Path::new("stack.yaml"), "stack: s\nvars: [a\n").unwrap_err();
        assert!(errs[0].line >= 2, "{}", errs[0]);
    }
}
