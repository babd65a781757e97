//! Routing: the model catalog, strategies, and the router that picks a model for each node.

pub mod catalog;
pub mod litellm;
mod router;
pub mod strategy;

pub use catalog::{Catalog, Cost, Model, Prices, ProviderKind, SimProfile, Usage};
pub use router::{Decision, explain, route};
pub use strategy::{ContextMode, Range, RetryPolicy, Rule, Schedule, Strategy};
