//! The screen's regions from the terminal size, the focus and the view alone: drawing and mouse
//! hit-testing share them. Knows nothing of the app.

use ratatui::layout::Rect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Graph,
    Timeline,
    Log,
    /// Compare mode: every node under every strategy, with deltas.
    Compare,
    /// Compare mode: cost against quality, one point per strategy.
    Frontier,
}

impl View {
    pub const ALL: [View; 3] = [View::Graph, View::Timeline, View::Log];
    pub const COMPARE: [View; 3] = [View::Graph, View::Compare, View::Frontier];

    pub fn title(self) -> &'static str {
        match self {
            View::Graph => "Graph",
            View::Timeline => "Timeline",
            View::Log => "Log",
            View::Compare => "Compare",
            View::Frontier => "Frontier",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Main,
    Panel,
}

/// The screen regions, from the terminal size alone; drawing and mouse hit-testing share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub header: Rect,
    pub tabs: Option<Rect>,
    pub main: Rect,
    pub panel: Option<Rect>,
    /// A short summary of the selection under the main area on narrow screens.
    pub summary: Option<Rect>,
    /// The playhead over the whole tape (seek by clicking it).
    pub scrub: Option<Rect>,
    pub footer: Option<Rect>,
    pub too_small: bool,
}

pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 12;
/// From this width up the panel sits beside the main view.
pub const SIDE_PANEL_W: u16 = 110;

/// Splits the screen. Wide screens put the node panel beside the main view; narrow ones show a
/// summary line and give the whole body to the panel when it has focus.
pub fn areas(w: u16, h: u16, focus: Focus, view: View) -> Areas {
    if w < MIN_W || h < MIN_H {
        return Areas { too_small: true, ..Areas::default() };
    }
    let mut y = 0;
    let header = Rect::new(0, y, w, 1);
    y += 1;
    let tabs = (h >= 16).then(|| {
        let r = Rect::new(0, y, w, 1);
        y += 1;
        r
    });
    let footer_h = u16::from(h >= 14);
    let scrub_h = u16::from(h >= 18);
    let body_h = h - y - footer_h - scrub_h;
    let footer = (footer_h > 0).then(|| Rect::new(0, h - 1, w, 1));
    let scrub = (scrub_h > 0).then(|| Rect::new(0, h - footer_h - 1, w, 1));
    let body = Rect::new(0, y, w, body_h);
    let with_panel = matches!(view, View::Graph | View::Timeline);
    if w >= SIDE_PANEL_W && with_panel {
        let pw = (w * 38 / 100).clamp(44, 72);
        let main = Rect::new(0, body.y, w - pw, body.height);
        let panel = Rect::new(w - pw, body.y, pw, body.height);
        return Areas { header, tabs, main, panel: Some(panel), summary: None, scrub, footer, too_small: false };
    }
    if focus == Focus::Panel && with_panel {
        return Areas { header, tabs, main: Rect::new(0, body.y, w, 0), panel: Some(body), summary: None, scrub, footer, too_small: false };
    }
    let sum_h = if with_panel && body.height >= 10 { 2 } else { 0 };
    let main = Rect::new(0, body.y, w, body.height - sum_h);
    let summary = (sum_h > 0).then(|| Rect::new(0, body.y + body.height - sum_h, w, sum_h));
    Areas { header, tabs, main, panel: None, summary, scrub, footer, too_small: false }
}
