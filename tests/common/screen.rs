//! Driving the screen in tests: an app on a sample run, rendered into ratatui's TestBackend,
//! keys sent through the update function.
#![allow(dead_code)]

use baton::provider::Providers;
use baton::tui::app::{App, Command, Msg};
use baton::tui::draw::draw;
use baton::tui::keymap::Keymap;
use baton::tui::theme::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use super::{run, sample_flow, sample_strategy, spec};

pub fn app_with(flow: &str, strategy: &str, seed: u64, providers: &Providers, (w, h): (u16, u16)) -> App {
    let s = spec(sample_flow(flow), sample_strategy(strategy), seed);
    let mut app = App::new(&s, Theme::dark(), Keymap::default_map(), 1.0, true);
    app.update(Msg::Term(Event::Resize(w, h)));
    let (events, _) = run(&s, providers);
    app.update(Msg::Run(events));
    app
}

/// The research assistant under smart, played to the end.
pub fn finished(size: (u16, u16)) -> App {
    let mut app = app_with("research-assistant", "smart", 1, &Providers::simulated(), size);
    app.player.finish();
    app.refresh_layout();
    app
}

pub fn render(app: &App) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("terminal");
    term.draw(|f| draw(f, app)).expect("draw");
    term.backend().buffer().clone()
}

pub fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().chars().next().unwrap_or(' ')).collect();
        if let Some(pos) = line.find(needle) {
            return Some((line[..pos].chars().count() as u16, y));
        }
    }
    None
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    let mods = if matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    app.update(Msg::Term(Event::Key(KeyEvent::new(code, mods))))
}

/// Renders as the loop does, then stores how far things can scroll on this screen.
pub fn frame(app: &mut App) -> Buffer {
    let buf = render(app);
    app.scroll_max = baton::tui::draw::scroll_limits(app);
    buf
}

/// Types each character of `s`.
pub fn type_text(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}
