//! Fast paths for the most frequent recorded lines: `node_delta` (nine lines in ten) and
//! `node_finished` (half of a recording's bytes: every output, whole). Through [`Line`], serde
//! reads an internally tagged enum by first copying every field of the line into a tree of
//! owned values and then reading the variant from that tree: `perf` put that at a third of
//! `replay --summary`, and for a finished line it copied the output three times (into the
//! tree, out of it, into the event's `Arc`). Here those lines are read straight into their
//! event with their strings borrowed from the line.
//!
//! Each reader gives `None` for any other line, and for any line it cannot read (a missing
//! field, a node the flow lacks, escapes in a tag): the general path reads those and reports
//! their errors, so a line reads to the same event, or fails with the same message, either way.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::event::{Event, RunEvent, Unit};
use crate::flow::CheckResult;
use crate::routing::Usage;

/// What the events of one recording share: its run and attempt, how a node id becomes an
/// index, and whether outputs are kept.
pub(super) struct Reading<'a> {
    pub run: u64,
    pub attempt: u32,
    pub lookup: &'a (dyn Fn(&str) -> Option<u32> + Sync),
    /// `None`: outputs are kept. `Some(empty)`: every finished node's output is this empty
    /// text instead, for a fold whose report reads no output (`replay --summary`): a
    /// 1M-event recording's outputs are about 160 MB.
    pub drop_outputs: Option<Arc<str>>,
    /// Streamed text is left out of `node_delta` events (empty), for a fold that does not
    /// gather it (`live_text` off): about 150 MB of small strings for 1M events.
    pub drop_text: bool,
}

impl Reading<'_> {
    fn event(&self, t: u64, kind: Event) -> RunEvent {
        RunEvent { run: self.run, attempt: self.attempt, at: Duration::from_micros(t), kind }
    }

    fn unit(&self, node: &str, item: Option<u32>) -> Option<Unit> {
        Some(Unit { node: (self.lookup)(node)?, item })
    }

    /// The event of a `node_delta` or `node_finished` line, or `None` (see the module's doc).
    pub fn fast(&self, buf: &[u8]) -> Option<RunEvent> {
        if buf.starts_with(br#"{"ev":"node_delta","#) {
            self.delta(buf)
        } else if buf.starts_with(br#"{"ev":"node_finished","#) {
            self.finished(buf)
        } else {
            None
        }
    }

    fn delta(&self, buf: &[u8]) -> Option<RunEvent> {
        let d: DeltaLine = serde_json::from_slice(buf).ok()?;
        if d.ev != "node_delta" {
            return None;
        }
        let unit = self.unit(&d.node, d.item)?;
        let text = if self.drop_text { String::new() } else { d.text.into_owned() };
        Some(self.event(d.t, Event::NodeDelta { unit, text, output_tokens: d.tokens }))
    }

    fn finished(&self, buf: &[u8]) -> Option<RunEvent> {
        let f: FinishedLine = serde_json::from_slice(buf).ok()?;
        if f.ev != "node_finished" {
            return None;
        }
        let unit = self.unit(&f.node, f.item)?;
        let output = match &self.drop_outputs {
            Some(empty) => empty.clone(),
            None => Arc::from(&*f.output.0),
        };
        Some(self.event(
            f.t,
            Event::NodeFinished {
                unit,
                model: Arc::from(&*f.model),
                usage: f.usage,
                estimated: f.estimated,
                ttft: Duration::from_micros(f.ttft_us),
                latency: Duration::from_micros(f.latency_us),
                output,
                checks: f.checks,
                cached: f.cached,
                unreported: f.unreported,
            },
        ))
    }

    /// A line's event, by the fast path where it can, else the general one (whose error
    /// says what is wrong with the line).
    pub fn line(&self, buf: &[u8]) -> Result<RunEvent, String> {
        if let Some(e) = self.fast(buf) {
            return Ok(e);
        }
        serde_json::from_slice::<super::format::Line>(buf)
            .map_err(|e| e.to_string())
            .and_then(|l| l.into_event(self.run, self.attempt, self.lookup))
            .map(|e| self.general(e))
    }

    /// An event read by the general path, its output dropped if outputs are not kept.
    pub fn general(&self, mut e: RunEvent) -> RunEvent {
        match &mut e.kind {
            Event::NodeFinished { output, .. } => {
                if let Some(empty) = &self.drop_outputs {
                    *output = empty.clone();
                }
            }
            Event::NodeDelta { text, .. } if self.drop_text => text.clear(),
            _ => {}
        }
        e
    }
}

