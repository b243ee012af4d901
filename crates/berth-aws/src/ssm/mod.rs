//! SSM: parameters, read as data.

pub(crate) mod parameter;
