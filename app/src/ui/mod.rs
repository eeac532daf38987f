//! The program that drives the kiosk's screens (`app/ui/*.slint`, compiled in the
//! `sajili-screens` crate with their Kiswahili translations bundled).

mod app;
pub mod demo;
pub mod devices;
mod display;
pub mod headless;
mod notify;
mod render;
#[cfg(test)]
mod shots;
pub mod twins;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use slint::ComponentHandle;

pub use app::{App, parse_action};
pub use display::Display;
pub use render::preview as show_preview;

pub use sajili_screens::{
    Choice, FieldState, FingerView, Kiosk, KioskWindow, Labels, ReviewLine, StatusLine, Theme,
};

/// How often the kiosk collects device events and moves its clocks on.
pub const POLL_INTERVAL: Duration = Duration::from_millis(30);
/// How often the kiosk tells systemd's watchdog it is alive.
const WATCHDOG_PING: Duration = Duration::from_secs(2);

/// Connects the screens' touches to `app`.
pub fn connect(app: &Rc<RefCell<App>>) {
    let weak = Rc::downgrade(app);
    app.borrow()
        .window()
        .global::<Kiosk>()
        .on_act(move |name, value| {
            if let Some(app) = weak.upgrade() {
                // A touch that arrives while the app is busy (a nested event) is dropped, never
                // half-applied.
                if let Ok(mut app) = app.try_borrow_mut() {
                    app.act(&name, &value);
                }
            }
        });
}

/// Puts `window` on the "not set up" screen, for a device without keys: what to do, in
/// English or (by the language buttons) Kiswahili, and nothing else to touch.
pub fn show_not_set_up(window: &KioskWindow) {
    let kiosk = window.global::<Kiosk>();
    kiosk.set_screen("not-set-up".into());
    let weak = window.as_weak();
    kiosk.on_act(move |name, value| {
        let Some(language) = (name == "language")
            .then(|| crate::form::Language::from_code(&value))
            .flatten()
        else {
            return;
        };
        select_translation(language);
        if let Some(window) = weak.upgrade() {
            window
                .global::<Kiosk>()
                .set_language(language.code().into());
        }
    });
}

/// Makes every `@tr` text speak `language`.
fn select_translation(language: crate::form::Language) {
    // English is the source text; only Kiswahili has a catalogue.
    let code = match language {
        crate::form::Language::English => "",
        crate::form::Language::Kiswahili => "sw",
    };
    if slint::select_bundled_translation(code).is_err() {
        log::warn!("no bundled translation for {}", language.code());
    }
}

/// Shows the "not set up" screen until `set_up()` says the device has its keys, then returns
/// (the service manager starts the kiosk again, now with a device to enrol on).
pub fn run_not_set_up(
    window: KioskWindow,
    set_up: impl Fn() -> bool + 'static,
) -> Result<(), slint::PlatformError> {
    show_not_set_up(&window);
    let timer = slint::Timer::default();
    timer.start(slint::TimerMode::Repeated, WATCHDOG_PING, move || {
        notify::notify("WATCHDOG=1");
        if set_up() {
            let _ = slint::quit_event_loop();
        }
    });
    window.show()?;
    notify::notify("READY=1");
    slint::run_event_loop()?;
    window.hide()
}

