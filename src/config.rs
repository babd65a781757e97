//! The user's settings: `config.toml` in Baton's configuration directory, for the defaults a
//! user sets once (theme, catalog files, default strategy, keymap, data directory, OTLP
//! endpoint), under environment variables, under flags. Each setting remembers where its value
//! came from, so `baton config` can say.
//!
//! The file is read once per process ([`settings`]); a bad file is an error with its line,
//! reported before any command runs ([`check`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostics, Source};

/// Baton's configuration directory: `$BATON_CONFIG_DIR`, else `$XDG_CONFIG_HOME/baton` (or the
/// platform's equivalent).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BATON_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    dirs::config_dir().map(|d| d.join("baton"))
}

/// Where a setting's value came from, weakest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetBy {
    Default,
    /// The config file, at this 1-based line.
    File(PathBuf, usize),
    Env(&'static str),
    Flag(&'static str),
}

impl std::fmt::Display for SetBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetBy::Default => f.write_str("default"),
            SetBy::File(p, line) => write!(f, "file {}:{line}", p.display()),
            SetBy::Env(v) => write!(f, "env {v}"),
            SetBy::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub from: SetBy,
}

impl<T> Setting<T> {
    fn default(value: T) -> Setting<T> {
        Setting { value, from: SetBy::Default }
    }
}

/// The effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The config file read (whether or not it exists).
    pub file: Option<PathBuf>,
    pub file_found: bool,
    /// A theme name or path; `None`: the built-in dark theme.
    pub theme: Setting<Option<String>>,
    /// Catalog files layered over the built-in one (LiteLLM price tables under the user's
    /// `models.toml`, catalog TOML over it), in order.
    pub catalogs: Setting<Vec<PathBuf>>,
    /// The strategy when neither a flag nor the flow names one; `None`: smart.
    pub strategy: Setting<Option<String>>,
    /// The keymap file; `None`: `<config dir>/keymap.toml` if present, else the built-in keys.
    pub keymap: Setting<Option<PathBuf>>,
    /// Where recordings go; `None` when the platform has no data directory.
    pub data_dir: Setting<Option<PathBuf>>,
    /// Where runs send their spans (OTLP/HTTP); `None`: nowhere.
    pub otlp_endpoint: Setting<Option<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    theme: Option<Spanned<String>>,
    #[serde(default)]
    catalogs: Option<Spanned<Vec<String>>>,
    strategy: Option<Spanned<String>>,
    keymap: Option<Spanned<String>>,
    data_dir: Option<Spanned<String>>,
    otlp_endpoint: Option<Spanned<String>>,
}

/// A path from the config file: `~/` is the home directory; relative paths are relative to the
/// config directory, where the file is.
fn resolve(p: &str, dir: &Path) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    dir.join(p)
}

fn env(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads the settings from `dir`'s config.toml (if any) and the environment.
pub fn read(dir: Option<&Path>) -> Result<Settings, Diagnostics> {
    let file = dir.map(|d| d.join("config.toml"));
    let found = file.as_ref().is_some_and(|f| f.is_file());
    let (raw, src) = match file.as_ref().filter(|_| found) {
        Some(f) => {
            let src = Source::read(f)?;
            let raw: RawConfig = toml::from_str(&src.text).map_err(|e| Diagnostics::from(src.toml_error(&e)))?;
            (raw, Some(src))
        }
        None => (RawConfig::default(), None),
    };
    let dir = dir.unwrap_or(Path::new("."));
    let at = |span: std::ops::Range<usize>| match (&file, &src) {
        (Some(f), Some(s)) => SetBy::File(f.clone(), s.locate(span.start).0),
        _ => SetBy::Default,
    };
    let mut diags = Diagnostics::default();
    let text = |v: &Option<Spanned<String>>, diags: &mut Diagnostics, what: &str| -> Option<Setting<Option<String>>> {
        let v = v.as_ref()?;
        if v.get_ref().trim().is_empty() {
            if let Some(s) = &src {
                diags.push(
                    s.error(v.span(), format!("{what} is empty")).with_help(format!("give a {what}, or remove the line for the default")),
                );
            }
            return None;
        }
        Some(Setting { value: Some(v.get_ref().clone()), from: at(v.span()) })
    };

    let mut theme = text(&raw.theme, &mut diags, "theme").unwrap_or(Setting::default(None));
    let mut strategy = text(&raw.strategy, &mut diags, "strategy").unwrap_or(Setting::default(None));
    let mut otlp = text(&raw.otlp_endpoint, &mut diags, "otlp_endpoint").unwrap_or(Setting::default(None));
    if let (Some(v), Some(s)) = (&raw.otlp_endpoint, &src)
        && !(v.get_ref().starts_with("http://") || v.get_ref().starts_with("https://"))
    {
        diags.push(
            s.error(v.span(), format!("otlp_endpoint '{}' is not an http(s) URL", v.get_ref()))
                .with_help("give the collector's OTLP/HTTP base URL, e.g. \"http://localhost:4318\""),
        );
    }
    let path = |v: &Option<Spanned<String>>, diags: &mut Diagnostics, what: &str| {
        text(v, diags, what).map(|s| Setting { value: s.value.map(|p| resolve(&p, dir)), from: s.from })
    };
    let mut keymap = path(&raw.keymap, &mut diags, "keymap").unwrap_or(Setting::default(None));
    let default_data = dirs::data_dir().map(|d| d.join("baton"));
    let mut data_dir = path(&raw.data_dir, &mut diags, "data_dir").unwrap_or(Setting::default(default_data));
    let catalogs = match &raw.catalogs {
        Some(c) => Setting { value: c.get_ref().iter().map(|p| resolve(p, dir)).collect(), from: at(c.span()) },
        None => Setting::default(Vec::new()),
    };
    if diags.has_errors() {
        return Err(diags);
    }

    for (slot, var) in [(&mut theme, "BATON_THEME"), (&mut strategy, "BATON_STRATEGY"), (&mut otlp, "OTEL_EXPORTER_OTLP_ENDPOINT")] {
        if let Some(v) = env(var) {
            *slot = Setting { value: Some(v), from: SetBy::Env(var) };
        }
    }
    if let Some(v) = env("BATON_KEYMAP") {
        keymap = Setting { value: Some(PathBuf::from(v)), from: SetBy::Env("BATON_KEYMAP") };
    }
    if let Some(v) = std::env::var_os("BATON_DATA_DIR").filter(|v| !v.is_empty()) {
        data_dir = Setting { value: Some(PathBuf::from(v)), from: SetBy::Env("BATON_DATA_DIR") };
    }
    Ok(Settings { file, file_found: found, theme, catalogs, strategy, keymap, data_dir, otlp_endpoint: otlp })
}

static SETTINGS: OnceLock<Result<Settings, Diagnostics>> = OnceLock::new();

/// The settings of this process, read once from [`config_dir`] and the environment.
pub fn settings() -> &'static Result<Settings, Diagnostics> {
    SETTINGS.get_or_init(|| read(config_dir().as_deref()))
}