/// Where each finished unit's output is in a recording (see
/// [`super::Recording::open_folded_indexed`]): the line of its last `node_finished`, read
/// again when the output is wanted. A 1M-event recording's outputs are about 160 MB; held,
/// they were a fifth of `export`'s time in page faults alone (perf), and written straight
/// from the file they never are.
pub struct OutputIndex {
    file: String,
    path: std::path::PathBuf,
    flow: Arc<crate::flow::Flow>,
    at: std::collections::HashMap<Unit, (u64, usize)>,
    /// The file and a line's bytes (a lock, not a cell: a re-priced run's provider reads
    /// through it, and providers are shared).
    reader: std::sync::Mutex<FileAndLine>,
}

/// A recording's file, and a line read from it.
type FileAndLine = (std::fs::File, Vec<u8>);

impl OutputIndex {
    pub(super) fn open(
        path: &std::path::Path,
        rec: &super::Recording,
        at: std::collections::HashMap<Unit, (u64, usize)>,
    ) -> std::io::Result<OutputIndex> {
        Ok(OutputIndex {
            file: rec.file.clone(),
            path: path.to_path_buf(),
            flow: rec.flow.clone(),
            at,
            reader: std::sync::Mutex::new((std::fs::File::open(path)?, Vec::new())),
        })
    }

    /// The same index on its own handle of the file, for another thread.
    /// (The file is opened again: a cloned handle would share its position.)
    pub fn reopen(&self) -> std::io::Result<OutputIndex> {
        Ok(OutputIndex {
            file: self.file.clone(),
            path: self.path.clone(),
            flow: self.flow.clone(),
            at: self.at.clone(),
            reader: std::sync::Mutex::new((std::fs::File::open(&self.path)?, Vec::new())),
        })
    }

    /// The units with an output, in the order they finished.
    pub fn units(&self) -> Vec<Unit> {
        let mut units: Vec<(u64, Unit)> = self.at.iter().map(|(u, &(line, _))| (line, *u)).collect();
        units.sort_unstable();
        units.into_iter().map(|(_, u)| u).collect()
    }

    /// The output of `unit`'s last finish, read from the file, to `write`; nothing when the
    /// unit never finished. An error if the line is no longer that finish (the file changed
    /// since it was read).
    pub fn with_output<T>(&self, unit: Unit, write: impl FnOnce(&str) -> T) -> std::io::Result<Option<T>> {
        let Some(guard) = self.read_line(unit)? else { return Ok(None) };
        let buf = &guard.1;
        let id = &self.flow.nodes[unit.index()].id;
        let changed = || std::io::Error::other(format!("{}: the recording changed while it was read", self.file));
        // The line read through the fast path the first time, or it was not (an unusual line,
        // read by the general path): read it the same way now.
        match serde_json::from_slice::<FinishedLine>(buf) {
            Ok(f) if f.ev == "node_finished" && f.node == id.as_str() && f.item == unit.item => Ok(Some(write(&f.output.0))),
            Ok(_) => Err(changed()),
            Err(_) => match serde_json::from_slice::<super::format::Line>(buf) {
                Ok(super::format::Line::NodeFinished { node, item, output, .. }) if node == *id && item == unit.item => {
                    Ok(Some(write(&output)))
                }
                _ => Err(changed()),
            },
        }
    }