/// This process's resident memory, kB (Linux), for the log.
pub fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Shows the kiosk and runs it until its window closes (on the device: for ever).
pub fn run(app: App) -> Result<(), slint::PlatformError> {
    let app = Rc::new(RefCell::new(app));
    connect(&app);
    let timer = slint::Timer::default();
    let weak = Rc::downgrade(&app);
    let mut last_ping = std::time::Instant::now();
    timer.start(slint::TimerMode::Repeated, POLL_INTERVAL, move || {
        if let Some(app) = weak.upgrade()
            && let Ok(mut app) = app.try_borrow_mut()
        {
            app.poll();
        }
        // From the UI thread, so a hung screen stops the pings (WatchdogSec=30 in the unit).
        if last_ping.elapsed() >= WATCHDOG_PING {
            last_ping = std::time::Instant::now();
            notify::notify("WATCHDOG=1");
        }
    });
    let window = app.borrow().window().clone_strong();
    let started = std::time::Instant::now();
    let log_first_frame = move |how: &str| {
        let (ms, rss_kb) = (
            started.elapsed().as_millis() as u64,
            resident_kb().unwrap_or(0),
        );
        log::info!(
            ms, rss_kb;
            "first frame drawn {ms} ms after start ({how}), {} MB resident",
            rss_kb / 1024
        );
    };
    // The first frame on the panel is what a person waits for after power-on: logged once,
    // when drawn where the renderer tells, else at the event loop's first turn (it draws
    // before it runs timers).
    let mut first = true;
    let told = window.window().set_rendering_notifier(move |state, _| {
        if first && matches!(state, slint::RenderingState::AfterRendering) {
            first = false;
            log_first_frame("rendered");
        }
    });
    if told.is_err() {
        slint::Timer::single_shot(std::time::Duration::ZERO, move || {
            log_first_frame("event loop running")
        });
    }
    window.show()?;
    notify::notify("READY=1");
    slint::run_event_loop()?;
    window.hide()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The (context, msgid) of each `@tr("...")` in a .slint source: Slint gives each string
    /// the name of the component or global it is written in as its gettext context.
    fn tr_strings(source: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut context = String::new();
        for line in source.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let declares = match words.as_slice() {
                ["export", "component" | "global", name, ..]
                | ["component" | "global", name, ..] => Some(name.trim_end_matches('{')),
                _ => None,
            };
            if let Some(name) = declares {
                context = name.to_owned();
            }
            let mut rest = line;
            while let Some(start) = rest.find("@tr(\"") {
                rest = &rest[start + 5..];
                let mut text = String::new();
                let mut chars = rest.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '"' => break,
                        c => text.push(c),
                    }
                }
                found.push((context.clone(), text));
            }
        }
        found
    }

    /// (msgctxt, msgid, msgstr) of a .po file (single-line entries, as ours are written).
    fn po_entries(po: &str) -> Vec<(String, String, String)> {
        let unquote = |line: &str| -> String {
            let inner = line.trim().trim_start_matches('"').trim_end_matches('"');
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        };
        let mut entries = Vec::new();
        let mut context = String::new();
        let mut id = None;
        for line in po.lines() {
            if let Some(rest) = line.strip_prefix("msgctxt ") {
                context = unquote(rest);
            } else if let Some(rest) = line.strip_prefix("msgid ") {
                id = Some(unquote(rest));
            } else if let Some(rest) = line.strip_prefix("msgstr ")
                && let Some(id) = id.take()
            {
                entries.push((std::mem::take(&mut context), id, unquote(rest)));
            }
        }
        entries
    }

    #[test]
    fn every_string_on_the_screens_has_kiswahili() {
        let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut wanted = BTreeSet::new();
        for entry in std::fs::read_dir(&ui).expect("ui folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|x| x == "slint") {
                let source = std::fs::read_to_string(&path).expect("read");
                wanted.extend(tr_strings(&source));
            }
        }
        assert!(wanted.len() > 150, "found only {} strings", wanted.len());
        let po = std::fs::read_to_string(ui.join("translations/sw/LC_MESSAGES/sajili-screens.po"))
            .expect("sw.po");
        let entries = po_entries(&po);
        let translated: BTreeSet<(String, String)> = entries
            .iter()
            .filter(|(_, id, text)| !id.is_empty() && !text.is_empty())
            .map(|(context, id, _)| (context.clone(), id.clone()))
            .collect();
        let missing: Vec<_> = wanted.difference(&translated).collect();
        assert!(missing.is_empty(), "no Kiswahili for {missing:#?}");
        // Placeholders must survive translation, or the number goes missing on screen.
        for (_, id, text) in &entries {
            assert_eq!(
                id.matches("{}").count(),
                text.matches("{}").count(),
                "{id:?} -> {text:?}"
            );
        }
    }
}
