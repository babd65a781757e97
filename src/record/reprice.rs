//! Re-pricing: what a recorded run would have cost, and how long it would have taken, under
//! another strategy or other prices, without calling any model. The engine runs the flow again
//! in virtual time under the new strategy; each node "answers" with its recorded output, timed
//! by the new model's profile. So routing, context assembly (a declared strategy sends far less
//! than a full-history one), token counts, prices and the critical path are all computed, and
//! only what truly cannot be known is estimated, and said to be.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::Recording;
use super::reader::OutputIndex;
use crate::engine::RunSpec;
use crate::event::Unit;
use crate::provider::{CallRequest, ChunkStream, Provider, Providers, sim};
use crate::report::listed_units;
use crate::routing::{Catalog, Strategy, Usage};
use crate::state::{RunState, Status};

/// Where the recorded outputs come from.
enum Texts {
    /// Shared with the recorded state's outputs rather than copied.
    Held(HashMap<Unit, Arc<str>>),
    /// Read from the recording as each is served: nothing of them is held (a 1M-event
    /// recording's outputs are about 160 MB, and the re-run makes its own).
    Indexed(OutputIndex),
}

/// Serves recorded outputs with the serving model's simulated timing; nodes the recording
/// never ran are simulated and counted.
struct RecordedText {
    /// Each unit that finished in the recording: whether its usage was an estimate, and its
    /// recorded output tokens. Counting 100 MB of text again was a fifth of `reprice` (perf),
    /// and the recorded count is the provider's own.
    finished: HashMap<Unit, (bool, u64)>,
    texts: Texts,
    /// The re-run reads each answer whole (see [`sim::Whole`]).
    whole: sim::Whole,
    /// Outputs already read by the thread counting ahead, when there is one.
    stash: Option<Stash>,
    simulated: std::sync::Mutex<Vec<String>>,
    /// The first error reading an output from the recording.
    failed: std::sync::Mutex<Option<std::io::Error>>,
}

