//! Pre-flight checks: the mistakes AWS would only report after deploying
//! (or never), caught from the stack file before any change is made.
//!
//! Every finding has a stable code ([`codes`]), documented with an example
//! and its fix in docs/checks.md. A warning whose code is listed in the
//! `allow:` of the resource it is reported on is dropped; errors cannot be
//! allowed. Checks only look at what the file declares: a reference to
//! something outside it (an ARN, an undeclared name) is left to expansion
//! and to AWS.

mod access;
mod allow;
mod capacity;
pub mod codes;
mod containers;
mod deployment;
mod fargate;
mod instances;
mod live;
mod load_balancing;
mod names;
mod policy;
mod resolve;
mod roles;
mod scaling;
mod security;
mod tasks;

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::expand::ExpandOptions;
use crate::load::{LoadedStack, Source};
use crate::model::{Capacity, Container, PortMapping, Service, Stack, TaskDefinition};

pub use codes::Code;
pub use live::{live_checks, managed_policy_documents, unmanaged_objects, Facts, Registered};
use policy::{Decision, Statement};
use resolve::{shown, Resolver};

/// Runs every check that needs no AWS access, on the values `options` gives
/// the variables (`--var`, `BERTH_VAR_<NAME>`) where it gives them.
pub fn offline_checks(loaded: &LoadedStack, options: &ExpandOptions) -> Vec<Diagnostic> {
    checks_with_policies(loaded, options, &BTreeMap::new())
}

/// [`offline_checks`], also knowing the documents of these managed policies
/// (by ARN, read from IAM by [`managed_policy_documents`]): an access check
/// that knows every policy involved is certain, an error rather than a warning.
pub fn checks_with_policies(
    loaded: &LoadedStack,
    options: &ExpandOptions,
    policies: &BTreeMap<String, serde_json::Value>,
) -> Vec<Diagnostic> {
    let stack = options.with_given_vars(&loaded.stack);
    let mut checks = Checks::new(&stack, policies);
    for check in CHECKS {
        check(&mut checks);
    }
    checks.into_diagnostics(&loaded.source)
}

/// The checks, by group; `allow` last, as it checks the lists themselves.
const CHECKS: &[fn(&mut Checks)] = &[
    capacity::check,
    fargate::check,
    deployment::check,
    containers::check,
    tasks::check,
    load_balancing::check,
    scaling::check,
    access::check,
    roles::check,
    security::check,
    names::check,
    allow::check,
];

/// One finding, located by the path of the key it concerns.
struct Finding {
    code: Code,
    path: Vec<String>,
    message: String,
    help: String,
}

/// The stack under check and the findings so far.
struct Checks<'a> {
    stack: &'a Stack,
    resolver: Resolver<'a>,
    /// Managed policies read from AWS, by ARN.
    policies: &'a BTreeMap<String, serde_json::Value>,
    findings: Vec<Finding>,
}

/// A service of the file whose task definition the file declares too.
struct Placement<'a> {
    name: &'a str,
    service: &'a Service,
    family: &'a str,
    task: &'a TaskDefinition,
    /// The EC2 capacity of the service's cluster, when the file declares it.
    capacity: Option<&'a Capacity>,
}

impl Placement<'_> {
    /// Whether the service's tasks run on the cluster's EC2 instances.
    fn on_ec2(&self) -> bool {
        match &self.service.launch_type {
            Some(launch_type) => launch_type == "EC2",
            // Without a launch type the cluster's capacity provider (EC2) is
            // used, unless the task can only run on Fargate.
            None => !requires(self.task, "FARGATE") || requires(self.task, "EC2"),
        }
    }
}

/// A permission a role must have, and why.
struct Need<'n> {
    actions: &'n [&'n str],
    resource: &'n str,
    /// Why, as in "which ECS needs to read env file `x`".
    purpose: &'n str,
    /// An AWS managed policy that grants it, to suggest.
    managed: Option<&'n str>,
    /// The error reported instead of the warning when berth is sure the
    /// role lacks the permission: every policy involved is known.
    certain: Option<Code>,
    /// What the resource's own policy says of the role.
    resource_policy: ResourcePolicy,
}

/// What a resource's own policy (a bucket's, a secret's) grants a role: in
/// one account, an Allow there is as good as one in the role's policies, but
/// a Deny in the role's still wins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResourcePolicy {
    /// It admits the role.
    Grants,
    /// It does not (or the resource cannot have one).
    GrantsNothing,
    /// berth cannot know it.
    Unknown,
}

/// The roles' documents berth can read, and the policies it cannot.
struct Grants {
    statements: Vec<Statement>,
    /// Attached policies only AWS knows the content of (ARNs, undeclared names).
    unreadable: Vec<String>,
}

impl<'a> Checks<'a> {
    fn new(stack: &'a Stack, policies: &'a BTreeMap<String, serde_json::Value>) -> Self {
        Checks { stack, resolver: Resolver::new(stack), policies, findings: Vec::new() }
    }

    fn report(&mut self, code: Code, path: &[&str], message: impl Into<String>, help: impl Into<String>) {
        self.findings.push(Finding {
            code,
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
            help: help.into(),
        });
    }

