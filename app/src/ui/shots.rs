//! The demo's screenshots as a test: every state the walk photographs is drawn differently
//! from the others (the walk itself refuses two alike), and no text on any screen, in either
//! language at either panel size, is wider than its box (or, where it wraps, needs more lines
//! than its box holds, with half a line to spare), measured with the fonts the screens embed.
//! Heights of one-line texts and the screen's bottom edge are not checked: scrolling text
//! such as the consent is meant to run past it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use i_slint_core::item_tree::ItemRc;
use i_slint_core::items::{ComplexText, SimpleText, TextOverflow, TextWrap};
use i_slint_core::window::WindowInner;
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use slint::ComponentHandle;

use super::KioskWindow;
use super::demo;

const REGULAR: &[u8] = include_bytes!("../../ui/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../ui/fonts/DejaVuSans-Bold.ttf");

/// A pixel either way for rounding: Slint places glyphs on whole pixels.
const SLACK: f32 = 1.0;

/// How much wider than the box a measured line may be: Slint kerns ("Fa", "Re"), this sum of
/// advances does not, so a text laid out at exactly its own width measures up to about 3%
/// wider here. A string that really runs over is longer than that.
const KERNING: f32 = 1.04;

/// The width of `text` in one line at `size` px, and the height of a line.
fn measure(text: &str, size: f32, bold: bool) -> (f32, f32) {
    let font = FontRef::new(if bold { BOLD } else { REGULAR }).expect("embedded font");
    let charmap = font.charmap();
    let glyphs = font.glyph_metrics(Size::new(size), LocationRef::default());
    let width = text
        .chars()
        .map(|c| {
            // A character the font lacks is drawn from a fallback: count it as a wide one.
            charmap
                .map(c)
                .and_then(|g| glyphs.advance_width(g))
                .unwrap_or(size)
        })
        .sum();
    let metrics = font.metrics(Size::new(size), LocationRef::default());
    (width, metrics.ascent - metrics.descent + metrics.leading)
}

/// What is wrong with `text` drawn at `size` px in a box `width` x `height`: a line (or, when
/// it wraps, a word) wider than the box, or more wrapped lines than the box is tall.
fn overflow(
    text: &str,
    size: f32,
    bold: bool,
    wrap: bool,
    width: f32,
    height: f32,
) -> Option<String> {
    let mut lines = 0;
    let mut line_height = 0.0;
    for paragraph in text.split('\n') {
        let (whole, tall) = measure(paragraph, size, bold);
        line_height = tall;
        if !wrap {
            lines += 1;
            if whole > width * KERNING + SLACK {
                return Some(format!("{whole:.0} px of text in a {width:.0} px box"));
            }
            continue;
        }
        // Greedy word wrap at spaces, as the renderer breaks the line.
        let mut line = String::new();
        lines += 1;
        for word in paragraph.split(' ') {
            let (w, _) = measure(word, size, bold);
            if w > width * KERNING + SLACK {
                return Some(format!(
                    "the word {word:?} is {w:.0} px, its box {width:.0} px"
                ));
            }
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if measure(&candidate, size, bold).0 > width * KERNING + SLACK {
                lines += 1;
                line = word.to_owned();
            } else {
                line = candidate;
            }
        }
    }
    let needed = lines as f32 * line_height;
    (wrap && needed > height + line_height * 0.5)
        .then(|| format!("{lines} lines ({needed:.0} px) in a {height:.0} px tall box"))
}

