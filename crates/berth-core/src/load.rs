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
    pub stack: Stack,
    pub source: Source,
}

/// The stack file's path, text and the position of every key.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub path: PathBuf,
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

/// Reads and parses a stack file.
pub fn load_file(path: &Path) -> Result<LoadedStack, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic {
            severity: Severity::Error,
            code: None,
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the stack file: {e}"),
            help: None,
        }]
    })?;
    load_str(path, &text)
}

/// Parses stack text; `path` is used for messages and relative paths.
pub fn load_str(path: &Path, text: &str) -> Result<LoadedStack, Vec<Diagnostic>> {
    let source = Source::new(path, text);
    match serde_yaml::from_str::<Stack>(text) {
        Ok(stack) => Ok(LoadedStack { stack, source }),
        Err(err) => Err(vec![yaml_diagnostic(&source, &err)]),
    }
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
    fn yaml_syntax_error_is_located() {
        let errs = load_str(Path::new("stack.yaml"), "stack: s\nvars: [a\n").unwrap_err();
        assert!(errs[0].line >= 2, "{}", errs[0]);
    }
}
