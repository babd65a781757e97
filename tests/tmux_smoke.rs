//! The real binary in a real terminal: tmux runs `baton`, sends keys and reads the screen.
//! `.ci/run` installs tmux; without it this test fails and says so.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> String {
        let out =
            Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs (install it: apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "s"])
    }

    fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(start.elapsed() < timeout, "waited {timeout:?} for {what:?}; the screen shows:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "s"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

#[test]
fn the_binary_runs_watches_helps_resizes_and_quits_cleanly() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success()),
        "tmux is required for this test; .ci/run installs it"
    );
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tmux-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let t = Tmux { socket: format!("baton-test-{}", std::process::id()) };
    let script = format!(
        "BATON_DATA_DIR={d} BATON_CONFIG_DIR={d} {bin} --speed 64; echo BATON-EXIT=$?; sleep 60",
        d = tmp.display(),
        bin = env!("CARGO_BIN_EXE_baton")
    );
    t.cmd(&["new-session", "-d", "-s", "s", "-x", "160", "-y", "48", &script]);

    let screen = t.wait_for("completed", Duration::from_secs(30));
    assert!(screen.contains("research-assistant"), "{screen}");
    assert!(screen.contains("$0.0219"), "the totals of `baton run research-assistant -s smart`:\n{screen}");
    assert!(screen.contains("7/7 nodes"), "{screen}");
    assert!(screen.contains("★planner"), "critical path marked:\n{screen}");

    t.keys(&["?"]);
    t.wait_for("Keys", Duration::from_secs(5));
    // `?` closes it again (an Escape followed at once by Tab reads as Alt-Tab).
    t.keys(&["?"]);
    std::thread::sleep(Duration::from_millis(200));
    t.keys(&["Tab"]);
    t.wait_for("┬0ms", Duration::from_secs(5));

    t.cmd(&["resize-window", "-t", "s", "-x", "40", "-y", "12"]);
    t.wait_for("┌ Timeline ────", Duration::from_secs(5));
    t.keys(&["Tab"]);
    t.wait_for("┌ Events", Duration::from_secs(5));
    t.keys(&["Tab"]);
    t.wait_for("Graph (compact)", Duration::from_secs(5));
    t.cmd(&["resize-window", "-t", "s", "-x", "20", "-y", "5"]);
    t.wait_for("Baton needs at", Duration::from_secs(5));
    t.cmd(&["resize-window", "-t", "s", "-x", "80", "-y", "24"]);
    t.wait_for("research-assistant", Duration::from_secs(5));

    t.keys(&["q"]);
    let after = t.wait_for("BATON-EXIT=", Duration::from_secs(10));
    assert!(after.contains("BATON-EXIT=0"), "{after}");
    // The alternate screen is gone: the shell's own output is what shows.
    assert!(!after.contains("Graph │ Timeline"), "the terminal was not restored:\n{after}");
}
