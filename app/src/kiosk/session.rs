//! One person's enrolment as a state machine: the screen they are on, what they entered, and
//! what happens on each touch. It does no I/O: each step returns the [`Effect`]s the kiosk
//! must carry out (journal, wipe, capture, seal), and their results come back as actions.

use serde::{Deserialize, Serialize};
use time::Date;

use super::draft::{Draft, Mode};
use super::fields::{Entry, Field, Page};
use crate::biometrics::Image;
use crate::form::{AGE_OF_MAJORITY, ConsentGiver, FingerException, Language, Problem, age_on};

/// Touch-free time before a self-service session starts its countdown, milliseconds.
pub const IDLE_WARN_MS: u64 = 60_000;
/// Countdown shown before the wipe, milliseconds.
pub const IDLE_COUNTDOWN_MS: u64 = 30_000;
/// Attempts per finger; the best is kept.
pub const FINGER_ATTEMPTS: u8 = 3;
/// A print at or above this score needs no second attempt (NFIQ 2 scale).
pub const FINGER_ACCEPT: u8 = 40;
/// Consecutive passing frames before the photo is taken by itself.
pub const PHOTO_STEADY_FRAMES: u32 = 3;

/// The screens, in the order an enrolment meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Screen {
    /// Choose English or Kiswahili.
    Language,
    /// The consent text and the choice.
    Consent,
    /// Consent refused: nothing is kept.
    Declined,
    /// Assisted or self-service.
    Mode,
    /// Staff number and PIN (operator, supervisor, or status).
    Login,
    /// A page of the form.
    Form(Page),
    /// The face photo.
    Photo,
    /// The ten fingers.
    Fingers,
    /// Everything, to check before sealing.
    Review,
    /// Sealing in progress.
    Sealing,
    /// The registration number.
    Done,
    /// Queue, sync, devices, disk (staff only).
    Status,
}

impl Screen {
    /// The name the screens know it by.
    pub fn id(self) -> &'static str {
        match self {
            Self::Language => "language",
            Self::Consent => "consent",
            Self::Declined => "declined",
            Self::Mode => "mode",
            Self::Login => "login",
            Self::Form(Page::Document) => "document",
            Self::Form(Page::Names) => "names",
            Self::Form(Page::Birth) => "birth",
            Self::Form(Page::Guardian) => "guardian",
            Self::Form(Page::About) => "about",
            Self::Form(Page::Work) => "work",
            Self::Form(Page::Residence) => "residence",
            Self::Form(Page::Numbers) => "numbers",
            Self::Photo => "photo",
            Self::Fingers => "fingers",
            Self::Review => "review",
            Self::Sealing => "sealing",
            Self::Done => "done",
            Self::Status => "status",
        }
    }
}

/// Who is logging in, and what for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginPurpose {
    /// An operator starts an assisted enrolment.
    Operator,
    /// A supervisor approves (assisted mode, finger exceptions).
    Supervisor,
    /// Staff open the status screen.
    Status,
}

/// What the person did, or what a device or the kiosk reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Switch language (any screen).
    Language(Language),
    /// Go on from this screen.
    Next,
    /// Go back one screen.
    Back,
    /// Consent given, by whom.
    Agree(ConsentGiver),
    /// Consent refused.
    Decline,
    /// Mode chosen.
    Mode(Mode),
    /// Touch a field to type into it.
    Focus(Field),
    /// Hide the keyboard.
    Unfocus,
    /// Type into the page's next box (the keyboard hides after the last).
    FocusNext,
    /// On the login screen: type into the PIN (true) or the staff number (false).
    LoginFocus(bool),
    /// A touch that hit no button: the person is still there.
    Touch,
    /// Go back to the photo or the fingers from the review.
    EditScreen(Screen),
    /// A choice made for a field.
    Choose(Field, String),
    /// A key on the on-screen keyboard.
    Key(char),
    /// Delete the last character.
    Backspace,
    /// A barcode read from the identity document.
    Scanned(String),
    /// Staff login: the staff number or the PIN typed.
    LoginField {
        /// The staff number.
        staff: String,
        /// The PIN.
        pin: String,
    },
    /// The kiosk checked a login: the staff number if it was right.
    LoginChecked(Option<String>),
    /// Staff asked for the status screen.
    OpenStatus,
    /// A preview frame was checked: `advice` is the first failed check's code.
    FaceChecked {
        /// Whether every check passed.
        passed: bool,
        /// The first failed check's code, e.g. `roll-high`.
        advice: Option<String>,
        /// The ISO token image when it passed.
        token: Option<Image>,
    },
    /// Throw the photo away and take another.
    Retake,
    /// Take a print of the current finger.
    CaptureFinger,
    /// A print came back: the WSQ image, its score, its advice codes.
    FingerCaptured {
        /// The print (WSQ).
        image: Image,
        /// Quality, 0-100.
        score: u8,
        /// What to tell the person.
        advice: Vec<String>,
    },
    /// Move to a finger (tapped on the hand diagram).
    SelectFinger(usize),
    /// The current finger cannot be printed, for this reason.
    Exception(FingerException),
    /// Undo the current finger's exception.
    ClearException,
    /// Go to a page from the review to change it.
    Edit(Page),
    /// Seal the enrolment.
    Seal,
    /// Sealing finished: the registration number, or the problems that stopped it.
    Sealed(Result<String, Vec<Problem>>),
    /// Start again for the next person.
    Finish,
    /// A device failed; `None` clears it. The code names the fault for the screen.
    DeviceFault(Option<String>),
    /// Time passed (milliseconds on the kiosk's monotonic clock).
    Tick(u64),
}

