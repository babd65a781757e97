//! The run picker (filled in by the next commit).

use super::app::{App, Command};

#[derive(Debug, Default)]
pub struct Picker {}

impl App {
    pub(crate) fn open_runs(&mut self) -> Vec<Command> {
        self.message = Some("the run picker is not there yet".into());
        Vec::new()
    }
}

pub fn draw(_f: &mut ratatui::Frame, _app: &App, _area: ratatui::layout::Rect) {}
