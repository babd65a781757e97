//! Navigation: the screen's regions, moving the selection through the graph and the timeline,
//! scrolling, panning, and the mouse.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::app::App;
use super::areas::{Focus, View};
use super::keymap::Action;
use super::layout::BoxKey;

impl App {
    /// Scrolls the overlay in front (the help, else the raw exchange) by a scrolling key,
    /// stopping at its end.
    pub(super) fn scroll_overlay(&mut self, action: Action) {
        let (pos, max) = if self.help { (&mut self.help_scroll, self.scroll_max.1) } else { (&mut self.inspect_scroll, self.scroll_max.2) };
        match action {
            Action::Down | Action::PageDown => *pos = pos.saturating_add(if action == Action::Down { 1 } else { 8 }).min(max),
            Action::Last => *pos = max,
            Action::First => *pos = 0,
            Action::Up | Action::PageUp => *pos = pos.saturating_sub(if action == Action::Up { 1 } else { 8 }),
            _ => {}
        }
    }

    /// Navigation keys: moving the selection, scrolling, zoom, expanding a fan-out, panning.
    pub(super) fn nav_action(&mut self, action: Action) {
        match action {
            Action::Up | Action::Down if self.focus == Focus::Panel => self.scroll_panel(if action == Action::Up { -1 } else { 1 }),
            Action::Up | Action::Down if self.view == View::Timeline => {
                self.timeline_to(self.timeline_row as i64 + if action == Action::Up { -1 } else { 1 });
            }
            Action::PageUp | Action::PageDown if self.view == View::Timeline && self.focus == Focus::Main => {
                let page = self.timeline_page();
                self.timeline_to(self.timeline_row as i64 + if action == Action::PageUp { -page } else { page });
            }
            Action::First | Action::Last if self.view == View::Timeline && self.focus == Focus::Main => {
                self.timeline_to(if action == Action::First { 0 } else { i64::MAX });
            }
            Action::First | Action::Last if self.view == View::Log && self.focus == Focus::Main => {
                let page = self.size.1.saturating_sub(6) as usize;
                self.log_scroll = if action == Action::First { self.player.cursor.saturating_sub(page) } else { 0 };
            }
            Action::First | Action::Last if self.focus == Focus::Panel => {
                self.panel_scroll = if action == Action::First { 0 } else { self.scroll_max.0 };
            }
            Action::Up => self.move_in_layer(-1),
            Action::Down => self.move_in_layer(1),
            Action::Left => self.move_layer(-1),
            Action::Right => self.move_layer(1),
            Action::First | Action::Last => {
                let order = self.box_order();
                let pick = if action == Action::First { order.first() } else { order.last() };
                if let Some(&b) = pick {
                    self.selected = b;
                }
            }
            Action::PageUp | Action::PageDown => {
                let d: i32 = if action == Action::PageUp { -1 } else { 1 };
                match self.view {
                    View::Log if self.focus == Focus::Main => {
                        let page = self.size.1.saturating_sub(6) as usize;
                        let top = self.player.cursor.saturating_sub(page);
                        self.log_scroll = if d < 0 { (self.log_scroll + page).min(top) } else { self.log_scroll.saturating_sub(page) };
                    }
                    _ => self.scroll_panel(d * 10),
                }
            }
            Action::Zoom => self.compact = !self.compact,
            Action::Expand => {
                let n = self.selected.node();
                if let BoxKey::Group(first, g) = self.selected {
                    self.folded[g] = false;
                    self.selected = BoxKey::Node(first);
                } else if let (Some(g), None) = (self.siblings.of[n], &self.flow.nodes[n].map) {
                    self.folded[g] = true;
                    self.selected = BoxKey::Group(self.siblings.members[g][0], g);
                } else if self.flow.nodes[n].map.is_some() {
                    self.expanded[n] = !self.expanded[n];
                    self.selected = BoxKey::Node(n);
                    if self.expanded[n] && !self.player.state.nodes[n].instances.is_empty() {
                        self.selected = BoxKey::Instance(n, 0);
                    }
                } else {
                    self.message = Some(format!("'{}' does not fan out and has no siblings to fold", self.flow.nodes[n].id));
                }
            }
            Action::PanLeft => self.pan.0 = self.pan.0.saturating_sub(8),
            Action::PanRight => self.pan.0 = (self.pan.0 + 8).min(self.pan_limit().0),
            Action::PanUp => self.pan.1 = self.pan.1.saturating_sub(4),
            Action::PanDown => self.pan.1 = (self.pan.1 + 4).min(self.pan_limit().1),
            Action::Critical => self.next_on_critical_path(),
            // The raw exchange overlay opens on the selection (inspect.rs draws it).
            Action::Inspect => {
                self.inspect = !self.inspect;
                self.inspect_scroll = 0;
            }
            _ => {}
        }
        if self.focus == Focus::Main
            && matches!(action, Action::Up | Action::Down | Action::Left | Action::Right | Action::First | Action::Last | Action::Critical)
        {
            self.panel_scroll = 0;
            self.keep_selection_in_view();
        }
    }

