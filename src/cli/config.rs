//! `baton config`: the effective settings and where each came from (default, the config file
//! with its line, an environment variable, or a flag given here).

use std::path::PathBuf;

use clap::Args;

use super::Format;
use super::error::Exit;
use super::output::{print_out, to_json};
use crate::config::{SetBy, Setting};
use crate::report::Table;

#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Show the settings as a command given this --theme would use them.
    #[arg(long, value_name = "NAME|FILE")]
    pub theme: Option<String>,
    /// Show the settings as a command given this --strategy would use them.
    #[arg(short, long, value_name = "S")]
    pub strategy: Option<String>,
    /// Show the settings as a command given this --catalog would use them.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// One row: the setting's name, its value as text, and where it came from.
struct Row {
    name: &'static str,
    value: String,
    from: SetBy,
}

fn row<T>(name: &'static str, s: &Setting<T>, show: impl Fn(&T) -> String) -> Row {
    Row { name, value: show(&s.value), from: s.from.clone() }
}

fn flag<T>(s: &mut Setting<T>, v: Option<T>, name: &'static str) {
    if let Some(v) = v {
        *s = Setting { value: v, from: SetBy::Flag(name) };
    }
}

pub fn config(a: ConfigArgs) -> Exit {
    let mut s = crate::config::settings().clone()?;
    flag(&mut s.theme, a.theme.map(Some), "--theme");
    flag(&mut s.strategy, a.strategy.map(Some), "--strategy");
    if let Some(c) = a.catalog {
        // --catalog adds to the files config.toml names.
        let mut all = s.catalogs.value.clone();
        all.push(c);
        s.catalogs = Setting { value: all, from: SetBy::Flag("--catalog") };
    }
    let path = |p: &Option<PathBuf>| p.as_ref().map_or(String::new(), |p| p.display().to_string());
    let dir = crate::config::config_dir();
    let user_models = dir.as_ref().map(|d| d.join("models.toml")).filter(|p| p.is_file());
    let rows = vec![
        row("theme", &s.theme, |v| v.clone().unwrap_or_else(|| "dark (built in)".into())),
        row("catalogs", &s.catalogs, |v| {
            let mut parts: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
            if let Some(m) = &user_models {
                parts.push(format!("{} (your overrides, always read)", m.display()));
            }
            if parts.is_empty() { "built in only".into() } else { format!("built in, then {}", parts.join(", ")) }
        }),
        row("strategy", &s.strategy, |v| v.clone().unwrap_or_else(|| "the flow's own, else smart".into())),
        row("keymap", &s.keymap, |v| match v {
            Some(p) => p.display().to_string(),
            None => match dir.as_ref().map(|d| d.join("keymap.toml")).filter(|p| p.is_file()) {
                Some(p) => format!("{} (found in the config directory)", p.display()),
                None => "built in".into(),
            },
        }),
        row("data_dir", &s.data_dir, path),
        row("otlp_endpoint", &s.otlp_endpoint, |v| v.clone().unwrap_or_else(|| "none".into())),
    ];
    let file = s.file.as_ref().map_or("none (no configuration directory)".to_string(), |f| {
        format!(
            "{}{}",
            f.display(),
            if s.file_found { "" } else { " (not present: every setting is a default, an environment variable or a flag)" }
        )
    });
    if a.format == Format::Json {
        let settings: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| {
                let from = match &r.from {
                    SetBy::Default => serde_json::json!({ "source": "default" }),
                    SetBy::File(p, line) => serde_json::json!({ "source": "file", "file": p.display().to_string(), "line": line }),
                    SetBy::Env(v) => serde_json::json!({ "source": "env", "variable": v }),
                    SetBy::Flag(f) => serde_json::json!({ "source": "flag", "flag": f }),
                };
                (r.name.to_string(), serde_json::json!({ "value": r.value, "from": from }))
            })
            .collect();
        let out = serde_json::json!({
            "config_file": s.file.as_ref().map(|f| f.display().to_string()),
            "config_file_found": s.file_found,
            "settings": settings,
        });
        return Ok(print_out(&to_json(&out)));
    }
    let mut t = Table::new(&[("SETTING", false), ("VALUE", false), ("FROM", false)]);
    for r in rows {
        t.row(vec![r.name.to_string(), r.value, r.from.to_string()]);
    }
    let mut text = format!("config file: {file}\n\n");
    text.push_str(&t.render());
    text.push_str("\nPrecedence: flag, then environment (BATON_THEME, BATON_STRATEGY, BATON_KEYMAP, BATON_DATA_DIR, OTEL_EXPORTER_OTLP_ENDPOINT), then config.toml, then the default.\n");
    Ok(print_out(&text))
}
