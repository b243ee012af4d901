//! Expansion: a typed [`Stack`] becomes the [`Graph`] of AWS resources it
//! stands for. Variables and built-ins are substituted here; references to
//! other resources become `${ref:ADDRESS#ATTR}` placeholders (and so edges),
//! resolved by the engine once the referenced resource exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::check::codes::{self, Code};
use crate::diag::{did_you_mean, Diagnostic, Severity};
use crate::files::{FileAccess, MAX_OBJECT_FILE_BYTES, MAX_PUBLIC_KEY_BYTES};
use crate::graph::{literal_text, reference, Graph, Node};
use crate::kind::Kind;
use crate::load::{LoadedStack, Source};
use crate::model::{self, Ports, Stack, Subnets};
use crate::provider::{ENV_DIGEST_TAG, ID_TAG, PROTECT_TAG, STACK_TAG};
use crate::secret_like::credentials_in;

/// The SSM parameter holding the current ECS-optimized Amazon Linux 2023 AMI.
pub const ECS_OPTIMIZED_AMI_PARAMETER: &str = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";

/// The service principal of ECS tasks.
const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// Address of the network data node.
pub const NETWORK: &str = "network";

/// What expansion needs besides the file.
#[derive(Debug, Clone, Default)]
pub struct ExpandOptions {
    pub account_id: String,
    pub region: String,
    /// `--var NAME=VALUE` overrides.
    pub var_overrides: BTreeMap<String, String>,
    /// AWS is reached over plain HTTP (a local endpoint such as moto): a
    /// bucket policy denying requests without TLS would lock berth out of
    /// its own bucket, so it is left out.
    pub plain_http: bool,
    /// Folders outside the stack file's folder that files may be read from (`--allow-path`).
    pub allowed_dirs: Vec<PathBuf>,
}

/// The expanded stack.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub stack: String,
    pub graph: Graph,
    /// Values that must never be printed (sensitive vars and object contents).
    pub secrets: Vec<String>,
    /// Warnings found while expanding (docs/checks.md, BRT043-BRT045).
    pub warnings: Vec<Diagnostic>,
}

/// Sections a `${section.name.attr}` reference may name, with their outputs.
const SECTIONS: &[(&str, &[&str])] = &[
    ("key_pairs", &["name", "id"]),
    ("security_groups", &["id", "name"]),
    ("iam.policies", &["arn", "name"]),
    ("iam.roles", &["arn", "name"]),
    ("buckets", &["name", "arn"]),
    ("log_groups", &["name", "arn"]),
    ("clusters", &["name", "arn"]),
    ("task_definitions", &["arn", "family", "revision"]),
    ("target_groups", &["arn", "name"]),
    ("load_balancers", &["arn", "name", "dns_name"]),
    ("services", &["arn", "name"]),
];

/// The values expansion would mask ([`Expanded::secrets`]), found even when
/// the stack has errors: so that nothing printed about those errors shows them.
pub fn sensitive_values(loaded: &LoadedStack, options: &ExpandOptions) -> Vec<String> {
    let mut x = Expander::new(loaded, options);
    x.collect_secret_vars();
    x.buckets();
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
    x.collect_secret_vars();
    x.key_pairs();
    x.security_groups();
    x.iam();
    x.buckets();
    x.log_groups();
    x.clusters();
    x.task_definitions();
    x.target_groups();
    x.load_balancers();
    x.services();
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

struct Expander<'a> {
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

/// Splits a port spec into (from, to), or says why it is not one.
fn parse_ports(ports: &Ports) -> Result<(u32, u32), String> {
    let (from, to) = match ports {
        Ports::One(p) => (*p, *p),
        Ports::Range(text) => {
            let parse = |s: &str| {
                s.trim().parse::<u32>().map_err(|_| format!("`{text}` is not a port or a range like 32768-65535"))
            };
            match text.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => {
                    let p = parse(text)?;
                    (p, p)
                }
            }
        }
    };
    if from > 65535 || to > 65535 {
        return Err(format!("port {} is above 65535", from.max(to)));
    }
    if from > to {
        return Err(format!("port range {from}-{to} is reversed"));
    }
    Ok((from, to))
}

/// How an ingress rule is named below its group, from its content (so that
/// the order of rules in the file does not matter): `ingress[tcp 22 0.0.0.0/0]`,
/// `ingress[all 10.0.0.0/8]`. Rules read from AWS are named the same way.
pub fn ingress_label(protocol: &str, from: i64, to: i64, source: &str) -> String {
    match protocol {
        "-1" => format!("ingress[all {source}]"),
        _ if from == to => format!("ingress[{protocol} {from} {source}]"),
        _ => format!("ingress[{protocol} {from}-{to} {source}]"),
    }
}

/// Whether `cidr` is an IPv4 CIDR block such as `10.0.0.0/16`.
fn valid_cidr(cidr: &str) -> bool {
    let Some((ip, bits)) = cidr.split_once('/') else { return false };
    ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
}

