//! RunEvent: everything the engine says about a run, in order. Live views, recordings, replays
//! and headless summaries are all folds over this one closed enum.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::flow::CheckResult;
use crate::money::Money;
use crate::routing::{Decision, Usage};

/// The model of a watched step that made no model call (a framework's wrapper span): such a
/// unit has no tokens, no price and no call to count.
pub const NO_MODEL: &str = "-";

/// One unit of work: a node, or one instance of a fan-out node. A fan-out node itself (the
/// group) is the unit with `item: None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unit {
    pub node: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
}

impl Unit {
    /// Its name on screens and in reports and prompts: its node's id in `flow`, with `[k]`
    /// for instance k of a fan-out (`?` for a node the flow lacks).
    pub fn label(self, flow: &crate::flow::Flow) -> String {
        let id = flow.nodes.get(self.index()).map_or("?", |n| n.id.as_str());
        match self.item {
            Some(k) => format!("{id}[{k}]"),
            None => id.to_string(),
        }
    }

    pub fn node(node: usize) -> Unit {
        Unit { node: node as u32, item: None }
    }

    pub fn instance(node: usize, item: usize) -> Unit {
        Unit { node: node as u32, item: Some(item as u32) }
    }

    pub fn index(self) -> usize {
        self.node as usize
    }
}

/// Where a slice of a node's input came from, for context attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "from", content = "node")]
pub enum Origin {
    /// The node's own prompt, with the run input and fan-out item.
    Prompt,
    /// An upstream output the node declares it needs.
    Declared(u32),
    /// Everything else from the history so far (`full` context mode only).
    History,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextPart {
    pub origin: Origin,
    pub tokens: u64,
}

/// Why a node did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SkipReason {
    /// Its `when` condition did not hold; `test` describes the condition.
    Condition {
        test: String,
    },
    /// An upstream node was skipped or failed.
    Upstream {
        node: String,
        failed: bool,
    },
    /// Running it would have exceeded the strategy's budget.
    Budget {
        spent: Money,
        estimate: Money,
        budget: Money,
    },
    /// A fan-out node's list was empty.
    NoItems,
    Cancelled,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Condition { test } => write!(f, "condition false: {test}"),
            SkipReason::Upstream { node, failed: true } => write!(f, "upstream '{node}' failed"),
            SkipReason::Upstream { node, failed: false } => write!(f, "upstream '{node}' was skipped"),
            SkipReason::Budget { spent, estimate, budget } => {
                write!(f, "budget: {spent} spent + ~{estimate} for this node would exceed {budget}")
            }
            SkipReason::NoItems => write!(f, "the list to map over was empty"),
            SkipReason::Cancelled => write!(f, "run cancelled"),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every node finished or was skipped by a condition.
    Completed,
    /// At least one node failed.
    Failed,
    /// The budget stopped scheduling.
    BudgetExceeded,
    Cancelled,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::BudgetExceeded => "budget exceeded",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// What went over the wire for one try of a call, so a person can see exactly what was asked
/// and what came back. Only the HTTP providers report one (the simulator sends nothing, so a
/// simulated run's events and recordings are as they were). Keys never appear: headers are
/// not kept, and every text is redacted of the keys this process read; each text is capped at
/// [`Exchange::CAP`] bytes and says how much was cut.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exchange {
    pub model: String,
    /// The try on this model, from 1.
    pub try_no: u32,
    /// The request body exactly as sent: the JSON with the assembled messages.
    pub request: String,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The response as received: the server-sent events' names and data in order (keep-alive
    /// comments dropped), or the body of an error status.
    pub response: String,
    /// The provider's usage payload as JSON, when it sent one (Anthropic's start and latest
    /// delta, one a line).
    pub usage: Option<String>,
    /// How the try failed, when it did.
    pub error: Option<String>,
}

impl Exchange {
    /// The most of each text kept.
    pub const CAP: usize = 256 * 1024;

    /// `text` cut to [`Exchange::CAP`] bytes (on a character boundary), saying how much was cut.
    pub fn capped(mut text: String) -> String {
        if text.len() > Exchange::CAP {
            let mut end = Exchange::CAP;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = text.len() - end;
            text.truncate(end);
            text.push_str(&format!("\n… {cut} bytes cut"));
        }
        text
    }
}

