//! Keys are data: a default table (keymap.toml) with a description per binding, overridable by
//! a user file. The help overlay is generated from the same table, so it cannot drift.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostics, Source, nearest};

pub const DEFAULT: &str = include_str!("keymap.toml");

/// Everything a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Help,
    Quit,
    Up,
    Down,
    Left,
    Right,
    Focus,
    Back,
    NextView,
    PrevView,
    StartStop,
    Pause,
    Faster,
    Slower,
    Zoom,
    Expand,
    PanLeft,
    PanRight,
    PanUp,
    PanDown,
    PageUp,
    PageDown,
    First,
    Last,
    Critical,
    Theme,
    Step,
    SeekBack,
    SeekForward,
    NodeStart,
    NodeEnd,
    WhatIf,
    EditRules,
    Pin,
    NextStrategy,
    Rerun,
    RerunAll,
    RerunNode,
    OpenStrategy,
    OpenFlow,
    Search,
    SearchNext,
    SearchPrev,
    Copy,
    CopyId,
    /// The selected node's raw exchange with its provider, try by try.
    Inspect,
    /// `baton watch`: open each new trace as it arrives.
    Follow,
    // The optimizer's pane, the frontier pick and the run picker (tuning/frontier.rs, picker.rs).
    Optimize,
    Apply,
    Runs,
}

const NAMES: &[(&str, Action)] = &[
    ("help", Action::Help),
    ("quit", Action::Quit),
    ("up", Action::Up),
    ("down", Action::Down),
    ("left", Action::Left),
    ("right", Action::Right),
    ("focus", Action::Focus),
    ("back", Action::Back),
    ("next_view", Action::NextView),
    ("prev_view", Action::PrevView),
    ("start_stop", Action::StartStop),
    ("pause", Action::Pause),
    ("faster", Action::Faster),
    ("slower", Action::Slower),
    ("zoom", Action::Zoom),
    ("expand", Action::Expand),
    ("pan_left", Action::PanLeft),
    ("pan_right", Action::PanRight),
    ("pan_up", Action::PanUp),
    ("pan_down", Action::PanDown),
    ("page_up", Action::PageUp),
    ("page_down", Action::PageDown),
    ("first", Action::First),
    ("last", Action::Last),
    ("critical", Action::Critical),
    ("theme", Action::Theme),
    ("step", Action::Step),
    ("seek_back", Action::SeekBack),
    ("seek_forward", Action::SeekForward),
    ("node_start", Action::NodeStart),
    ("node_end", Action::NodeEnd),
    ("what_if", Action::WhatIf),
    ("edit_rules", Action::EditRules),
    ("pin", Action::Pin),
    ("next_strategy", Action::NextStrategy),
    ("rerun", Action::Rerun),
    ("rerun_all", Action::RerunAll),
    ("rerun_node", Action::RerunNode),
    ("open_strategy", Action::OpenStrategy),
    ("open_flow", Action::OpenFlow),
    ("search", Action::Search),
    ("search_next", Action::SearchNext),
    ("search_prev", Action::SearchPrev),
    ("copy", Action::Copy),
    ("copy_id", Action::CopyId),
    ("inspect", Action::Inspect),
    ("follow", Action::Follow),
    ("optimize", Action::Optimize),
    ("apply", Action::Apply),
    ("runs", Action::Runs),
];

/// A key with its modifiers, as written in keymap files (`ctrl-c`, `shift-tab`, `G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
}

impl Key {
    pub fn parse(spec: &str) -> Result<Key, String> {
        let mut key = Key { code: KeyCode::Null, ctrl: false, alt: false, shift: false };
        let mut rest = spec;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                key.ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                key.alt = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-") {
                key.shift = true;
                rest = r;
            } else {
                break;
            }
        }
        key.code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" if key.shift => {
                key.shift = false;
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            c if c.chars().count() == 1 => {
                let ch = c.chars().next().unwrap_or(' ');
                // Letters carry their case; shift is implied by it.
                if ch.is_ascii_uppercase() {
                    key.shift = false;
                }
                KeyCode::Char(if key.shift && ch.is_ascii_lowercase() { ch.to_ascii_uppercase() } else { ch })
            }
            other => return Err(format!("unknown key '{other}'")),
        };
        if matches!(key.code, KeyCode::Char(_)) {
            key.shift = false;
        }
        Ok(key)
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        let mut k = Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
            shift: e.modifiers.contains(KeyModifiers::SHIFT),
        };
        // A shifted character arrives as its shifted form; the flag adds nothing.
        if matches!(k.code, KeyCode::Char(_) | KeyCode::BackTab) {
            k.shift = false;
        }
        k
    }
}

