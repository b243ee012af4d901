//! Expansion: a typed [`Stack`] becomes the [`Graph`] of AWS resources it
//! stands for. Variables and built-ins are substituted here; references to
//! other resources become `${ref:ADDRESS#ATTR}` placeholders (and so edges),
//! resolved by the engine once the referenced resource exists. Each section
//! of the file expands in its own module under `sections/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::check::codes::Code;
use crate::diag::{did_you_mean, Diagnostic, Severity};
use crate::files::FileAccess;
use crate::graph::{literal_text, reference, Graph, Node};
use crate::interpolate::{pieces, Expression, Piece};
use crate::kind::Kind;
use crate::load::{LoadedStack, Source};
use crate::model::{Stack, Subnets, Var};
use crate::provider::{ID_TAG, PROTECT_TAG, STACK_TAG};

pub(crate) mod sections;

pub use sections::security_groups::ingress_label;
pub(crate) use sections::{find as find_section, ALL as SECTIONS};

/// The SSM parameter holding the current ECS-optimized Amazon Linux 2023 AMI.
pub const ECS_OPTIMIZED_AMI_PARAMETER: &str = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";

/// The service principal of ECS tasks.
pub(crate) const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// Address of the network data node.
pub const NETWORK: &str = "network";

/// What expansion needs besides the file.
#[derive(Debug, Clone, Default)]
pub struct ExpandOptions {
    /// The AWS account, for `${aws.account_id}`.
    pub account_id: String,
    /// The region, for `${aws.region}`.
    pub region: String,
    /// `--var NAME=VALUE` overrides.
    pub var_overrides: BTreeMap<String, String>,
    /// Values of the environment's `BERTH_VAR_<NAME>` variables, by name: they
    /// set the variables the file declares that `--var` does not set.
    pub env_vars: BTreeMap<String, String>,
    /// AWS is reached over plain HTTP (a local endpoint such as moto): a
    /// bucket policy denying requests without TLS would lock berth out of
    /// its own bucket, so it is left out.
    pub plain_http: bool,
    /// Folders outside the stack file's folder that files may be read from (`--allow-path`).
    pub allowed_dirs: Vec<PathBuf>,
}

impl ExpandOptions {
    /// The value `--var` or the environment gives variable `name` of `stack`
    /// (the environment only sets variables the file declares).
    pub fn given<'o>(&'o self, stack: &Stack, name: &str) -> Option<&'o String> {
        let from_env = || self.env_vars.get(name).filter(|_| stack.vars.contains_key(name));
        self.var_overrides.get(name).or_else(from_env)
    }

    /// Every variable of `stack` with the value it takes (given, else the
    /// file's), sensitive ones as `(sensitive)`: what a plan shows it used.
    pub fn shown_vars(&self, stack: &Stack) -> BTreeMap<String, String> {
        let value =
            |name: &str, var: &Var| self.given(stack, name).map(String::as_str).or(var.value()).map(str::to_owned);
        stack
            .vars
            .iter()
            .filter_map(|(name, var)| {
                let shown = if var.is_sensitive() { crate::plan::MASK.to_owned() } else { value(name, var)? };
                Some((name.clone(), shown))
            })
            .collect()
    }

    /// `stack` with the values `--var` and the environment give its variables
    /// in place of the file's, each as sensitive as the file declares it.
    pub fn with_given_vars(&self, stack: &Stack) -> Stack {
        let mut given = stack.clone();
        for (name, var) in &mut given.vars {
            if let Some(value) = self.given(stack, name) {
                *var = Var::Detailed { value: Some(value.clone()), sensitive: var.is_sensitive() };
            }
        }
        given
    }
}

/// The expanded stack.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// The stack's name.
    pub stack: String,
    /// One node per AWS resource, with their dependencies.
    pub graph: Graph,
    /// Values that must never be printed (sensitive vars, object contents and secrets' values).
    pub secrets: Vec<String>,
    /// Warnings found while expanding (docs/checks.md, BRT043-BRT045).
    pub warnings: Vec<Diagnostic>,
}

impl Expanded {
    /// How many resources berth manages for the stack: every node but the data it reads.
    pub fn managed_count(&self) -> usize {
        self.graph.nodes().iter().filter(|n| !n.kind.is_data()).count()
    }
}

/// The values expansion would mask ([`Expanded::secrets`]), found even when
/// the stack has errors: so that nothing printed about those errors shows them.
pub fn sensitive_values(loaded: &LoadedStack, options: &ExpandOptions) -> Vec<String> {
    let mut x = Expander::new(loaded, options);
    x.resolve_vars();
    x.buckets();
    x.secrets();
    x.secrets
}

