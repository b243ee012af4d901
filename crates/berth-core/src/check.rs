//! Pre-flight checks: the mistakes AWS would only report after deploying
//! (or never), caught from the stack file before any change is made.

use crate::diag::Diagnostic;
use crate::load::LoadedStack;

/// Runs every check that needs no AWS access.
pub fn offline_checks(_loaded: &LoadedStack) -> Vec<Diagnostic> {
    Vec::new()
}
