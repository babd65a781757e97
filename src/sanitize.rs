//! Text from outside (servers, models, flows, recordings, spans) on its way to a terminal or a
//! file: control characters and escape sequences are removed, so a hostile error body cannot
//! clear the screen, set the window title or write the clipboard (OSC 52), and the values of
//! API keys are replaced by `[redacted]` wherever they appear.
//!
//! Two functions, used at every boundary: [`for_terminal`] for anything printed (it also
//! redacts), [`redact`] for anything kept (recordings, JSON, exports), where the JSON encoder
//! already escapes control characters.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

pub const REDACTED: &str = "[redacted]";

/// Key values seen this process. Keys are short and few; a list is enough.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Whether any key was registered: the hot paths (every recorded event) skip the lock when not.
static ANY: AtomicBool = AtomicBool::new(false);

/// Whether any key value is known to this process.
pub fn has_secrets() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// Remembers a key's value so that every later [`redact`] replaces it. Values shorter than 8
/// characters are not keys any provider issues, and redacting them would mangle ordinary text.
pub fn register_secret(value: &str) {
    let v = value.trim();
    if v.len() < 8 {
        return;
    }
    let mut s = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    if !s.iter().any(|k| k == v) {
        s.push(v.to_string());
        ANY.store(true, Ordering::Relaxed);
    }
}

/// Replaces every registered key value in `s` by `[redacted]`.
pub fn redact(s: &str) -> Cow<'_, str> {
    if !has_secrets() {
        return Cow::Borrowed(s);
    }
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    redact_with(s, &secrets)
}

/// [`redact`] with an explicit list (what the process-wide one uses; tests use it directly).
pub fn redact_with<'a>(s: &'a str, secrets: &[String]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(s);
    for k in secrets {
        if !k.is_empty() && out.contains(k.as_str()) {
            out = Cow::Owned(out.replace(k.as_str(), REDACTED));
        }
    }
    out
}

/// What a terminal may be shown: [`strip_controls`] of [`redact`].
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    match redact(s) {
        Cow::Borrowed(b) => strip_controls(b),
        Cow::Owned(o) => Cow::Owned(strip_controls(&o).into_owned()),
    }
}

/// Passes text through to `out` as [`for_terminal`] would change the whole of
/// it. Clean text (no control character but newline and tab, no key registered) goes out in
/// pieces ending at a newline; from the first piece that is not clean, the rest is held and
/// cleaned as one, which gives the same bytes because the cleaner starts afresh after text
/// it leaves unchanged.
pub struct TerminalWriter<W: std::io::Write> {
    out: W,
    pending: Vec<u8>,
    /// Set once some text needs cleaning: everything from there on, held until the end.
    held: Option<Vec<u8>>,
}

