//! The kiosk program: one session at a time, shown on the screens, journalled at every step,
//! sealed into the store at the end. Touches arrive as `Kiosk.act(name, value)`, are turned
//! into [`Action`]s for the session, and the session's [`Effect`]s are carried out here.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use slint::ComponentHandle;

use super::devices::{DeviceEvent, Devices, PrinterState};
use super::display::Display;
use super::render;
use super::{Kiosk, KioskWindow};
use crate::clock::{Clock, floored, kenyan_date};
use crate::device::Device;
use crate::doctor::{Check, StatusFact};
use crate::fleet::{self, Withdrawal};
use crate::form::{ConsentGiver, FingerException, Language};
use crate::kiosk::{
    self, Action, Effect, Field, LoginOutcome, LoginPurpose, Mode, Page, Rules, Saved, Screen,
    Session, StaffTab,
};
use crate::slip::Slip;
use crate::staff::{self, Role, SignIn};
use crate::store::AuditEvent;
use sajili_record::policy::FleetPolicy;

/// The kiosk: device, devices, the session and its window.
pub struct App {
    device: Device,
    devices: Devices,
    clock: Box<dyn Clock>,
    session: Session,
    window: KioskWindow,
    started: Instant,
    seal_pending: bool,
    /// Which photos the screens hold, so each is decoded once.
    shown: render::Shown,
    /// What each device last did, for the status screen.
    health: Vec<StatusFact>,
    /// Where the person was when last logged: the screen, photo taken, fingers still to do.
    logged: Option<Progress>,
    /// When records were last handed to the uplink, ms on the kiosk's clock.
    handed_off_at: Option<u64>,
    /// The fleet policy running, as last read from the store.
    policy: Option<FleetPolicy>,
    /// The registry's withdrawal, once learnt.
    withdrawal: Option<Withdrawal>,
    /// The staff screen's device test.
    device_test: DeviceTest,
    /// The slip of the record just sealed, while its number is on screen (for a reprint).
    slip: Option<Slip>,
    /// How printing that slip goes.
    printing: Option<PrinterState>,
    /// This person's text size and contrast.
    display: Display,
}

/// The device test run from the staff screen: under way, or what it last found.
#[derive(Default)]
struct DeviceTest {
    /// The worker's answer, while it runs.
    running: Option<Receiver<Vec<Check>>>,
    /// What the last test found.
    checks: Vec<Check>,
}

/// The done screen's "Print again": handled here, not by the session (the session never sees a
/// device).
pub const REPRINT: &str = "reprint";

/// The top bar's text size and contrast: handled here, not by the session (they are the
/// screen's alone, like a language the session never stores).
pub const DISPLAY: &str = "display";

/// How often sealed records are offered to the uplink and its receipts taken in, besides
/// right after each seal.
const HANDOFF_INTERVAL_MS: u64 = 30_000;

/// Where a person is in an enrolment, as the log tells it (nothing personal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    screen: &'static str,
    photo_taken: bool,
    fingers_left: usize,
    prints_taken: usize,
}

/// A new random session id.
fn session_id() -> u128 {
    let mut bytes = [0u8; 16];
    // Without randomness the id only needs to differ from the last one.
    if getrandom::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
    }
    u128::from_be_bytes(bytes)
}