/// Retention periods CloudWatch Logs accepts.
const RETENTION_DAYS: &[u32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

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

    /// Warns about lines of an env file ECS would not read as `KEY=VALUE`
    /// (quoting no line: its text may be a secret).
    fn check_env_lines(&mut self, content: &str, file: &str, allow: &[String], path: &[&str]) {
        let bad: Vec<String> = content
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#') && !l.split_once('=').is_some_and(|(k, _)| valid_env_name(k))
            })
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if bad.is_empty() {
            return;
        }
        let shown: Vec<&str> = bad.iter().take(5).map(String::as_str).collect();
        let more = if bad.len() > 5 { format!(" and {} more", bad.len() - 5) } else { String::new() };
        self.warn(
            &codes::ENV_FILE_LINE,
            allow,
            path,
            format!("`{file}`: line {}{more} is not KEY=VALUE; ECS ignores or misreads such lines", shown.join(", ")),
            "write each variable as NAME=value (a letter or `_` first, then letters, digits or `_`); comments start with #",
        );
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

    /// The resolved value of every sensitive variable (what would be printed
    /// otherwise), and that of its `--var` override.
    fn collect_secret_vars(&mut self) {
        let stack = self.stack;
        for (name, var) in &stack.vars {
            if var.is_sensitive() {
                // An override as given: it is what AWS receives and what must not be printed.
                let value = match self.options.var_overrides.get(name) {
                    Some(value) => Some(value.clone()),
                    None => self.var_value(name, &["vars", name]),
                };
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

    /// Marks the nodes of every `protect: true` resource (and its parts) and
    /// tags them, so protection outlives the resource's removal from the file.
    fn protect(&mut self) {
        let s = self.stack;
        let protected: Vec<String> = [
            s.key_pairs.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("key_pairs.{n}")).collect::<Vec<_>>(),
            s.security_groups.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("security_groups.{n}")).collect(),
            s.iam.policies.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("iam.policies.{n}")).collect(),
            s.iam.roles.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("iam.roles.{n}")).collect(),
            s.buckets.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("buckets.{n}")).collect(),
            s.log_groups.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("log_groups.{n}")).collect(),
            s.clusters.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("clusters.{n}")).collect(),
            s.task_definitions
                .iter()
                .filter(|(_, r)| r.protect)
                .map(|(n, _)| format!("task_definitions.{n}"))
                .collect(),
            s.target_groups.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("target_groups.{n}")).collect(),
            s.load_balancers.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("load_balancers.{n}")).collect(),
            s.services.iter().filter(|(_, r)| r.protect).map(|(n, _)| format!("services.{n}")).collect(),
        ]
        .concat();
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
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.error(path, format!("unclosed `${{` in `{text}`"), Some("close the expression with `}`".into()));
                return out;
            };
            let expr = after[..end].trim();
            out.push_str(&self.evaluate(expr, path).unwrap_or_default());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn evaluate(&mut self, expr: &str, path: &[&str]) -> Option<String> {
        match expr.split_once('.') {
            Some(("aws", "account_id")) => Some(self.options.account_id.clone()),
            Some(("aws", "region")) => Some(self.options.region.clone()),
            Some(("aws", other)) => {
                let help = did_you_mean(other, ["account_id", "region"]).map(|k| format!("did you mean `aws.{k}`?"));
                self.error(
                    path,
                    format!("unknown built-in `${{aws.{other}}}`"),
                    help.or(Some("use `${aws.account_id}` or `${aws.region}`".into())),
                );
                None
            }
            Some(("var", name)) => self.var_value(name, path),
            _ => self.resource_reference(expr, path),
        }
    }

    /// The value of variable `name` used at `path`: a `--var` override as
    /// given (never interpolated), else the declared value with its own
    /// expressions resolved (`${aws.account_id}` in an image name). Problems
    /// inside a variable are reported once, at the variable.
    fn var_value(&mut self, name: &str, path: &[&str]) -> Option<String> {
        if let Some(value) = self.options.var_overrides.get(name) {
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
        self.resolving.push(name.to_owned());
        let errors_before = self.diagnostics.len();
        let raw = var.value().to_owned();
        let value = self.interpolate(&raw, &["vars", name]);
        self.resolving.pop();
        let value = (self.diagnostics.len() == errors_before).then_some(value);
        self.var_values.insert(name.to_owned(), value.clone());
        value
    }

    /// `${section.name.attr}`: a placeholder for another resource's output.
    fn resource_reference(&mut self, expr: &str, path: &[&str]) -> Option<String> {
        let (section, rest) = match expr.strip_prefix("iam.") {
            Some(rest) => {
                let (sub, rest) = rest.split_once('.').unwrap_or((rest, ""));
                (format!("iam.{sub}"), rest)
            }
            None => {
                let (sec, rest) = expr.split_once('.').unwrap_or((expr, ""));
                (sec.to_owned(), rest)
            }
        };
        let Some(&(_, attrs)) = SECTIONS.iter().find(|(s, _)| *s == section) else {
            let names = SECTIONS.iter().map(|(s, _)| *s).chain(["var", "aws"]);
            let help = did_you_mean(&section, names).map(|s| format!("did you mean `{s}`?"));
            self.error(
                path,
                format!("`${{{expr}}}` refers to unknown section `{section}`"),
                help.or(Some(
                    "references look like `${buckets.NAME.arn}`, `${var.NAME}` or `${aws.account_id}`".into(),
                )),
            );
            return None;
        };
        let Some((name, attr)) = rest.rsplit_once('.') else {
            self.error(
                path,
                format!("`${{{expr}}}` needs a resource name and an attribute"),
                Some(format!("for example `${{{section}.NAME.{}}}`", attrs[0])),
            );
            return None;
        };
        let address = self.lookup(&section, name, path)?;
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
        let names: Vec<&str> = match section {
            "key_pairs" => self.stack.key_pairs.keys().map(String::as_str).collect(),
            "security_groups" => self.stack.security_groups.keys().map(String::as_str).collect(),
            "iam.policies" => self.stack.iam.policies.keys().map(String::as_str).collect(),
            "iam.roles" => self.stack.iam.roles.keys().map(String::as_str).collect(),
            "buckets" => self.stack.buckets.keys().map(String::as_str).collect(),
            "log_groups" => self.stack.log_groups.keys().map(String::as_str).collect(),
            "clusters" => self.stack.clusters.keys().map(String::as_str).collect(),
            "task_definitions" => self.stack.task_definitions.keys().map(String::as_str).collect(),
            "target_groups" => self.stack.target_groups.keys().map(String::as_str).collect(),
            "load_balancers" => self.stack.load_balancers.keys().map(String::as_str).collect(),
            "services" => self.stack.services.keys().map(String::as_str).collect(),
            _ => vec![],
        };
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

    fn key_pairs(&mut self) {
        for (name, kp) in &self.stack.key_pairs {
            let path = ["key_pairs", name.as_str(), "public_key"];
            let Some(text) = self.read_file(&kp.public_key, &path, MAX_PUBLIC_KEY_BYTES) else { continue };
            let public_key: Vec<&str> = text.split_whitespace().take(2).collect();
            if public_key.len() < 2 || !public_key[0].starts_with("ssh-") && !public_key[0].starts_with("ecdsa-") {
                self.error(
                    &path,
                    format!("`{}` is not an OpenSSH public key", kp.public_key),
                    Some("use the `.pub` file written by ssh-keygen".into()),
                );
                continue;
            }
            let desired = json!({ "name": name, "public_key": literal_text(&public_key.join(" ")) });
            self.push_tagged(format!("key_pairs.{name}"), Kind::KeyPair, desired, None, &["key_pairs", name]);
        }
    }

    fn security_groups(&mut self) {
        for (name, sg) in &self.stack.security_groups {
            let address = format!("security_groups.{name}");
            let desired =
                json!({ "name": name, "description": sg.description, "vpc_id": reference(NETWORK, "vpc_id") });
            self.push_tagged(address.clone(), Kind::SecurityGroup, desired, None, &["security_groups", name])
                .exact_children = !sg.unmanaged_rules;
            for (i, rule) in sg.ingress.iter().enumerate() {
                let index = i.to_string();
                let path = ["security_groups", name.as_str(), "ingress", index.as_str()];
                let protocol = match rule.protocol.as_str() {
                    "tcp" | "udp" | "icmp" => rule.protocol.clone(),
                    "all" | "-1" => "-1".to_owned(),
                    other => {
                        let help =
                            did_you_mean(other, ["tcp", "udp", "icmp", "all"]).map(|p| format!("did you mean `{p}`?"));
                        self.error(
                            &path,
                            format!("unknown protocol `{other}`"),
                            help.or(Some("use tcp, udp, icmp or all".into())),
                        );
                        continue;
                    }
                };
                let (from, to) = match parse_ports(&rule.ports) {
                    Ok(range) => range,
                    Err(message) => {
                        self.error(&path, message, Some("ports are 0-65535, written `80` or `32768-65535`".into()));
                        continue;
                    }
                };
                let mut desired = json!({ "group_id": reference(&address, "id"), "protocol": protocol, "from_port": from, "to_port": to });
                let source_label = match (&rule.cidr, &rule.source) {
                    (Some(cidr), None) => {
                        if !valid_cidr(cidr) {
                            self.error(
                                &path,
                                format!("`{cidr}` is not an IPv4 CIDR block"),
                                Some("write it like 10.0.0.0/16 or 0.0.0.0/0".into()),
                            );
                            continue;
                        }
                        desired["cidr"] = json!(cidr);
                        cidr.clone()
                    }
                    (None, Some(source)) => {
                        let Some(group) =
                            self.name_or_external("security_groups", source, "id", |s| s.starts_with("sg-"), &path)
                        else {
                            continue;
                        };
                        desired["source_group_id"] = json!(group);
                        source.clone()
                    }
                    _ => {
                        self.error(
                            &path,
                            "an ingress rule needs exactly one of `cidr` or `source`",
                            Some("for example `cidr: 0.0.0.0/0` or `source: <security group>`".into()),
                        );
                        continue;
                    }
                };
                if let Some(description) = &rule.description {
                    desired["description"] = json!(description);
                }
                let rule_address =
                    format!("{address}.{}", ingress_label(&protocol, from.into(), to.into(), &source_label));
                self.push(rule_address, Kind::SecurityGroupIngress, desired, Some(&address), &path);
            }
        }
    }

    fn iam(&mut self) {
        for (name, policy) in &self.stack.iam.policies {
            let path = ["iam", "policies", name.as_str(), "document"];
            let document = self.interpolate_value(&policy.document, &path);
            self.push_tagged(
                format!("iam.policies.{name}"),
                Kind::IamPolicy,
                json!({ "name": name, "document": document }),
                None,
                &path[..3],
            );
        }
        for (name, role) in &self.stack.iam.roles {
            let address = format!("iam.roles.{name}");
            let origin = ["iam", "roles", name.as_str()];
            let trust = self.trust_policy(role);
            self.push_tagged(
                address.clone(),
                Kind::IamRole,
                json!({ "name": name, "assume_role_policy": trust }),
                None,
                &origin,
            );
            for arn in &role.managed_policies {
                let arn = self.interpolate(arn, &["iam", "roles", name, "managed_policies"]);
                if !arn.starts_with("arn:") {
                    self.error(
                        &["iam", "roles", name, "managed_policies"],
                        format!("`{arn}` is not a policy ARN"),
                        Some("list policies of this file under `policies:`".into()),
                    );
                    continue;
                }
                let short = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
                let desired = json!({ "role": name, "policy_arn": arn });
                self.push(
                    format!("{address}.managed_policies[{short}]"),
                    Kind::IamRolePolicyAttachment,
                    desired,
                    Some(&address),
                    &origin,
                );
            }
            for policy in &role.policies {
                let path = ["iam", "roles", name.as_str(), "policies"];
                let Some(arn) = self.name_or_external("iam.policies", policy, "arn", |s| s.starts_with("arn:"), &path)
                else {
                    continue;
                };
                let desired = json!({ "role": name, "policy_arn": arn });
                self.push(
                    format!("{address}.policies[{policy}]"),
                    Kind::IamRolePolicyAttachment,
                    desired,
                    Some(&address),
                    &path,
                );
            }
            for (policy_name, document) in &role.inline_policies {
                let path = ["iam", "roles", name.as_str(), "inline_policies", policy_name.as_str()];
                let document = self.interpolate_value(document, &path);
                let desired = json!({ "role": name, "name": policy_name, "document": document });
                self.push(
                    format!("{address}.inline_policies.{policy_name}"),
                    Kind::IamRoleInlinePolicy,
                    desired,
                    Some(&address),
                    &path,
                );
            }
            if role.instance_profile {
                let desired = json!({ "name": name, "role": name });
                self.push_tagged(
                    format!("{address}.instance_profile"),
                    Kind::IamInstanceProfile,
                    desired,
                    Some(&address),
                    &origin,
                );
            }
        }
    }

    /// Who may assume a role: its services, with tasks of ECS limited to
    /// this account (AWS's confused deputy protection) unless the role opts out.
    fn trust_policy(&self, role: &model::Role) -> Value {
        let one_or_many = |services: &[&String]| -> Value {
            if services.len() == 1 {
                json!(services[0])
            } else {
                json!(services)
            }
        };
        let limited = |s: &&String| role.limit_to_account && s.as_str() == ECS_TASKS;
        let (tasks, others): (Vec<&String>, Vec<&String>) = role.trust.iter().partition(limited);
        let mut statements = Vec::new();
        if !others.is_empty() {
            statements.push(json!({
                "Effect": "Allow", "Principal": { "Service": one_or_many(&others) }, "Action": "sts:AssumeRole",
            }));
        }
        if !tasks.is_empty() {
            statements.push(json!({
                "Effect": "Allow", "Principal": { "Service": ECS_TASKS }, "Action": "sts:AssumeRole",
                "Condition": { "StringEquals": { "aws:SourceAccount": self.options.account_id } },
            }));
        }
        json!({ "Version": "2012-10-17", "Statement": statements })
    }

    fn buckets(&mut self) {
        for (key, bucket) in &self.stack.buckets {
            let address = format!("buckets.{key}");
            let origin = ["buckets", key.as_str()];
            let name = match &bucket.name {
                Some(name) => self.interpolate(name, &["buckets", key, "name"]),
                None => key.clone(),
            };
            self.push_tagged(address.clone(), Kind::S3Bucket, json!({ "name": name }), None, &origin);
            if bucket.block_public_access {
                let desired = json!({
                    "bucket": name, "block_public_acls": true, "ignore_public_acls": true,
                    "block_public_policy": true, "restrict_public_buckets": true,
                });
                self.push(
                    format!("{address}.public_access_block"),
                    Kind::S3PublicAccessBlock,
                    desired,
                    Some(&address),
                    &origin,
                );
            }
            if !bucket.readers.is_empty() {
                let path = ["buckets", key.as_str(), "readers"];
                let readers: Vec<String> = bucket
                    .readers
                    .iter()
                    .filter_map(|r| self.name_or_external("iam.roles", r, "arn", |s| s.starts_with("arn:"), &path))
                    .collect();
                let principals = if readers.len() == 1 { json!(readers[0]) } else { json!(readers) };
                let bucket_arn = format!("arn:aws:s3:::{name}");
                // Readers are allowed objects; nobody may reach the bucket without TLS.
                let mut statements = vec![json!({
                    "Sid": "BerthReaders", "Effect": "Allow", "Principal": { "AWS": principals },
                    "Action": "s3:GetObject", "Resource": format!("{bucket_arn}/*"),
                })];
                if !self.options.plain_http {
                    statements.push(json!({
                        "Sid": "BerthDenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                        "Action": "s3:*", "Resource": [bucket_arn.clone(), format!("{bucket_arn}/*")],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                    }));
                }
                let policy = json!({ "Version": "2012-10-17", "Statement": statements });
                self.push(
                    format!("{address}.policy"),
                    Kind::S3BucketPolicy,
                    json!({ "bucket": name, "policy": policy }),
                    Some(&address),
                    &path,
                );
            }
            for (object_key, object) in &bucket.objects {
                let path = ["buckets", key.as_str(), "objects", object_key.as_str(), "file"];
                let Some(content) = self.read_file(&object.file, &path, MAX_OBJECT_FILE_BYTES) else { continue };
                let object_at = &path[..4];
                let mut sensitive = object.sensitive;
                if !sensitive {
                    if let Some((values, what)) = credentials_in(&content) {
                        self.secrets.extend(values);
                        sensitive = true;
                        self.warn(
                            &codes::FILE_LOOKS_LIKE_CREDENTIALS,
                            &bucket.allow,
                            object_at,
                            format!(
                                "`{}` looks like it holds credentials ({what}) but is not marked sensitive; berth masks its values anyway",
                                object.file
                            ),
                            "add `sensitive: true` to this object (or keep credentials in Secrets Manager and use `secrets:`)",
                        );
                    }
                }
                if object_key.ends_with(".env") {
                    self.check_env_lines(&content, &object.file, &bucket.allow, object_at);
                }
                if sensitive {
                    self.secrets.extend(env_values(&content));
                }
                let content_type = object.content_type.clone().unwrap_or_else(|| "text/plain".into());
                let desired = json!({
                    "bucket": name, "key": object_key, "content": literal_text(&content), "content_type": content_type,
                });
                let node = self.push(
                    format!("{address}.objects[{object_key}]"),
                    Kind::S3Object,
                    desired,
                    Some(&address),
                    &path[..4],
                );
                if sensitive {
                    node.sensitive_fields.push("content".into());
                }
            }
        }
    }

    fn log_groups(&mut self) {
        for (name, group) in &self.stack.log_groups {
            let mut desired = json!({ "name": name });
            if let Some(days) = group.retention_days {
                if !RETENTION_DAYS.contains(&days) {
                    let nearest = RETENTION_DAYS.iter().min_by_key(|d| d.abs_diff(days)).copied().unwrap_or(14);
                    self.error(
                        &["log_groups", name, "retention_days"],
                        format!("CloudWatch Logs does not accept a retention of {days} days"),
                        Some(format!("use one of {RETENTION_DAYS:?}, for example {nearest}")),
                    );
                }
                desired["retention_days"] = json!(days);
            }
            self.push_tagged(format!("log_groups.{name}"), Kind::LogGroup, desired, None, &["log_groups", name]);
        }
    }

    fn clusters(&mut self) {
        for (name, cluster) in &self.stack.clusters {
            let address = format!("clusters.{name}");
            let origin = ["clusters", name.as_str()];
            self.push_tagged(address.clone(), Kind::EcsCluster, json!({ "name": name }), None, &origin);
            let Some(capacity) = &cluster.capacity else { continue };
            self.capacity(name, &address, capacity);
        }
    }

    /// Launch template, auto scaling group and capacity provider of a cluster.
    fn capacity(&mut self, cluster: &str, address: &str, capacity: &model::Capacity) {
        let path = ["clusters", cluster, "capacity"];
        let image_id = if capacity.ami == "ecs-optimized" {
            let ami = format!("{address}.ami");
            self.push(ami.clone(), Kind::SsmParameter, json!({ "name": ECS_OPTIMIZED_AMI_PARAMETER }), None, &path);
            reference(&ami, "value")
        } else if capacity.ami.starts_with("ami-") {
            capacity.ami.clone()
        } else {
            self.error(
                &["clusters", cluster, "capacity", "ami"],
                format!("`{}` is not an AMI id", capacity.ami),
                Some("use `ecs-optimized` or an `ami-` id".into()),
            );
            return;
        };
        let mut template = json!({
            "name": format!("{cluster}-instances"),
            "image_id": image_id,
            "instance_type": capacity.instance_type,
            "user_data": format!("#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"),
        });
        if let Some(key) = &capacity.key_pair {
            if let Some(key_name) = self.name_or_external(
                "key_pairs",
                key,
                "name",
                |_| false,
                &["clusters", cluster, "capacity", "key_pair"],
            ) {
                template["key_name"] = json!(key_name);
            }
        }
        let groups: Vec<String> = capacity
            .security_groups
            .iter()
            .filter_map(|g| {
                self.name_or_external(
                    "security_groups",
                    g,
                    "id",
                    |s| s.starts_with("sg-"),
                    &["clusters", cluster, "capacity", "security_groups"],
                )
            })
            .collect();
        template["security_group_ids"] = json!(groups);
        if let Some(role) = &capacity.instance_role {
            let role_path = ["clusters", cluster, "capacity", "instance_role"];
            match self.stack.iam.roles.get(role) {
                Some(r) if r.instance_profile => {
                    template["instance_profile_arn"] =
                        json!(reference(&format!("iam.roles.{role}.instance_profile"), "arn"))
                }
                Some(_) => self.error(
                    &role_path,
                    format!("role `{role}` has no instance profile"),
                    Some(format!("add `instance_profile: true` to iam.roles.{role}")),
                ),
                None => {
                    self.lookup("iam.roles", role, &role_path);
                }
            }
        }
        if capacity.min > capacity.max || capacity.desired < capacity.min || capacity.desired > capacity.max {
            self.error(
                &path,
                format!(
                    "capacity needs min <= desired <= max, got min {} desired {} max {}",
                    capacity.min, capacity.desired, capacity.max
                ),
                None,
            );
        }
        let template_address = format!("{address}.launch_template");
        self.push_tagged(template_address.clone(), Kind::LaunchTemplate, template, None, &path);
        let asg_address = format!("{address}.autoscaling_group");
        let asg = json!({
            "name": format!("{cluster}-instances"),
            "launch_template_id": reference(&template_address, "id"),
            "min_size": capacity.min, "max_size": capacity.max, "desired_capacity": capacity.desired,
            "subnet_ids": reference(NETWORK, "subnet_ids"),
        });
        // Instances register with the cluster when they boot: it must exist first.
        self.push_tagged(asg_address.clone(), Kind::AutoscalingGroup, asg, None, &path)
            .extra_dependencies
            .insert(address.to_owned());
        let provider_address = format!("{address}.capacity_provider");
        // Capacity provider names may not start with "ecs", "aws" or "fargate".
        let provider =
            json!({ "name": format!("cp-{cluster}"), "autoscaling_group_arn": reference(&asg_address, "arn") });
        self.push_tagged(provider_address.clone(), Kind::CapacityProvider, provider, None, &path);
        let provider_name = reference(&provider_address, "name");
        let association = json!({
            "cluster": cluster,
            "capacity_providers": [provider_name],
            "default_strategy": [{ "capacity_provider": provider_name, "weight": 1, "base": 0 }],
        });
        self.push(
            format!("{address}.capacity_providers"),
            Kind::ClusterCapacityProviders,
            association,
            Some(address),
            &path,
        );
    }

    fn task_definitions(&mut self) {
        for (family, td) in &self.stack.task_definitions {
            let origin = ["task_definitions", family.as_str()];
            let address = format!("task_definitions.{family}");
            let network_mode = td.network_mode.clone().unwrap_or_else(|| "bridge".into());
            let mut desired =
                json!({ "family": family, "network_mode": network_mode, "requires_compatibilities": td.requires });
            if let Some(cpu) = td.cpu {
                desired["cpu"] = json!(cpu.to_string());
            }
            if let Some(memory) = td.memory {
                desired["memory"] = json!(memory.to_string());
            }
            let is_arn = |s: &str| s.starts_with("arn:");
            for (field, role) in [("execution_role_arn", &td.execution_role), ("task_role_arn", &td.task_role)] {
                let Some(role) = role else { continue };
                let key = field.trim_end_matches("_arn");
                if let Some(arn) =
                    self.name_or_external("iam.roles", role, "arn", is_arn, &["task_definitions", family, key])
                {
                    desired[field] = json!(arn);
                }
            }
            let mut extra = BTreeSet::new();
            let containers: Vec<Value> =
                td.containers.iter().map(|(name, c)| self.container(family, name, c, &mut extra)).collect();
            desired["container_definitions"] = json!(containers);
            self.push_tagged(address, Kind::TaskDefinition, desired, None, &origin).extra_dependencies = extra;
        }
    }

    fn container(&mut self, family: &str, name: &str, c: &model::Container, extra: &mut BTreeSet<String>) -> Value {
        let at = |key: &str| -> [String; 5] {
            ["task_definitions".into(), family.into(), "containers".into(), name.into(), key.into()]
        };
        let image_at = at("image");
        let image = self.interpolate(&c.image, &as_path(&image_at));
        let mut def = json!({ "name": name, "image": image, "essential": c.essential.unwrap_or(true) });
        for (field, value) in [("memory", c.memory), ("memory_reservation", c.memory_reservation), ("cpu", c.cpu)] {
            if let Some(v) = value {
                def[field] = json!(v);
            }
        }
        let ports_at = at("ports");
        let mut mappings = Vec::new();
        for port in &c.ports {
            let (container, host, protocol) = match port {
                model::PortMapping::Port(p) => (*p, None, None),
                model::PortMapping::Mapping(m) => (m.container, m.host, m.protocol.clone()),
            };
            if container == 0 || container > 65535 || host.is_some_and(|h| h > 65535) {
                self.error(
                    &as_path(&ports_at),
                    format!(
                        "port {} is outside 1-65535",
                        if container == 0 || container > 65535 { container } else { host.unwrap_or(0) }
                    ),
                    None,
                );
            }
            let mut mapping =
                json!({ "container_port": container, "protocol": protocol.unwrap_or_else(|| "tcp".into()) });
            if let Some(host) = host {
                mapping["host_port"] = json!(host);
            }
            mappings.push(mapping);
        }
        if !mappings.is_empty() {
            def["port_mappings"] = json!(mappings);
        }
        if !c.links.is_empty() {
            def["links"] = json!(c.links);
        }
        if !c.depends_on.is_empty() {
            let deps: Vec<Value> =
                c.depends_on.iter().map(|(n, cond)| json!({ "container_name": n, "condition": cond })).collect();
            def["depends_on"] = json!(deps);
        }
        if !c.environment.is_empty() {
            let env_at = at("environment");
            let env: Vec<Value> = c
                .environment
                .iter()
                .map(|(k, v)| json!({ "name": k, "value": self.interpolate(v, &as_path(&env_at)) }))
                .collect();
            def["environment"] = json!(env);
        }
        if !c.secrets.is_empty() {
            let secrets: Vec<Value> = c.secrets.iter().map(|(k, v)| json!({ "name": k, "value_from": v })).collect();
            def["secrets"] = json!(secrets);
        }
        let files_at = at("environment_files");
        let mut files = Vec::new();
        for file in &c.environment_files {
            if file.starts_with("arn:aws:s3:::") {
                files.push(json!({ "type": "s3", "value": file }));
                continue;
            }
            let Some((bucket_key, object_key)) = file.split_once('/') else {
                self.error(
                    &as_path(&files_at),
                    format!("`{file}` is not `<bucket>/<key>` or an S3 object ARN"),
                    Some("for example `my-bucket/prod.env`".into()),
                );
                continue;
            };
            let Some(bucket_address) = self.lookup("buckets", bucket_key, &as_path(&files_at)) else { continue };
            let managed = self.stack.buckets.get(bucket_key).is_some_and(|b| b.objects.contains_key(object_key));
            if managed {
                // The object must be uploaded before a task can start with it.
                extra.insert(format!("{bucket_address}.objects[{object_key}]"));
            }
            files.push(json!({ "type": "s3", "value": format!("{}/{object_key}", reference(&bucket_address, "arn")) }));
        }
        if !files.is_empty() {
            def["environment_files"] = json!(files);
        }
        if let Some(group) = &c.logs {
            let logs_at = at("logs");
            if let Some(address) = self.lookup("log_groups", group, &as_path(&logs_at)) {
                def["log_configuration"] = json!({
                    "log_driver": "awslogs",
                    "options": {
                        "awslogs-group": reference(&address, "name"),
                        "awslogs-region": self.options.region,
                        "awslogs-stream-prefix": family,
                    },
                });
            }
        }
        if let Some(command) = &c.command {
            def["command"] = json!(command);
        }
        if let Some(entry_point) = &c.entry_point {
            def["entry_point"] = json!(entry_point);
        }
        def
    }

    fn target_groups(&mut self) {
        for (name, tg) in &self.stack.target_groups {
            let health =
                tg.health_check.clone().unwrap_or(model::HealthCheck { path: "/".into(), matcher: "200".into() });
            let desired = json!({
                "name": name, "protocol": tg.protocol, "port": tg.port, "vpc_id": reference(NETWORK, "vpc_id"),
                "target_type": tg.target_type, "health_check": { "path": health.path, "matcher": health.matcher },
            });
            self.push_tagged(
                format!("target_groups.{name}"),
                Kind::TargetGroup,
                desired,
                None,
                &["target_groups", name],
            );
        }
    }

    fn load_balancers(&mut self) {
        for (name, lb) in &self.stack.load_balancers {
            let address = format!("load_balancers.{name}");
            let groups: Vec<String> = lb
                .security_groups
                .iter()
                .filter_map(|g| {
                    self.name_or_external(
                        "security_groups",
                        g,
                        "id",
                        |s| s.starts_with("sg-"),
                        &["load_balancers", name, "security_groups"],
                    )
                })
                .collect();
            let desired = json!({
                "name": name, "scheme": lb.scheme, "type": "application",
                "subnet_ids": reference(NETWORK, "subnet_ids"), "security_group_ids": groups,
            });
            self.push_tagged(address.clone(), Kind::LoadBalancer, desired, None, &["load_balancers", name]);
            for (i, listener) in lb.listeners.iter().enumerate() {
                let index = i.to_string();
                let path = ["load_balancers", name.as_str(), "listeners", index.as_str()];
                let Some(tg) =
                    self.name_or_external("target_groups", &listener.forward, "arn", |s| s.starts_with("arn:"), &path)
                else {
                    continue;
                };
                let desired = json!({
                    "load_balancer_arn": reference(&address, "arn"), "port": listener.port,
                    "protocol": listener.protocol, "target_group_arn": tg,
                });
                self.push_tagged(
                    format!("{address}.listeners[{}]", listener.port),
                    Kind::Listener,
                    desired,
                    Some(&address),
                    &path,
                );
            }
        }
    }

    fn services(&mut self) {
        for (name, svc) in &self.stack.services {
            let origin = ["services", name.as_str()];
            let mut extra = BTreeSet::new();
            if let Some(cluster) = self.lookup("clusters", &svc.cluster, &["services", name, "cluster"]) {
                if self.stack.clusters.get(&svc.cluster).is_some_and(|c| c.capacity.is_some()) {
                    // Tasks need container instances to be placed on.
                    extra.insert(format!("{cluster}.capacity_providers"));
                }
                extra.insert(cluster);
            }
            let Some(task_definition) = self.name_or_external(
                "task_definitions",
                &svc.task_definition,
                "arn",
                |s| s.starts_with("arn:"),
                &["services", name, "task_definition"],
            ) else {
                continue;
            };
            let requires_ec2 = self
                .stack
                .task_definitions
                .get(&svc.task_definition)
                .is_some_and(|t| t.requires.iter().any(|r| r == "EC2"));
            let launch_type = svc.launch_type.clone().or(requires_ec2.then(|| "EC2".to_owned()));
            let deployment = svc
                .deployment
                .clone()
                .unwrap_or(model::Deployment { minimum_healthy_percent: 100, maximum_percent: 200 });
            let mut desired = json!({
                "name": name, "cluster": svc.cluster, "task_definition": task_definition,
                "desired_count": svc.desired_count,
                "deployment": { "minimum_healthy_percent": deployment.minimum_healthy_percent, "maximum_percent": deployment.maximum_percent },
            });
            if let Some(launch_type) = launch_type {
                desired["launch_type"] = json!(launch_type);
            }
            if let Some(lb) = &svc.load_balancer {
                let path = ["services", name.as_str(), "load_balancer", "target_group"];
                if let Some(tg) =
                    self.name_or_external("target_groups", &lb.target_group, "arn", |s| s.starts_with("arn:"), &path)
                {
                    desired["load_balancers"] =
                        json!([{ "target_group_arn": tg, "container_name": lb.container, "container_port": lb.port }]);
                    // ECS refuses a target group that no load balancer uses yet.
                    for (lb_name, balancer) in &self.stack.load_balancers {
                        for listener in balancer.listeners.iter().filter(|l| l.forward == lb.target_group) {
                            extra.insert(format!("load_balancers.{lb_name}.listeners[{}]", listener.port));
                        }
                    }
                }
            }
            if let Some(digest) = self.environment_digest(&extra_env_objects(&self.nodes, &svc.task_definition)) {
                desired["tags"] = json!({ ENV_DIGEST_TAG: digest });
            }
            let node = self.push_tagged(format!("services.{name}"), Kind::EcsService, desired, None, &origin);
            node.extra_dependencies = extra;
        }
    }
}

/// The env-file objects a task definition family loads (its extra dependencies).
fn extra_env_objects(nodes: &[Node], family: &str) -> Vec<String> {
    let address = format!("task_definitions.{family}");
    nodes
        .iter()
        .find(|n| n.address == address)
        .map(|n| n.extra_dependencies.iter().filter(|d| d.contains(".objects[")).cloned().collect())
        .unwrap_or_default()
}

impl Expander<'_> {
    /// A short digest of the contents of `objects`, or `None` when there are none.
    fn environment_digest(&self, objects: &[String]) -> Option<String> {
        use sha2::{Digest, Sha256};
        if objects.is_empty() {
            return None;
        }
        let mut hasher = Sha256::new();
        for node in self.nodes.iter().filter(|n| objects.contains(&n.address)) {
            hasher.update(node.address.as_bytes());
            hasher.update(node.desired["content"].as_str().unwrap_or_default().as_bytes());
        }
        Some(format!("{:x}", hasher.finalize())[..16].to_owned())
    }
}

fn as_path(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

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
