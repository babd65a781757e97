//! Themes: named colours for every role on screen, read from TOML. Built-in themes are embedded
//! from `themes/`; `--theme` takes a name (built-in, or a file in the user theme directory) or a
//! path. A bad theme file is an error with its line, never silently replaced. `NO_COLOR` turns
//! every colour off and carries meaning with bold, reverse and symbols instead.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Source, nearest};
use crate::state::Status;

pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("catppuccin-mocha", include_str!("../../themes/catppuccin-mocha.toml")),
    ("catppuccin-latte", include_str!("../../themes/catppuccin-latte.toml")),
    ("gruvbox-dark", include_str!("../../themes/gruvbox-dark.toml")),
    ("solarized-dark", include_str!("../../themes/solarized-dark.toml")),
    ("solarized-light", include_str!("../../themes/solarized-light.toml")),
    ("tokyo-night", include_str!("../../themes/tokyo-night.toml")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub fg: Color,
    pub bg: Color,
    pub dim: Color,
    pub border: Color,
    pub border_focus: Color,
    pub title: Color,
    pub accent: Color,
    pub selection: Color,
    pub queued: Color,
    pub running: Color,
    pub retrying: Color,
    pub done: Color,
    pub cached: Color,
    pub skipped: Color,
    pub failed: Color,
    pub critical: Color,
    pub heat_low: Color,
    pub heat_mid: Color,
    pub heat_high: Color,
    pub better: Color,
    pub worse: Color,
    /// No colours at all (`NO_COLOR`): meaning is carried by modifiers and symbols.
    pub mono: bool,
}

macro_rules! colors {
    ($($field:ident),* $(,)?) => {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct RawColors { $($field: Option<Spanned<String>>,)* }

        fn apply(src: &Source, raw: &RawColors, t: &mut Theme, diags: &mut Diagnostics) {
            $(
                if let Some(v) = &raw.$field {
                    match parse_color(v.get_ref()) {
                        Ok(c) => t.$field = c,
                        Err(e) => diags.push(src.error(v.span(), e).with_help("use a name (red, lightblue, gray...), \"#rrggbb\", 0-255 or \"reset\"")),
                    }
                }
            )*
        }
    };
}

colors!(
    fg,
    bg,
    dim,
    border,
    border_focus,
    title,
    accent,
    selection,
    queued,
    running,
    retrying,
    done,
    cached,
    skipped,
    failed,
    critical,
    heat_low,
    heat_mid,
    heat_high,
    better,
    worse
);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    theme: RawHeader,
    #[serde(default)]
    colors: RawColorsAliased,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
}

/// The file spells foreground/background in full; the struct uses fg/bg.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawColorsAliased {
    foreground: Option<Spanned<String>>,
    background: Option<Spanned<String>>,
    dim: Option<Spanned<String>>,
    border: Option<Spanned<String>>,
    border_focus: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    accent: Option<Spanned<String>>,
    selection: Option<Spanned<String>>,
    queued: Option<Spanned<String>>,
    running: Option<Spanned<String>>,
    retrying: Option<Spanned<String>>,
    done: Option<Spanned<String>>,
    cached: Option<Spanned<String>>,
    skipped: Option<Spanned<String>>,
    failed: Option<Spanned<String>>,
    critical: Option<Spanned<String>>,
    heat_low: Option<Spanned<String>>,
    heat_mid: Option<Spanned<String>>,
    heat_high: Option<Spanned<String>>,
    better: Option<Spanned<String>>,
    worse: Option<Spanned<String>>,
}

impl From<RawColorsAliased> for RawColors {
    fn from(r: RawColorsAliased) -> RawColors {
        RawColors {
            fg: r.foreground,
            bg: r.background,
            dim: r.dim,
            border: r.border,
            border_focus: r.border_focus,
            title: r.title,
            accent: r.accent,
            selection: r.selection,
            queued: r.queued,
            running: r.running,
            retrying: r.retrying,
            done: r.done,
            cached: r.cached,
            skipped: r.skipped,
            failed: r.failed,
            critical: r.critical,
            heat_low: r.heat_low,
            heat_mid: r.heat_mid,
            heat_high: r.heat_high,
            better: r.better,
            worse: r.worse,
        }
    }
}

fn parse_color(s: &str) -> Result<Color, String> {
    let t = s.trim();
    if let Ok(i) = t.parse::<u8>() {
        return Ok(Color::Indexed(i));
    }
    Color::from_str(t).map_err(|_| format!("'{t}' is not a colour"))
}

/// A fallback with basic colours, used only as the base that theme files fill in.
fn base() -> Theme {
    Theme {
        name: "base".into(),
        fg: Color::Reset,
        bg: Color::Reset,
        dim: Color::DarkGray,
        border: Color::DarkGray,
        border_focus: Color::LightBlue,
        title: Color::White,
        accent: Color::LightBlue,
        selection: Color::DarkGray,
        queued: Color::DarkGray,
        running: Color::LightCyan,
        retrying: Color::Yellow,
        done: Color::Green,
        cached: Color::Cyan,
        skipped: Color::DarkGray,
        failed: Color::Red,
        critical: Color::LightMagenta,
        heat_low: Color::Green,
        heat_mid: Color::Yellow,
        heat_high: Color::Red,
        better: Color::Green,
        worse: Color::Red,
        mono: false,
    }
}

impl Theme {
    /// Parses a theme file; colours it leaves out come from the dark theme.
    pub fn parse(src: &Source) -> Result<Theme, Diagnostics> {
        let raw: RawTheme = toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?;
        let mut t = if src.name.contains("<built-in dark") { base() } else { Theme::dark() };
        t.name = raw.theme.name;
        let mut diags = Diagnostics::default();
        apply(src, &raw.colors.into(), &mut t, &mut diags);
        if diags.has_errors() { Err(diags) } else { Ok(t) }
    }

