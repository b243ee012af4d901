//! The sections of a stack file (`key_pairs:`, `iam.roles:`, `services:`,
//! ...), one module each (its YAML types, re-exported by [`crate::model`],
//! and its expansion), registered once in [`ALL`]: expansion, `protect:`,
//! `allow:`, `${section.NAME.attr}` references and the offline resolver all
//! read the list from here.

use std::collections::BTreeMap;

use crate::model::Stack;

use super::Expander;

pub(crate) mod buckets;
pub(crate) mod clusters;
pub(crate) mod key_pairs;
pub(crate) mod load_balancers;
pub(crate) mod log_groups;
pub(crate) mod policies;
pub(crate) mod roles;
pub(crate) mod secrets;
pub(crate) mod security_groups;
pub(crate) mod services;
pub(crate) mod target_groups;
pub(crate) mod task_definitions;

/// What the section modules share.
mod prelude {
    pub(super) use std::collections::BTreeSet;

    pub(super) use serde_json::{json, Value};

    pub(super) use super::{declared, Section};
    pub(super) use crate::check::codes;
    pub(super) use crate::diag::did_you_mean;
    pub(super) use crate::expand::{as_path, Expander, ECS_OPTIMIZED_AMI_PARAMETER, ECS_TASKS, NETWORK};
    pub(super) use crate::files::{MAX_OBJECT_FILE_BYTES, MAX_PUBLIC_KEY_BYTES};
    pub(super) use crate::graph::{literal_text, reference, Node};
    pub(super) use crate::kind::Kind;
    pub(super) use crate::model;
    pub(super) use crate::provider::ENV_DIGEST_TAG;
    pub(super) use crate::secret_like::credentials_in;
}

/// One section of the stack file.
pub(crate) struct Section {
    /// How addresses and references name it: `buckets`, `iam.roles`.
    pub name: &'static str,
    /// The outputs a `${section.NAME.attr}` reference may use, the usual one first.
    pub outputs: &'static [&'static str],
    /// The resources the file declares in it.
    pub declared: fn(&Stack) -> Vec<Declared<'_>>,
    /// Adds the section's nodes to the graph.
    pub expand: fn(&mut Expander<'_>),
}

/// A resource the file declares in a section.
pub(crate) struct Declared<'a> {
    pub name: &'a str,
    /// `protect: true`.
    pub protect: bool,
    /// Its `allow:` list (empty where the section has none).
    pub allow: &'a [String],
}

/// Every section, in the order expansion runs them (later sections refer to earlier ones' nodes).
pub(crate) const ALL: &[Section] = &[
    key_pairs::SECTION,
    security_groups::SECTION,
    policies::SECTION,
    roles::SECTION,
    secrets::SECTION,
    buckets::SECTION,
    log_groups::SECTION,
    clusters::SECTION,
    task_definitions::SECTION,
    target_groups::SECTION,
    load_balancers::SECTION,
    services::SECTION,
];

/// The section named `name` (`buckets`, `iam.roles`).
pub(crate) fn find(name: &str) -> Option<&'static Section> {
    ALL.iter().find(|s| s.name == name)
}

impl Section {
    /// The key path of the section in the file: `iam.roles` is `["iam", "roles"]`.
    pub fn path(&self) -> Vec<&'static str> {
        self.name.split('.').collect()
    }
}

fn declared<T>(resources: &BTreeMap<String, T>, each: fn(&T) -> (bool, &[String])) -> Vec<Declared<'_>> {
    resources
        .iter()
        .map(|(name, resource)| {
            let (protect, allow) = each(resource);
            Declared { name, protect, allow }
        })
        .collect()
}
