//! The raw exchange overlay: for the selected node, each try's request body as it was sent (the
//! assembled messages), the response as it was received and the provider's usage payload, from
//! the run state's side table of [`crate::event::Exchange`]s. A node no HTTP provider served
//! (simulated, cached, not called yet) shows what the run knows instead: the prompt template,
//! the context parts the engine assembled and the usage from the fold, labelled as such.
//! Every text is cleaned for the terminal (control characters, escape sequences, keys) before
//! it is drawn.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use serde_json::Value;

use super::app::App;
use super::fmt::dur;
use super::layout::BoxKey;
use crate::event::{Exchange, Origin};
use crate::report::thousands;
use crate::routing::ProviderKind;
use crate::state::{RunState, Status, UnitState};

/// Where the overlay goes on a screen of `size`: everything between the header line and the
/// footer, which keeps naming the overlay's keys.
pub fn area(size: Rect) -> Rect {
    Rect::new(size.x, size.y + 1, size.width, size.height.saturating_sub(2))
}

/// How far the overlay can scroll on a screen of `size`: its wrapped height less what fits.
pub fn scroll_limit(app: &App, size: Rect) -> u16 {
    if !app.inspect {
        return 0;
    }
    let r = area(size);
    let n = Paragraph::new(lines(app)).wrap(Wrap { trim: false }).line_count(r.width.saturating_sub(2));
    u16::try_from(n).unwrap_or(u16::MAX).saturating_sub(r.height.saturating_sub(2))
}

pub fn draw(f: &mut Frame, app: &App, size: Rect) {
    let t = &app.theme;
    let r = area(size);
    let title = match unit_of(app) {
        Ok(i) => format!(" Raw exchange — {} ", clean(&app.state().units[i].label)),
        Err(_) => " Raw exchange ".to_string(),
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines(app))
            .block(Block::bordered().title(title).border_style(Style::default().fg(t.border_focus)))
            .style(t.base_style())
            .wrap(Wrap { trim: false })
            .scroll((app.inspect_scroll, 0)),
        r,
    );
}

/// The unit the overlay is about: the timeline's row, else the selected box's unit; or why
/// there is none.
fn unit_of(app: &App) -> Result<usize, &'static str> {
    if let Some(u) = app.timeline_unit() {
        return Ok(u);
    }
    let st = app.state();
    match app.selected {
        BoxKey::Group(..) => Err("a folded run of sibling nodes: unfold it (e) and pick one of them"),
        BoxKey::Node(n) if st.flow.nodes[n].map.is_some() => {
            Err("a fan-out node: each instance makes its own call; expand it (e) and pick an instance")
        }
        key => app.unit_for_box(key).ok_or("nothing selected"),
    }
}

/// The overlay's lines for the selection.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let st = app.state();
    let i = match unit_of(app) {
        Ok(i) => i,
        Err(why) => return vec![Line::from(Span::styled(why.to_string(), t.dim()))],
    };
    let u = &st.units[i];
    let tries: Vec<_> = st.exchanges_of(u.unit).collect();
    let mut out = Vec::new();
    if tries.is_empty() {
        return unsent_lines(app, st, u);
    }
    let n = tries.len();
    out.push(Line::from(vec![
        Span::styled(u.label.clone(), Style::default().fg(t.title).add_modifier(Modifier::BOLD)),
        Span::styled(format!("  {n} {} over the wire, oldest first", if n == 1 { "try" } else { "tries" }), t.dim()),
    ]));
    for x in tries {
        out.push(Line::default());
        out.extend(exchange_lines(app, &x.exchange, x.at));
    }
    out
}

fn heading(app: &App, s: String) -> Line<'static> {
    Line::from(Span::styled(s, Style::default().fg(app.theme.accent).add_modifier(Modifier::BOLD)))
}

/// Text from outside, fit for the terminal: no control characters or escape sequences, no
/// key, tabs as spaces.
fn clean(s: &str) -> String {
    crate::sanitize::for_terminal(s).replace('\t', "    ")
}

/// `text` as lines, indented, cleaned.
fn text_lines(out: &mut Vec<Line<'static>>, text: &str) {
    if text.is_empty() {
        out.push(Line::raw("  (empty)"));
    }
    for l in clean(text).lines() {
        out.push(Line::raw(format!("  {l}")));
    }
}

/// One try: how it ended, the request (its messages, then its other fields), the response as
/// it came, and the usage payload.
fn exchange_lines(app: &App, x: &Exchange, at: std::time::Duration) -> Vec<Line<'static>> {
    let t = &app.theme;
    let status = x.status.map_or_else(|| "no response".to_string(), |s| format!("HTTP {s}"));
    let mut out = vec![Line::from(Span::styled(
        format!("━━ try {} on {} · {status} · ended at {} ━━", x.try_no, clean(&x.model), dur(at)),
        Style::default().fg(t.title).add_modifier(Modifier::BOLD),
    ))];
    if let Some(e) = &x.error {
        out.push(Line::from(Span::styled(format!("failed: {}", clean(e)), t.status(Status::Failed))));
    }
    out.push(heading(app, format!("Request — the body as sent ({} bytes)", thousands(x.request.len() as u64))));
    request_lines(&mut out, &x.request, t);
    out.push(heading(app, format!("Response — as received ({} bytes)", thousands(x.response.len() as u64))));
    text_lines(&mut out, &x.response);
    out.push(heading(app, "Usage — as the provider sent it".to_string()));
    match &x.usage {
        Some(u) => {
            for l in u.lines() {
                let pretty = serde_json::from_str::<Value>(l).ok().and_then(|v| serde_json::to_string_pretty(&v).ok());
                text_lines(&mut out, pretty.as_deref().unwrap_or(l));
            }
        }
        None => out.push(Line::from(Span::styled("  none sent".to_string(), t.dim()))),
    }
    out
}