/// Whether bytes hold a character [`strip_controls`] would touch: a C0
/// control other than newline and tab, DEL, or a C1 control (UTF-8 `C2 80`..`C2 9F`).
fn needs_cleaning(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(k, &c)| {
        (c < 0x20 && c != b'\n' && c != b'\t') || c == 0x7f || (c == 0xc2 && b.get(k + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

impl<W: std::io::Write> TerminalWriter<W> {
    pub fn new(out: W) -> TerminalWriter<W> {
        // With a key registered, redaction needs the whole text (a key could span two pieces).
        let held = has_secrets().then(Vec::new);
        TerminalWriter { out, pending: Vec::new(), held }
    }

    /// Sends the clean part of `pending` up to its last newline.
    fn pass_on(&mut self) -> std::io::Result<()> {
        let Some(end) = self.pending.iter().rposition(|&c| c == b'\n') else { return Ok(()) };
        if needs_cleaning(&self.pending[..=end]) {
            self.held = Some(std::mem::take(&mut self.pending));
            return Ok(());
        }
        self.out.write_all(&self.pending[..=end])?;
        self.pending.drain(..=end);
        Ok(())
    }

    /// Writes what is left, cleaned, and flushes.
    pub fn finish(mut self) -> std::io::Result<()> {
        let rest = match self.held.take() {
            Some(mut held) => {
                held.extend_from_slice(&self.pending);
                held
            }
            None => std::mem::take(&mut self.pending),
        };
        let text = String::from_utf8_lossy(&rest);
        self.out.write_all(for_terminal(&text).as_bytes())?;
        self.out.flush()
    }
}

impl<W: std::io::Write> std::io::Write for TerminalWriter<W> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.held {
            Some(held) => held.extend_from_slice(buf),
            None => {
                self.pending.extend_from_slice(buf);
                if self.pending.len() >= 1 << 16 {
                    self.pass_on()?;
                }
            }
        }
        Ok(buf.len())
    }

    /// `write` always takes the whole buffer, so the default loop (and its checks, for every
    /// key, colon and indent a pretty JSON report writes: half of a 10,000-node report's cost)
    /// is not needed.
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.write(buf).map(drop)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Removes C0 controls except newline and tab, DEL, C1 controls, and whole escape sequences:
/// CSI (`ESC [` … final byte), OSC (`ESC ]` … BEL or ST), DCS/SOS/PM/APC (… ST), their
/// one-byte C1 forms, and two-character escapes. Printable text, newlines and tabs stay as
/// they are.
pub fn strip_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_c1(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{1b}' => match it.peek().copied() {
                Some('[') => {
                    it.next();
                    skip_csi(&mut it);
                }
                Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
                    it.next();
                    skip_string(&mut it);
                }
                // Any other two-character escape (ESC 7, ESC c, ESC ( B …).
                Some(n) if (' '..='~').contains(&n) => {
                    it.next();
                    // ESC ( B and friends take one more character.
                    if matches!(n, '(' | ')' | '*' | '+' | '#' | '%') {
                        it.next();
                    }
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut it),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut it),
            c if c.is_control() || is_c1(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Skips a CSI's parameters and intermediates up to and including its final byte.
fn skip_csi(it: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in it.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
        if !('\u{20}'..='\u{3f}').contains(&c) {
            // Not a CSI after all: drop what was read and stop.
            return;
        }
    }
}

/// Skips an OSC/DCS/SOS/PM/APC body up to its terminator: BEL, ESC \ or the C1 ST.
fn skip_string(it: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = it.next() {
        match c {
            '\u{07}' | '\u{9c}' => return,
            '\u{1b}' => {
                if it.peek() == Some(&'\\') {
                    it.next();
                }
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: &str) {
        assert_eq!(strip_controls(input), want, "input {input:?}");
    }

    #[test]
    fn escape_sequences_and_controls_go_text_stays() {
        check("plain text\nwith\ttabs", "plain text\nwith\ttabs");
        check("a\u{1b}]52;c;aGVsbG8=\u{07}b", "ab");
        check("a\u{1b}[2Jb", "ab");
        check("\u{1b}]0;title\u{07}x", "x");
        check("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link");
        check("red \u{1b}[1;31mERR\u{1b}[0m", "red ERR");
        check("bell\u{07} back\u{08}space cr\r del\u{7f}", "bell backspace cr del");
        check("c1 \u{9b}31mcsi \u{9d}0;t\u{9c}osc \u{85}nel", "c1 csi osc nel");
        check("\u{1b}Pdcs body\u{1b}\\after", "after");
        check("\u{1b}(Bascii \u{1b}7save", "ascii save");
        check("unterminated \u{1b}]52;c;AAAA", "unterminated ");
        check("trailing esc \u{1b}", "trailing esc ");
        check("ünïcødé ✓ 日本", "ünïcødé ✓ 日本");
    }

    #[test]
    fn clean_text_is_not_copied() {
        assert!(matches!(strip_controls("nothing to do"), Cow::Borrowed(_)));
    }

    #[test]
    fn keys_are_redacted_wherever_they_appear() {
        let keys = vec!["sk-test-0123456789".to_string()];
        assert_eq!(
            redact_with("401: Incorrect API key provided: sk-test-0123456789.", &keys),
            "401: Incorrect API key provided: [redacted]."
        );
        assert_eq!(redact_with("nothing here", &keys), "nothing here");
        register_secret("short");
        assert_eq!(redact("short"), "short", "too short to be a key");
    }
}