/// What the kiosk must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Save the session to the journal.
    Journal,
    /// Remove the session from the journal, audited: it was wiped or refused.
    Discard(&'static str),
    /// Check a login.
    CheckLogin {
        /// Staff number.
        staff: String,
        /// PIN.
        pin: String,
        /// What for.
        purpose: LoginPurpose,
    },
    /// Ask the sensor for a print.
    CaptureFinger,
    /// Seal the draft.
    Seal,
    /// Switch the screens' language.
    Translate(Language),
}

/// What the journal keeps of a session: enough to come back at the same screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The screen.
    pub screen: Screen,
    /// The field being typed into.
    pub focus: Option<Field>,
    /// The finger being printed.
    pub finger: usize,
    /// Whether "next" returns to the review.
    pub from_review: bool,
    /// The login under way.
    pub login: Option<LoginPurpose>,
    /// Everything entered.
    pub draft: Draft,
}

/// One person's session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Its journal key.
    pub id: u128,
    /// Screen, focus, finger, draft.
    pub saved: Saved,
    /// Problems to show next to the fields.
    pub problems: Vec<Problem>,
    /// A notice for the whole screen (a refused PIN, a device fault), as a code.
    pub notice: Option<String>,
    /// The staff number and PIN being typed on the login screen (never journalled).
    pub login_staff: String,
    /// The PIN as typed.
    pub login_pin: String,
    /// Which login box takes the keypad: false the staff number, true the PIN.
    pub login_on_pin: bool,
    /// The latest photo advice code.
    pub photo_advice: Option<String>,
    /// Consecutive passing frames.
    pub steady_frames: u32,
    /// The last print's score and advice codes.
    pub last_print: Option<(u8, Vec<String>)>,
    /// A print is being taken.
    pub capturing: bool,
    /// The registration number, once sealed.
    pub sealed: Option<String>,
    /// Milliseconds since the last touch.
    pub idle_ms: u64,
    last_tick: Option<u64>,
    /// Today, for age checks.
    pub today: Date,
}

impl Session {
    /// A fresh session at the language screen.
    pub fn new(id: u128, today: Date) -> Self {
        Self::resume(
            id,
            Saved {
                screen: Screen::Language,
                focus: None,
                finger: 0,
                from_review: false,
                login: None,
                draft: Draft::default(),
            },
            today,
        )
    }

    /// A session brought back from the journal.
    pub fn resume(id: u128, saved: Saved, today: Date) -> Self {
        Self {
            id,
            saved,
            problems: Vec::new(),
            notice: None,
            login_staff: String::new(),
            login_pin: String::new(),
            login_on_pin: false,
            photo_advice: None,
            steady_frames: 0,
            last_print: None,
            capturing: false,
            sealed: None,
            idle_ms: 0,
            last_tick: None,
            today,
        }
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.saved.screen
    }

    /// The draft.
    pub fn draft(&self) -> &Draft {
        &self.saved.draft
    }

