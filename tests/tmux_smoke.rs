//! The real binary in a real terminal: tmux runs `baton`, sends keys and reads the screen.
//! `.ci/run` installs tmux; without it this test fails and says so.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{Reply, Server, transcript};

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
    assert!(screen.contains("7 done / 7 nodes"), "{screen}");
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

/// Quitting mid-run loses nothing: the live calls in flight are cancelled and the recording is
/// complete, ending with the run's `cancelled` outcome, before the terminal is handed back.
#[test]
fn quitting_mid_run_flushes_a_complete_recording() {
    let server = Server::func(|seen| {
        if seen.body.contains("node a") {
            Reply::sse(transcript::openai(&["quick"], 10, 2, 0, 0))
        } else {
            Reply::sse_slow(vec![(Duration::from_secs(60), transcript::openai(&["slow"], 10, 2, 0, 0))])
        }
    });
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tmux-quit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    std::fs::write(
        tmp.join("flow.toml"),
        "[flow]\nname = \"two\"\ninput = \"x\"\n\n[[node]]\nid = \"a\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"node a\"\n\n[[node]]\nid = \"b\"\nkind = \"generate\"\ncomplexity = 2\nprompt = \"node b\"\nafter = [\"a\"]\n",
    )
    .expect("flow");
    std::fs::write(tmp.join("s.toml"), "[strategy]\nname = \"s\"\ndefault_model = \"m1\"\n").expect("strategy");
    std::fs::write(
        tmp.join("c.toml"),
        format!("[[model]]\nid = \"m1\"\nprovider = \"openai\"\nbase_url = \"{}/v1\"\nkey_env = \"\"\ninput_per_mtok = 1\noutput_per_mtok = 1\ncontext_window = 10000\n", server.url()),
    )
    .expect("catalog");
    let t = Tmux { socket: format!("baton-quit-{}", std::process::id()) };
    let script = format!(
        "cd {d} && BATON_DATA_DIR={d} BATON_CONFIG_DIR={d} {bin} flow.toml -s s.toml --catalog c.toml --live; echo BATON-EXIT=$?; sleep 60",
        d = tmp.display(),
        bin = env!("CARGO_BIN_EXE_baton")
    );
    t.cmd(&["new-session", "-d", "-s", "s", "-x", "120", "-y", "40", &script]);
    // Node a done, node b in flight.
    let start = Instant::now();
    while server.requests().len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "the run never reached node b:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["q"]);
    let after = t.wait_for("BATON-EXIT=", Duration::from_secs(15));
    assert!(after.contains("BATON-EXIT=0"), "{after}");
    let runs: Vec<_> = std::fs::read_dir(tmp.join("runs")).expect("runs dir").flatten().map(|e| e.path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let text = std::fs::read_to_string(&runs[0]).expect("recording");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.contains("\"run_finished\"") && last.contains("cancelled"), "the recording ends with its outcome: {last}");
    assert!(text.contains("\"node_finished\",\"t\"") || text.contains("node_finished"), "node a's result is in it");
}

/// `o` hands the terminal to $EDITOR and takes it back: the editor gets the terminal's answers
/// (here, to a cursor-position query, which the screen's input reader used to steal), the edit
/// is reloaded, and nothing is left at the shell prompt.
#[test]
fn the_editor_gets_the_terminal_and_the_screen_comes_back() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tmux-editor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let editor = tmp.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/usr/bin/env bash\n\
         # Ask the terminal where the cursor is, as full-screen editors do, and read the answer.\n\
         stty raw -echo < /dev/tty\n\
         printf '\\033[6n' > /dev/tty\n\
         IFS= read -r -s -d R -t 3 reply < /dev/tty; got=$?\n\
         stty sane < /dev/tty\n\
         echo \"answer=$got\" > \"$(dirname \"$1\")/editor.log\"\n\
         sed -i 's/^name = \"smart\"/name = \"edited\"/' \"$1\"\n",
    )
    .expect("editor");
    Command::new("chmod").arg("+x").arg(&editor).status().expect("chmod");
    let t = Tmux { socket: format!("baton-editor-{}", std::process::id()) };
    let script = format!(
        "cd {d} && EDITOR={e} BATON_DATA_DIR={d} BATON_CONFIG_DIR={d} {bin} --speed 64; echo BATON-EXIT=$?; sleep 60",
        d = tmp.display(),
        e = editor.display(),
        bin = env!("CARGO_BIN_EXE_baton")
    );
    t.cmd(&["new-session", "-d", "-s", "s", "-x", "160", "-y", "48", &script]);
    t.wait_for("completed", Duration::from_secs(30));
    t.keys(&["o"]);
    let screen = t.wait_for("reloaded", Duration::from_secs(15));
    assert!(screen.contains("edited"), "the edited strategy is in use:\n{screen}");
    let log = std::fs::read_to_string(tmp.join("editor.log")).expect("the editor ran");
    assert_eq!(log.trim(), "answer=0", "the editor got the terminal's answer");
    t.keys(&["q"]);
    let after = t.wait_for("BATON-EXIT=", Duration::from_secs(10));
    assert!(after.contains("BATON-EXIT=0"), "{after}");
    assert!(!after.contains("1R") && !after.contains(";1R"), "a terminal answer leaked to the shell:\n{after}");
}