    /// Scrolls the panel, stopping at its last line.
    pub(super) fn scroll_panel(&mut self, d: i32) {
        self.panel_scroll = (i32::from(self.panel_scroll) + d).clamp(0, i32::from(self.scroll_max.0)) as u16;
    }

    /// Moves the timeline's selected row (and the selection with it), within the rows.
    fn timeline_to(&mut self, row: i64) {
        let rows = crate::report::listed_units(&self.player.state);
        if rows.is_empty() {
            return;
        }
        self.timeline_row = row.clamp(0, rows.len() as i64 - 1) as usize;
        self.selected = self.box_for_unit(rows[self.timeline_row]);
    }

    /// A page of the timeline: its rows on screen.
    fn timeline_page(&self) -> i64 {
        i64::from(self.areas().main.height.saturating_sub(3).max(1))
    }

    /// Boxes in reading order: layer by layer, top to bottom.
    pub(super) fn box_order(&self) -> Vec<BoxKey> {
        self.layout.layers.iter().flat_map(|l| l.iter().map(|&i| self.layout.boxes[i].key)).collect()
    }

    pub(super) fn current(&self) -> Option<usize> {
        self.layout.index.get(&self.selected).copied()
    }

    pub(super) fn move_in_layer(&mut self, d: i32) {
        let Some(i) = self.current() else { return };
        let layer = &self.layout.layers[self.layout.boxes[i].layer];
        let pos = layer.iter().position(|&b| b == i).unwrap_or(0) as i32;
        let next = (pos + d).clamp(0, layer.len() as i32 - 1) as usize;
        self.selected = self.layout.boxes[layer[next]].key;
    }

    pub(super) fn move_layer(&mut self, d: i32) {
        let Some(i) = self.current() else { return };
        let b = self.layout.boxes[i];
        let target = b.layer as i32 + d;
        if target < 0 || target as usize >= self.layout.layers.len() {
            return;
        }
        let layer = &self.layout.layers[target as usize];
        // The box nearest in height, preferring a neighbour on an edge.
        let linked: Vec<usize> = self
            .layout
            .routes
            .iter()
            .filter_map(|r| {
                if d > 0 && r.from == i {
                    Some(r.to)
                } else if d < 0 && r.to == i {
                    Some(r.from)
                } else {
                    None
                }
            })
            .collect();
        let pool: Vec<usize> = if linked.is_empty() { layer.clone() } else { linked };
        if let Some(&best) = pool.iter().min_by_key(|&&c| (i32::from(self.layout.boxes[c].mid_y()) - i32::from(b.mid_y())).abs()) {
            self.selected = self.layout.boxes[best].key;
        }
    }

    pub(super) fn next_on_critical_path(&mut self) {
        let st = &self.player.state;
        let path: Vec<BoxKey> = st.critical_path().into_iter().map(|u| self.box_for_unit(u)).collect();
        if path.is_empty() {
            self.message = Some("no critical path yet".into());
            return;
        }
        let pos = path.iter().position(|b| *b == self.selected);
        self.selected = path[pos.map_or(0, |p| (p + 1) % path.len())];
    }

    /// In the timeline, the unit of the selected row.
    pub fn timeline_unit(&self) -> Option<usize> {
        if self.view != View::Timeline {
            return None;
        }
        crate::report::listed_units(&self.player.state).get(self.timeline_row).copied()
    }

    /// The box that shows a unit (its group's box when the group is collapsed).
    pub fn box_for_unit(&self, unit_idx: usize) -> BoxKey {
        let u = self.player.state.units[unit_idx].unit;
        let n = u.index();
        match u.item {
            Some(k) if self.expanded[n] => BoxKey::Instance(n, k as usize),
            _ => self.shown_box(n),
        }
    }

    /// The box a node is shown in: its own, or its folded sibling run's.
    pub fn shown_box(&self, n: usize) -> BoxKey {
        match self.siblings.of.get(n).copied().flatten() {
            Some(g) if self.folded[g] => BoxKey::Group(self.siblings.members[g][0], g),
            _ => BoxKey::Node(n),
        }
    }

    /// The unit a box shows (a collapsed group shows its own unit; a folded run, none).
    pub fn unit_for_box(&self, key: BoxKey) -> Option<usize> {
        let st = &self.player.state;
        match key {
            BoxKey::Node(n) => Some(st.nodes[n].unit),
            BoxKey::Instance(n, k) => st.nodes[n].instances.get(k).copied(),
            BoxKey::Group(..) => None,
        }
    }