    /// [`OutputIndex::with_output`], but the output comes as the JSON string the recording
    /// holds (`Ok`) when that is exactly how serde_json writes its text, so that it can be
    /// copied into other JSON as it is, instead of being unescaped and escaped again (a tenth
    /// of `export`'s span building, perf); otherwise as text (`Err`).
    pub fn with_output_json<T>(&self, unit: Unit, write: impl FnOnce(Result<&RawValue, &str>) -> T) -> std::io::Result<Option<T>> {
        {
            let Some(guard) = self.read_line(unit)? else { return Ok(None) };
            let id = &self.flow.nodes[unit.index()].id;
            // Read as `with_output` reads it, all but the output, so a line it would reject
            // (changed since, or with a field missing) is left to it.
            if let Ok(f) = serde_json::from_slice::<FinishedLine<&RawValue>>(&guard.1)
                && f.ev == "node_finished"
                && f.node == id.as_str()
                && f.item == unit.item
            {
                if as_serde_json_writes(f.output.get()) {
                    return Ok(Some(write(Ok(f.output))));
                }
                // Escaped otherwise: decoded from the line already read.
                if let Ok(Text(text)) = serde_json::from_str::<Text>(f.output.get()) {
                    return Ok(Some(write(Err(&text))));
                }
            }
        }
        self.with_output(unit, |text| write(Err(text)))
    }

    /// The file and unit's line read into its buffer; nothing when the unit never finished.
    fn read_line(&self, unit: Unit) -> std::io::Result<Option<std::sync::MutexGuard<'_, FileAndLine>>> {
        use std::io::{Read as _, Seek as _};
        let Some(&(line, len)) = self.at.get(&unit) else { return Ok(None) };
        let mut guard = self.reader.lock().map_err(|_| std::io::Error::other("a reader of the recording failed"))?;
        let (f, buf) = &mut *guard;
        buf.resize(len, 0);
        f.seek(std::io::SeekFrom::Start(line))?;
        f.read_exact(buf)?;
        Ok(Some(guard))
    }
}

/// Whether `literal`, a JSON string that serde_json read (quotes included, every escape well
/// formed, no raw control character), is written exactly as serde_json writes its text: no
/// escapes but `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` and `\u00xx` (lowercase) for the other
/// control characters. Anything else (`\/`, `\u00e9`, `\u000a`) is written differently.
fn as_serde_json_writes(literal: &str) -> bool {
    let b = literal.as_bytes();
    if b.first() != Some(&b'"') {
        return false;
    }
    let mut at = 1;
    while let Some(k) = memchr::memchr(b'\\', &b[at..]) {
        let e = at + k + 1;
        match b.get(e) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => at = e + 1,
            Some(b'u') => {
                // Lowercase, and only for the control characters without a short escape.
                let Some(&[b'0', b'0', hi @ (b'0' | b'1'), lo]) = b.get(e + 1..e + 5) else { return false };
                let Some(lo) = (lo as char).to_digit(16).filter(|_| !lo.is_ascii_uppercase()) else { return false };
                if matches!((u32::from(hi - b'0') << 4) | lo, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    return false;
                }
                at = e + 5;
            }
            _ => return false,
        }
    }
    true
}

/// A streamed piece of output as the recorder writes it, borrowed from the line.
#[derive(serde::Deserialize)]
struct DeltaLine<'a> {
    #[serde(borrow)]
    ev: &'a str,
    t: u64,
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(default)]
    item: Option<u32>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    tokens: u64,
}

/// A finished node as the recorder writes it (`Line::NodeFinished`), its strings borrowed;
/// its output as text or, for [`OutputIndex::with_output_json`], as the JSON the line holds.
#[derive(serde::Deserialize)]
struct FinishedLine<'a, Output = Text<'a>> {
    #[serde(borrow)]
    ev: &'a str,
    t: u64,
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(default)]
    item: Option<u32>,
    #[serde(borrow)]
    model: Cow<'a, str>,
    usage: Usage,
    estimated: bool,
    ttft_us: u64,
    latency_us: u64,
    output: Output,
    checks: Vec<CheckResult>,
    cached: bool,
    #[serde(default)]
    unreported: bool,
}

