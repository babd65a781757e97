//! The overview map: the whole graph shrunk into a corner of the graph view when it does not
//! fit, with where the view is, where the selection is and what is running or failed. A click
//! on it moves the view there.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::app::App;
use crate::state::Status;

/// Where the overview map sits in the graph's inner area (its bottom-right corner), when the
/// graph is more than twice the view across or down; None when the view shows most of it
/// (panning is enough, and the map would cover boxes) or is too small to spare the room.
pub fn minimap_rect(inner: Rect, graph_w: u16, graph_h: u16) -> Option<Rect> {
    if u32::from(graph_w) <= 2 * u32::from(inner.width) && u32::from(graph_h) <= 2 * u32::from(inner.height) {
        return None;
    }
    // At most a quarter of the width and a third of the height, inside the border, shaped like
    // the graph.
    let (max_w, max_h) = ((inner.width / 4).min(28).saturating_sub(2), (inner.height / 3).min(12).saturating_sub(2));
    if max_w < 6 || max_h < 1 {
        return None;
    }
    let (gw, gh) = (u32::from(graph_w.max(1)), u32::from(graph_h.max(1)));
    let h = (u32::from(max_w) * gh).div_ceil(gw).clamp(1, u32::from(max_h));
    let w = (h * gw).div_ceil(gh).clamp(6, u32::from(max_w));
    let (w, h) = (w as u16 + 2, h as u16 + 2);
    Some(Rect::new(inner.x + inner.width - w, inner.y + inner.height - h, w, h))
}

/// The graph point a cell of the map stands for (its cell's top-left corner); the map's
/// border takes one cell on each side.
pub fn minimap_to_world(map: Rect, graph_w: u16, graph_h: u16, col: u16, row: u16) -> Option<(u16, u16)> {
    let (iw, ih) = (map.width.checked_sub(2)?, map.height.checked_sub(2)?);
    if iw == 0 || ih == 0 || col <= map.x || row <= map.y || col >= map.x + map.width - 1 || row >= map.y + map.height - 1 {
        return None;
    }
    let (cx, cy) = (u32::from(col - map.x - 1), u32::from(row - map.y - 1));
    let x = cx * u32::from(graph_w) / u32::from(iw);
    let y = cy * u32::from(graph_h) / u32::from(ih);
    Some((x as u16, y as u16))
}

/// How much a status should show on the map: trouble first, then work under way.
fn weight(s: Status) -> u8 {
    match s {
        Status::Failed => 5,
        Status::Retrying => 4,
        Status::Running | Status::Waiting => 3,
        Status::Done | Status::Cached => 2,
        Status::Skipped => 1,
        Status::Queued => 0,
    }
}

/// Draws the map over `inner` (the graph view's inside) when the graph is larger than it.
pub fn draw(app: &App, inner: Rect, buf: &mut Buffer) {
    let lay = &app.layout;
    let Some(map) = minimap_rect(inner, lay.width, lay.height) else { return };
    let t = &app.theme;
    let (iw, ih) = (map.width - 2, map.height - 2);
    let (gw, gh) = (u32::from(lay.width.max(1)), u32::from(lay.height.max(1)));
    let cell_of = |x: u16, y: u16| -> (u16, u16) {
        (
            ((u32::from(x) * u32::from(iw)) / gw).min(u32::from(iw) - 1) as u16,
            ((u32::from(y) * u32::from(ih)) / gh).min(u32::from(ih) - 1) as u16,
        )
    };
    // The worst status among the boxes in each cell (None: no box).
    let mut cells: Vec<Option<Status>> = vec![None; usize::from(iw) * usize::from(ih)];
    let mut selected = None;
    for b in &lay.boxes {
        let (cx, cy) = cell_of(b.x + b.w / 2, b.y + b.h / 2);
        let slot = &mut cells[usize::from(cy) * usize::from(iw) + usize::from(cx)];
        let s = app.box_status(b.key);
        if slot.is_none_or(|old| weight(s) > weight(old)) {
            *slot = Some(s);
        }
        if b.key == app.selected {
            selected = Some((cx, cy));
        }
    }
    // The view's rectangle on the map.
    let (vx0, vy0) = cell_of(app.pan.0, app.pan.1);
    let (vx1, vy1) =
        cell_of(app.pan.0.saturating_add(inner.width).saturating_sub(1), app.pan.1.saturating_add(inner.height).saturating_sub(1));
    let border = Style::default().fg(t.border);
    for y in map.y..map.y + map.height {
        for x in map.x..map.x + map.width {
            let edge_x = x == map.x || x == map.x + map.width - 1;
            let edge_y = y == map.y || y == map.y + map.height - 1;
            let Some(c) = buf.cell_mut((x, y)) else { continue };
            if edge_x || edge_y {
                let ch = match (edge_x, edge_y, x == map.x, y == map.y) {
                    (true, true, true, true) => '┌',
                    (true, true, false, true) => '┐',
                    (true, true, true, false) => '└',
                    (true, true, false, false) => '┘',
                    (true, false, ..) => '│',
                    _ => '─',
                };
                c.set_char(ch).set_style(border);
                continue;
            }
            let (cx, cy) = (x - map.x - 1, y - map.y - 1);
            let in_view = cx >= vx0 && cx <= vx1 && cy >= vy0 && cy <= vy1;
            let (ch, mut style) = match cells[usize::from(cy) * usize::from(iw) + usize::from(cx)] {
                Some(s) => ('■', Style::default().fg(t.status_color(s))),
                None => (' ', Style::default()),
            };
            if in_view {
                style = style.bg(t.border);
            }
            if selected == Some((cx, cy)) {
                c.set_char('◆').set_style(Style::default().fg(t.accent).add_modifier(Modifier::BOLD).bg(if in_view {
                    t.border
                } else {
                    t.bg
                }));
                continue;
            }
            c.set_char(ch).set_style(style);
        }
    }
    let title = " map ";
    for (k, ch) in title.chars().enumerate() {
        if let Some(c) = buf.cell_mut((map.x + 2 + k as u16, map.y)) {
            c.set_char(ch).set_style(t.dim());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_appears_only_for_a_graph_larger_than_the_view_and_clicks_map_back() {
        let inner = Rect::new(1, 1, 100, 40);
        assert_eq!(minimap_rect(inner, 90, 30), None, "it all fits");
        assert_eq!(minimap_rect(inner, 180, 70), None, "the view shows most of it");
        let m = minimap_rect(inner, 400, 4000).expect("a map");
        assert_eq!((m.x + m.width, m.y + m.height), (101, 41), "bottom-right corner");
        assert_eq!(minimap_to_world(m, 400, 4000, m.x + 1, m.y + 1), Some((0, 0)));
        let (x, y) = minimap_to_world(m, 400, 4000, m.x + m.width - 2, m.y + m.height - 2).expect("inside");
        assert!(x > 300 && y > 3000, "the last cell is the graph's far corner: {x},{y}");
        assert_eq!(minimap_to_world(m, 400, 4000, m.x, m.y), None, "the border is not the map");
        assert_eq!(minimap_rect(Rect::new(0, 0, 20, 8), 400, 400), None, "too small to spare");
        let flat = minimap_rect(inner, 2000, 5).expect("a map");
        assert_eq!(flat.height, 3, "a long flat graph gets a one-row map");
    }
}