    /// Fingers that still need a print (or an exception).
    pub fn fingers_left(&self) -> usize {
        self.saved
            .draft
            .fingers
            .iter()
            .filter(|slot| !slot.done(FINGER_ATTEMPTS, FINGER_ACCEPT))
            .count()
    }

    /// The screens' language.
    pub fn language(&self) -> Language {
        Language::from_code(&self.saved.draft.language).unwrap_or_default()
    }

    /// Whether anything worth keeping has been entered: from consent on. Before it there is
    /// only a language, or a staff member looking at the status screen, and neither is
    /// journalled.
    pub fn started(&self) -> bool {
        self.saved.draft.consent.is_some()
    }

    /// Milliseconds left before an idle self-service session is wiped, when counting down.
    pub fn countdown_ms(&self) -> Option<u64> {
        (self.wipes_when_idle() && self.idle_ms >= IDLE_WARN_MS)
            .then(|| (IDLE_WARN_MS + IDLE_COUNTDOWN_MS).saturating_sub(self.idle_ms))
    }

    fn wipes_when_idle(&self) -> bool {
        // Anything but the first screen goes back to it, unless an operator is there: a
        // status screen left open, a language chosen and walked away from, a half-filled form.
        self.saved.screen != Screen::Language && self.saved.draft.mode != Some(Mode::Assisted)
    }

    /// The applicant's age today, once the date of birth is in.
    pub fn age(&self) -> Option<i32> {
        self.saved
            .draft
            .date_of_birth()
            .map(|dob| age_on(dob, self.today))
    }

    fn pages(&self) -> Vec<Page> {
        Page::ALL
            .into_iter()
            .filter(|page| *page != Page::Guardian || self.needs_guardian())
            .collect()
    }

    fn needs_guardian(&self) -> bool {
        self.age().is_none_or(|age| age < AGE_OF_MAJORITY)
            || !self.saved.draft.value(Field::GuardianName).is_empty()
    }

    /// Whether the fingers need a supervisor's sign-off before the review.
    pub fn needs_supervisor(&self) -> bool {
        self.saved.draft.mode == Some(Mode::Assisted)
            || self
                .saved
                .draft
                .fingers
                .iter()
                .any(|slot| slot.exception.is_some())
    }

    /// The screens of the form, photo and fingers in order, for "next" and "back".
    fn sequence(&self) -> Vec<Screen> {
        let mut screens = vec![Screen::Language, Screen::Consent, Screen::Mode];
        screens.extend(self.pages().into_iter().map(Screen::Form));
        screens.extend([Screen::Photo, Screen::Fingers, Screen::Review]);
        screens
    }

    fn go(&mut self, screen: Screen) -> Vec<Effect> {
        self.saved.screen = screen;
        self.problems.clear();
        self.notice = None;
        // The keyboard comes up by itself only where the page starts with a box to type in;
        // elsewhere it would cover the choices to make first.
        self.saved.focus = match screen {
            Screen::Form(page)
                if page
                    .fields()
                    .first()
                    .is_some_and(|f| f.entry() != Entry::Choice) =>
            {
                page.fields()
                    .iter()
                    .copied()
                    .find(|f| f.entry() != Entry::Choice && self.saved.draft.value(*f).is_empty())
            }
            _ => None,
        };
        if screen == Screen::Photo {
            self.steady_frames = 0;
        }
        vec![Effect::Journal]
    }

    /// Whether a field is on screen: nationality only for foreigners.
    fn field_shown(&self, field: Field) -> bool {
        field != Field::Nationality || self.saved.draft.value(Field::Citizenship) == "foreigner"
    }

    fn login(&mut self, purpose: LoginPurpose) -> Vec<Effect> {
        self.saved.login = Some(purpose);
        self.login_staff.clear();
        self.login_pin.clear();
        self.login_on_pin = false;
        self.go(Screen::Login)
    }

