//! The rules editor's model: the strategy's TOML in a real text area (ratatui-textarea),
//! validated on every keystroke with the error at its line, and what applying it would change.
//! Drawing it (and the model picker) is `editor_view`'s; this module knows nothing of `App`.

use std::sync::Arc;

use ratatui::style::{Modifier, Style};
use ratatui_textarea::TextArea;

use crate::diag::{Diagnostic, Source};
use crate::routing::{Catalog, Strategy};
use crate::tuning::Preview;

pub struct Editor {
    pub area: TextArea<'static>,
    /// The first error in the text as it stands.
    pub error: Option<Diagnostic>,
    /// The text parsed into a strategy, when it parses.
    pub candidate: Option<Arc<Strategy>>,
    /// What applying `candidate` would change (shown before it is applied).
    pub preview: Option<Preview>,
    /// Changed since it was loaded or saved.
    pub dirty: bool,
    pub name: String,
}

impl Editor {
    pub fn new(name: &str, text: &str, catalog: &Catalog) -> Editor {
        let mut area = TextArea::new(text.lines().map(str::to_string).collect());
        area.set_line_number_style(Style::default().add_modifier(Modifier::DIM));
        area.set_cursor_line_style(Style::default());
        let mut e = Editor { area, error: None, candidate: None, preview: None, dirty: false, name: name.to_string() };
        e.validate(catalog);
        e
    }

    /// Replaces the whole text (as an external tool or a test would) and validates it.
    pub fn set_text(&mut self, text: &str, catalog: &Catalog) {
        self.area = TextArea::new(text.lines().map(str::to_string).collect());
        self.area.set_line_number_style(Style::default().add_modifier(Modifier::DIM));
        self.dirty = true;
        self.validate(catalog);
    }

    pub fn text(&self) -> String {
        let mut t = self.area.lines().join("\n");
        t.push('\n');
        t
    }

    /// Parses the text; a strategy that does not parse never replaces the working one.
    pub fn validate(&mut self, catalog: &Catalog) {
        match Strategy::parse(&Source::new(self.name.clone(), self.text()), catalog) {
            Ok((s, _)) => {
                self.candidate = Some(Arc::new(s));
                self.error = None;
            }
            Err(d) => {
                self.candidate = None;
                self.error = d.errors().next().cloned();
            }
        }
    }

    /// Moves the cursor to the error.
    pub fn jump_to_error(&mut self) {
        if let Some(e) = &self.error {
            self.area.move_cursor(ratatui_textarea::CursorMove::Jump(e.line.saturating_sub(1) as u16, e.col.saturating_sub(1) as u16));
        }
    }
}
