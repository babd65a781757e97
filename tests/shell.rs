//! `baton completions` and `baton man`: generated from the clap definitions, so these check
//! that they load and render and name every command, not their exact text.

use std::path::Path;
use std::process::{Command, Output};

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .env("BATON_CONFIG_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-config"))
        .output()
        .expect("binary runs")
}

const COMMANDS: &[&str] =
    &["run", "validate", "models", "compare", "replay", "reprice", "export", "doctor", "watch", "catalog", "config", "completions", "man"];

#[test]
fn bash_completions_load_and_complete_commands() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("no bash on this machine: the completion check did not run");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_baton");
    // The check the issue names: source the script, then ask bash what completes baton.
    let script = format!(
        "source <('{bin}' completions bash) && complete -p baton && COMP_WORDS=(baton re) COMP_CWORD=1 COMP_LINE='baton re' COMP_POINT=8 && _baton baton re baton && printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").arg("-c").arg(&script).env("BATON_CONFIG_DIR", "/nonexistent").output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("-F _baton baton"), "{stdout}");
    let offered: Vec<&str> = stdout.lines().skip(1).collect();
    for want in ["replay", "reprice"] {
        assert!(offered.contains(&want), "'baton re<TAB>' offers {offered:?}");
    }
    assert!(!offered.contains(&"run"), "{offered:?}");
}

#[test]
fn every_shell_gets_a_script_naming_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = baton(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let s = String::from_utf8_lossy(&out.stdout);
        for c in COMMANDS {
            assert!(s.contains(c), "{shell} completions lack '{c}'");
        }
    }
    let out = baton(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_renders_with_the_command_list() {
    let out = baton(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let roff = String::from_utf8_lossy(&out.stdout);
    assert!(roff.starts_with(".ie") || roff.starts_with(".TH"), "{}", &roff[..roff.len().min(200)]);
    assert!(roff.contains(".TH baton 1"), "the main page");
    assert!(roff.contains(".SH SUBCOMMANDS"), "a command list");
    for c in COMMANDS {
        assert!(roff.contains(&format!(".TH baton\\-{c} 1")) || roff.contains(&format!(".TH baton-{c} 1")), "no page for {c}");
    }
    // Rendered by a real formatter where there is one: the text has the name and a command.
    if let Ok(child) = Command::new("groff")
        .args(["-man", "-Tascii", "-P", "-cbou"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        let mut child = child;
        child.stdin.take().expect("stdin").write_all(roff.as_bytes()).expect("write");
        let done = child.wait_with_output().expect("groff");
        let text = String::from_utf8_lossy(&done.stdout);
        assert!(text.contains("NAME") && text.contains("baton-catalog"), "{}", &text[..text.len().min(400)]);
        assert!(String::from_utf8_lossy(&done.stderr).trim().is_empty(), "groff warns: {}", String::from_utf8_lossy(&done.stderr));
    }
}