    /// Every service of the file with its (declared) task definition.
    fn placements(&self) -> Vec<Placement<'a>> {
        let stack = self.stack;
        stack
            .services
            .iter()
            .filter_map(|(name, service)| {
                let (family, task) = stack.task_definitions.get_key_value(&service.task_definition)?;
                let capacity = stack.clusters.get(&service.cluster).and_then(|c| c.capacity.as_ref());
                Some(Placement { name, service, family, task, capacity })
            })
            .collect()
    }

    /// What role `role` of the file may do, from its inline policies, the
    /// file's policies and the AWS managed policies berth knows.
    fn grants(&self, role: &str) -> Option<Grants> {
        let stack = self.stack;
        let role = stack.iam.roles.get(role)?;
        let resolve = |s: &str| self.resolver.resolve(s);
        let mut documents: Vec<serde_json::Value> = role.inline_policies.values().cloned().collect();
        let mut unreadable = Vec::new();
        for name in &role.policies {
            match stack.iam.policies.get(name) {
                Some(policy) => documents.push(policy.document.clone()),
                None => unreadable.push(name.clone()),
            }
        }
        for arn in &role.managed_policies {
            match policy::aws_managed(arn).or_else(|| self.policies.get(arn).cloned()) {
                Some(document) => documents.push(document),
                None => unreadable.push(arn.clone()),
            }
        }
        let statements = documents.iter().flat_map(|d| policy::statements(d, &resolve)).collect();
        Some(Grants { statements, unreadable })
    }

    /// Reports `code` at `path` unless role `role` of the file has `need`.
    fn require(&mut self, code: Code, path: &[&str], role: &str, need: Need) {
        let Some(grants) = self.grants(role) else { return };
        let decisions: Vec<(&str, Decision)> =
            need.actions.iter().map(|&a| (a, policy::decide(&grants.statements, a, need.resource))).collect();
        let with = |wanted: Decision| -> Vec<&str> {
            decisions.iter().filter(|(_, d)| *d == wanted).map(|(a, _)| *a).collect()
        };
        let (denied, missing) = (with(Decision::Denied), with(Decision::NotAllowed));
        let (resource, purpose) = (shown(need.resource), need.purpose);
        if !denied.is_empty() {
            // An explicit Deny wins over any Allow, wherever it is.
            let message = format!("role `{role}` denies {} on `{resource}`, {purpose}", denied.join(", "));
            let help = format!("remove or narrow the Deny statement of role `{role}`");
            self.report(need.certain.unwrap_or(code), path, message, help);
        } else if !missing.is_empty() && need.resource_policy != ResourcePolicy::Grants {
            let actions = missing.join(", ");
            let message = format!("role `{role}` does not allow {actions} on `{resource}`, {purpose}");
            let mut help =
                format!("add a statement allowing {actions} on `{resource}` to an inline policy of role `{role}`");
            if let Some(arn) = need.managed {
                help = format!("attach `{arn}` to role `{role}`, or {help}");
            }
            let mut unknown: Vec<String> =
                grants.unreadable.iter().map(|p| format!("{p} (which berth cannot read offline)")).collect();
            if need.resource_policy == ResourcePolicy::Unknown {
                unknown.push(format!("the resource policy of `{resource}`"));
            }
            let code = match need.certain {
                Some(certain) if unknown.is_empty() => certain,
                _ => code,
            };
            if !unknown.is_empty() {
                help += &format!("; if {} grants it, list {} under `allow:`", unknown.join(" or "), code.id);
            }
            self.report(code, path, message, help);
        }
    }

    fn into_diagnostics(self, source: &Source) -> Vec<Diagnostic> {
        let lists = allow::lists(self.stack);
        let mut diagnostics: Vec<Diagnostic> = self
            .findings
            .into_iter()
            .filter(|f| !allow::allows(&lists, f))
            .map(|f| {
                let path: Vec<&str> = f.path.iter().map(String::as_str).collect();
                source.diagnostic(f.code.severity, Some(f.code.id), &path, f.message, Some(f.help))
            })
            .collect();
        diagnostics
            .sort_by(|a, b| (a.line, a.column, &a.code, &a.message).cmp(&(b.line, b.column, &b.code, &b.message)));
        // A problem reached through two services is reported once.
        diagnostics.dedup();
        diagnostics
    }
}

/// Whether the task lists `launch_type` under `requires:`.
fn requires(task: &TaskDefinition, launch_type: &str) -> bool {
    task.requires.iter().any(|r| r == launch_type)
}

/// The task's network mode, `bridge` when unset (as expansion sends it).
fn network_mode(task: &TaskDefinition) -> &str {
    task.network_mode.as_deref().unwrap_or("bridge")
}

/// (container port, host port) of each port mapping.
fn port_mappings(container: &Container) -> impl Iterator<Item = (u32, Option<u32>)> + '_ {
    container.ports.iter().map(|port| match port {
        PortMapping::Port(p) => (*p, None),
        PortMapping::Mapping(m) => (m.container, m.host),
    })
}