/// Expands a loaded stack, or returns every problem found.
pub fn expand(loaded: &LoadedStack, options: &ExpandOptions) -> Result<Expanded, Vec<Diagnostic>> {
    let mut x = Expander::new(loaded, options);
    for found in crate::limits::check(&loaded.stack, &loaded.source) {
        if found.is_error() {
            x.diagnostics.push(found);
        } else {
            x.warnings.push(found);
        }
    }
    x.resolve_vars();
    for section in sections::ALL {
        (section.expand)(&mut x);
    }
    x.protect();
    if x.nodes.iter().any(|n| n.dependencies().contains(NETWORK)) {
        let subnets = match &loaded.stack.network.subnets {
            Subnets::Named(name) => json!(name),
            Subnets::Ids(ids) => json!(ids),
        };
        let mut network =
            Node::new(NETWORK, Kind::Network, json!({ "vpc": loaded.stack.network.vpc, "subnets": subnets }));
        network.origin = vec!["network".into()];
        x.nodes.push(network);
    }
    let Expander { nodes, mut diagnostics, warnings, secrets, .. } = x;
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let graph = Graph::new(nodes).map_err(|e| vec![loaded.source.error(&[], e, None)])?;
    if let Err(cycles) = graph.topological_order() {
        for cycle in cycles {
            let origin: Vec<&str> =
                graph.get(&cycle.0[0]).map(|n| n.origin.iter().map(String::as_str).collect()).unwrap_or_default();
            diagnostics.push(loaded.source.error(
                &origin,
                format!("dependency cycle: {}", cycle.0.join(" -> ")),
                Some("remove one of the references between these resources".into()),
            ));
        }
        return Err(diagnostics);
    }
    Ok(Expanded { stack: loaded.stack.stack.clone(), graph, secrets, warnings })
}

pub(crate) struct Expander<'a> {
    stack: &'a Stack,
    source: &'a Source,
    options: &'a ExpandOptions,
    files: FileAccess,
    nodes: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    secrets: Vec<String>,
    /// Each variable's value once resolved (`None`: it could not be).
    var_values: BTreeMap<String, Option<String>>,
    /// The variables being resolved, innermost last: a cycle shows as a repeat.
    resolving: Vec<String>,
}

/// How deep variables may use variables: far beyond any real stack, and a
/// bound on the recursion a hostile file can cause.
const MAX_VAR_DEPTH: usize = 32;