    /// Applies one action and says what the kiosk must do.
    pub fn apply(&mut self, action: Action) -> Vec<Effect> {
        let touched = !matches!(
            action,
            Action::Tick(_)
                | Action::FaceChecked { .. }
                | Action::FingerCaptured { .. }
                | Action::LoginChecked(_)
                | Action::Sealed(_)
                | Action::DeviceFault(_)
        );
        if touched {
            self.idle_ms = 0;
        }
        match action {
            Action::Tick(now) => self.tick(now),
            Action::Language(language) => {
                self.saved.draft.language = language.code().into();
                let mut effects = vec![Effect::Translate(language)];
                if self.saved.screen == Screen::Language {
                    effects.extend(self.go(Screen::Consent));
                } else if self.started() {
                    effects.push(Effect::Journal);
                }
                effects
            }
            Action::Agree(giver) => {
                self.saved.draft.consent = Some(giver);
                self.go(Screen::Mode)
            }
            Action::Decline => {
                self.saved.draft = Draft {
                    language: self.saved.draft.language.clone(),
                    ..Draft::default()
                };
                self.saved.screen = Screen::Declined;
                vec![Effect::Discard("session.declined")]
            }
            Action::Mode(mode) => {
                self.saved.draft.mode = Some(mode);
                match mode {
                    Mode::Assisted => self.login(LoginPurpose::Operator),
                    Mode::SelfService => {
                        self.saved.draft.operator = None;
                        self.go(Screen::Form(Page::Document))
                    }
                }
            }
            Action::OpenStatus => self.login(LoginPurpose::Status),
            Action::LoginField { staff, pin } => {
                self.login_staff = staff;
                self.login_pin = pin;
                Vec::new()
            }
            Action::LoginChecked(staff) => self.login_checked(staff),
            Action::Unfocus => {
                self.saved.focus = None;
                Vec::new()
            }
            Action::FocusNext => {
                if let (Screen::Form(page), Some(current)) = (self.saved.screen, self.saved.focus) {
                    self.saved.focus = page
                        .fields()
                        .iter()
                        .skip_while(|f| **f != current)
                        .skip(1)
                        .find(|f| f.entry() != Entry::Choice && self.field_shown(**f))
                        .copied();
                }
                Vec::new()
            }
            Action::LoginFocus(pin) => {
                self.login_on_pin = pin;
                Vec::new()
            }
            Action::Touch => Vec::new(),
            Action::EditScreen(screen) => {
                if self.saved.screen == Screen::Review
                    && matches!(screen, Screen::Photo | Screen::Fingers)
                {
                    if screen == Screen::Photo {
                        self.saved.draft.photo = None;
                    }
                    self.go(screen)
                } else {
                    Vec::new()
                }
            }
            Action::Focus(field) => {
                if field.entry() != Entry::Choice {
                    self.saved.focus = Some(field);
                }
                Vec::new()
            }
            Action::Choose(field, value) => {
                if field == Field::County && self.saved.draft.value(Field::County) != value.trim() {
                    self.saved.draft.values.remove(&Field::SubCounty);
                }
                self.saved.draft.values.insert(field, value);
                self.problems.retain(|p| p.field != field.path());
                vec![Effect::Journal]
            }
            Action::Key(c) => self.key(c),
            Action::Backspace => self.backspace(),
            Action::Scanned(_) if self.saved.screen != Screen::Form(Page::Document) => {
                // A scan elsewhere is someone trying the scanner: nothing to fill in.
                Vec::new()
            }
            Action::Scanned(text) => {
                let number: String = text
                    .trim()
                    .chars()
                    .filter(|c| Field::DocumentNumber.accepts(*c))
                    .take(Field::DocumentNumber.max_len())
                    .collect();
                if number.is_empty() {
                    self.notice = Some("scan-unreadable".into());
                    return Vec::new();
                }
                self.saved
                    .draft
                    .values
                    .insert(Field::DocumentNumber, number);
                self.notice = Some("scan-read".into());
                vec![Effect::Journal]
            }
            Action::Next => self.next(),
            Action::Back => self.back(),
            Action::FaceChecked {
                passed,
                advice,
                token,
            } => self.face_checked(passed, advice, token),
            Action::Retake => {
                self.saved.draft.photo = None;
                self.steady_frames = 0;
                vec![Effect::Journal]
            }
            Action::CaptureFinger => {
                if self.saved.screen != Screen::Fingers || self.capturing {
                    return Vec::new();
                }
                self.capturing = true;
                self.notice = None;
                vec![Effect::CaptureFinger]
            }
            Action::FingerCaptured {
                image,
                score,
                advice,
            } => self.finger_captured(image, score, advice),
            Action::SelectFinger(index) => {
                if index < self.saved.draft.fingers.len() {
                    self.saved.finger = index;
                    self.last_print = None;
                }
                vec![Effect::Journal]
            }
            Action::Exception(reason) => {
                let finger = self.saved.finger;
                if let Some(slot) = self.saved.draft.fingers.get_mut(finger) {
                    slot.exception = Some(reason);
                    slot.best = None;
                }
                // A new exception needs a fresh sign-off.
                self.saved.draft.supervisor = None;
                self.advance_finger();
                vec![Effect::Journal]
            }
            Action::ClearException => {
                let finger = self.saved.finger;
                if let Some(slot) = self.saved.draft.fingers.get_mut(finger) {
                    slot.exception = None;
                    slot.attempts = 0;
                }
                vec![Effect::Journal]
            }
            Action::Edit(page) => {
                self.saved.from_review = true;
                self.go(Screen::Form(page))
            }
            Action::Seal => {
                if self.saved.screen != Screen::Review {
                    return Vec::new();
                }
                let problems = match self.saved.draft.enrolment(self.today) {
                    Ok(_) => Vec::new(),
                    Err(problems) => problems.0,
                };
                if !problems.is_empty() {
                    self.problems = problems;
                    return Vec::new();
                }
                self.saved.screen = Screen::Sealing;
                vec![Effect::Journal, Effect::Seal]
            }
            Action::Sealed(Ok(number)) => {
                self.sealed = Some(number);
                self.saved.screen = Screen::Done;
                // The record is sealed and the journal entry went with it.
                Vec::new()
            }
            Action::Sealed(Err(problems)) => {
                self.problems = problems;
                self.notice = Some("seal-failed".into());
                self.saved.screen = Screen::Review;
                vec![Effect::Journal]
            }
            Action::Finish => Vec::new(),
            Action::DeviceFault(fault) => {
                if fault.is_some() {
                    self.capturing = false;
                }
                self.notice = fault;
                Vec::new()
            }
        }
    }