/// One row of the table: keys, action, description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<String>,
    pub action: Option<Action>,
    pub desc: String,
    /// The footer's word for it (`run/stop`), when the footer shows it.
    pub hint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
    map: HashMap<Key, Action>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    key: Vec<RawBinding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    on: Spanned<Vec<String>>,
    run: Spanned<String>,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    hint: Option<String>,
}

fn parse_file(src: &Source) -> Result<Vec<(Binding, Vec<Key>)>, Diagnostics> {
    let raw: RawFile = toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?;
    let mut diags = Diagnostics::default();
    let mut out = Vec::new();
    for b in raw.key {
        let name = b.run.get_ref().as_str();
        let action = if name == "none" {
            None
        } else {
            match NAMES.iter().find(|(n, _)| *n == name) {
                Some((_, a)) => Some(*a),
                None => {
                    let help = match nearest(name, NAMES.iter().map(|(n, _)| *n)) {
                        Some(best) => format!("did you mean '{best}'?"),
                        None => format!("actions: {}", NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")),
                    };
                    diags.push(src.error(b.run.span(), format!("unknown action '{name}'")).with_help(help));
                    continue;
                }
            }
        };
        let mut keys = Vec::new();
        for k in b.on.get_ref() {
            match Key::parse(k) {
                Ok(key) => keys.push(key),
                Err(e) => diags.push(src.error(b.on.span(), e).with_help("keys look like q, G, ctrl-c, shift-tab, enter, pageup, f1")),
            }
        }
        let desc = b.desc.unwrap_or_else(|| name.replace('_', " "));
        out.push((Binding { keys: b.on.get_ref().clone(), action, desc, hint: b.hint }, keys));
    }
    if diags.has_errors() { Err(diags) } else { Ok(out) }
}

impl Keymap {
    pub fn default_map() -> Keymap {
        // The embedded table is tested to parse.
        Keymap::build(parse_file(&Source::new("<built-in keymap.toml>", DEFAULT)).unwrap_or_default())
    }

    fn build(entries: Vec<(Binding, Vec<Key>)>) -> Keymap {
        let mut map = HashMap::new();
        let mut bindings = Vec::new();
        for (b, keys) in entries {
            for k in keys {
                if let Some(a) = b.action {
                    map.insert(k, a);
                }
            }
            bindings.push(b);
        }
        Keymap { bindings, map }
    }

    /// The default table with a user file's bindings laid over it.
    pub fn with_user(src: &Source) -> Result<Keymap, Diagnostics> {
        let user = parse_file(src)?;
        let mut base = parse_file(&Source::new("<built-in keymap.toml>", DEFAULT))?;
        for (ub, ukeys) in &user {
            // The user's keys leave whatever they did before.
            for (b, keys) in &mut base {
                let before = keys.len();
                let kept: Vec<(Key, String)> =
                    keys.iter().copied().zip(b.keys.iter().cloned()).filter(|(k, _)| !ukeys.contains(k)).collect();
                if kept.len() != before {
                    *keys = kept.iter().map(|(k, _)| *k).collect();
                    b.keys = kept.into_iter().map(|(_, s)| s).collect();
                }
            }
            match base.iter_mut().find(|(b, _)| b.action == ub.action && ub.action.is_some()) {
                Some((b, keys)) => {
                    b.keys.extend(ub.keys.iter().cloned());
                    keys.extend(ukeys.iter().copied());
                }
                None if ub.action.is_some() => base.push((ub.clone(), ukeys.clone())),
                None => {}
            }
        }
        Ok(Keymap::build(base))
    }

    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        self.map.get(&Key::from_event(e)).copied()
    }

    /// The first key bound to an action, for hints.
    pub fn key_for(&self, a: Action) -> Option<&str> {
        self.bindings.iter().find(|b| b.action == Some(a)).and_then(|b| b.keys.first()).map(String::as_str)
    }

    /// The footer's hints for a mode: the first key and the short word of each action the
    /// mode offers, from this table, so a rebinding shows at once and nothing can drift.
    pub fn hints(&self, mode: Mode) -> Vec<(String, String)> {
        mode.actions()
            .iter()
            .filter_map(|a| {
                let b = self.bindings.iter().find(|b| b.action == Some(*a))?;
                let word = mode.word(*a).map(String::from).or_else(|| b.hint.clone());
                Some((b.keys.first()?.clone(), word.unwrap_or_else(|| b.desc.clone())))
            })
            .collect()
    }

    /// The table as Markdown (keys, action, what it does), as README's keys section shows it.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| keys | action | what it does |\n|---|---|---|\n");
        for b in self.bindings.iter().filter(|b| b.action.is_some()) {
            let name = NAMES.iter().find(|(_, a)| Some(*a) == b.action).map_or("", |(n, _)| n);
            let keys: Vec<String> = b.keys.iter().map(|k| format!("`{}`", k.replace('|', "\\|"))).collect();
            out.push_str(&format!("| {} | `{name}` | {} |\n", keys.join(" "), b.desc.replace('|', "\\|")));
        }
        out
    }
}