impl<'a> Expander<'a> {
    fn new(loaded: &'a LoadedStack, options: &'a ExpandOptions) -> Expander<'a> {
        Expander {
            stack: &loaded.stack,
            source: &loaded.source,
            options,
            files: FileAccess::new(loaded.source.dir(), &options.allowed_dirs),
            nodes: Vec::new(),
            diagnostics: Vec::new(),
            warnings: Vec::new(),
            secrets: Vec::new(),
            var_values: BTreeMap::new(),
            resolving: Vec::new(),
        }
    }

    fn error(&mut self, path: &[&str], message: impl Into<String>, help: Option<String>) {
        self.diagnostics.push(self.source.error(path, message, help));
    }

    /// A warning at `path`, unless the resource's `allow:` lists its code.
    fn warn(&mut self, code: &Code, allow: &[String], path: &[&str], message: String, help: &str) {
        if !allow.iter().any(|a| a == code.id) {
            self.warnings.push(self.source.diagnostic(
                Severity::Warning,
                Some(code.id),
                path,
                message,
                Some(help.to_owned()),
            ));
        }
    }

    fn tags(&self, address: &str) -> Value {
        let mut tags: Map<String, Value> = self.stack.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        tags.insert(STACK_TAG.into(), json!(self.stack.stack));
        tags.insert(ID_TAG.into(), json!(address));
        Value::Object(tags)
    }

    fn push(
        &mut self,
        address: String,
        kind: Kind,
        desired: Value,
        parent: Option<&str>,
        origin: &[&str],
    ) -> &mut Node {
        let mut node = Node::new(address, kind, desired);
        node.parent = parent.map(str::to_owned);
        node.origin = origin.iter().map(|s| s.to_string()).collect();
        self.nodes.push(node);
        self.nodes.last_mut().expect("just pushed")
    }

    /// Pushes a taggable node, adding its ownership tags.
    fn push_tagged(
        &mut self,
        address: String,
        kind: Kind,
        mut desired: Value,
        parent: Option<&str>,
        origin: &[&str],
    ) -> &mut Node {
        let mut tags = self.tags(&address);
        if let (Some(all), Some(Value::Object(extra))) = (tags.as_object_mut(), desired.get("tags")) {
            all.extend(extra.clone());
        }
        desired["tags"] = tags;
        self.push(address, kind, desired, parent, origin)
    }

    /// Resolves every variable, so that a required one left unset is an
    /// error even where nothing uses it, and keeps the values of sensitive
    /// ones (as resolved, or as `--var` or the environment gives them) to mask.
    fn resolve_vars(&mut self) {
        let stack = self.stack;
        for (name, var) in &stack.vars {
            // An override as given: it is what AWS receives and what must not be printed.
            let value = match self.given(name) {
                Some(value) => Some(value.clone()),
                // Resolved even when unused, so that a required one left unset is reported.
                None => self.var_value(name, &["vars", name]),
            };
            if var.is_sensitive() {
                self.secrets.extend(value);
            }
        }
        for name in self.options.var_overrides.keys() {
            if !self.stack.vars.contains_key(name) {
                let known: Vec<&str> = self.stack.vars.keys().map(String::as_str).collect();
                self.error(
                    &["vars"],
                    format!("--var {name}: the stack declares no variable `{name}`"),
                    did_you_mean(name, known).map(|k| format!("did you mean `{k}`?")),
                );
            }
        }
    }

    /// The value `--var` or the environment gives a declared variable.
    fn given(&self, name: &str) -> Option<&String> {
        self.options.given(self.stack, name)
    }

    /// Marks the nodes of every `protect: true` resource (and its parts) and
    /// tags them, so protection outlives the resource's removal from the file.
    fn protect(&mut self) {
        let stack = self.stack;
        let protected: Vec<String> = sections::ALL
            .iter()
            .flat_map(|section| {
                (section.declared)(stack)
                    .into_iter()
                    .filter(|r| r.protect)
                    .map(|r| format!("{}.{}", section.name, r.name))
            })
            .collect();
        for node in &mut self.nodes {
            let covered = protected.iter().any(|p| node.address == *p || node.address.starts_with(&format!("{p}.")));
            if covered {
                node.protected = true;
                if let Some(tags) = node.desired.get_mut("tags").and_then(Value::as_object_mut) {
                    tags.insert(PROTECT_TAG.into(), json!("true"));
                }
            }
        }
    }

    /// Substitutes `${...}` expressions in `text` found at `path`.
    fn interpolate(&mut self, text: &str, path: &[&str]) -> String {
        let mut out = String::new();
        for piece in pieces(text, "${") {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Expr(expr) => out.push_str(&self.evaluate(expr.trim(), path).unwrap_or_default()),
                Piece::Unclosed(_) => {
                    self.error(
                        path,
                        format!("unclosed `${{` in `{text}`"),
                        Some("close the expression with `}`".into()),
                    );
                }
            }
        }
        out
    }

    fn evaluate(&mut self, expr: &str, path: &[&str]) -> Option<String> {
        match Expression::parse(expr) {
            Expression::Builtin("account_id") => Some(self.options.account_id.clone()),
            Expression::Builtin("region") => Some(self.options.region.clone()),
            Expression::Builtin(other) => {
                let help = did_you_mean(other, ["account_id", "region"]).map(|k| format!("did you mean `aws.{k}`?"));
                self.error(
                    path,
                    format!("unknown built-in `${{aws.{other}}}`"),
                    help.or(Some("use `${aws.account_id}` or `${aws.region}`".into())),
                );
                None
            }
            Expression::Var(name) => self.var_value(name, path),
            Expression::Resource { section, rest } => self.resource_reference(expr, section, rest, path),
        }
    }

    /// The value of variable `name` used at `path`: a `--var` override as
    /// given (never interpolated), else the declared value with its own
    /// expressions resolved (`${aws.account_id}` in an image name). Problems
    /// inside a variable are reported once, at the variable.
    fn var_value(&mut self, name: &str, path: &[&str]) -> Option<String> {
        if let Some(value) = self.given(name) {
            return Some(literal_text(value));
        }
        if let Some(known) = self.var_values.get(name) {
            return known.clone();
        }
        let Some(var) = self.stack.vars.get(name) else {
            let known: Vec<&str> = self.stack.vars.keys().map(String::as_str).collect();
            let help = did_you_mean(name, known)
                .map(|k| format!("did you mean `${{var.{k}}}`?"))
                .unwrap_or_else(|| format!("declare it under `vars:` or pass --var {name}=VALUE"));
            self.error(path, format!("variable `{name}` is not defined"), Some(help));
            return None;
        };
        if let Some(start) = self.resolving.iter().position(|n| n == name) {
            let chain: Vec<String> =
                self.resolving[start..].iter().chain([&name.to_owned()]).map(|n| format!("vars.{n}")).collect();
            let first = self.resolving[start].clone();
            self.error(
                &["vars", first.as_str()],
                format!("variable cycle: {}", chain.join(" -> ")),
                Some("a variable may not use itself, directly or through other variables".into()),
            );
            return None;
        }
        if self.resolving.len() >= MAX_VAR_DEPTH {
            let outer = self.resolving[0].clone();
            self.error(
                &["vars", outer.as_str()],
                format!("variables use variables more than {MAX_VAR_DEPTH} deep, starting at `{outer}`"),
                Some("write some of these values out instead of chaining variables".into()),
            );
            return None;
        }
        let Some(raw) = var.value().map(str::to_owned) else {
            self.error(
                &["vars", name],
                format!("variable `{name}` has no value"),
                Some(format!("pass --var {name}=VALUE or set the environment variable BERTH_VAR_{name}")),
            );
            self.var_values.insert(name.to_owned(), None);
            return None;
        };
        self.resolving.push(name.to_owned());
        let errors_before = self.diagnostics.len();
        let value = self.interpolate(&raw, &["vars", name]);
        self.resolving.pop();
        let value = (self.diagnostics.len() == errors_before).then_some(value);
        self.var_values.insert(name.to_owned(), value.clone());
        value
    }

    /// `${section.name.attr}`: a placeholder for another resource's output.
    fn resource_reference(&mut self, expr: &str, section: &str, rest: &str, path: &[&str]) -> Option<String> {
        let Some(attrs) = sections::find(section).map(|s| s.outputs) else {
            let names = sections::ALL.iter().map(|s| s.name).chain(["var", "aws"]);
            let help = did_you_mean(section, names).map(|s| format!("did you mean `{s}`?"));
            self.error(
                path,
                format!("`${{{expr}}}` refers to unknown section `{section}`"),
                help.or(Some(
                    "references look like `${buckets.NAME.arn}`, `${var.NAME}` or `${aws.account_id}`".into(),
                )),
            );
            return None;
        };
        let Some((name, attr)) = Expression::name_and_attr(rest) else {
            self.error(
                path,
                format!("`${{{expr}}}` needs a resource name and an attribute"),
                Some(format!("for example `${{{section}.NAME.{}}}`", attrs[0])),
            );
            return None;
        };
        let address = self.lookup(section, name, path)?;
        if !attrs.contains(&attr) {
            let help = did_you_mean(attr, attrs.iter().copied())
                .map(|a| format!("did you mean `{a}`?"))
                .unwrap_or_else(|| format!("available: {}", attrs.join(", ")));
            self.error(path, format!("`{section}` resources have no attribute `{attr}`"), Some(help));
            return None;
        }
        Some(reference(&address, attr))
    }

    /// The address of `name` in `section`, or an error suggesting a near name.
    fn lookup(&mut self, section: &str, name: &str, path: &[&str]) -> Option<String> {
        let stack = self.stack;
        let declared = sections::find(section).map(|s| (s.declared)(stack)).unwrap_or_default();
        let names: Vec<&str> = declared.iter().map(|r| r.name).collect();
        if names.contains(&name) {
            return Some(format!("{section}.{name}"));
        }
        let help = match did_you_mean(name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if names.is_empty() => format!("declare it under `{section}:`"),
            None => format!("declared in `{section}`: {}", names.join(", ")),
        };
        self.error(path, format!("`{name}` is not declared in `{section}`"), Some(help));
        None
    }

    /// A reference field: a name of this file becomes a reference to `attr`;
    /// an ARN (or other id matching `is_external`) is used as written.
    fn name_or_external(
        &mut self,
        section: &str,
        value: &str,
        attr: &str,
        is_external: fn(&str) -> bool,
        path: &[&str],
    ) -> Option<String> {
        if is_external(value) {
            return Some(value.to_owned());
        }
        self.lookup(section, value, path).map(|address| reference(&address, attr))
    }

    fn interpolate_all(&mut self, texts: &[String], path: &[&str]) -> Vec<String> {
        texts.iter().map(|text| self.interpolate(text, path)).collect()
    }

    fn interpolate_value(&mut self, value: &Value, path: &[&str]) -> Value {
        match value {
            Value::String(s) => Value::String(self.interpolate(s, path)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.interpolate_value(v, path)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.interpolate_value(v, path))).collect())
            }
            other => other.clone(),
        }
    }

    /// Reads a file the stack names, confined to the stack's folder and `limit` bytes.
    fn read_file(&mut self, relative: &str, path: &[&str], limit: u64) -> Option<String> {
        match self.files.read(relative, limit) {
            Ok(text) => Some(text),
            Err(e) => {
                self.error(path, e.message, Some(e.help));
                None
            }
        }
    }
}

pub(crate) fn as_path(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}