/// SIGTERM ends the screen like `q`: the terminal is restored and the exit status says why.
#[test]
fn sigterm_restores_the_terminal() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tmux-term-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let t = Tmux { socket: format!("baton-term-{}", std::process::id()) };
    let script = format!(
        "BATON_DATA_DIR={d} BATON_CONFIG_DIR={d} {bin} --speed 0.25 & echo $! > {d}/pid; wait $!; echo BATON-EXIT=$?; sleep 60",
        d = tmp.display(),
        bin = env!("CARGO_BIN_EXE_baton")
    );
    t.cmd(&["new-session", "-d", "-s", "s", "-x", "120", "-y", "40", &script]);
    t.wait_for("running", Duration::from_secs(30));
    let pid = std::fs::read_to_string(tmp.join("pid")).expect("pid").trim().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let after = t.wait_for("BATON-EXIT=", Duration::from_secs(10));
    assert!(after.contains("BATON-EXIT=143"), "{after}");
    assert!(!after.contains("Graph │ Timeline"), "the terminal was not restored:\n{after}");
    let runs: Vec<_> = std::fs::read_dir(tmp.join("runs")).expect("runs dir").flatten().map(|e| e.path()).collect();
    let text = std::fs::read_to_string(&runs[0]).expect("recording");
    assert!(text.lines().last().unwrap_or_default().contains("run_finished"), "the recording is complete");
}

/// Posts a body to `POST /v1/traces` over plain HTTP/1.1; returns the status.
fn post_traces(addr: &str, content_type: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body)).expect("send");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn watch_shows_a_trace_filling_in_and_quits_with_it_recorded() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tmux-watch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let t = Tmux { socket: format!("baton-watch-test-{}", std::process::id()) };
    let script = format!(
        "BATON_DATA_DIR={d} BATON_CONFIG_DIR={d} {bin} watch --http 127.0.0.1:0 --grpc off --settle-ms 1500; echo BATON-EXIT=$?; sleep 60",
        d = tmp.display(),
        bin = env!("CARGO_BIN_EXE_baton")
    );
    t.cmd(&["new-session", "-d", "-s", "s", "-x", "120", "-y", "30", &script]);
    // Port 0: the header says which port the system chose.
    let screen = t.wait_for("OTLP/HTTP 127.0.0.1:", Duration::from_secs(20));
    let addr = screen
        .split("OTLP/HTTP ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("the header names the address:\n{screen}"))
        .to_string();
    // s3 was captured over gRPC, one span per request: the same messages as OTLP/HTTP protobuf.
    let caps = common::otlp::captures("s3_openai_v2_fanout_grpc");
    for c in &caps[..2] {
        assert_eq!(post_traces(&addr, "application/x-protobuf", &c.body), 200);
    }
    t.wait_for("live", Duration::from_secs(10));
    t.keys(&["Enter"]);
    let screen = t.wait_for("Graph", Duration::from_secs(10));
    assert!(screen.contains("running"), "the trace is still arriving:\n{screen}");
    for c in &caps[2..] {
        assert_eq!(post_traces(&addr, "application/x-protobuf", &c.body), 200);
    }
    // The aggregating call arrives last; then the trace settles.
    t.wait_for("o3-mini", Duration::from_secs(10));
    let screen = t.wait_for("completed", Duration::from_secs(10));
    assert!(screen.contains("unpriced") && screen.contains("5 done / 5 nodes"), "{screen}");
    t.keys(&["Escape"]);
    let screen = t.wait_for("finished", Duration::from_secs(10));
    assert!(screen.contains("s3-openai-v2-fanout"), "{screen}");
    t.keys(&["q"]);
    let screen = t.wait_for("BATON-EXIT=", Duration::from_secs(10));
    assert!(screen.contains("BATON-EXIT=0"), "{screen}");
    assert!(screen.contains("baton watch: 1 run recorded under"), "{screen}");
    let runs = std::fs::read_dir(tmp.join("runs")).expect("runs dir").count();
    assert_eq!(runs, 1, "the trace was recorded");
}