/// A request body: each message's role and text as a person reads it, then the other fields
/// as compact JSON. A body that is not JSON (one cut at the cap) is shown as it is.
fn request_lines(out: &mut Vec<Line<'static>>, body: &str, t: &super::theme::Theme) {
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(body) else {
        text_lines(out, body);
        return;
    };
    // OpenAI and Anthropic send `messages`, Gemini `contents`.
    let messages = fields.remove("messages").or_else(|| fields.remove("contents"));
    out.push(Line::from(Span::styled(format!("  {}", clean(&Value::Object(fields).to_string())), t.dim())));
    for m in messages.as_ref().and_then(Value::as_array).into_iter().flatten() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("?");
        out.push(Line::from(Span::styled(format!("  [{}]", clean(role)), Style::default().fg(t.accent))));
        let text = match m.get("content").or_else(|| m.get("parts")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        text_lines(out, &text);
    }
}

/// A node no HTTP provider served: what the run knows of its call, and why there is no more.
fn unsent_lines(app: &App, st: &RunState, u: &UnitState) -> Vec<Line<'static>> {
    let t = &app.theme;
    let node = &st.flow.nodes[u.unit.index()];
    let model = u.model.as_deref().and_then(|m| st.catalog.get(m));
    // A replay says how its recording was made; a run here, how this session calls models.
    let simulated_run = app.replay.as_ref().map_or(app.simulated, |r| r.header.provider == "sim");
    let why = if u.status == Status::Cached {
        "served from Baton's cache: no call was made".to_string()
    } else if u.started.is_none() {
        "not called yet".to_string()
    } else if model.is_some_and(|m| m.provider == ProviderKind::Sim) || simulated_run {
        format!("simulated: {} answers from its catalog profile; nothing went over the wire", u.model.as_deref().unwrap_or("the model"))
    } else {
        "no exchange was recorded for this node (recordings made before Baton kept exchanges, and watched traces, have none)".to_string()
    };
    let mut out = vec![
        Line::from(vec![
            Span::styled(u.label.clone(), Style::default().fg(t.title).add_modifier(Modifier::BOLD)),
            Span::styled(format!("  {why}"), t.dim()),
        ]),
        Line::default(),
        heading(app, "Request — what the engine assembled (from the run: the template, then each part of the context)".to_string()),
        Line::from(Span::styled("  template".to_string(), Style::default().fg(t.accent))),
    ];
    text_lines(&mut out, &node.prompt);
    if let Some(item) = &u.item {
        out.push(Line::from(Span::styled(format!("  item: {}", clean(item)), Style::default().fg(t.accent))));
    }
    if !st.input.is_empty() {
        out.push(Line::from(Span::styled("  input".to_string(), Style::default().fg(t.accent))));
        text_lines(&mut out, &st.input);
    }
    if u.context().is_empty() {
        out.push(Line::from(Span::styled("  no context yet".to_string(), t.dim())));
    }
    for p in u.context() {
        let (from, text) = match p.origin {
            Origin::Prompt => ("prompt: the template above, filled in".to_string(), None),
            Origin::History => ("history (full context mode: earlier prompts and outputs)".to_string(), None),
            Origin::Declared(n) => {
                let id = st.flow.nodes.get(n as usize).map_or_else(|| "?".to_string(), |x| x.id.clone());
                (format!("{id} output"), st.nodes.get(n as usize).map(|ns| upstream_output(st, ns)))
            }
        };
        out.push(Line::from(Span::styled(format!("  [{from}] {} tok", thousands(p.tokens)), Style::default().fg(t.accent))));
        if let Some(text) = text {
            text_lines(&mut out, &text);
        }
    }
    out.push(heading(app, "Response — the output".to_string()));
    text_lines(&mut out, u.text());
    out.push(heading(app, "Usage — from the run's figures".to_string()));
    let b = &u.usage;
    let note = if u.unreported {
        " (lower bounds: a call reported no tokens)"
    } else if u.estimated {
        " (Baton's estimate: no usage was reported)"
    } else {
        ""
    };
    out.push(Line::raw(format!(
        "  in {} · cached {} · cache write {} · out {} · reasoning {}{note}",
        thousands(b.input),
        thousands(b.cached),
        thousands(b.cache_write),
        thousands(b.output),
        thousands(b.reasoning)
    )));
    out
}

/// An upstream node's output as later nodes receive it: its own, or its instances' in order.
fn upstream_output(st: &RunState, ns: &crate::state::NodeState) -> String {
    if ns.instances.is_empty() {
        return st.units[ns.unit].output().to_string();
    }
    ns.instances.iter().map(|&i| format!("[{}] {}", st.units[i].label, st.units[i].output())).collect::<Vec<_>>().join("\n")
}