/// Turns a touch's name and value into a session action.
pub fn parse_action(name: &str, value: &str) -> Option<Action> {
    let field = |v: &str| v.parse::<usize>().ok().and_then(Field::from_index);
    Some(match name {
        "language" => Action::Language(Language::from_code(value)?),
        "next" => Action::Next,
        "back" => Action::Back,
        "agree" => Action::Agree(match value {
            "guardian" => ConsentGiver::Guardian,
            _ => ConsentGiver::Applicant,
        }),
        "decline" => Action::Decline,
        "mode" => Action::Mode(match value {
            "assisted" => Mode::Assisted,
            _ => Mode::SelfService,
        }),
        "focus" => match field(value) {
            Some(f) => Action::Focus(f),
            None => Action::Unfocus,
        },
        "choose" => {
            let (index, id) = value.split_once('=')?;
            Action::Choose(field(index)?, id.to_owned())
        }
        "key" => Action::Key(value.chars().next()?),
        "search" => Action::Search(value.to_owned()),
        "search-backspace" => Action::SearchBackspace,
        "backspace" => Action::Backspace,
        "focus-next" => Action::FocusNext,
        "status" => Action::OpenStatus,
        "staff-tab" => Action::StaffTab(kiosk::StaffTab::from_id(value)?),
        "login-field" => Action::LoginFocus(value == "pin"),
        "retake" => Action::Retake,
        "document-photo" => Action::PhotographDocument,
        "retake-document" => Action::RetakeDocument,
        "capture" => Action::CaptureFinger,
        "finger" => Action::SelectFinger(value.parse().ok()?),
        "exception" => Action::Exception(match value {
            "missing" => FingerException::Missing,
            "amputated" => FingerException::Amputated,
            "injured" => FingerException::Injured,
            _ => FingerException::Unusable,
        }),
        "photo-anyway" => Action::PhotoAnyway(
            serde_json::from_value(serde_json::Value::String(value.to_owned())).ok()?,
        ),
        "temporarily-unable" => Action::TemporarilyUnable {
            weeks: value.parse().ok()?,
        },
        "clear-exception" => Action::ClearException,
        "edit" => match value {
            "photo" => Action::EditScreen(Screen::Photo),
            "fingers" => Action::EditScreen(Screen::Fingers),
            page => Action::Edit(
                Page::ALL
                    .into_iter()
                    .find(|p| Screen::Form(*p).id() == page)?,
            ),
        },
        "finish" => Action::Finish,
        "start-over" => Action::StartOver,
        "confirm-start-over" => Action::ConfirmStartOver(value == "yes"),
        "discard-locked" => Action::DiscardLocked,
        "touch" => Action::Touch,
        _ => return None,
    })
}

impl App {
    /// Opens the kiosk on `device`: resumes the enrolment the journal holds (after a power
    /// cut), or starts at the language screen.
    pub fn new(
        device: Device,
        devices: Devices,
        clock: Box<dyn Clock>,
        window: KioskWindow,
    ) -> Self {
        crate::logging::set_device(device.sealer.device_id().as_str());
        let today = kenyan_date(clock.now());
        let (policy, withdrawal) = read_fleet(&device);
        let rules = rules_of(policy.as_ref());
        let resumed = device.store.journal_sessions().ok().and_then(|ids| {
            ids.into_iter().find_map(|id| {
                let bytes = device.store.journal_get(id).ok()??;
                let saved: Saved = kiosk::decrypt_draft(&device, &bytes).ok()?;
                Some(Session::resume(id, saved, today))
            })
        });
        let mut session =
            resumed.unwrap_or_else(|| Session::with_rules(session_id(), today, rules.clone()));
        // Resumed: the language it was in stays, if the policy still offers it.
        let _ = session.set_rules(rules);
        // Cut off while sealing: the seal's transaction never committed (it would have taken
        // the journal entry with it), so seal again rather than wait on a screen for ever.
        let seal_pending = session.screen() == Screen::Sealing;
        let mut app = Self {
            device,
            devices,
            clock,
            session,
            window,
            started: Instant::now(),
            seal_pending,
            shown: render::Shown::default(),
            health: vec![
                StatusFact::word("camera", "not-used-yet", true),
                StatusFact::word("sensor", "not-used-yet", true),
            ],
            logged: None,
            handed_off_at: None,
            policy,
            withdrawal: None,
            device_test: DeviceTest::default(),
            slip: None,
            printing: None,
            display: Display::default(),
        };
        if app.devices.has_printer() {
            app.health
                .push(StatusFact::word("printer", "not-used-yet", true));
        }
        if let Some(language) = Language::from_code(&app.session.draft().language) {
            app.translate(language);
        }
        if let Some(withdrawal) = withdrawal {
            app.withdraw(withdrawal);
        }
        app.aim_camera();
        app.render();
        app
    }

    /// Streams the camera while the photo or the document's photo is wanted, looking for
    /// what is wanted.
    fn aim_camera(&self) {
        let draft = self.session.draft();
        let document =
            self.session.screen() == Screen::DocumentPhoto && draft.document_photo.is_none();
        let face = self.session.screen() == Screen::Photo && draft.photo.is_none();
        self.devices.set_document_camera(document);
        self.devices.set_camera(face || document);
    }

