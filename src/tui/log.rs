//! The event log: what the engine said, newest at the bottom.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::app::App;
use super::fmt::{dur, money};
use crate::event::{Event, RunEvent};
use crate::state::RunState;

pub struct LogView<'a> {
    pub app: &'a App,
    pub focused: bool,
}

fn label(st: &RunState, e: &Event) -> String {
    match e.unit() {
        Some(u) => u.label(&st.flow),
        None => "run".to_string(),
    }
}

/// One line per event worth reading (stream pieces and queueing are left out).
pub fn describe(st: &RunState, e: &RunEvent) -> Option<(String, String)> {
    let what = match &e.kind {
        Event::RunStarted { flow, strategy, seed, .. } => format!("started {flow} under {strategy}, seed {seed}"),
        Event::NodeQueued { .. } | Event::NodeDelta { .. } => return None,
        Event::NodeExpanded { items, dropped, .. } => {
            format!("fans out into {} instances{}", items.len(), if *dropped > 0 { format!(" ({dropped} dropped)") } else { String::new() })
        }
        Event::NodeStarted { decision, input_tokens, .. } => {
            format!("→ {} ({}, ~{input_tokens} input tokens)", decision.model, decision.rule_label)
        }
        Event::NodeRetry { model, try_no, error, backoff, .. } => {
            format!("↻ try {try_no} on {model} failed: {error}; retry in {}", dur(*backoff))
        }
        Event::NodeFallback { from, to, reason, .. } => format!("⇢ {from} → {to}: {reason}"),
        Event::NodeWaiting { why, .. } => format!("⧗ queued: {why}"),
        Event::NodeResumed { latency, .. } => format!("↺ resumed from the recording (took {} then)", dur(*latency)),
        Event::NodeSent { queued, .. } => format!("→ sent after {} queued", dur(*queued)),
        Event::NodeBilled { model, usage, estimated, .. } => {
            let cost = money(st.call_cost(model, usage));
            let est = if *estimated { " (estimated)" } else { "" };
            format!("$ failed try on {model} billed {} in / {} out{est}, {cost}", usage.total_input(), usage.output)
        }
        Event::NodeEscalated { from, to, failed, .. } => format!("⇡ escalated {from} → {to}: failed {}", failed.join(", ")),
        Event::NodeFinished { model, usage, latency, checks, cached, unreported, .. } => {
            let passed = checks.iter().filter(|c| c.passed).count();
            let cost = if *cached { "cached".to_string() } else { money(st.call_cost(model, usage)) };
            // Counts some call did not report are not zeros: say so rather than print them.
            let (tokens, cost) = match (*unreported, usage.total_input() + usage.output) {
                (true, 0) => ("tokens not reported".to_string(), "cost unknown".to_string()),
                (true, _) => (format!("at least {} in / {} out", usage.total_input(), usage.output), format!("at least {cost}")),
                (false, _) => (format!("{} in / {} out", usage.total_input(), usage.output), cost),
            };
            format!("✓ {model}: {tokens}, {cost}, {}, checks {passed}/{}", dur(*latency), checks.len())
        }
        Event::NodeSkipped { reason, .. } => format!("⊘ skipped: {reason}"),
        Event::NodeExchange { exchange: x, .. } => {
            let status = x.status.map_or_else(|| "no response".to_string(), |s| format!("HTTP {s}"));
            format!("⇄ try {} on {}: {status}, sent {} bytes, got {}", x.try_no, x.model, x.request.len(), x.response.len())
        }
        Event::NodeFailed { error, .. } => format!("✗ failed: {error}"),
        Event::ModelCooldown { model, until, reason } => format!("⏸ {model} rests until {}: {reason}", dur(*until)),
        Event::RunFinished { outcome } => format!("finished: {}", outcome.name()),
    };
    Some((label(st, &e.kind), what))
}

impl Widget for LogView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let st = app.state();
        let border = Style::default().fg(if self.focused { t.border_focus } else { t.border });
        let block = Block::bordered().title(" Events ").border_style(border);
        let height = area.height.saturating_sub(2) as usize;
        let mut lines: Vec<Line> = Vec::new();
        let mut skip = app.log_scroll;
        for e in app.player.events[..app.player.cursor].iter().rev() {
            let Some((who, what)) = describe(st, e) else { continue };
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let style = if what.starts_with('✗') {
                t.status(crate::state::Status::Failed)
            } else if what.starts_with('↻') || what.starts_with('⇢') {
                Style::default().fg(t.retrying)
            } else {
                Style::default()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{:>8}  ", dur(e.at)), t.dim()),
                Span::styled(format!("{who:<16} "), Style::default().fg(t.accent)),
                Span::styled(what, style),
            ]));
            if lines.len() >= height {
                break;
            }
        }
        lines.reverse();
        Paragraph::new(lines).block(block).render(area, buf);
    }
}