/// What has the keys: the footer shows the actions of the mode in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Graph,
    Timeline,
    Log,
    /// The node panel has focus.
    Panel,
    /// Strategies side by side.
    Compare,
    /// A recording plays back.
    Replay,
    Help,
    /// The raw exchange overlay.
    Inspect,
    /// `baton watch`: the list of traces.
    Traces,
    /// `baton watch`: one trace open in the graph.
    Watched,
    /// The optimizer's pane (search progress and frontier).
    Optimize,
    /// The run picker.
    Runs,
}

impl Mode {
    /// The actions the footer names in this mode, most useful first.
    pub fn actions(self) -> &'static [Action] {
        use Action::*;
        match self {
            Mode::Graph => &[Help, Quit, StartStop, Pause, Search, Expand, Zoom, Focus, NextView, EditRules, Rerun, Optimize, Runs],
            Mode::Timeline => &[Help, Quit, StartStop, Pause, Down, PageDown, Last, Search, Focus, NextView],
            Mode::Log => &[Help, Quit, PageUp, PageDown, NextView],
            Mode::Panel => &[Back, Down, PageDown, Inspect, Copy, CopyId, Pin, RerunNode, Help],
            Mode::Compare => &[Help, Quit, StartStop, Pause, NextView, Focus, Search, Apply],
            Mode::Replay => &[Help, Quit, Pause, SeekBack, SeekForward, Step, WhatIf, Inspect, NextView, Search],
            Mode::Help => &[Help, Down, PageDown],
            Mode::Inspect => &[Back, Down, PageDown, Last, Quit],
            Mode::Traces => &[Help, Quit, Down, Focus, Follow, Last],
            Mode::Watched => &[Help, Quit, Back, Follow, Focus, NextView, Search, Expand, Zoom],
            Mode::Optimize => &[Back, Down, Apply, Optimize, Help, Quit],
            Mode::Runs => &[Back, Down, Search, Quit],
        }
    }

    /// The footer's word for an action where this mode gives its key another meaning.
    pub fn word(self, a: Action) -> Option<&'static str> {
        match (self, a) {
            (Mode::Traces, Action::Focus) => Some("open"),
            (Mode::Traces, Action::Down) => Some("move"),
            (Mode::Traces, Action::Last) => Some("oldest"),
            (Mode::Watched, Action::Back) => Some("traces"),
            (Mode::Inspect, Action::Back) => Some("close"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn default_table_parses_and_maps() {
        let km = Keymap::default_map();
        assert!(km.bindings.len() >= 20);
        assert_eq!(km.action(&ev(KeyCode::Char('j'), KeyModifiers::NONE)), Some(Action::Down));
        assert_eq!(km.action(&ev(KeyCode::Down, KeyModifiers::NONE)), Some(Action::Down));
        assert_eq!(km.action(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(km.action(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)), Some(Action::Last));
        assert_eq!(km.action(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)), Some(Action::PrevView));
        assert_eq!(km.action(&ev(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::Help));
        assert_eq!(km.action(&ev(KeyCode::Left, KeyModifiers::SHIFT)), Some(Action::PanLeft));
        // Every action has a key and a description.
        for (name, a) in NAMES {
            assert!(km.key_for(*a).is_some(), "{name} has no key");
        }
    }

    #[test]
    fn user_file_rebinds_and_unbinds() {
        let src = Source::new("keys.toml", "[[key]]\non = [\"x\"]\nrun = \"quit\"\n\n[[key]]\non = [\"j\"]\nrun = \"none\"\n");
        let km = Keymap::with_user(&src).expect("parses");
        assert_eq!(km.action(&ev(KeyCode::Char('x'), KeyModifiers::NONE)), Some(Action::Quit));
        assert_eq!(km.action(&ev(KeyCode::Char('j'), KeyModifiers::NONE)), None);
        assert_eq!(km.action(&ev(KeyCode::Down, KeyModifiers::NONE)), Some(Action::Down));
        let help: Vec<&Binding> = km.bindings.iter().filter(|b| b.action == Some(Action::Quit)).collect();
        assert!(help[0].keys.contains(&"x".to_string()));
    }

    /// README's keys table is the keymap's own: `BATON_BLESS=1 cargo test readme_keys` rewrites
    /// it after a change to keymap.toml.
    #[test]
    fn readme_keys_table_is_the_keymap() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).expect("README");
        let (open, close) = ("<!-- keys -->\n", "<!-- /keys -->");
        let start = readme.find(open).expect("README has a <!-- keys --> block") + open.len();
        let end = start + readme[start..].find(close).expect("the block is closed");
        let table = Keymap::default_map().markdown();
        if std::env::var_os("BATON_BLESS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[end..])).expect("write README");
            return;
        }
        assert_eq!(&readme[start..end], table, "README's keys table differs from keymap.toml; run BATON_BLESS=1 cargo test readme_keys");
    }

    #[test]
    fn every_mode_hints_keys_that_exist() {
        let km = Keymap::default_map();
        for m in [
            Mode::Graph,
            Mode::Timeline,
            Mode::Log,
            Mode::Panel,
            Mode::Compare,
            Mode::Replay,
            Mode::Help,
            Mode::Inspect,
            Mode::Traces,
            Mode::Watched,
            Mode::Optimize,
            Mode::Runs,
        ] {
            let hints = km.hints(m);
            assert_eq!(hints.len(), m.actions().len(), "{m:?}: every action it names has a key");
            for (k, _) in &hints {
                let key = Key::parse(k).expect("a key");
                let a = km.map.get(&key).copied();
                assert!(m.actions().contains(&a.expect("bound")), "{m:?}: {k} does what the footer says");
            }
        }
        // A rebinding shows in the footer at once.
        let src = Source::new("keys.toml", "[[key]]\non = [\"F\"]\nrun = \"search\"\n");
        let km = Keymap::with_user(&src).expect("parses");
        assert!(km.hints(Mode::Graph).contains(&("/".to_string(), "search".to_string())));
        let src = Source::new("keys.toml", "[[key]]\non = [\"/\"]\nrun = \"none\"\n\n[[key]]\non = [\"F\"]\nrun = \"search\"\n");
        let km = Keymap::with_user(&src).expect("parses");
        assert!(km.hints(Mode::Graph).contains(&("F".to_string(), "search".to_string())), "{:?}", km.hints(Mode::Graph));
    }

    #[test]
    fn bad_user_file_points_at_the_line() {
        let src = Source::new("keys.toml", "[[key]]\non = [\"x\"]\nrun = \"quitt\"\n");
        let e = Keymap::with_user(&src).expect_err("unknown action");
        assert!(e.to_string().starts_with("keys.toml:3:7: error: unknown action 'quitt'"), "{e}");
        assert!(e.to_string().contains("did you mean 'quit'?"));
    }
}