    /// The window.
    pub fn window(&self) -> &KioskWindow {
        &self.window
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The devices' threads.
    pub fn devices(&self) -> &Devices {
        &self.devices
    }

    /// This person's text size and contrast.
    pub fn display(&self) -> Display {
        self.display
    }

    /// How printing the slip of the record on screen goes; `None` with no slip (or printer).
    pub fn slip_printing(&self) -> Option<PrinterState> {
        self.slip.as_ref().and(self.printing)
    }

    /// The fleet policy this kiosk runs, as last read.
    pub fn policy(&self) -> Option<&FleetPolicy> {
        self.policy.as_ref()
    }

    /// What the staff screen's device test last found; `None` while it runs.
    pub fn device_checks(&self) -> Option<&[Check]> {
        self.device_test
            .running
            .is_none()
            .then_some(self.device_test.checks.as_slice())
    }

    /// Reads the fleet policy and the withdrawal again (after each hand-off, where the uplink's
    /// news comes in): a new policy's settings take effect at once, a withdrawal ends any
    /// enrolment under way (its journal entry kept) and starts none.
    pub fn refresh_fleet(&mut self) {
        // A store that cannot be read now keeps what was read before (logged).
        match fleet::running(&self.device.store) {
            Ok(policy) => self.policy = policy,
            Err(error) => log::warn!("the fleet policy could not be read: {error}"),
        }
        let rules = rules_of(self.policy.as_ref());
        if rules != self.session.rules {
            let effects = self.session.set_rules(rules);
            self.carry_out(effects);
        }
        if self.withdrawal.is_none() {
            match fleet::withdrawal(&self.device.store) {
                Ok(Some(withdrawal)) => self.withdraw(withdrawal),
                Ok(None) => {}
                Err(error) => log::warn!("the withdrawal notice could not be read: {error}"),
            }
        }
        self.render();
    }

    fn withdraw(&mut self, withdrawal: Withdrawal) {
        log::warn!(
            "the registry has withdrawn this device (learnt {}): it enrols no one",
            crate::clock::format_eat(withdrawal.learnt_at)
        );
        self.withdrawal = Some(withdrawal);
        let effects = self.session.apply(Action::Withdrawn);
        self.carry_out(effects);
        self.render();
    }

    /// Runs the device checks on a worker thread; [`App::poll`] collects what they find.
    fn test_devices(&mut self) {
        if self.device_test.running.is_some() {
            return;
        }
        let tester = self.devices.tester();
        let (answer, running) = std::sync::mpsc::channel();
        let started = std::thread::Builder::new()
            .name("device-test".into())
            .spawn(move || {
                let _ = answer.send(tester.run());
            });
        match started {
            Ok(_) => self.device_test.running = Some(running),
            Err(error) => {
                self.device_test.checks = vec![Check::new(
                    "kiosk",
                    "",
                    Err(format!("the test could not start: {error}")),
                )];
            }
        }
    }

    /// Takes the device test's findings when they are ready; true if they came.
    fn collect_device_test(&mut self) -> bool {
        let Some(running) = &self.device_test.running else {
            return false;
        };
        let checks = match running.try_recv() {
            Ok(checks) => checks,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => vec![Check::new(
                "kiosk",
                "",
                Err("the test stopped before it finished".into()),
            )],
        };
        for check in &checks {
            let verdict = match (check.fitted, check.ok) {
                (false, _) => "not fitted",
                (true, true) => "ok",
                (true, false) => "FAILED",
            };
            log::info!("device test: {} {verdict}: {}", check.kind, check.detail);
        }
        self.device_test = DeviceTest {
            running: None,
            checks,
        };
        true
    }

    /// A touch from the screens.
    pub fn act(&mut self, name: &str, value: &str) {
        // Printing is the devices' business, not the session's.
        if name == REPRINT {
            self.reprint();
            self.apply(Action::Touch);
            return;
        }
        // The display settings are the screen's business alone; touching them is presence.
        if name == DISPLAY && self.display.act(value) {
            self.apply(Action::Touch);
            return;
        }
        if let Some(action) = parse_action(name, value) {
            self.apply(action);
        }
    }

    /// Applies an action and carries out its effects, then redraws.
    pub fn apply(&mut self, action: Action) {
        let effects = self.session.apply(action);
        self.carry_out(effects);
        self.aim_camera();
        self.render();
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Journal => self.journal(),
                Effect::Discard(reason) => self.discard(reason),
                Effect::Translate(language) => self.translate(language),
                Effect::CheckLogin {
                    staff,
                    pin,
                    purpose,
                } => {
                    let outcome = self.check_login(staff, &pin, purpose);
                    let more = self.session.apply(Action::LoginChecked(outcome));
                    self.carry_out(more);
                }
                Effect::EndSession => self.fresh_session(),
                Effect::Audit(action, actor) => self.audit(action, &actor),
                Effect::CaptureFinger => self.devices.capture_finger(self.session.kept_prints()),
                Effect::ForcePhoto => self.devices.force_photo(),
                Effect::Seal => self.seal_pending = true,
                Effect::TestDevices => self.test_devices(),
            }
        }
    }

    /// Checks a staff number and PIN, counting wrong PINs in the store; every attempt is
    /// audited (the PIN never is).
    fn check_login(&self, staff: String, pin: &str, purpose: LoginPurpose) -> LoginOutcome {
        let outcome = staff::sign_in(&self.device.store, &staff, pin, self.now());
        // What was typed is named only if it is a staff number here: a PIN typed into the
        // staff number's box by mistake must not be kept in the audit log.
        let known = !matches!(outcome, Ok(SignIn::Unknown));
        let (action, outcome) = match outcome {
            Ok(SignIn::Accepted(role)) => (
                "staff.login",
                LoginOutcome::Accepted {
                    supervisor: role == Role::Supervisor,
                    staff: staff.clone(),
                },
            ),
            Ok(SignIn::Locked { seconds }) => (
                "staff.login_locked",
                LoginOutcome::Locked {
                    seconds: seconds.max(1).unsigned_abs(),
                },
            ),
            Ok(SignIn::Refused | SignIn::Unknown) => ("staff.login_refused", LoginOutcome::Refused),
            Err(error) => {
                log::error!("staff sign-in could not be checked: {error}");
                ("staff.login_refused", LoginOutcome::Refused)
            }
        };
        log::info!("staff sign-in for {purpose:?}: {action}");
        self.audit(action, if known { staff.as_str() } else { "unknown" });
        outcome
    }

    fn audit(&self, action: &str, actor: &str) {
        let event = AuditEvent {
            at: self.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: String::new(),
        };
        if self.device.store.audit(&event).is_err() {
            log::warn!("audit event {action} not recorded");
        }
    }

    fn now(&self) -> i64 {
        let floor = self.device.store.clock_floor().ok().flatten();
        floored(self.clock.now(), floor)
    }

    fn journal(&mut self) {
        if !self.session.started() {
            return;
        }
        let saved = kiosk::encrypt_draft(&self.device, &self.session.saved)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                self.device
                    .store
                    .journal_put(self.session.id, &bytes)
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = saved {
            log::error!("journal write failed: {error}");
            self.session.notice = Some("store-failed".into());
        }
    }

    fn discard(&mut self, reason: &'static str) {
        let event = AuditEvent {
            at: self.now(),
            actor: self
                .session
                .draft()
                .operator
                .clone()
                .unwrap_or_else(|| crate::form::SELF_SERVICE.into()),
            action: reason.into(),
            subject: String::new(),
        };
        if let Err(error) = self.device.store.journal_discard(self.session.id, &event) {
            log::error!("journal discard failed: {error}");
        }
        // Drafts left in the store's free pages die with the old journal key.
        kiosk::rotate_key_if_idle(&self.device);
    }

    /// The next person starts from nothing: a new session, and every screen that held
    /// something of the last one (preview, photo, review, number and QR code) emptied.
    fn fresh_session(&mut self) {
        let today = kenyan_date(self.clock.now());
        let rules = self.session.rules.clone();
        let language = rules.default_language();
        self.session = Session::with_rules(session_id(), today, rules);
        self.shown = render::Shown::default();
        self.slip = None;
        self.printing = None;
        self.display = Display::default();
        render::wipe(&self.window);
        self.translate(language);
        if self.withdrawal.is_some() {
            let effects = self.session.apply(Action::Withdrawn);
            self.carry_out(effects);
        }
    }

    /// Prints the sealed record's slip again, while its number is on screen.
    fn reprint(&mut self) {
        if self.session.screen() != Screen::Done || self.printing == Some(PrinterState::Printing) {
            return;
        }
        if let Some(slip) = &self.slip {
            self.printing = Some(PrinterState::Printing);
            self.devices.print(slip.job());
        }
    }

    /// What the printer said: the done screen follows the slip's printing while a slip is on
    /// it (a printer found ready again after a fault asks for "Print again").
    fn printer_news(&mut self, state: PrinterState) {
        if self.slip.is_some() {
            self.printing = Some(state);
        }
        self.render();
    }

    /// The slip of a record just sealed, sent to the printer's thread: the record is already
    /// in the store, and nothing here waits for the printer.
    fn print_slip(&mut self, slip: Slip) {
        if !self.devices.has_printer() {
            return;
        }
        self.printing = Some(PrinterState::Printing);
        self.devices.print(slip.job());
        self.slip = Some(slip);
    }

    fn translate(&mut self, language: Language) {
        super::select_translation(language);
    }

    /// Collects device events, moves time on, seals when asked. The event loop calls this on
    /// a timer; tests and the demo call it directly.
    pub fn poll(&mut self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.poll_at(now);
    }

    /// [`App::poll`] at `now` milliseconds on the kiosk's clock (tests move time on with it).
    pub fn poll_at(&mut self, now: u64) {
        if self.seal_pending {
            self.seal_pending = false;
            self.seal();
            self.hand_off(now);
        }
        // At start (records sealed before a power cut), then now and then: receipts come in.
        if self
            .handed_off_at
            .is_none_or(|at| now.saturating_sub(at) >= HANDOFF_INTERVAL_MS)
        {
            self.hand_off(now);
        }
        if self.collect_device_test() {
            self.render();
        }
        for event in self.devices.drain() {
            self.note_health(&event);
            let action = match event {
                DeviceEvent::Printer(state) => {
                    self.printer_news(state);
                    continue;
                }
                DeviceEvent::Frame {
                    frame,
                    passed,
                    advice,
                    token,
                } => {
                    // A frame still in flight when the photo was taken or the session ended
                    // is dropped, never shown to whoever is at the screen now.
                    if self.session.screen() == Screen::Photo
                        && self.session.draft().photo.is_none()
                    {
                        render::preview(&self.window, &frame);
                    }
                    Action::FaceChecked {
                        passed,
                        advice,
                        token,
                    }
                }
                DeviceEvent::Document {
                    frame,
                    advice,
                    image,
                } => {
                    // As for the face: never a frame for a screen no longer asking for it.
                    if self.session.screen() == Screen::DocumentPhoto
                        && self.session.draft().document_photo.is_none()
                    {
                        render::preview(&self.window, &frame);
                    }
                    Action::DocumentChecked { advice, image }
                }
                DeviceEvent::Forced { token, failed } => Action::PhotoForced { token, failed },
                DeviceEvent::Print {
                    image,
                    score,
                    advice,
                    check,
                } => Action::FingerCaptured {
                    image,
                    score,
                    advice,
                    check,
                },
                DeviceEvent::Fault(code) => Action::DeviceFault(code),
                DeviceEvent::Scanned(text) => Action::Scanned(text),
            };
            self.apply(action);
        }
        let before = self.session.countdown_ms();
        let effects = self.session.apply(Action::Tick(now));
        if !effects.is_empty() {
            self.carry_out(effects);
            self.render();
        } else if before.map(|ms| ms / 1000) != self.session.countdown_ms().map(|ms| ms / 1000) {
            self.render();
        }
    }

    fn note_health(&mut self, event: &DeviceEvent) {
        let fact = match event {
            DeviceEvent::Frame { .. }
            | DeviceEvent::Document { .. }
            | DeviceEvent::Forced { .. } => StatusFact::word("camera", "working", true),
            DeviceEvent::Print { .. } => StatusFact::word("sensor", "working", true),
            DeviceEvent::Fault(Some(code)) if code == "sensor-no-finger" => return,
            DeviceEvent::Fault(Some(code)) => {
                let device = if code.starts_with("camera") {
                    "camera"
                } else {
                    "sensor"
                };
                let word = if code.ends_with("unplugged") {
                    "unplugged"
                } else {
                    "not-answering"
                };
                StatusFact::word(device, word, false)
            }
            DeviceEvent::Printer(state) => StatusFact::word(
                "printer",
                match state {
                    PrinterState::Printing | PrinterState::Printed | PrinterState::Ready => {
                        "working"
                    }
                    PrinterState::PaperOut => "paper-out",
                    PrinterState::CoverOpen => "cover-open",
                    PrinterState::Unplugged => "unplugged",
                    PrinterState::Failed => "not-answering",
                },
                state.ok(),
            ),
            DeviceEvent::Fault(None) | DeviceEvent::Scanned(_) => return,
        };
        if let Some(entry) = self.health.iter_mut().find(|f| f.key == fact.key) {
            *entry = fact;
        }
    }

    fn seal(&mut self) {
        let now = self.now();
        let enrolment = match self.session.draft().enrolment(kenyan_date(now)) {
            Ok(enrolment) => enrolment,
            Err(problems) => {
                self.apply(Action::Sealed(Err(problems.0)));
                return;
            }
        };
        let names = &enrolment.demographics.names;
        let slip = Slip {
            number: String::new(),
            name: [
                Some(names.first_name.as_str()),
                names.other_names.as_deref(),
                Some(names.surname.as_str()),
            ]
            .into_iter()
            .flatten()
            .filter(|name| !name.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
            date: kenyan_date(now),
            centre: self
                .policy
                .as_ref()
                .and_then(|p| p.centre.as_ref())
                .map(|c| c.name.clone()),
            language: self.session.language(),
        };
        let started = Instant::now();
        match kiosk::seal_session(&self.device, enrolment, now, self.session.id) {
            Ok(sealed) => {
                let number = sealed.registration_number.to_string();
                // The number is not personal; the applicant's details never reach the log.
                let rss_kb = super::resident_kb().unwrap_or(0);
                let ms = started.elapsed().as_millis();
                log::info!(
                    seq = sealed.registration_number.seq,
                    ms,
                    rss_kb;
                    "enrolment sealed: {number}, seq {}, in {ms} ms, {} MB resident",
                    sealed.registration_number.seq,
                    rss_kb / 1024
                );
                kiosk::rotate_key_if_idle(&self.device);
                self.apply(Action::Sealed(Ok(number.clone())));
                let mut slip = slip;
                slip.number = number;
                self.print_slip(slip);
            }
            Err(kiosk::EnrolError::Invalid(problems)) => {
                self.apply(Action::Sealed(Err(problems.0)));
            }
            Err(error) => {
                log::error!("sealing failed: {error}");
                self.apply(Action::Sealed(Err(Vec::new())));
            }
        }
    }

    /// Copies sealed records into the spool for the uplink, and takes in its receipts. A
    /// failure leaves everything in the store; the next hand-off tries again.
    fn hand_off(&mut self, now: u64) {
        self.handed_off_at = Some(now);
        match kiosk::handoff(&mut self.device, self.clock.now()) {
            Ok(report) => {
                if report.exported > 0 || report.acknowledged > 0 {
                    log::info!(
                        exported = report.exported,
                        acknowledged = report.acknowledged;
                        "handed {} record(s) to the uplink; {} acknowledged by the registry",
                        report.exported,
                        report.acknowledged
                    );
                }
            }
            Err(error) => log::warn!("records not handed to the uplink yet: {error}"),
        }
        self.refresh_fleet();
    }

    /// One journal line per step a person takes: field staff read where people stop, and the
    /// appliance's boot test follows the screens by it.
    fn log_progress(&mut self) {
        let draft = self.session.draft();
        let now = Progress {
            screen: self.session.screen().id(),
            photo_taken: draft.photo.is_some(),
            fingers_left: self.session.fingers_left(),
            prints_taken: draft.fingers.iter().map(|s| usize::from(s.attempts)).sum(),
        };
        let before = self.logged.replace(now);
        if before.map(|b| b.screen) != Some(now.screen) {
            log::info!(screen = now.screen; "screen {}", now.screen);
        }
        if now.photo_taken && before.is_some_and(|b| !b.photo_taken) {
            log::info!("photo taken");
        }
        if before.is_some_and(|b| b.prints_taken < now.prints_taken) {
            log::info!(left = now.fingers_left; "print taken, fingers left {}", now.fingers_left);
        }
    }

    fn render(&mut self) {
        self.log_progress();
        self.display.show(&self.window);
        render::session(&self.window, &self.session, &mut self.shown);
        let printing = match (&self.slip, self.printing) {
            (Some(_), Some(state)) if self.session.screen() == Screen::Done => state.code(),
            _ => "",
        };
        self.window.global::<Kiosk>().set_printer(printing.into());
        render::fleet(
            &self.window,
            &self.session.rules,
            self.policy.as_ref(),
            self.withdrawal.as_ref(),
        );
        if self.session.screen() != Screen::Status {
            return;
        }
        let kiosk = self.window.global::<Kiosk>();
        match self.session.staff_tab {
            StaffTab::Status => {
                kiosk.set_status(render::status_lines(&self.device, &self.health));
            }
            StaffTab::Day => {
                let today = kenyan_date(self.now());
                let summary = match self.device.store.audit_log() {
                    Ok(events) => kiosk::summarise_day(&events, today),
                    Err(error) => {
                        log::warn!("the audit log could not be read: {error}");
                        kiosk::DaySummary::default()
                    }
                };
                render::day(&self.window, &self.device, today, &summary);
            }
            StaffTab::Devices => render::device_checks(
                &self.window,
                self.device_test.running.is_some(),
                &self.device_test.checks,
            ),
        }
    }
}

