//! config.toml end to end: `baton config` says where each setting came from (default, file with
//! its line, environment, flag), commands use the settings, and a bad file stops every command
//! with its line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn baton(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.args(args).current_dir(dir).env("BATON_CONFIG_DIR", dir);
    for k in ["BATON_THEME", "BATON_STRATEGY", "BATON_KEYMAP", "BATON_DATA_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT", "XDG_DATA_HOME"] {
        c.env_remove(k);
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("runs")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

const ONE: &str = "[flow]\nname = \"one\"\ninput = \"hello\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"node a: {{input}}\"\n";

#[test]
fn config_says_where_each_setting_came_from() {
    let dir = scratch("sources");
    std::fs::write(
        dir.join("config.toml"),
        "# my defaults\ntheme = \"gruvbox-dark\"\nstrategy = \"cascade\"\ndata_dir = \"runs-here\"\notlp_endpoint = \"http://localhost:4318\"\n",
    )
    .expect("config");
    let o = baton(&dir, &["config", "--format", "json"], &[("BATON_STRATEGY", "naive")]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    let s = &v["settings"];
    assert_eq!(v["config_file_found"], true);
    assert_eq!(s["theme"]["value"], "gruvbox-dark");
    assert_eq!(s["theme"]["from"]["source"], "file");
    assert_eq!(s["theme"]["from"]["line"], 2);
    assert_eq!(s["strategy"]["value"], "naive", "the environment beats the file");
    assert_eq!(s["strategy"]["from"]["variable"], "BATON_STRATEGY");
    assert_eq!(s["data_dir"]["value"], dir.join("runs-here").display().to_string(), "relative to the config directory");
    assert_eq!(s["otlp_endpoint"]["from"]["line"], 5);
    assert_eq!(s["keymap"]["from"]["source"], "default");
    let o = baton(&dir, &["config", "--format", "json", "--theme", "light"], &[]);
    let v = json(&o);
    assert_eq!(v["settings"]["theme"]["value"], "light");
    assert_eq!(v["settings"]["theme"]["from"]["flag"], "--theme");
    let table = baton(&dir, &["config"], &[]);
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(t.contains(&format!("file {}:3", dir.join("config.toml").display())), "{t}");
}

#[test]
fn commands_use_the_settings() {
    let dir = scratch("used");
    std::fs::write(dir.join("one.toml"), ONE).expect("flow");
    std::fs::write(dir.join("config.toml"), "strategy = \"naive\"\ndata_dir = \"data\"\n").expect("config");
    // A flow that names no strategy gets the configured one; the recording goes to data_dir.
    let o = baton(&dir, &["run", "one.toml", "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["strategy"], "naive");
    let runs: Vec<_> = std::fs::read_dir(dir.join("data").join("runs")).expect("recorded under data_dir").collect();
    assert_eq!(runs.len(), 1);
    // The flag still wins.
    let o = baton(&dir, &["run", "one.toml", "-s", "smart", "--format", "json", "--no-record"], &[]);
    assert_eq!(json(&o)["strategy"], "smart");
}

#[test]
fn a_bad_config_file_stops_every_command_with_its_line() {
    let dir = scratch("bad");
    std::fs::write(dir.join("config.toml"), "theme = \"dark\"\nstrategi = \"smart\"\n").expect("config");
    for args in [&["config"][..], &["models"], &["run", "research-assistant", "--no-record"]] {
        let o = baton(&dir, args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("config.toml:2:1: error: unknown field `strategi`"), "{err}");
        assert!(err.contains("did you mean 'strategy'?"), "{err}");
    }
    // Completions and the man page do not read it.
    assert_eq!(baton(&dir, &["completions", "bash"], &[]).status.code(), Some(0));
}
