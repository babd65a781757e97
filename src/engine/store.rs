//! Output reuse: what identifies a call ([`Query`], with its content key), an output served
//! without calling a model ([`Served`]), and the stores that hold them ([`OutputStore`]: Baton's
//! cache, or a recording being resumed or forked).

use std::sync::Arc;

use super::RunSpec;
use crate::event::Origin;
use crate::routing::Usage;

/// An output served without calling a model: from Baton's cache, or a recording being resumed
/// or forked.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub model: Arc<str>,
    /// The original call's usage, kept for reference (a served output costs nothing now).
    pub usage: Usage,
    pub output: Arc<str>,
    /// Set when a resumed run reuses work its recording paid for: what every try was billed,
    /// time to first token and latency as recorded. Such a unit counts at that cost.
    pub resumed: Option<(Usage, std::time::Duration, std::time::Duration)>,
}

/// What identifies a unit's call when looking for an output to reuse.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub node: &'a str,
    pub item: Option<u32>,
    pub model: &'a str,
    /// A hash of everything the call depends on: model, resolved prompt and context, limits,
    /// and for the simulator the seed, input and node.
    pub key: u64,
}

/// A source of outputs to reuse instead of calling a model.
pub trait OutputStore: Send + Sync {
    fn get(&self, q: &Query<'_>) -> Option<Served>;
    /// Offered every fresh output, for stores that cache.
    fn put(&self, _q: &Query<'_>, _s: &Served) {}
}

/// The content key of a call: what must be equal for an earlier output to stand in for it.
/// FNV-1a over tagged fields, stable across processes and releases (the disk cache keys on it).
pub(super) fn content_key(
    spec: &RunSpec,
    node: usize,
    model: &str,
    texts: &[(Origin, Arc<str>)],
    simulated: bool,
    task: u64,
    item: Option<u32>,
) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(b"baton-call-v1");
    feed(model.as_bytes());
    feed(&spec.flow.nodes[node].max_tokens.to_le_bytes());
    for (_, t) in texts {
        feed(t.as_bytes());
    }
    if simulated {
        // The simulator's answer also depends on the seed, the run's input, and which node and
        // item is asking.
        feed(&spec.seed.to_le_bytes());
        feed(&task.to_le_bytes());
        feed(spec.flow.nodes[node].id.as_bytes());
        feed(&item.map_or(u64::MAX, u64::from).to_le_bytes());
    }
    h
}