/// A string borrowed from the line where it can be.
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
mod tests {
    use super::super::format::Line;
    use super::*;

    fn lookup(id: &str) -> Option<u32> {
        ["a", "b"].iter().position(|n| *n == id).map(|i| i as u32)
    }

    fn reading(drop_outputs: bool) -> Reading<'static> {
        Reading { run: 7, attempt: 2, lookup: &lookup, drop_outputs: drop_outputs.then(|| Arc::from("")), drop_text: drop_outputs }
    }

    fn general(line: &str) -> Result<RunEvent, String> {
        serde_json::from_str::<Line>(line).map_err(|e| e.to_string()).and_then(|l| l.into_event(7, 2, &lookup))
    }

    #[track_caller]
    fn same_both_ways(line: &str) {
        let fast = reading(false).fast(line.as_bytes()).expect("the fast path reads it");
        assert_eq!(fast, general(line).expect("the general path reads it"), "{line}");
        // Dropping outputs changes nothing else, whichever path read the line.
        let dropped = reading(true).fast(line.as_bytes()).expect("reads");
        assert_eq!(dropped, reading(true).general(fast), "{line}");
    }

    #[test]
    fn only_strings_written_as_serde_json_writes_them_are_copied_as_they_are() {
        // Every character below 0x80, each alone and all together, as serde_json writes them.
        let all: String = (0u8..0x80).map(char::from).collect();
        for text in (0u8..0x80).map(|b| char::from(b).to_string()).chain([all, "é/😀 \u{2028}".to_string()]) {
            let literal = serde_json::to_string(&text).expect("json");
            assert!(as_serde_json_writes(&literal), "{literal}");
        }
        for other in [r#""\/""#, r#""\u00e9""#, r#""\u000a""#, r#""\u0008""#, r#""\u001F""#, r#""\u0041""#, "null", "5", r#"["a"]"#] {
            assert!(!as_serde_json_writes(other), "{other}");
        }
    }

    #[test]
    fn a_delta_reads_to_the_same_event_by_either_path() {
        for line in [
            r#"{"ev":"node_delta","t":256000,"node":"b","text":"Needs than late","tokens":28}"#,
            r#"{"ev":"node_delta","t":1,"node":"a","item":3,"text":"","tokens":0}"#,
            // Escapes are decoded, not borrowed.
            r#"{"ev":"node_delta","t":9,"node":"a","text":"say \"hi\"\n\u00e9\u001b[2J","tokens":4}"#,
            // Fields in another order, and one the reader does not know.
            r#"{"ev":"node_delta","tokens":5,"text":"x","node":"b","t":3,"extra":true}"#,
        ] {
            same_both_ways(line);
        }
        let escaped = r#"{"ev":"node_delta","t":9,"node":"a","text":"say \"hi\"\n\u00e9\u001b[2J","tokens":4}"#;
        assert!(matches!(&reading(false).fast(escaped.as_bytes()).expect("reads").kind,
            Event::NodeDelta { text, .. } if text == "say \"hi\"\n\u{e9}\u{1b}[2J"));
    }

    const UNREPORTED: &str = r#"{"ev":"node_finished","t":5,"node":"a","model":"m","usage":{"input":0,"output":0},"estimated":false,"ttft_us":1,"latency_us":2,"output":"","checks":[],"cached":false,"unreported":true}"#;

    #[test]
    fn a_finished_line_reads_to_the_same_event_by_either_path() {
        let usage = r#""usage":{"input":10239,"cached":3,"cache_write":0,"output":1173,"reasoning":5}"#;
        for line in [
            format!(
                r#"{{"ev":"node_finished","t":3310000,"node":"b",{usage},"model":"m1","estimated":false,"ttft_us":300000,"latency_us":3310000,"output":"Global clear value.","checks":[],"cached":false}}"#
            ),
            // An item, checks with and without detail, escapes in the output and the model.
            format!(
                r#"{{"ev":"node_finished","t":1,"node":"a","item":4,"model":"m\u00e9",{usage},"estimated":true,"ttft_us":0,"latency_us":9,"output":"line\nnext \"q\" \u001b[2J","checks":[{{"check":"contains 'x'","passed":false,"detail":"no x"}},{{"check":"json","passed":true}}],"cached":true}}"#
            ),
            // A usage with only the required counts, fields in another order, an unknown one.
            r#"{"ev":"node_finished","cached":false,"checks":[],"output":"","latency_us":2,"ttft_us":1,"estimated":false,"usage":{"input":1,"output":2},"model":"m","node":"a","t":5,"x":[1]}"#.to_string(),
            // A watched node some of whose calls came without token counts.
            UNREPORTED.to_string(),
        ] {
            same_both_ways(&line);
        }
        assert!(matches!(reading(false).fast(UNREPORTED.as_bytes()).expect("reads").kind, Event::NodeFinished { unreported: true, .. }));
        let dropped = reading(true).fast(
            br#"{"ev":"node_finished","t":1,"node":"a","model":"m","usage":{"input":1,"output":2},"estimated":false,"ttft_us":1,"latency_us":2,"output":"long text","checks":[],"cached":false}"#,
        );
        assert!(matches!(&dropped.expect("reads").kind, Event::NodeFinished { output, .. } if output.is_empty()));
    }

    #[test]
    fn a_line_the_fast_path_cannot_read_is_left_to_the_general_one() {
        let lookup = |id: &str| (id == "a").then_some(0);
        let r = Reading { run: 7, attempt: 2, lookup: &lookup, drop_outputs: None, drop_text: false };
        let finished = |rest: &str| {
            format!(
                r#"{{"ev":"node_finished","t":1,"node":"a","model":"m","usage":{{"input":1,"output":2}},"estimated":false,"ttft_us":1,"latency_us":2,{rest}}}"#
            )
        };
        for line in [
            r#"{"ev":"node_delta","t":1,"node":"zz","text":"","tokens":0}"#.to_string(),
            r#"{"ev":"node_delta","t":1,"node":"a","tokens":0}"#.to_string(),
            r#"{"ev":"node_delta","t":"soon","node":"a","text":"","tokens":0}"#.to_string(),
            r#"{"ev":"node_delta","ev":"node_failed","t":1,"node":"a","text":"","tokens":0}"#.to_string(),
            r#"{"ev":"node_delta","t":1,"node":"a","text":"","tokens":0"#.to_string(),
            r#"{"ev":"node_queued","t":1,"node":"a"}"#.to_string(),
            finished(r#""output":"x","checks":[]"#),
            finished(r#""output":"x","checks":[],"cached":false,"cached":true"#),
            finished(r#""output":7,"checks":[],"cached":false"#),
            finished(r#""output":"x","checks":[{"check":"c"}],"cached":false"#),
            finished(r#""output":"x","checks":[],"cached":false,"ev":"node_failed""#),
            r#"{"ev":"node_finished","t":1,"node":"zz","model":"m","usage":{"input":1,"output":2},"estimated":false,"ttft_us":1,"latency_us":2,"output":"","checks":[],"cached":false}"#.to_string(),
        ] {
            assert_eq!(r.fast(line.as_bytes()), None, "{line}");
        }
        // And the general path still says what is wrong with them.
        let general = |line: &str| serde_json::from_str::<Line>(line).map_err(|e| e.to_string()).and_then(|l| l.into_event(7, 2, &lookup));
        assert!(
            general(r#"{"ev":"node_delta","t":1,"node":"zz","text":"","tokens":0}"#).expect_err("no such node").contains("no node 'zz'")
        );
        assert!(general(r#"{"ev":"node_delta","t":1,"node":"a","tokens":0}"#).expect_err("no text").contains("text"));
        assert!(general(&finished(r#""output":"x","checks":[]"#)).expect_err("no cached").contains("cached"));
    }
}
