//! The demo's screenshots as a test: every state the walk photographs is drawn differently
//! from the others (the walk itself refuses two alike), and no text on any screen, in either
//! language at either panel size, is wider than its box (or, where it wraps, needs more lines
//! than its box holds, with half a line to spare), measured with the fonts the screens embed.
//! Heights of one-line texts and the screen's bottom edge are not checked: scrolling text
//! such as the consent is meant to run past it. And every place that takes a touch is at
//! least 9 mm wide and tall on the panel of that size.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use i_slint_core::item_tree::ItemRc;
use i_slint_core::items::{ComplexText, SimpleText, TextOverflow, TextWrap, TouchArea};
use i_slint_core::window::WindowInner;
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use slint::ComponentHandle;

use super::demo;
use super::{KioskWindow, Theme};

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

/// The smallest target a finger hits reliably: 9 mm (ISO 9241-9's figure for touch, and
/// what the design asks of every button).
const TOUCH_MM: f32 = 9.0;

/// Pixels per millimetre of the panel a window of this size fills: the 7" 800x480 and the
/// 10.1" 1280x800 the kiosk ships with (a window of another size counts as the nearer one).
fn pixels_per_mm(width: f32, height: f32) -> f32 {
    let inches = if width < 1000.0 || height < 600.0 {
        7.0
    } else {
        10.1
    };
    (width * width + height * height).sqrt() / (inches * 25.4)
}

/// Every visible place that takes a touch and is narrower or shorter than 9 mm.
fn too_small_to_touch(window: &KioskWindow) -> Vec<String> {
    let screen = window
        .window()
        .size()
        .to_logical(window.window().scale_factor());
    let least = TOUCH_MM * pixels_per_mm(screen.width, screen.height) - SLACK;
    let root = ItemRc::new_root(WindowInner::from_pub(window.window()).component());
    let mut found = Vec::new();
    root.visit_descendants(|item| {
        if let Some(touch) = item.downcast::<TouchArea>()
            && touch.as_pin_ref().enabled()
            && item.is_visible()
        {
            let geometry = item.geometry();
            let (w, h) = (geometry.width(), geometry.height());
            if w < least || h < least {
                let label = item
                    .parent_item(i_slint_core::item_tree::ParentItemTraversalMode::StopAtPopups)
                    .and_then(|p| {
                        p.accessible_string_property(
                            i_slint_core::accessibility::AccessibleStringProperty::Label,
                        )
                    })
                    .unwrap_or_default();
                found.push(format!(
                    "{label:?}: {w:.0} x {h:.0} px, less than {least:.0} px (9 mm)"
                ));
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// Every visible text on the window that does not fit its box or runs off the screen.
fn overflowing(window: &KioskWindow) -> Vec<String> {
    let screen = window
        .window()
        .size()
        .to_logical(window.window().scale_factor());
    // Unset sizes take the window's default, `Theme.text`.
    let default_size = window.global::<Theme>().get_text();
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
        found.extend(
            too_small_to_touch(window)
                .into_iter()
                .map(|o| format!("{name}: too small to touch: {o}")),
        );
        Ok(())
    });
    // The walk fails by itself on a screen drawn exactly like an earlier one.
    let numbers =
        demo::walk_everything(None, dir.path(), Some(inspect)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(numbers.len(), 6);
    let found = found.borrow();
    assert!(
        found.is_empty(),
        "text wider than its box, or a target too small:\n{}",
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

/// WCAG's contrast ratio of two colours, 1 to 21.
fn contrast(a: slint::Color, b: slint::Color) -> f32 {
    let luminance = |c: slint::Color| {
        let linear = |v: u8| {
            let v = f32::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(c.red()) + 0.7152 * linear(c.green()) + 0.0722 * linear(c.blue())
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn high_contrast_draws_every_colour_at_least_7_to_1_on_what_it_is_drawn_on() {
    let _screen = super::headless::install().expect("headless backend");
    let window = KioskWindow::new().expect("window");
    let theme = window.global::<Theme>();
    theme.set_high_contrast(true);
    let t = &theme;
    // What is drawn on what, on the screens: text and marks first, their ground second.
    let pairs = [
        ("ink on page", t.get_ink(), t.get_page()),
        ("ink on card", t.get_ink(), t.get_card()),
        ("muted on page", t.get_muted(), t.get_page()),
        ("muted on card", t.get_muted(), t.get_card()),
        (
            "muted on a disabled button",
            t.get_muted(),
            t.get_disabled(),
        ),
        ("text on a primary button", t.get_on_brand(), t.get_brand()),
        (
            "text on a pressed primary",
            t.get_on_brand(),
            t.get_brand_dark(),
        ),
        ("headings", t.get_brand_dark(), t.get_page()),
        ("an error", t.get_error(), t.get_error_bg()),
        ("good news", t.get_ok(), t.get_ok_bg()),
        ("a selected button's tick", t.get_brand(), t.get_ok_bg()),
        ("advice", t.get_warn(), t.get_page()),
        ("the countdown", t.get_ink(), t.get_accent()),
        ("the current finger", t.get_current(), t.get_card()),
        ("the bars", t.get_ink(), t.get_bar()),
        ("the keyboard", t.get_ink(), t.get_tray()),
        ("a pressed button", t.get_ink(), t.get_pressed()),
    ];
    let low: Vec<_> = pairs
        .iter()
        .map(|(what, a, b)| (what, contrast(*a, *b)))
        .filter(|(_, ratio)| *ratio < 7.0)
        .collect();
    assert!(low.is_empty(), "below 7:1 in high contrast: {low:?}");
    // The check sees a pair that fails: the usual theme's yellow marker on white.
    theme.set_high_contrast(false);
    assert!(contrast(theme.get_current(), theme.get_card()) < 3.0);
}

#[test]
fn the_print_quality_bar_and_its_label_read_in_both_themes() {
    let _screen = super::headless::install().expect("headless backend");
    let window = KioskWindow::new().expect("window");
    let theme = window.global::<Theme>();
    for high_contrast in [false, true] {
        theme.set_high_contrast(high_contrast);
        // The label sits on the page above the bar, never on the fill.
        let label = contrast(theme.get_ink(), theme.get_page());
        assert!(
            label >= 4.5,
            "label {label:.2} (high contrast {high_contrast})"
        );
        // The fill against the track (fingers.slint: ok or warn on bar), as WCAG asks of
        // the parts of a graphic: 3:1.
        for (what, fill) in [("good", theme.get_ok()), ("weak", theme.get_warn())] {
            let ratio = contrast(fill, theme.get_bar());
            assert!(
                ratio >= 3.0,
                "a {what} print's fill on the track: {ratio:.2} (high contrast {high_contrast})"
            );
        }
    }
    // The check sees the colours the bar once had: yellow on the grey line colour.
    theme.set_high_contrast(false);
    assert!(contrast(theme.get_accent(), theme.get_line()) < 3.0);
}

#[test]
fn nine_millimetres_is_47_pixels_on_the_small_panel_and_53_on_the_large() {
    assert_eq!((TOUCH_MM * pixels_per_mm(800.0, 480.0)).round(), 47.0);
    assert_eq!((TOUCH_MM * pixels_per_mm(1280.0, 800.0)).round(), 53.0);
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