/// Every visible text on the window that does not fit its box or runs off the screen.
fn overflowing(window: &KioskWindow) -> Vec<String> {
    let screen = window
        .window()
        .size()
        .to_logical(window.window().scale_factor());
    // Unset sizes take the window's default, `Theme.text`.
    let compact = screen.width < 1000.0 || screen.height < 600.0;
    let default_size = if compact { 17.0 } else { 24.0 };
    let root = ItemRc::new_root(WindowInner::from_pub(window.window()).component());
    let mut found = Vec::new();
    root.visit_descendants(|item| {
        let text = if let Some(t) = item.downcast::<ComplexText>() {
            let t = t.as_pin_ref();
            Some((
                t.text(),
                t.font_size().get(),
                t.font_weight(),
                t.wrap() != TextWrap::NoWrap,
                t.overflow() == TextOverflow::Elide,
            ))
        } else {
            item.downcast::<SimpleText>().map(|t| {
                let t = t.as_pin_ref();
                (t.text(), t.font_size().get(), t.font_weight(), false, false)
            })
        };
        if let Some((text, size, weight, wrap, elides)) = text
            && !text.trim().is_empty()
            && item.is_visible()
        {
            let size = if size > 0.0 { size } else { default_size };
            let geometry = item.geometry();
            let at = item.map_to_window(geometry.origin);
            let (w, h) = (geometry.width(), geometry.height());
            let mut problem = overflow(&text, size, weight >= 600, wrap, w, h);
            if problem.is_none() && (at.x < -SLACK || at.x + w > screen.width + SLACK) {
                problem = Some(format!(
                    "its box runs off the screen at x {:.0}..{:.0}",
                    at.x,
                    at.x + w
                ));
            }
            if let Some(problem) = problem {
                let how = if elides { " (cut short with …)" } else { "" };
                found.push(format!("{text:?} at {size} px: {problem}{how}"));
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

#[test]
fn every_screen_is_drawn_differently_and_every_text_fits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let found = Rc::new(RefCell::new(Vec::new()));
    let collect = found.clone();
    let inspect: demo::Inspect = Box::new(move |name: &str, window: &KioskWindow| {
        let mut found = collect.borrow_mut();
        found.extend(
            overflowing(window)
                .into_iter()
                .map(|o| format!("{name}: {o}")),
        );
        Ok(())
    });
    // The walk fails by itself on a screen drawn exactly like an earlier one.
    let numbers =
        demo::walk_everything(None, dir.path(), Some(inspect)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(numbers.len(), 4);
    let found = found.borrow();
    assert!(
        found.is_empty(),
        "text wider than its box:\n{}",
        found.join("\n")
    );
}

/// Pairs of screenshots of one walk (one size, one language) with the same bytes.
fn identical(dir: &Path) -> Vec<(String, String)> {
    let mut seen: BTreeMap<(String, Vec<u8>), String> = BTreeMap::new();
    let mut same = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("screens folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    for name in names {
        // "800x480-sw-21-fingers-print.png": one walk is "800x480-sw".
        let walk = name.splitn(3, '-').take(2).collect::<Vec<_>>().join("-");
        let bytes = std::fs::read(dir.join(&name)).expect("read");
        if let Some(first) = seen.get(&(walk.clone(), bytes.clone())) {
            same.push((first.clone(), name));
        } else {
            seen.insert((walk, bytes), name);
        }
    }
    same
}

#[test]
fn the_screens_in_the_docs_each_show_something_different() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screens");
    let same = identical(&docs);
    assert!(
        same.is_empty(),
        "drawn alike, so a shot missed its state: {same:#?}"
    );
    // And the check does see two alike.
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "800x480-en-01-a.png",
        "800x480-en-02-b.png",
        "800x480-sw-01-a.png",
    ] {
        std::fs::write(dir.path().join(name), b"same").expect("write");
    }
    assert_eq!(
        identical(dir.path()),
        vec![(
            "800x480-en-01-a.png".to_owned(),
            "800x480-en-02-b.png".to_owned()
        )]
    );
}

#[test]
fn the_measure_sees_a_word_too_wide_and_too_many_lines() {
    assert!(overflow("Kiswahili", 19.0, false, false, 200.0, 30.0).is_none());
    assert!(overflow("Kiswahili", 19.0, false, false, 60.0, 30.0).is_some());
    assert!(
        overflow("a b c d e f", 20.0, false, true, 30.0, 30.0).is_some(),
        "six lines in one"
    );
    assert!(
        overflow("Kiswahili", 19.0, false, true, 60.0, 300.0).is_some(),
        "one long word"
    );
}