/// The policy the device runs and its withdrawal, as the store holds them at start. A store
/// that cannot be read counts as neither (logged), until [`App::refresh_fleet`] reads it.
fn read_fleet(device: &Device) -> (Option<FleetPolicy>, Option<Withdrawal>) {
    let policy = fleet::running(&device.store).unwrap_or_else(|error| {
        log::warn!("the fleet policy could not be read: {error}");
        None
    });
    let withdrawal = fleet::withdrawal(&device.store).unwrap_or_else(|error| {
        log::warn!("the withdrawal notice could not be read: {error}");
        None
    });
    (policy, withdrawal)
}

/// The session rules `policy` sets; the build's own without one.
fn rules_of(policy: Option<&FleetPolicy>) -> Rules {
    policy.map_or_else(Rules::default, |policy| Rules {
        // The centre's kind decides the assisted routes offered; none without a centre.
        centre: policy.centre.as_ref().map(|c| c.kind).unwrap_or_default(),
        ..Rules::from_settings(&policy.settings)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plausible value for each touch the screens send.
    fn sample_value(name: &str) -> &'static str {
        match name {
            "language" => "sw",
            "agree" => "guardian",
            "mode" => "assisted",
            "focus" => "4",
            "choose" => "0=kenyan",
            "key" => "A",
            "login-field" => "pin",
            "finger" => "3",
            "exception" => "injured",
            "temporarily-unable" => "4",
            "photo-anyway" => "lying_down",
            "edit" => "names",
            "staff-tab" => "day",
            _ => "",
        }
    }

    #[test]
    fn every_touch_the_screens_send_is_understood() {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut names = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&ui).expect("ui folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|x| x == "slint") {
                let source = std::fs::read_to_string(&path).expect("read");
                for piece in source.split("act(\"").skip(1) {
                    if let Some(end) = piece.find('"') {
                        names.insert(piece[..end].to_owned());
                    }
                }
            }
        }
        assert!(names.len() >= 20, "{names:?}");
        for name in &names {
            if name == REPRINT {
                continue;
            }
            if name == DISPLAY {
                for value in ["open", "close", "large-text", "high-contrast"] {
                    assert!(Display::default().act(value), "display {value:?}");
                }
                continue;
            }
            assert!(
                parse_action(name, sample_value(name)).is_some(),
                "the screens send {name:?}, which the kiosk does not understand"
            );
        }
        assert_eq!(parse_action("choose", "99=x"), None, "no field 99");
        assert_eq!(parse_action("nonsense", ""), None);
        assert_eq!(
            parse_action("edit", "photo"),
            Some(Action::EditScreen(Screen::Photo))
        );
    }
}
