//! berth-core: the stack model and everything berth does without a cloud.
//!
//! Start at [`load`] (stack file to typed [`model::Stack`] with diagnostics),
//! then [`expand`] (stack to resource [`graph`]), [`engine`] (plan, apply and
//! destroy over a [`provider::Provider`]) and [`plan`] (the change model every
//! renderer reads), then [`rollout`] (following a service's deployment to
//! its end after apply). Nothing here prints: the engine reports through
//! [`engine::EventSink`].

pub mod check;
pub mod diag;
pub mod engine;
pub mod env_file;
pub mod expand;
pub mod files;
pub mod graph;
pub mod interpolate;
pub mod kind;
pub mod limits;
pub mod load;
pub mod memory;
pub mod model;
pub mod normalize;
pub mod outputs;
pub mod path_diff;
pub mod plan;
pub mod provider;
pub mod rollout;
pub mod saved;
pub mod secret_like;