    fn tick(&mut self, now: u64) -> Vec<Effect> {
        let elapsed = self.last_tick.map_or(0, |last| now.saturating_sub(last));
        self.last_tick = Some(now);
        self.idle_ms = self.idle_ms.saturating_add(elapsed);
        if self.wipes_when_idle() && self.idle_ms >= IDLE_WARN_MS + IDLE_COUNTDOWN_MS {
            return vec![Effect::Discard("session.idle_wipe")];
        }
        Vec::new()
    }

    fn key(&mut self, c: char) -> Vec<Effect> {
        if self.saved.screen == Screen::Login {
            let target = if self.login_on_pin {
                &mut self.login_pin
            } else {
                &mut self.login_staff
            };
            if target.len() < 16 && (c.is_ascii_alphanumeric() || c == '-') {
                target.push(c.to_ascii_uppercase());
            }
            return Vec::new();
        }
        let Some(field) = self.saved.focus else {
            return Vec::new();
        };
        let value = self.saved.draft.values.entry(field).or_default();
        let c = if field.entry() == Entry::Text {
            c.to_ascii_uppercase()
        } else {
            c
        };
        if field.accepts(c) && value.chars().count() < field.max_len() {
            value.push(c);
            self.problems.retain(|p| p.field != field.path());
            return vec![Effect::Journal];
        }
        Vec::new()
    }

    fn backspace(&mut self) -> Vec<Effect> {
        if self.saved.screen == Screen::Login {
            if self.login_on_pin {
                self.login_pin.pop();
            } else {
                self.login_staff.pop();
            }
            return Vec::new();
        }
        match self.saved.focus {
            Some(field) => {
                if let Some(value) = self.saved.draft.values.get_mut(&field) {
                    value.pop();
                }
                vec![Effect::Journal]
            }
            None => Vec::new(),
        }
    }

    /// Staff number, then PIN, then "next" submits.
    fn login_next(&mut self) -> Vec<Effect> {
        if !self.login_on_pin {
            if !self.login_staff.is_empty() {
                self.login_on_pin = true;
            }
            return Vec::new();
        }
        let Some(purpose) = self.saved.login else {
            return Vec::new();
        };
        vec![Effect::CheckLogin {
            staff: self.login_staff.clone(),
            pin: std::mem::take(&mut self.login_pin),
            purpose,
        }]
    }