/// An event with its envelope: which run and attempt it belongs to and when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    pub run: u64,
    /// Which rerun of the run this belongs to; events of a superseded attempt are ignored.
    pub attempt: u32,
    /// Time since the run started (simulated time for simulated runs).
    pub at: Duration,
    pub kind: Event,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    RunStarted {
        flow: String,
        strategy: String,
        seed: u64,
        input: String,
    },
    /// The node waits for its dependencies.
    NodeQueued {
        unit: Unit,
    },
    /// A fan-out node's list is known: one instance per item (`dropped` beyond `max_items`).
    NodeExpanded {
        node: u32,
        items: Vec<String>,
        dropped: u32,
    },
    /// A call is about to be made: the routing decision and the context the node received.
    NodeStarted {
        unit: Unit,
        decision: Arc<Decision>,
        /// Shared with the unit's state: a node of a layered flow has one part per input.
        context: std::sync::Arc<[ContextPart]>,
        input_tokens: u64,
    },
    /// The call waits for a provider's concurrency slot or rate-limit window before it is
    /// sent. Time spent so is `queued`: it never counts toward a timeout.
    NodeWaiting {
        unit: Unit,
        why: String,
    },
    /// The call went out after waiting `queued` for a slot.
    NodeSent {
        unit: Unit,
        queued: Duration,
    },
    /// A failed try that the provider bills all the same (it had streamed tokens or reported
    /// usage before failing); `estimated` when the counts are Baton's tokenizer's. Emitted
    /// before the retry, fallback or failure that follows, so the node's cost is what the
    /// provider invoices.
    NodeBilled {
        unit: Unit,
        model: String,
        usage: Usage,
        estimated: bool,
    },
    /// The next `NodeFinished` (served, not called) is work a resumed run reuses from the
    /// recording it continues: it counts at its recorded cost (`billed`, every try), time to
    /// first token and latency, because that money was spent, only before the interruption.
    NodeResumed {
        unit: Unit,
        billed: Usage,
        ttft: Duration,
        latency: Duration,
    },
    /// Streamed output; `output_tokens` counts the tokens so far.
    NodeDelta {
        unit: Unit,
        text: String,
        output_tokens: u64,
    },
    /// A call failed and will be tried again on the same model after `backoff`.
    NodeRetry {
        unit: Unit,
        model: String,
        try_no: u32,
        error: String,
        backoff: Duration,
    },
    /// The node moves to its next fallback model.
    NodeFallback {
        unit: Unit,
        from: String,
        to: String,
        reason: String,
    },
    /// The node's checks failed on `from`; it runs again on `to`. `usage` is what the abandoned
    /// call was billed.
    NodeEscalated {
        unit: Unit,
        from: String,
        to: String,
        usage: Usage,
        failed: Vec<String>,
    },
    NodeFinished {
        unit: Unit,
        model: Arc<str>,
        usage: Usage,
        /// The provider sent no usage; the counts are tokenizer estimates.
        estimated: bool,
        ttft: Duration,
        latency: Duration,
        output: Arc<str>,
        checks: Vec<CheckResult>,
        /// Served from Baton's output cache (no call, no cost).
        cached: bool,
        /// The source reported no token counts for some of the node's calls (a watched call
        /// streamed without usage): its tokens and cost are at least `usage`'s, not exactly.
        unreported: bool,
    },
    NodeSkipped {
        unit: Unit,
        reason: SkipReason,
    },
    /// One try's raw exchange with an HTTP provider, emitted as the try ends (before the
    /// retry, fallback, finish or failure it leads to).
    NodeExchange {
        unit: Unit,
        exchange: Arc<Exchange>,
    },
    NodeFailed {
        unit: Unit,
        error: String,
    },
    /// A model kept failing; it rests until `until` (time since the run started) and its
    /// fallbacks serve meanwhile.
    ModelCooldown {
        model: String,
        until: Duration,
        reason: String,
    },
    RunFinished {
        outcome: Outcome,
    },
}

impl Event {
    /// The unit the event is about, if any.
    pub fn unit(&self) -> Option<Unit> {
        match self {
            Event::NodeQueued { unit }
            | Event::NodeStarted { unit, .. }
            | Event::NodeDelta { unit, .. }
            | Event::NodeWaiting { unit, .. }
            | Event::NodeSent { unit, .. }
            | Event::NodeBilled { unit, .. }
            | Event::NodeResumed { unit, .. }
            | Event::NodeRetry { unit, .. }
            | Event::NodeFallback { unit, .. }
            | Event::NodeEscalated { unit, .. }
            | Event::NodeFinished { unit, .. }
            | Event::NodeSkipped { unit, .. }
            | Event::NodeExchange { unit, .. }
            | Event::NodeFailed { unit, .. } => Some(*unit),
            Event::NodeExpanded { node, .. } => Some(Unit { node: *node, item: None }),
            Event::RunStarted { .. } | Event::RunFinished { .. } | Event::ModelCooldown { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::NodeQueued { .. } => "node_queued",
            Event::NodeExpanded { .. } => "node_expanded",
            Event::NodeStarted { .. } => "node_started",
            Event::NodeDelta { .. } => "node_delta",
            Event::NodeWaiting { .. } => "node_waiting",
            Event::NodeSent { .. } => "node_sent",
            Event::NodeBilled { .. } => "node_billed",
            Event::NodeResumed { .. } => "node_resumed",
            Event::NodeRetry { .. } => "node_retry",
            Event::NodeFallback { .. } => "node_fallback",
            Event::NodeEscalated { .. } => "node_escalated",
            Event::NodeFinished { .. } => "node_finished",
            Event::NodeSkipped { .. } => "node_skipped",
            Event::NodeExchange { .. } => "node_exchange",
            Event::NodeFailed { .. } => "node_failed",
            Event::ModelCooldown { .. } => "model_cooldown",
            Event::RunFinished { .. } => "run_finished",
        }
    }
}
