//! SSM: parameters, read as data.

pub(crate) mod parameter;

use crate::handler::ReadOnly;

/// The handlers of this service's kinds (see [`crate::handler::handler`]).
pub(crate) const HANDLERS: &[&dyn crate::handler::Handler] = &[&ReadOnly(parameter::SsmParameter)];