    fn login_checked(&mut self, staff: Option<String>) -> Vec<Effect> {
        let Some(staff) = staff else {
            self.login_pin.clear();
            self.notice = Some("login-refused".into());
            return Vec::new();
        };
        self.login_staff.clear();
        self.login_on_pin = false;
        match self.saved.login.take() {
            Some(LoginPurpose::Operator) => {
                self.saved.draft.operator = Some(staff);
                self.go(Screen::Form(Page::Document))
            }
            Some(LoginPurpose::Supervisor) => {
                self.saved.draft.supervisor = Some(staff);
                self.go(Screen::Review)
            }
            Some(LoginPurpose::Status) => {
                self.go(Screen::Status);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn next(&mut self) -> Vec<Effect> {
        let screen = self.saved.screen;
        match screen {
            Screen::Login => return self.login_next(),
            Screen::Declined | Screen::Done | Screen::Status | Screen::Sealing => {
                return Vec::new();
            }
            Screen::Form(page) => {
                self.problems = self.saved.draft.problems(self.today, Some(&[page]));
                if !self.problems.is_empty() {
                    self.saved.focus = self
                        .problems
                        .iter()
                        .find_map(|p| page.fields().iter().find(|f| f.path() == p.field))
                        .copied()
                        .filter(|f| f.entry() != Entry::Choice)
                        .or(self.saved.focus);
                    return Vec::new();
                }
                if self.saved.from_review {
                    let pages = self.pages();
                    let earlier: Vec<Page> =
                        pages.iter().copied().take_while(|p| *p != page).collect();
                    let all = self.saved.draft.problems(self.today, Some(&pages));
                    // Back to the review unless this change opened a page (a child's guardian).
                    if earlier.len() + 1 == pages.len()
                        || all.iter().all(|p| {
                            !pages
                                .iter()
                                .skip(earlier.len() + 1)
                                .any(|later| later.fields().iter().any(|f| f.path() == p.field))
                                && p.field != "guardians"
                        })
                    {
                        self.saved.from_review = false;
                        return self.go(Screen::Review);
                    }
                }
            }
            Screen::Photo if self.saved.draft.photo.is_none() => {
                self.notice = Some("photo-needed".into());
                return Vec::new();
            }
            Screen::Fingers => {
                let pending = self.saved.draft.fingers.iter().position(|slot| {
                    !slot.done(FINGER_ATTEMPTS, FINGER_ACCEPT) && slot.best.is_none()
                });
                if let Some(index) = pending {
                    self.saved.finger = index;
                    self.notice = Some("fingers-needed".into());
                    return vec![Effect::Journal];
                }
                if self.needs_supervisor() && self.saved.draft.supervisor.is_none() {
                    return self.login(LoginPurpose::Supervisor);
                }
                return self.go(Screen::Review);
            }
            Screen::Review => return self.apply(Action::Seal),
            _ => {}
        }
        let sequence = self.sequence();
        match sequence.iter().position(|s| *s == screen) {
            Some(i) if i + 1 < sequence.len() => self.go(sequence[i + 1]),
            _ => Vec::new(),
        }
    }

    fn back(&mut self) -> Vec<Effect> {
        let screen = self.saved.screen;
        if screen == Screen::Login {
            return match self.saved.login.take() {
                Some(LoginPurpose::Operator) => self.go(Screen::Mode),
                Some(LoginPurpose::Supervisor) => self.go(Screen::Fingers),
                _ => {
                    self.saved.screen = Screen::Language;
                    Vec::new()
                }
            };
        }
        if screen == Screen::Status {
            self.saved.screen = Screen::Language;
            return Vec::new();
        }
        if matches!(screen, Screen::Sealing | Screen::Done | Screen::Declined) {
            return Vec::new();
        }
        let sequence = self.sequence();
        match sequence.iter().position(|s| *s == screen) {
            Some(i) if i > 0 => {
                let previous = sequence[i - 1];
                if previous == Screen::Mode && self.saved.draft.mode == Some(Mode::Assisted) {
                    // Going back past the operator's login keeps them logged in.
                    return self.go(Screen::Mode);
                }
                self.go(previous)
            }
            _ => Vec::new(),
        }
    }

    fn face_checked(
        &mut self,
        passed: bool,
        advice: Option<String>,
        token: Option<Image>,
    ) -> Vec<Effect> {
        if self.saved.screen != Screen::Photo || self.saved.draft.photo.is_some() {
            return Vec::new();
        }
        self.photo_advice = advice;
        if !passed {
            self.steady_frames = 0;
            return Vec::new();
        }
        self.steady_frames += 1;
        match token {
            Some(token) if self.steady_frames >= PHOTO_STEADY_FRAMES => {
                self.saved.draft.photo = Some(token);
                self.notice = None;
                vec![Effect::Journal]
            }
            _ => Vec::new(),
        }
    }

    fn finger_captured(&mut self, image: Image, score: u8, advice: Vec<String>) -> Vec<Effect> {
        self.capturing = false;
        self.notice = None;
        let finger = self.saved.finger;
        let Some(slot) = self.saved.draft.fingers.get_mut(finger) else {
            return Vec::new();
        };
        slot.attempts = slot.attempts.saturating_add(1);
        if slot.best.as_ref().is_none_or(|(_, best)| score > *best) {
            slot.best = Some((image, score));
        }
        let done = slot.done(FINGER_ATTEMPTS, FINGER_ACCEPT);
        self.last_print = Some((score, advice));
        if done {
            self.advance_finger();
        }
        vec![Effect::Journal]
    }

    /// Moves to the next finger that still needs a print.
    fn advance_finger(&mut self) {
        let fingers = &self.saved.draft.fingers;
        let count = fingers.len();
        let next = (1..=count)
            .map(|step| (self.saved.finger + step) % count)
            .find(|&i| !fingers[i].done(FINGER_ATTEMPTS, FINGER_ACCEPT));
        if let Some(next) = next {
            self.saved.finger = next;
            self.last_print = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Month;

    fn today() -> Date {
        Date::from_calendar_date(2026, Month::November, 26).expect("date")
    }

    fn type_text(session: &mut Session, field: Field, text: &str) {
        session.apply(Action::Focus(field));
        for c in text.chars() {
            session.apply(Action::Key(c));
        }
    }

    #[test]
    fn a_page_with_gaps_stays_and_names_them() {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::Kiswahili));
        assert_eq!(s.screen(), Screen::Consent);
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::SelfService));
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        assert!(s.problems.iter().any(|p| p.field == "document.number"));
        s.apply(Action::Choose(Field::Citizenship, "kenyan".into()));
        s.apply(Action::Choose(Field::DocumentKind, "national_id".into()));
        type_text(&mut s, Field::DocumentNumber, "12345678");
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Form(Page::Names), "{:?}", s.problems);
    }

