//! Every theme in themes/ is readable on its own background. The rule, after WCAG 2.x (contrast
//! ratio = (L1 + 0.05) / (L2 + 0.05) of relative luminances):
//! - body text: `foreground` and `title` on `background`, and `foreground` on `selection` (the
//!   selected row keeps its text colour), at least 4.5:1 (AA for normal text);
//! - what carries state or emphasis as coloured text and symbols (`dim`, `accent`,
//!   `border_focus`, the status colours but `skipped`, heat, better and worse), at least 3:1 (AA
//!   for large text and for user-interface components, SC 1.4.11); a status is never colour
//!   alone, it has its symbol too;
//! - `border` and `skipped` (decoration, and an inactive state, which SC 1.4.3 exempts), at least
//!   2:1, so they stay visible.
//!
//! A theme that keeps the terminal's own colours ("reset") names the text and background it was
//! designed for in a `# contrast-reference: #fg on #bg` line, and is checked against those.
//! Named and indexed colours are read as xterm's defaults.

use baton::diag::Source;
use baton::tui::theme::{BUILTIN, Theme};
use ratatui::style::Color;

fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let f = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
}

fn ratio(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// xterm's default RGB for the 16 basic colours, then the 6×6×6 cube and the gray ramp.
fn indexed(i: u8) -> (u8, u8, u8) {
    const BASIC: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    match i {
        0..=15 => BASIC[usize::from(i)],
        16..=231 => {
            let j = i - 16;
            let step = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            (step(j / 36), step((j / 6) % 6), step(j % 6))
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

fn hex(s: &str) -> Option<(u8, u8, u8)> {
    let s = s.strip_prefix('#')?;
    let p = |k: usize| u8::from_str_radix(s.get(k..k + 2)?, 16).ok();
    Some((p(0)?, p(2)?, p(4)?))
}

/// The colour's RGB; `reset` is the reference colour given.
fn rgb(c: Color, reset: Option<(u8, u8, u8)>, file: &str, role: &str) -> (u8, u8, u8) {
    match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => indexed(i),
        Color::Reset => reset.unwrap_or_else(|| panic!("{file}: {role} is \"reset\" and the file has no contrast-reference line")),
        Color::Black => indexed(0),
        Color::Red => indexed(1),
        Color::Green => indexed(2),
        Color::Yellow => indexed(3),
        Color::Blue => indexed(4),
        Color::Magenta => indexed(5),
        Color::Cyan => indexed(6),
        Color::Gray => indexed(7),
        Color::DarkGray => indexed(8),
        Color::LightRed => indexed(9),
        Color::LightGreen => indexed(10),
        Color::LightYellow => indexed(11),
        Color::LightBlue => indexed(12),
        Color::LightMagenta => indexed(13),
        Color::LightCyan => indexed(14),
        Color::White => indexed(15),
    }
}

/// Every shortfall of one theme file, as "role on role: ratio < minimum".
fn shortfalls(file: &str, text: &str) -> Vec<String> {
    let t = Theme::parse(&Source::new(file, text)).unwrap_or_else(|e| panic!("{e}"));
    let reference = text.lines().find_map(|l| l.strip_prefix("# contrast-reference:")).map(|r| {
        let mut it = r.split_whitespace().filter(|w| w.starts_with('#')).map(|w| hex(w).unwrap_or_else(|| panic!("{file}: bad {w}")));
        (it.next(), it.next())
    });
    let (ref_fg, ref_bg) = reference.unwrap_or((None, None));
    let bg = rgb(t.bg, ref_bg, file, "background");
    let fg = rgb(t.fg, ref_fg, file, "foreground");
    let c = |color: Color, role: &str| rgb(color, ref_fg, file, role);
    let mut checks: Vec<(String, f64, f64)> = vec![
        ("foreground on background".into(), ratio(fg, bg), 4.5),
        ("title on background".into(), ratio(c(t.title, "title"), bg), 4.5),
        ("foreground on selection".into(), ratio(fg, c(t.selection, "selection")), 4.5),
    ];
    for (role, color) in [
        ("dim", t.dim),
        ("accent", t.accent),
        ("border_focus", t.border_focus),
        ("queued", t.queued),
        ("running", t.running),
        ("retrying", t.retrying),
        ("done", t.done),
        ("cached", t.cached),
        ("failed", t.failed),
        ("critical", t.critical),
        ("heat_low", t.heat_low),
        ("heat_mid", t.heat_mid),
        ("heat_high", t.heat_high),
        ("better", t.better),
        ("worse", t.worse),
    ] {
        checks.push((format!("{role} on background"), ratio(c(color, role), bg), 3.0));
    }
    for (role, color) in [("border", t.border), ("skipped", t.skipped)] {
        checks.push((format!("{role} on background"), ratio(c(color, role), bg), 2.0));
    }
    checks.into_iter().filter(|(_, r, min)| r < min).map(|(what, r, min)| format!("{file}: {what} is {r:.2}:1, under {min}:1")).collect()
}

#[test]
fn the_ratio_is_wcag_s() {
    assert!((ratio((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 1e-9);
    assert!((ratio((0x77, 0x77, 0x77), (255, 255, 255)) - 4.48).abs() < 0.01);
    assert_eq!(indexed(196), (255, 0, 0));
    assert_eq!(indexed(244), (128, 128, 128));
}

#[test]
fn a_faint_theme_is_caught() {
    let faint = "[theme]\nname = \"faint\"\n[colors]\nforeground = \"#777777\"\nbackground = \"#ffffff\"\nretrying = \"#f9e2af\"\n";
    let s = shortfalls("faint.toml", faint);
    assert!(s.iter().any(|m| m.contains("foreground on background is 4.48:1")), "{s:?}");
    assert!(s.iter().any(|m| m.contains("retrying on background")), "{s:?}");
}

#[test]
fn every_theme_file_has_enough_contrast() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("themes/").filter_map(Result::ok).map(|e| e.path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let text = std::fs::read_to_string(path).expect("read");
        problems.extend(shortfalls(name, &text));
        // Each file is a built-in theme under its file name.
        assert!(BUILTIN.iter().any(|(n, t)| *n == name && *t == text), "{name} is not in theme::BUILTIN");
        assert_eq!(Theme::builtin(name).map(|t| t.name), Some(name.to_string()));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
