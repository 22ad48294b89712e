//! Consumers: configuration and management, delivered messages and their acknowledgements,
//! pull consumers (`fetch`, `consume`), push consumers and ordered consumers.
//!
//! Layout: `config` ([`ConsumerConfig`] and its policies), `info` ([`ConsumerInfo`]),
//! `manage` (create/update/info/delete/list on [`Context`](crate::Context)), `ack`
//! ([`JsMessage`], [`MessageInfo`]), `pull` ([`PullConsumer`], [`FetchOptions`], [`Fetch`]),
//! `consume` ([`ConsumeOptions`], [`PullMessages`]), `push` ([`PushConsumer`],
//! [`PushMessages`]), `ordered` ([`OrderedConfig`],
//! [`OrderedConsumer`]); internal: `driver` (async state machine → `Stream`, status
//! classification).

mod ack;
mod config;
mod consume;
mod control;
mod driver;
mod health;
mod info;
mod manage;
mod ordered;
mod pull;
mod push;

pub use ack::{JsMessage, MessageInfo};
pub use config::{AckPolicy, ConsumerConfig, DeliverPolicy, PriorityPolicy, ReplayPolicy};
pub use consume::{ConsumeOptions, PullMessages};
pub use control::{PauseState, ResetState, ResetTo};
pub use info::{
    ConsumerClusterInfo, ConsumerInfo, ConsumerPeerInfo, ConsumerPriorityGroupState, SequenceInfo,
};
pub use ordered::{OrderedConfig, OrderedConsumer};
pub use pull::{Fetch, FetchOptions, PriorityOptions, PullConsumer};
pub use push::{PushConsumer, PushMessages};

/// Locks a mutex, ignoring poisoning (every critical section leaves the data consistent).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