    #[test]
    fn idle_self_service_counts_down_then_wipes() {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Tick(0));
        assert!(s.apply(Action::Tick(IDLE_WARN_MS - 1)).is_empty());
        assert_eq!(s.countdown_ms(), None);
        s.apply(Action::Tick(IDLE_WARN_MS + 1000));
        assert_eq!(s.countdown_ms(), Some(IDLE_COUNTDOWN_MS - 1000));
        let effects = s.apply(Action::Tick(IDLE_WARN_MS + IDLE_COUNTDOWN_MS));
        assert_eq!(effects, [Effect::Discard("session.idle_wipe")]);
    }

    #[test]
    fn assisted_sessions_do_not_wipe() {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::Assisted));
        s.apply(Action::Tick(0));
        assert!(s.apply(Action::Tick(10 * IDLE_WARN_MS)).is_empty());
        assert_eq!(s.countdown_ms(), None);
    }

    #[test]
    fn the_best_of_three_attempts_is_kept_then_the_next_finger_comes() {
        let mut s = Session::new(1, today());
        s.saved.screen = Screen::Fingers;
        let image = |n: u8| Image {
            format: crate::biometrics::ImageFormat::Wsq,
            width: 256,
            height: 288,
            data: vec![n],
        };
        for (n, score) in [(1, 20), (2, 35), (3, 30)] {
            assert_eq!(s.saved.finger, 0);
            s.apply(Action::CaptureFinger);
            s.apply(Action::FingerCaptured {
                image: image(n),
                score,
                advice: vec!["dry".into()],
            });
        }
        let slot = &s.draft().fingers[0];
        assert_eq!(slot.attempts, 3);
        assert_eq!(
            slot.best.as_ref().map(|(i, s)| (i.data[0], *s)),
            Some((2, 35))
        );
        assert_eq!(s.saved.finger, 1);
        s.apply(Action::CaptureFinger);
        s.apply(Action::FingerCaptured {
            image: image(9),
            score: 70,
            advice: Vec::new(),
        });
        assert_eq!(s.saved.finger, 2, "a good print needs one attempt");
    }
}