    pub fn dark() -> Theme {
        // The embedded file is tested to parse; the basic palette is only a guard.
        Theme::parse(&Source::new("<built-in dark.toml>", BUILTIN[0].1)).unwrap_or_else(|_| base())
    }

    pub fn builtin(name: &str) -> Option<Theme> {
        let (n, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Theme::parse(&Source::new(format!("<built-in {n}.toml>"), *text)).ok()
    }

    /// Resolves `--theme`: a path, a built-in name, or `<config>/themes/NAME.toml`.
    pub fn load(arg: Option<&str>, user_dir: Option<&Path>) -> Result<Theme, Diagnostics> {
        let Some(arg) = arg else { return Ok(Theme::dark()) };
        let path = Path::new(arg);
        if path.is_file() {
            return Theme::parse(&Source::read(path)?);
        }
        if let Some(dir) = user_dir {
            let p = dir.join(format!("{arg}.toml"));
            if p.is_file() {
                return Theme::parse(&Source::read(&p)?);
            }
        }
        if let Some(t) = Theme::builtin(arg) {
            return Ok(t);
        }
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        let mut help = format!("built-in themes: {}; or give a path to a theme file", names.join(", "));
        if let Some(d) = user_dir {
            help.push_str(&format!(", or put NAME.toml in {}", d.display()));
        }
        if let Some(best) = nearest(arg, names.iter().copied()) {
            help = format!("did you mean '{best}'? ({help})");
        }
        Err(Diagnostic::file_error(arg, format!("no theme named '{arg}'")).with_help(help).into())
    }

    /// The same theme with every colour off.
    pub fn monochrome(mut self) -> Theme {
        for c in [
            &mut self.fg,
            &mut self.bg,
            &mut self.dim,
            &mut self.border,
            &mut self.border_focus,
            &mut self.title,
            &mut self.accent,
            &mut self.selection,
            &mut self.queued,
            &mut self.running,
            &mut self.retrying,
            &mut self.done,
            &mut self.cached,
            &mut self.skipped,
            &mut self.failed,
            &mut self.critical,
            &mut self.heat_low,
            &mut self.heat_mid,
            &mut self.heat_high,
            &mut self.better,
            &mut self.worse,
        ] {
            *c = Color::Reset;
        }
        self.mono = true;
        self
    }

    pub fn base_style(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }

    pub fn dim(&self) -> Style {
        if self.mono { Style::default().add_modifier(Modifier::DIM) } else { Style::default().fg(self.dim) }
    }

    pub fn status_color(&self, s: Status) -> Color {
        match s {
            Status::Queued | Status::Waiting => self.queued,
            Status::Running => self.running,
            Status::Retrying => self.retrying,
            Status::Done => self.done,
            Status::Cached => self.cached,
            Status::Skipped => self.skipped,
            Status::Failed => self.failed,
        }
    }

    pub fn status(&self, s: Status) -> Style {
        let st = Style::default().fg(self.status_color(s));
        if !self.mono {
            return st;
        }
        match s {
            Status::Running | Status::Retrying => st.add_modifier(Modifier::BOLD),
            Status::Failed => st.add_modifier(Modifier::REVERSED),
            Status::Queued | Status::Waiting | Status::Skipped => st.add_modifier(Modifier::DIM),
            Status::Done | Status::Cached => st,
        }
    }

    pub fn selected(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().bg(self.selection).add_modifier(Modifier::BOLD)
        }
    }

    pub fn critical(&self) -> Style {
        Style::default().fg(self.critical).add_modifier(Modifier::BOLD)
    }

    /// Colour for a share of the largest cost: green, then yellow, then red.
    pub fn heat(&self, share: f64) -> Color {
        if share >= 0.66 {
            self.heat_high
        } else if share >= 0.25 {
            self.heat_mid
        } else {
            self.heat_low
        }
    }
}

/// The symbol for a status, so meaning survives without colour.
pub fn status_symbol(s: Status) -> &'static str {
    match s {
        Status::Queued => "·",
        Status::Waiting => "⧗",
        Status::Running => "●",
        Status::Retrying => "↻",
        Status::Done => "✓",
        Status::Cached => "◆",
        Status::Skipped => "⊘",
        Status::Failed => "✗",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_without_fallback() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(&Source::new(format!("{name}.toml"), *text)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.name, *name);
        }
        assert_eq!(Theme::dark().failed, Color::Rgb(0xf3, 0x8b, 0xa8));
    }

    #[test]
    fn bad_colour_is_reported_with_its_line() {
        let src = Source::new("mine.toml", "[theme]\nname = \"mine\"\n[colors]\nfailed = \"reddish\"\n");
        let e = Theme::parse(&src).expect_err("bad colour");
        assert!(e.to_string().starts_with("mine.toml:4:10: error: 'reddish' is not a colour"), "{e}");
        let src = Source::new("mine.toml", "[theme]\nname = \"mine\"\n[colors]\nfaild = \"red\"\n");
        let e = Theme::parse(&src).expect_err("unknown key");
        assert!(e.to_string().contains("did you mean 'failed'?"), "{e}");
    }

    #[test]
    fn unknown_theme_name_suggests() {
        let e = Theme::load(Some("drak"), None).expect_err("unknown");
        assert!(e.to_string().contains("did you mean 'dark'?"), "{e}");
    }

    #[test]
    fn monochrome_drops_colours() {
        let t = Theme::dark().monochrome();
        assert_eq!(t.failed, Color::Reset);
        assert!(t.status(Status::Failed).add_modifier.contains(Modifier::REVERSED));
    }
}