/// The settings, or the built-in defaults when the file is bad (commands stop on a bad file
/// before they get here: see [`check`]).
pub fn effective() -> Settings {
    match settings() {
        Ok(s) => s.clone(),
        Err(_) => Settings {
            file: None,
            file_found: false,
            theme: Setting::default(None),
            catalogs: Setting::default(Vec::new()),
            strategy: Setting::default(None),
            keymap: Setting::default(None),
            data_dir: Setting::default(
                std::env::var_os("BATON_DATA_DIR").map(PathBuf::from).or_else(|| dirs::data_dir().map(|d| d.join("baton"))),
            ),
            otlp_endpoint: Setting::default(None),
        },
    }
}

/// A bad config file, as the error every command stops on.
pub fn check() -> Result<(), Diagnostics> {
    settings().as_ref().map(|_| ()).map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(name: &str, text: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("baton-config-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        std::fs::write(d.join("config.toml"), text).expect("write");
        d
    }

    #[test]
    fn file_settings_say_their_line_and_paths_are_relative_to_the_file() {
        let d =
            dir_with("ok", "# mine\ntheme = \"gruvbox-dark\"\ncatalogs = [\"litellm.json\", \"/abs/mine.toml\"]\nstrategy = \"cascade\"\n");
        let s = read(Some(&d)).expect("reads");
        assert!(s.file_found);
        assert_eq!(s.theme.value.as_deref(), Some("gruvbox-dark"));
        assert_eq!(s.theme.from, SetBy::File(d.join("config.toml"), 2));
        assert_eq!(s.catalogs.value, vec![d.join("litellm.json"), PathBuf::from("/abs/mine.toml")]);
        assert_eq!(s.strategy.from, SetBy::File(d.join("config.toml"), 4));
        assert_eq!(s.keymap, Setting::default(None));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_missing_file_is_all_defaults() {
        let s = read(Some(Path::new("/nonexistent-baton-config"))).expect("reads");
        assert!(!s.file_found);
        assert_eq!(s.theme.from, SetBy::Default);
        assert!(s.catalogs.value.is_empty());
    }

    #[test]
    fn a_bad_file_is_an_error_with_its_line() {
        let d = dir_with("bad", "theme = \"dark\"\nstrategi = \"smart\"\n");
        let e = read(Some(&d)).expect_err("unknown key");
        let text = e.to_string();
        assert!(text.contains("config.toml:2:1"), "{text}");
        assert!(text.contains("strategi"), "{text}");
        let d2 = dir_with("url", "otlp_endpoint = \"localhost:4318\"\n");
        let e = read(Some(&d2)).expect_err("not a URL").to_string();
        assert!(e.contains("config.toml:1:17") && e.contains("not an http(s) URL"), "{e}");
        let d3 = dir_with("type", "catalogs = \"one.json\"\n");
        let e = read(Some(&d3)).expect_err("not a list").to_string();
        assert!(e.contains("config.toml:1:12"), "{e}");
        for d in [d, d2, d3] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