    /// How far the graph can pan: until its right and bottom edges meet the view's, never
    /// past them into empty space (a graph that fits does not pan at all).
    pub fn pan_limit(&self) -> (u16, u16) {
        let view = self.areas().main;
        let (vw, vh) = (view.width.saturating_sub(2), view.height.saturating_sub(2));
        (self.layout.width.saturating_sub(vw), self.layout.height.saturating_sub(vh))
    }

    /// Centres the view on a graph point, within the pan limits.
    fn pan_to(&mut self, x: u16, y: u16) {
        let view = self.areas().main;
        let (vw, vh) = (view.width.saturating_sub(2), view.height.saturating_sub(2));
        let (lx, ly) = self.pan_limit();
        self.pan = (x.saturating_sub(vw / 2).min(lx), y.saturating_sub(vh / 2).min(ly));
    }

    /// Scrolls the graph so the selected box is visible.
    pub fn keep_selection_in_view(&mut self) {
        let Some(i) = self.current() else { return };
        let b = self.layout.boxes[i];
        let view = self.areas().main;
        let (vw, vh) = (view.width.saturating_sub(2), view.height.saturating_sub(2));
        if vw == 0 || vh == 0 {
            return;
        }
        if b.x < self.pan.0 {
            self.pan.0 = b.x.saturating_sub(1);
        } else if b.x + b.w > self.pan.0 + vw {
            self.pan.0 = (b.x + b.w).saturating_sub(vw) + 1;
        }
        if b.y < self.pan.1 {
            self.pan.1 = b.y;
        } else if b.y + b.h > self.pan.1 + vh {
            self.pan.1 = (b.y + b.h).saturating_sub(vh);
        }
        let (lx, ly) = self.pan_limit();
        self.pan = (self.pan.0.min(lx), self.pan.1.min(ly));
    }

    pub(super) fn on_mouse(&mut self, m: MouseEvent) {
        let a = self.areas();
        let inside = |r: Rect| m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height;
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) | MouseEventKind::Drag(MouseButton::Left) if a.scrub.is_some_and(&inside) => {
                // The scrub bar seeks: click (or drag) anywhere on its track.
                if let Some(t) = a.scrub.and_then(|r| super::player::scrub_time(r, &self.player, m.column)) {
                    self.player.seek(t);
                    self.message = Some(format!("at {}", super::fmt::dur(t)));
                }
            }
            MouseEventKind::Down(MouseButton::Left) => {
                // Compare's frontier charts: a click picks the nearest strategy.
                if self.compare_click(m.column, m.row) {
                    return;
                }
                if let Some(t) = a.tabs
                    && inside(t)
                {
                    // Tabs are drawn as " Graph │ Timeline │ Log ": pick by position.
                    let mut x = t.x + 1;
                    for v in View::ALL {
                        let w = v.title().len() as u16 + 3;
                        if m.column >= x && m.column < x + w {
                            self.view = v;
                        }
                        x += w;
                    }
                    return;
                }
                if self.view == View::Graph && inside(a.main) {
                    let inner = Rect::new(a.main.x + 1, a.main.y + 1, a.main.width.saturating_sub(2), a.main.height.saturating_sub(2));
                    // A click on the overview map moves the view there.
                    if let Some(map) = super::minimap::minimap_rect(inner, self.layout.width, self.layout.height)
                        && inside(map)
                    {
                        if let Some((x, y)) = super::minimap::minimap_to_world(map, self.layout.width, self.layout.height, m.column, m.row)
                        {
                            self.pan_to(x, y);
                        }
                        return;
                    }
                    let view = super::layout::centered(inner, self.layout.height);
                    if m.row < view.y || m.column < view.x {
                        return;
                    }
                    let wx = m.column - view.x + self.pan.0;
                    let wy = m.row - view.y + self.pan.1;
                    if let Some(i) = self.layout.box_at(wx, wy) {
                        self.selected = self.layout.boxes[i].key;
                        self.panel_scroll = 0;
                    }
                } else if let Some(p) = a.panel
                    && inside(p)
                {
                    self.focus = Focus::Panel;
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = m.kind == MouseEventKind::ScrollDown;
                if a.panel.is_some_and(inside) {
                    self.scroll_panel(if down { 3 } else { -3 });
                } else if self.view == View::Timeline {
                    self.timeline_to(self.timeline_row as i64 + if down { 3 } else { -3 });
                } else if self.view == View::Log {
                    let top = self.player.cursor.saturating_sub(self.size.1.saturating_sub(6) as usize);
                    self.log_scroll = if down { self.log_scroll.saturating_sub(3) } else { (self.log_scroll + 3).min(top) };
                } else if self.view == View::Graph {
                    self.pan.1 = if down { (self.pan.1 + 3).min(self.pan_limit().1) } else { self.pan.1.saturating_sub(3) };
                }
            }
            _ => {}
        }
    }
}
