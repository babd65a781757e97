//! `/` search: nodes by name, incremental, `n`/`N` for the next and previous match, and `y`/`Y`
//! to copy what is selected (the copy itself is a [`Command`] the loop carries out).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Command, Search};
use super::keymap::Action;
use super::layout::BoxKey;

impl App {
    /// Nodes whose id contains the query (ignoring case), in reading order.
    pub fn search_matches(&self) -> Vec<usize> {
        let Some(s) = &self.search else { return Vec::new() };
        let q = s.query.to_lowercase();
        if q.is_empty() {
            return Vec::new();
        }
        self.flow.order.iter().copied().filter(|&n| self.flow.nodes[n].id.to_lowercase().contains(&q)).collect()
    }

    pub(super) fn search_action(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Search => {
                self.search = Some(Search { query: String::new(), typing: true, origin: self.selected, opened: Vec::new() });
            }
            Action::SearchNext | Action::SearchPrev => self.jump(if action == Action::SearchNext { 1 } else { -1 }),
            Action::Copy | Action::CopyId => return self.copy(action == Action::CopyId),
            _ => {}
        }
        Vec::new()
    }

    /// Keys while the query is typed.
    pub(super) fn search_key(&mut self, k: KeyEvent) -> Vec<Command> {
        let Some(s) = self.search.as_mut() else { return Vec::new() };
        match k.code {
            KeyCode::Esc => {
                self.selected = s.origin;
                for g in std::mem::take(&mut s.opened) {
                    self.folded[g] = true;
                }
                self.search = None;
                self.refresh_layout();
                self.keep_selection_in_view();
            }
            KeyCode::Enter => {
                s.typing = false;
                if self.search_matches().is_empty() {
                    self.search = None;
                    self.message = Some("no node matches".into());
                }
            }
            KeyCode::Backspace => {
                s.query.pop();
                self.jump(0);
            }
            KeyCode::Char(c) if !k.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                s.query.push(c);
                self.jump(0);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Moves to a match: the first at or after the selection (`0`), the next (`1`) or the
    /// previous (`-1`), wrapping around.
    fn jump(&mut self, d: i32) {
        let matches = self.search_matches();
        if matches.is_empty() {
            if self.search.as_ref().is_some_and(|s| !s.typing) || self.search.is_none() {
                self.message = Some("no search: / searches nodes by name".into());
            }
            return;
        }
        let order: Vec<usize> = self.flow.order.clone();
        let rank = |n: usize| order.iter().position(|&x| x == n).unwrap_or(0);
        let here = rank(self.selected.node());
        let pick = match d {
            0 => matches.iter().copied().find(|&n| rank(n) >= here).unwrap_or(matches[0]),
            1 => matches.iter().copied().find(|&n| rank(n) > here).unwrap_or(matches[0]),
            _ => matches.iter().rev().copied().find(|&n| rank(n) < here).unwrap_or(matches[matches.len() - 1]),
        };
        self.show_match(pick);
        self.panel_scroll = 0;
        self.keep_selection_in_view();
        if d != 0 {
            let i = matches.iter().position(|&n| n == pick).unwrap_or(0);
            self.message = Some(format!("{} · match {} of {}", self.flow.nodes[pick].id, i + 1, matches.len()));
        }
    }

    /// Selects a match, unfolding its sibling run if it is folded, and folding again the run
    /// the previous match had this search unfold.
    fn show_match(&mut self, pick: usize) {
        let run = self.siblings.of[pick];
        if let Some(s) = self.search.as_mut() {
            for g in std::mem::take(&mut s.opened) {
                if Some(g) == run {
                    s.opened.push(g);
                } else {
                    self.folded[g] = true;
                }
            }
            if let Some(g) = run
                && self.folded[g]
            {
                self.folded[g] = false;
                s.opened.push(g);
            }
        }
        self.selected = BoxKey::Node(pick);
        self.refresh_layout();
    }

    /// What the footer says while a search is on: the query, the count, the keys.
    pub fn search_line(&self) -> Option<String> {
        let s = self.search.as_ref()?;
        let n = self.search_matches().len();
        let at = self.search_matches().iter().position(|&m| m == self.selected.node());
        let count = match (n, at) {
            (0, _) => "no match".to_string(),
            (n, Some(i)) => format!("{} of {n}", i + 1),
            (n, None) => format!("{n} matches"),
        };
        Some(if s.typing {
            format!("/{}▏ {count} · Enter keep · Esc back", s.query)
        } else {
            format!("/{} {count} · n next · N prev · / new search", s.query)
        })
    }

    /// Copies the selected unit's output (or its id): the text goes to the loop, which puts it
    /// on the clipboard with OSC 52 and in a file, since a terminal may refuse OSC 52.
    fn copy(&mut self, id_only: bool) -> Vec<Command> {
        let Some(u) = self.unit_for_box(self.selected) else { return Vec::new() };
        let st = &self.player.state;
        let unit = &st.units[u];
        let (what, text) = if id_only || unit.text().is_empty() { ("id", unit.label.clone()) } else { ("output", unit.text().to_string()) };
        vec![Command::Copy { what: format!("{what} of {}", unit.label), text, file: self.clip_file.clone() }]
    }
}