impl Provider for RecordedText {
    fn call(&self, req: CallRequest<'_>) -> ChunkStream {
        let item = req.item.as_ref().map(|(k, _)| *k);
        let unit = Unit { node: req.node as u32, item };
        match self.finished.get(&unit) {
            Some(&(estimated, output_tokens)) => {
                let text = match &self.texts {
                    Texts::Held(texts) => texts.get(&unit).map(|t| t.to_string()),
                    Texts::Indexed(index) => self.stash.as_ref().and_then(|s| s.take(unit)).map(Some).unwrap_or_else(|| {
                        index.with_output(unit, str::to_string).unwrap_or_else(|e| {
                            if let Ok(mut f) = self.failed.lock() {
                                f.get_or_insert(e);
                            }
                            None
                        })
                    }),
                }
                .unwrap_or_default();
                // A call without the provider's usage was counted by Baton's estimate; count again.
                let tokens = (!estimated && (output_tokens > 0 || text.is_empty())).then_some(output_tokens);
                sim::stream_text(&req, text, tokens, Some(self.whole))
            }
            None => {
                if let Ok(mut s) = self.simulated.lock() {
                    s.push(unit.label(req.flow));
                }
                sim::SimProvider.call(req)
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Side {
    pub strategy: String,
    /// `null` when some node's model is not in the catalog (`nodes_unpriced`): the cost is
    /// unknown, and `priced_cost_usd` is what could be priced.
    pub cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priced_cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_unpriced: usize,
    /// Nodes some of whose calls reported no token counts: the tokens and cost are lower
    /// bounds.
    #[serde(skip_serializing_if = "crate::report::is_zero")]
    pub nodes_unreported: usize,
    /// Of those, the priced ones: what makes the priced cost a lower bound (a node whose cost
    /// is unknown is counted once, as unpriced). Not in the JSON: it follows from the nodes.
    #[serde(skip)]
    pub nodes_uncounted_priced: usize,
    pub wall_ms: f64,
    pub critical_path_ms: f64,
    pub tokens: Usage,
    pub checks_passed: usize,
    pub checks_total: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeRow {
    pub id: String,
    pub recorded_model: Option<String>,
    pub model: Option<String>,
    pub rule: Option<String>,
    pub recorded_input_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `null` when the model is not in the catalog: unpriced, not free.
    pub recorded_cost_usd: Option<f64>,
    pub cost_usd: Option<f64>,
    /// Some of the node's calls reported no token counts: its tokens and cost are lower
    /// bounds. Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tokens_unreported: bool,
    pub recorded_latency_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub status: &'static str,
    /// Which of this row's figures are estimates.
    pub estimated: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RepriceReport {
    pub recording: String,
    pub flow: String,
    pub recorded: Side,
    pub repriced: Side,
    pub cost_ratio: Option<f64>,
    pub nodes: Vec<NodeRow>,
    /// What the figures rest on, in words.
    pub estimates: Vec<String>,
}

use crate::report::ms;

impl RepriceReport {
    fn new(rec: &Recording, before: &RunState, after: &RunState, nodes: Vec<NodeRow>, estimates: Vec<String>) -> RepriceReport {
        RepriceReport {
            recording: rec.file.clone(),
            flow: rec.flow.name.clone(),
            recorded: side(before),
            repriced: side(after),
            cost_ratio: (before.unpriced_count() + after.unpriced_count() == 0)
                .then(|| after.totals.cost.total().ratio(before.totals.cost.total()))
                .flatten(),
            nodes,
            estimates,
        }
    }
}

impl Side {
    /// The side's cost as the table and the screen show it: never $0 for what has no price,
    /// and "at least" when some call reported no token counts.
    pub fn cost_text(&self) -> String {
        let cost = crate::money::Money::from_usd(self.cost_usd.or(self.priced_cost_usd).unwrap_or(0.0));
        crate::report::cost_text(cost, self.nodes_unpriced as u64, self.nodes_uncounted_priced as u64)
    }
}

impl NodeRow {
    /// A token count or cost of this row: `?` when its calls reported no counts at all, with
    /// `+?` when some did not.
    pub fn open(&self, text: String) -> String {
        let none = self.recorded_input_tokens + self.input_tokens + self.output_tokens == 0;
        crate::report::open_figure(text, none, self.tokens_unreported)
    }

    /// One of the row's costs: "unpriced" when the model has no price.
    pub fn cost_text(&self, cost: Option<f64>) -> String {
        cost.map_or_else(|| "unpriced".to_string(), |c| self.open(crate::money::Money::from_usd(c).to_string()))
    }
}

/// A unit's cost in a report: `None` when its model has no price.
pub(super) fn unit_cost(s: &RunState, i: usize) -> Option<f64> {
    (!s.unpriced(i)).then(|| s.units[i].cost.total().usd())
}

fn side(s: &RunState) -> Side {
    let unpriced = s.unpriced_count();
    Side {
        strategy: s.strategy.name.clone(),
        cost_usd: (unpriced == 0).then(|| s.totals.cost.total().usd()),
        priced_cost_usd: (unpriced > 0).then(|| s.totals.cost.total().usd()),
        nodes_unpriced: unpriced,
        nodes_unreported: s.unreported_count(),
        nodes_uncounted_priced: s.uncounted_priced_count(),
        wall_ms: ms(s.wall()),
        critical_path_ms: ms(s.totals.critical_path),
        tokens: s.totals.usage,
        checks_passed: s.totals.checks_passed,
        checks_total: s.totals.checks_total,
    }
}

/// Re-prices `rec` under `strategy` with `catalog`'s prices and profiles.
pub fn reprice(rec: &Recording, strategy: Arc<Strategy>, catalog: Arc<Catalog>) -> std::io::Result<(RepriceReport, RunState)> {
    reprice_folded(rec, rec.state(), strategy, catalog)
}

/// [`reprice`] given the recording's folded state (from [`Recording::open_folded`], which
/// keeps no events). A watched recording is re-priced from its events: give it whole
/// ([`Recording::open`]).
pub fn reprice_folded(
    rec: &Recording,
    before: RunState,
    strategy: Arc<Strategy>,
    catalog: Arc<Catalog>,
) -> std::io::Result<(RepriceReport, RunState)> {
    // A watched run has no prompts to re-run, but exact reported token counts.
    if rec.header.provider == "watch" {
        return Ok(reported(rec, before, strategy, catalog));
    }
    let texts =
        before.units.iter().filter(|u| matches!(u.status, Status::Done | Status::Cached)).map(|u| (u.unit, u.output_shared())).collect();
    rerun(rec, before, Texts::Held(texts), strategy, catalog)
}

/// [`reprice_folded`] given the recording folded without its outputs and where they are
/// ([`Recording::open_folded_indexed`]): each output is read from the file when its node is
/// served, and counted ahead of the engine on another thread. Not for a watched recording,
/// whose re-pricing reads its events ([`reprice_reported`]).
pub fn reprice_indexed(
    rec: &Recording,
    before: RunState,
    outputs: OutputIndex,
    strategy: Arc<Strategy>,
    catalog: Arc<Catalog>,
) -> std::io::Result<(RepriceReport, RunState)> {
    rerun(rec, before, Texts::Indexed(outputs), strategy, catalog)
}

/// Runs the flow again under `strategy`, each node answering with its recorded output.
fn rerun(
    rec: &Recording,
    before: RunState,
    texts: Texts,
    strategy: Arc<Strategy>,
    catalog: Arc<Catalog>,
) -> std::io::Result<(RepriceReport, RunState)> {
    let finished = before
        .units
        .iter()
        .filter(|u| matches!(u.status, Status::Done | Status::Cached))
        .map(|u| (u.unit, (u.estimated, u.usage.output)))
        .collect();
    // Counting ahead pays only with a core to spare.
    let spare_core = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let ahead = match &texts {
        Texts::Indexed(index) if spare_core => Some(index.reopen()?),
        _ => None,
    };
    let counted = ahead.as_ref().map(|_| recorded_part_counts(&rec.flow, &before)).unwrap_or_default();
    let whole = sim::Whole { idle: strategy.retry.idle_timeout, total: strategy.retry.total_timeout };
    let provider = Arc::new(RecordedText {
        finished,
        texts,
        whole,
        stash: ahead.as_ref().map(|_| Stash::default()),
        simulated: Default::default(),
        failed: Default::default(),
    });
    let mut spec = RunSpec::new(rec.flow.clone(), strategy, catalog, rec.header.input.clone(), rec.header.seed);
    // Nothing reads the pieces: each answer may come whole (`whole` above).
    spec.options.deltas = false;
    let done = std::sync::atomic::AtomicBool::new(false);
    /// Tells the counting thread the re-run is over, however it ends (a panic included: the
    /// scope waits for that thread, which may be waiting for the re-run).
    struct Over<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Over<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let after = std::thread::scope(|s| {
        if let (Some(index), Some(stash)) = (ahead, &provider.stash) {
            let (flow, counted, done) = (&rec.flow, &counted, &done);
            s.spawn(move || count_ahead(flow, index, counted, stash, done));
        }
        let _over = Over(&done);
        crate::headless::run_one(&spec, &Providers::only(provider.clone()))
    })?;
    if let Some(e) = provider.failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let simulated = provider.simulated.lock().map(|s| s.clone()).unwrap_or_default();

    let recorded_rows: HashMap<String, usize> = listed_units(&before).into_iter().map(|i| (before.units[i].label.clone(), i)).collect();
    let nodes = listed_units(&after)
        .into_iter()
        .map(|i| {
            let u = &after.units[i];
            let j = recorded_rows.get(&u.label).copied();
            let old = j.map(|j| &before.units[j]);
            let mut estimated = Vec::new();
            if simulated.contains(&u.label) {
                estimated.push("output (simulated: the recording never ran this node)");
            } else if old.and_then(|o| o.model.as_deref()) != u.model.as_deref() && u.model.is_some() {
                estimated.push("output length (the recorded text, written by another model)");
            }
            if u.latency.is_some() {
                estimated.push("latency (from the model's profile)");
            }
            NodeRow {
                id: u.label.clone(),
                recorded_model: old.and_then(|o| o.model.as_deref().map(String::from)),
                model: u.model.as_deref().map(String::from),
                rule: u.decision.as_ref().map(|d| d.rule_label.to_string()),
                recorded_input_tokens: old.map_or(0, |o| o.billed_usage.total_input()),
                input_tokens: u.billed_usage.total_input(),
                output_tokens: u.billed_usage.output,
                recorded_cost_usd: j.map_or(Some(0.0), |j| unit_cost(&before, j)),
                cost_usd: unit_cost(&after, i),
                tokens_unreported: u.unreported,
                recorded_latency_ms: old.and_then(|o| o.latency).map(ms),
                latency_ms: u.latency.map(ms),
                status: u.status.name(),
                estimated,
            }
        })
        .collect();
    let mut estimates = vec![
        "Input tokens are counted: each node's context is rebuilt from the recorded outputs under the new strategy's context mode."
            .to_string(),
        "Prices are the catalog's, applied to those counts; cost is exact for the tokens shown.".to_string(),
        "Output tokens are those of the recorded outputs: a different model would write a different length (estimate).".to_string(),
        "Latencies and the critical path come from the models' simulation profiles, not measurements (estimate).".to_string(),
        "Check results are the recorded outputs' own; another model might pass or fail differently (estimate).".to_string(),
    ];
    if !simulated.is_empty() {
        estimates.push(format!("{} node(s) never ran in the recording and were simulated: {}.", simulated.len(), simulated.join(", ")));
    }
    let report = RepriceReport::new(rec, &before, &after, nodes, estimates);
    Ok((report, after))
}

/// Counts each recorded output as the part that passes it on to later nodes
/// ([`crate::engine::output_part`]), in the order the nodes finished, until `done`: the count
/// is memoised, so the engine, which counts the same text when a later node needs it, finds
/// it counted (on another core). The figures are the same either way; only who counts
/// changes.
///
/// Where the recording counted that part itself (`counted`, from its nodes' contexts), its
/// count is remembered instead of counted again: counting the outputs of a 1M-event recording
/// is about 0.9 s of one core, more than the engine's whole re-run. The first few and then one
/// in [`CHECK_EVERY`] are counted all the same and compared: once one disagrees (a recording
/// from a Baton with another tokenizer), everything is counted afresh. An output with a key
/// redacted from it is not the text the recording counted, and is counted.
///
/// Each output read is also left in `stash` for the re-run, which then need not read it again
/// (reading and parsing the line of each output was about a quarter of the re-run's thread);
/// to find them there, this reads at most [`Stash::LEAD`] outputs ahead of the re-run. A
/// re-run that stops asking for outputs for a while (it skips what the recording ran, or asks
/// in another order) is not waited for: counting goes on without the stash.
fn count_ahead(
    flow: &crate::flow::Flow,
    index: OutputIndex,
    counted: &HashMap<usize, u32>,
    stash: &Stash,
    done: &std::sync::atomic::AtomicBool,
) {
    use crate::engine::output_part;
    use crate::tokens;
    use std::sync::atomic::Ordering::Relaxed;
    let (mut known_so_far, mut trusted) = (0usize, true);
    // The memo holds 100,000 texts; counting far more ahead would push out what the engine
    // needs.
    let mut stashing = true;
    for (k, unit) in index.units().into_iter().take(40_000).enumerate() {
        let (mut served, mut still) = (stash.served.load(Relaxed), 0);
        while stashing && k >= served + Stash::LEAD && !done.load(Relaxed) {
            std::thread::sleep(std::time::Duration::from_micros(100));
            let now = stash.served.load(Relaxed);
            // Fifty naps (5 ms or more) without a unit served once serving began: the re-run
            // serves one every few microseconds. Before it begins, waiting costs nothing.
            (still, served) = if now == served && now > 0 { (still + 1, served) } else { (0, now) };
            stashing = still < 50;
        }
        if done.load(Relaxed) {
            return;
        }
        let label = unit.label(flow);
        let known = counted.get(&unit.index()).copied().filter(|_| trusted && unit.item.is_none());
        let read = index.with_output(unit, |out| {
            let part = output_part(&label, out);
            match known.filter(|_| !out.contains(crate::sanitize::REDACTED)) {
                Some(n) => {
                    known_so_far += 1;
                    if known_so_far <= 3 || known_so_far % CHECK_EVERY == 0 {
                        trusted &= tokens::count(&part) == n;
                    } else {
                        tokens::remember(&part, n);
                    }
                }
                None => {
                    tokens::count(&part);
                }
            }
            if stashing {
                stash.put(unit, out);
            }
        });
        if read.is_err() {
            return;
        }
    }
}

/// One remembered count in this many is checked against the tokenizer.
const CHECK_EVERY: usize = 64;

/// Recorded outputs read ahead of the re-run (see [`count_ahead`]), and how many units the
/// re-run has been served.
#[derive(Default)]
struct Stash {
    texts: std::sync::Mutex<Shelf>,
    served: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Shelf {
    texts: HashMap<Unit, String>,
    /// Units the re-run asked for before they were read ahead: never put on the shelf, where
    /// nothing would take them.
    gone: std::collections::HashSet<Unit>,
}

impl Stash {
    /// How many outputs ahead of the re-run they are read (in the order the recording finished
    /// them): enough to count each before a later node needs it, and few enough to hold (a
    /// re-run that asks in another order, or skips some, leaves at most twice this many).
    const LEAD: usize = 256;

    fn put(&self, unit: Unit, text: &str) {
        if let Ok(mut shelf) = self.texts.lock()
            && shelf.texts.len() < 2 * Self::LEAD
            && !shelf.gone.contains(&unit)
        {
            shelf.texts.insert(unit, text.to_string());
        }
    }

    /// The unit's output, if it was read ahead; counts the unit as served either way.
    fn take(&self, unit: Unit) -> Option<String> {
        self.served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut shelf = self.texts.lock().ok()?;
        let text = shelf.texts.remove(&unit);
        if text.is_none() {
            shelf.gone.insert(unit);
        }
        text
    }
}

/// The token count of each node's declared part (`[id output]` and its output) as the
/// recording's own contexts give it, by node. Left out: a fan-out's part (its instances'
/// outputs joined) and an output a node's template inlines (passed bare, not as a part).
fn recorded_part_counts(flow: &crate::flow::Flow, state: &RunState) -> HashMap<usize, u32> {
    use crate::event::Origin;
    use crate::flow::Piece;
    let mut counts = HashMap::new();
    for u in &state.units {
        let Some(node) = flow.nodes.get(u.unit.index()) else { continue };
        for part in u.context() {
            let Origin::Declared(c) = part.origin else { continue };
            let c = c as usize;
            let inlined = node.template.iter().any(|p| matches!(p, Piece::Node(x) if *x == c));
            if inlined || flow.nodes.get(c).is_none_or(|n| n.map.is_some()) {
                continue;
            }
            if let Ok(n) = u32::try_from(part.tokens) {
                counts.entry(c).or_insert(n);
            }
        }
    }
    counts
}

/// The human table.
pub fn table(r: &RepriceReport) -> String {
    use crate::report::{Table, thousands};
    use std::fmt::Write as _;
    let mut t = Table::new(&[
        ("NODE", false),
        ("RECORDED MODEL", false),
        ("NEW MODEL", false),
        ("IN (REC → NEW)", true),
        ("OUT", true),
        ("COST (REC → NEW)", true),
        ("LATENCY (REC → EST)", true),
    ]);
    let secs = |v: Option<f64>| v.map(|m| format!("{:.2}s", m / 1000.0)).unwrap_or_else(|| "-".into());
    for n in &r.nodes {
        let open = |text: String| n.open(text);
        t.row(vec![
            format!("{}{}", n.id, if n.estimated.iter().any(|e| e.starts_with("output")) { " *" } else { "" }),
            n.recorded_model.clone().unwrap_or_else(|| "-".into()),
            n.model.clone().unwrap_or_else(|| "-".into()),
            format!("{} → {}", open(thousands(n.recorded_input_tokens)), open(thousands(n.input_tokens))),
            open(thousands(n.output_tokens)),
            format!("{} → {}", n.cost_text(n.recorded_cost_usd), n.cost_text(n.cost_usd)),
            format!("{} → {}", secs(n.recorded_latency_ms), secs(n.latency_ms)),
        ]);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} · recorded under {} · re-priced under {}", r.flow, r.recorded.strategy, r.repriced.strategy);
    out.push_str(&t.render());
    let _ = writeln!(
        out,
        "\ncost      {} → {}{}",
        r.recorded.cost_text(),
        r.repriced.cost_text(),
        r.cost_ratio.map(|x| format!("  ({x:.3}×)")).unwrap_or_default()
    );
    let _ = writeln!(out, "wall      {:.2}s → {:.2}s (estimate)", r.recorded.wall_ms / 1000.0, r.repriced.wall_ms / 1000.0);
    let _ =
        writeln!(out, "critical  {:.2}s → {:.2}s (estimate)", r.recorded.critical_path_ms / 1000.0, r.repriced.critical_path_ms / 1000.0);
    let _ = writeln!(out, "\nWhat is exact and what is estimated:");
    for e in &r.estimates {
        let _ = writeln!(out, "  - {e}");
    }
    if r.nodes.iter().any(|n| n.estimated.iter().any(|e| e.starts_with("output"))) {
        let _ = writeln!(out, "  * marks nodes whose output length is an estimate for the new model.");
    }
    out
}

mod watched;
use watched::reported;
pub use watched::{WATCHED, reprice_reported};

#[cfg(test)]
mod tests;
