//! One person's enrolment as a state machine: the screen they are on, what they entered, and
//! what happens on each touch. It does no I/O: each step returns the [`Effect`]s the kiosk
//! must carry out (journal, wipe, capture, seal), and their results come back as actions.

use serde::{Deserialize, Serialize};
use time::Date;

use super::draft::{Draft, Mode};
use super::fields::{Entry, Field, Page};
use super::kept::{KeptPrint, KeptTemplates, PrintCheck};
use crate::biometrics::Image;
use crate::biometrics::grey::Grey;
use crate::form::{
    AGE_OF_MAJORITY, ConsentGiver, FaceCheck, FingerException, Language, PhotoOverride,
    PhotoOverrideReason, Problem, age_on,
};
use sajili_record::policy::{CentreKind, Settings};

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
/// Touch-free time before an assisted session locks (the operator's PIN opens it again).
pub const ASSISTED_LOCK_MS: u64 = 5 * 60_000;

/// What a centre's fleet policy sets for its sessions; [`Rules::default`] is the build's own,
/// for a device that runs no policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Touch-free time before a self-service session starts its countdown, milliseconds.
    /// Default [`IDLE_WARN_MS`].
    pub idle_warn_ms: u64,
    /// The countdown shown before the wipe, milliseconds. Default [`IDLE_COUNTDOWN_MS`].
    pub idle_countdown_ms: u64,
    /// Touch-free time before an assisted session locks, milliseconds. Default
    /// [`ASSISTED_LOCK_MS`].
    pub assisted_lock_ms: u64,
    /// The languages offered, the first spoken before anyone chooses. Never empty. Default
    /// English and Kiswahili.
    pub languages: Vec<Language>,
    /// The kind of centre, which decides the assisted routes offered (a prison's number, a
    /// hospital's file number and bedside photo). Default a public office: a device not yet
    /// given a policy offers none of an institution's routes.
    pub centre: CentreKind,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            idle_warn_ms: IDLE_WARN_MS,
            idle_countdown_ms: IDLE_COUNTDOWN_MS,
            assisted_lock_ms: ASSISTED_LOCK_MS,
            languages: vec![Language::English, Language::Kiswahili],
            centre: CentreKind::PublicOffice,
        }
    }
}

impl Rules {
    /// The rules a policy's settings make. The idle timeout is the whole time to the wipe,
    /// countdown included; the countdown keeps its 30 s (half the timeout if that is shorter).
    /// Languages this build does not speak are left out; with none left, both are offered.
    pub fn from_settings(settings: &Settings) -> Self {
        // The policy is checked when taken (30 s and 60 s at least); the floors here keep a
        // zero from wiping sessions on the spot all the same.
        let idle = u64::from(settings.idle_timeout_s).max(30) * 1000;
        let countdown = IDLE_COUNTDOWN_MS.min(idle / 2);
        let languages: Vec<Language> = settings
            .languages
            .iter()
            .filter_map(|code| Language::from_code(code))
            .collect();
        Self {
            idle_warn_ms: idle - countdown,
            idle_countdown_ms: countdown,
            assisted_lock_ms: u64::from(settings.assisted_lock_s).max(60) * 1000,
            languages: if languages.is_empty() {
                Self::default().languages
            } else {
                languages
            },
            centre: CentreKind::PublicOffice,
        }
    }

    /// Whether `language` is offered.
    pub fn offers(&self, language: Language) -> bool {
        self.languages.contains(&language)
    }

    /// The language spoken before anyone chooses.
    pub fn default_language(&self) -> Language {
        self.languages.first().copied().unwrap_or_default()
    }
}

/// The parts of the staff screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaffTab {
    /// Policy, queue, last sync, devices, disk.
    #[default]
    Status,
    /// Today's enrolments per operator, exceptions, what waits to be sent.
    Day,
    /// The device checks (`sajili doctor`), run from the screen.
    Devices,
}

impl StaffTab {
    /// The name the screens know it by.
    pub fn id(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Day => "day",
            Self::Devices => "devices",
        }
    }

    /// The tab the screens name `id`.
    pub fn from_id(id: &str) -> Option<Self> {
        [Self::Status, Self::Day, Self::Devices]
            .into_iter()
            .find(|tab| tab.id() == id)
    }
}

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
    /// The identity document held up to the camera, from the document page (and back to it).
    DocumentPhoto,
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
    /// The registry has withdrawn this device: it enrols no one (staff may still sign in).
    Withdrawn,
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
            Self::Form(Page::Amendment) => "amendment",
            Self::Form(Page::Names) => "names",
            Self::Form(Page::Birth) => "birth",
            Self::Form(Page::Guardian) => "guardian",
            Self::Form(Page::About) => "about",
            Self::Form(Page::Work) => "work",
            Self::Form(Page::Residence) => "residence",
            Self::Form(Page::Numbers) => "numbers",
            Self::DocumentPhoto => "document-photo",
            Self::Photo => "photo",
            Self::Fingers => "fingers",
            Self::Review => "review",
            Self::Sealing => "sealing",
            Self::Done => "done",
            Self::Status => "status",
            Self::Withdrawn => "withdrawn",
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
    /// The operator opens their locked session again.
    Resume,
    /// A supervisor discards a locked session.
    Discard,
    /// An official of the prison or hospital signs off its reference in place of the
    /// applicant's document (any member of the roster but the operator).
    Official,
}

/// What the kiosk found when it checked a staff number and PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The PIN is right.
    Accepted {
        /// The staff number.
        staff: String,
        /// Whether they are a supervisor.
        supervisor: bool,
    },
    /// Unknown number, disabled or wrong PIN.
    Refused,
    /// Too many wrong PINs: no PIN is checked for this long.
    Locked {
        /// Seconds to wait.
        seconds: u64,
    },
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
    /// The text typed to find an entry in a long list (countries).
    Search(String),
    /// Delete the last character of the search.
    SearchBackspace,
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
    /// The kiosk checked a login.
    LoginChecked(LoginOutcome),
    /// Ask to start over (the screens confirm first).
    StartOver,
    /// The answer to "start over?": yes ends the session, no goes on.
    ConfirmStartOver(bool),
    /// On a locked session: a supervisor will sign in to discard it.
    DiscardLocked,
    /// Staff asked for the status screen.
    OpenStatus,
    /// On the staff screen: show this part of it (the device checks run when shown).
    StaffTab(StaffTab),
    /// The registry has withdrawn this device: no enrolment starts or goes on here.
    Withdrawn,
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
    /// On the document page: photograph the document.
    PhotographDocument,
    /// A preview frame was searched for the document: `advice` is its first problem's code.
    DocumentChecked {
        /// The first problem's code (`document-blurred`, ...), `None` when it passed.
        advice: Option<String>,
        /// The document cut out and compressed, when it passed and the frames were steady.
        image: Option<Image>,
    },
    /// Throw the document's photo away and take another.
    RetakeDocument,
    /// At a hospital's bedside, with an operator: take the photo from the next frame although
    /// its checks fail, for this reason (the supervisor's approval covers it).
    PhotoAnyway(PhotoOverrideReason),
    /// The photo taken by [`Action::PhotoAnyway`], and the checks its frame failed.
    PhotoForced {
        /// The photo (JPEG).
        token: Image,
        /// The checks failed.
        failed: Vec<FaceCheck>,
    },
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
        /// Its template, picture, and the finger it matched if it is one already taken.
        check: PrintCheck,
    },
    /// Move to a finger (tapped on the hand diagram).
    SelectFinger(usize),
    /// The current finger cannot be printed, for this reason.
    Exception(FingerException),
    /// The current finger cannot be pressed for now (a cast): the applicant comes back in this
    /// many weeks to give it.
    TemporarilyUnable {
        /// Weeks from today.
        weeks: u8,
    },
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
    /// The session is over: wipe the screens and start a fresh one at the first screen.
    EndSession,
    /// Record a staff action in the audit log: what, and the staff number.
    Audit(&'static str, String),
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
    /// Take the photo from the next camera frame whatever its checks say.
    ForcePhoto,
    /// Seal the draft.
    Seal,
    /// Switch the screens' language.
    Translate(Language),
    /// Run the device checks (off the screen's thread) and show what they find.
    TestDevices,
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
    /// Locked after the operator left it: the screen the operator's PIN goes back to.
    #[serde(default)]
    pub locked_from: Option<Screen>,
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
    /// What is typed to find a country in the list (never journalled).
    pub search: String,
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
    /// Why the photo is being taken although its checks fail, until the frame comes back.
    pub photo_reason: Option<PhotoOverrideReason>,
    /// The latest document advice code (`document-glare`, ...).
    pub document_advice: Option<String>,
    /// Consecutive frames in which the document passed.
    pub document_steady: u32,
    /// The last print's score and advice codes.
    pub last_print: Option<(u8, Vec<String>)>,
    /// The last print's picture, shown with its score.
    pub last_picture: Option<Grey>,
    /// The finger the last print turned out to be, already taken under that position (with
    /// the notice `same-finger`): it was not kept.
    pub same_finger: Option<usize>,
    /// Templates of the prints kept, for the same-finger check (never journalled).
    pub kept: KeptTemplates,
    /// A print is being taken.
    pub capturing: bool,
    /// "Start over?" is on screen.
    pub confirm_start_over: bool,
    /// Milliseconds until the staff number just tried may try a PIN again.
    pub login_wait_ms: Option<u64>,
    /// The registration number, once sealed.
    pub sealed: Option<String>,
    /// Milliseconds since the last touch.
    pub idle_ms: u64,
    last_tick: Option<u64>,
    /// Today, for age checks.
    pub today: Date,
    /// Timeouts and languages, from the fleet policy.
    pub rules: Rules,
    /// The registry has withdrawn the device: the session ends and none starts.
    pub withdrawn: bool,
    /// The part of the staff screen shown.
    pub staff_tab: StaffTab,
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
                locked_from: None,
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
            search: String::new(),
            login_staff: String::new(),
            login_pin: String::new(),
            login_on_pin: false,
            photo_advice: None,
            steady_frames: 0,
            photo_reason: None,
            document_advice: None,
            document_steady: 0,
            last_print: None,
            last_picture: None,
            same_finger: None,
            kept: KeptTemplates::default(),
            capturing: false,
            confirm_start_over: false,
            login_wait_ms: None,
            sealed: None,
            idle_ms: 0,
            last_tick: None,
            today,
            rules: Rules::default(),
            withdrawn: false,
            staff_tab: StaffTab::Status,
        }
    }

    /// A fresh session at the language screen under `rules`, speaking their first language.
    pub fn with_rules(id: u128, today: Date, rules: Rules) -> Self {
        let mut session = Self::new(id, today);
        session.saved.draft.language = rules.default_language().code().into();
        session.rules = rules;
        session
    }

    /// Takes new rules (a policy arrived). A language no longer offered gives way to the
    /// first one that is.
    pub fn set_rules(&mut self, rules: Rules) -> Vec<Effect> {
        self.rules = rules;
        let language = self.language();
        if self.rules.offers(language) {
            return Vec::new();
        }
        let language = self.rules.default_language();
        self.saved.draft.language = language.code().into();
        let mut effects = vec![Effect::Translate(language)];
        if self.started() {
            effects.push(Effect::Journal);
        }
        effects
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
        let rules = &self.rules;
        (self.wipes_when_idle() && self.idle_ms >= rules.idle_warn_ms)
            .then(|| (rules.idle_warn_ms + rules.idle_countdown_ms).saturating_sub(self.idle_ms))
    }

    /// Whether "start over" is offered: on every screen of a session in progress, but not
    /// on a locked one (only its operator or a supervisor may end it).
    pub fn can_start_over(&self) -> bool {
        let screen_allows = matches!(
            self.saved.screen,
            Screen::Consent
                | Screen::Mode
                | Screen::Form(_)
                | Screen::DocumentPhoto
                | Screen::Photo
                | Screen::Fingers
                | Screen::Review
        ) || (self.saved.screen == Screen::Login
            && matches!(
                self.saved.login,
                Some(LoginPurpose::Operator | LoginPurpose::Supervisor | LoginPurpose::Official)
            ));
        screen_allows && self.saved.locked_from.is_none()
    }

    /// Whether the session is locked, waiting for its operator (or a supervisor).
    pub fn locked(&self) -> bool {
        self.saved.locked_from.is_some()
    }

    /// Ends the session: the journal entry goes (if there is one) and a fresh session starts.
    fn end(&mut self, reason: &'static str) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.started() {
            effects.push(Effect::Discard(reason));
        }
        effects.push(Effect::EndSession);
        effects
    }

    fn wipes_when_idle(&self) -> bool {
        // Anything but the first screen goes back to it, unless an operator is there: a
        // status screen left open, a language chosen and walked away from, a half-filled form.
        // The withdrawn screen holds nothing of anyone, and is what a wipe would show again.
        !matches!(self.saved.screen, Screen::Language | Screen::Withdrawn)
            && self.saved.draft.mode != Some(Mode::Assisted)
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
            .filter(|page| *page != Page::Amendment || self.amends())
            .collect()
    }

    fn needs_guardian(&self) -> bool {
        self.age().is_none_or(|age| age < AGE_OF_MAJORITY)
            || !self.saved.draft.value(Field::GuardianName).is_empty()
            || !self.saved.draft.value(Field::Guardian2Name).is_empty()
    }

    /// Whether this enrolment corrects an earlier one (chosen on the document page).
    pub fn amends(&self) -> bool {
        self.saved.draft.value(Field::Purpose) == "correction"
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
        if screen == Screen::DocumentPhoto {
            self.document_steady = 0;
            self.document_advice = None;
        }
        vec![Effect::Journal]
    }

    /// Whether a field is on screen: nationality only for foreigners.
    fn field_shown(&self, field: Field) -> bool {
        match field {
            Field::Nationality => self.saved.draft.value(Field::Citizenship) == "foreigner",
            Field::IntroducerName => self.saved.draft.value(Field::DocumentKind) == "introducer",
            Field::Mrz => self.saved.draft.value(Field::DocumentKind) == "passport",
            _ => true,
        }
    }

    fn login(&mut self, purpose: LoginPurpose) -> Vec<Effect> {
        self.saved.login = Some(purpose);
        self.login_staff.clear();
        self.login_pin.clear();
        self.login_wait_ms = None;
        self.login_on_pin = false;
        self.go(Screen::Login)
    }

    /// Applies one action and says what the kiosk must do.
    pub fn apply(&mut self, action: Action) -> Vec<Effect> {
        // The 30 ms timer and bare touches change nothing entered: not worth hashing the
        // biometrics again for.
        let may_change = !matches!(action, Action::Tick(_) | Action::Touch);
        let effects = self.step(action);
        // A sign-off covers the biometrics it saw; any change to them takes it away, whichever
        // action made the change.
        if may_change && self.saved.draft.supervisor.is_some() && !self.saved.draft.approval_holds()
        {
            self.saved.draft.supervisor = None;
            self.saved.draft.approval = None;
        }
        // Likewise an official's sign-off covers the institution's reference it saw.
        if may_change && self.saved.draft.official.is_some() && !self.saved.draft.official_holds() {
            self.saved.draft.official = None;
            self.saved.draft.official_covers = None;
        }
        effects
    }

    fn step(&mut self, action: Action) -> Vec<Effect> {
        if self.locked()
            && !matches!(
                action,
                Action::Tick(_)
                    | Action::Touch
                    | Action::Language(_)
                    | Action::Key(_)
                    | Action::Backspace
                    | Action::LoginFocus(_)
                    | Action::LoginField { .. }
                    | Action::LoginChecked(_)
                    | Action::Next
                    | Action::Back
                    | Action::DiscardLocked
                    | Action::DeviceFault(_)
                    | Action::Withdrawn
            )
        {
            // A locked session takes nothing but its unlocking.
            return Vec::new();
        }
        if self.saved.screen == Screen::Withdrawn
            && !matches!(
                action,
                Action::Tick(_)
                    | Action::Touch
                    | Action::Language(_)
                    | Action::OpenStatus
                    | Action::Withdrawn
            )
        {
            // Nothing starts from here but a staff sign-in.
            return Vec::new();
        }
        let touched = !matches!(
            action,
            Action::Tick(_)
                | Action::FaceChecked { .. }
                | Action::DocumentChecked { .. }
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
            Action::Language(language) if !self.rules.offers(language) => Vec::new(),
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
                // A consent starts a new draft: nothing entered before it carries over.
                self.saved.draft = Draft {
                    language: self.saved.draft.language.clone(),
                    consent: Some(giver),
                    ..Draft::default()
                };
                self.go(Screen::Mode)
            }
            Action::StartOver => {
                self.confirm_start_over = self.can_start_over();
                Vec::new()
            }
            Action::ConfirmStartOver(yes) => {
                let asked = std::mem::take(&mut self.confirm_start_over);
                if yes && asked && self.can_start_over() {
                    self.end("session.started_over")
                } else {
                    Vec::new()
                }
            }
            Action::DiscardLocked => {
                if self.locked() {
                    self.login(LoginPurpose::Discard)
                } else {
                    Vec::new()
                }
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
            Action::StaffTab(tab) if self.saved.screen == Screen::Status => {
                self.staff_tab = tab;
                if tab == StaffTab::Devices {
                    vec![Effect::TestDevices]
                } else {
                    Vec::new()
                }
            }
            Action::StaffTab(_) => Vec::new(),
            Action::Withdrawn => self.withdraw(),
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
                        self.saved.draft.photo_override = None;
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
                // Another document: the photo was of the one chosen before.
                if field == Field::DocumentKind
                    && self.saved.draft.value(Field::DocumentKind) != value.trim()
                {
                    self.saved.draft.document_photo = None;
                }
                // One place of birth: choosing a county clears a country, and the other way.
                let other_place = match field {
                    Field::BirthCounty => Some(Field::BirthCountry),
                    Field::BirthCountry => Some(Field::BirthCounty),
                    _ => None,
                };
                if let Some(other) = other_place {
                    self.saved.draft.values.remove(&other);
                    self.problems.retain(|p| p.field != other.path());
                }
                self.search.clear();
                // What a correction changes is several answers: each touch adds or removes one.
                let value = if field == Field::AmendedFields {
                    super::draft::toggle_choice(self.saved.draft.value(field), value.trim())
                } else {
                    value
                };
                self.saved.draft.values.insert(field, value);
                self.problems.retain(|p| p.field != field.path());
                vec![Effect::Journal]
            }
            Action::Search(text) => {
                // What is typed to find a country in the long list: presentation, not an
                // answer, so it is not journalled.
                self.search = text.chars().take(40).collect();
                Vec::new()
            }
            Action::SearchBackspace => {
                self.search.pop();
                Vec::new()
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
            Action::PhotographDocument => {
                if self.saved.screen != Screen::Form(Page::Document)
                    || !self.saved.draft.has_document_to_photograph()
                {
                    return Vec::new();
                }
                self.saved.focus = None;
                self.go(Screen::DocumentPhoto)
            }
            Action::DocumentChecked { advice, image } => self.document_checked(advice, image),
            Action::RetakeDocument => {
                if self.saved.screen != Screen::DocumentPhoto {
                    return Vec::new();
                }
                self.saved.draft.document_photo = None;
                self.document_steady = 0;
                vec![Effect::Journal]
            }
            Action::Retake => {
                self.saved.draft.photo = None;
                self.saved.draft.photo_override = None;
                self.photo_reason = None;
                self.steady_frames = 0;
                vec![Effect::Journal]
            }
            Action::PhotoAnyway(reason) => {
                // A bedside photo is a hospital's route, for an operator with a supervisor.
                if self.saved.screen != Screen::Photo
                    || self.saved.draft.photo.is_some()
                    || self.saved.draft.mode != Some(Mode::Assisted)
                    || self.rules.centre != CentreKind::Hospital
                {
                    return Vec::new();
                }
                self.photo_reason = Some(reason);
                vec![Effect::ForcePhoto]
            }
            Action::PhotoForced { token, failed } => {
                if self.saved.screen != Screen::Photo || self.saved.draft.photo.is_some() {
                    return Vec::new();
                }
                let Some(reason) = self.photo_reason.take() else {
                    return Vec::new();
                };
                self.saved.draft.photo = Some(token);
                // A frame that passed after all needs no override.
                self.saved.draft.photo_override = (!failed.is_empty()).then_some(PhotoOverride {
                    failed,
                    reason: Some(reason),
                });
                self.notice = None;
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
                check,
            } => self.finger_captured(image, score, advice, check),
            Action::SelectFinger(index) => {
                if index < self.saved.draft.fingers.len() {
                    self.saved.finger = index;
                    self.last_print = None;
                    self.last_picture = None;
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
            Action::TemporarilyUnable { weeks } => {
                let Some(return_on) = self
                    .today
                    .checked_add(time::Duration::weeks(i64::from(weeks)))
                else {
                    return Vec::new();
                };
                self.step(Action::Exception(FingerException::TemporarilyUnable {
                    return_on,
                }))
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
                if self.saved.screen != Screen::Review || self.withdrawn {
                    return Vec::new();
                }
                if self.needs_supervisor() && !self.saved.draft.approval_holds() {
                    return self.login(LoginPurpose::Supervisor);
                }
                let mut problems = match self.saved.draft.enrolment(self.today) {
                    Ok(_) => Vec::new(),
                    Err(problems) => problems.0,
                };
                // Checked again here: a policy of another kind may have come since the route
                // was taken.
                problems.extend(self.saved.draft.centre_problems(self.rules.centre));
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
                // Sealed: the plaintext is no longer needed, and the images wipe as they go.
                self.saved.draft = Draft {
                    language: self.saved.draft.language.clone(),
                    mode: self.saved.draft.mode,
                    operator: self.saved.draft.operator.clone(),
                    ..Draft::default()
                };
                // The record is sealed and the journal entry went with it.
                Vec::new()
            }
            Action::Sealed(Err(problems)) => {
                self.problems = problems;
                self.notice = Some("seal-failed".into());
                self.saved.screen = Screen::Review;
                vec![Effect::Journal]
            }
            Action::Finish => match self.saved.screen {
                // The journal entry went with the seal, or with the refusal.
                Screen::Done | Screen::Declined => vec![Effect::EndSession],
                _ => Vec::new(),
            },
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
        if let Some(wait) = self.login_wait_ms {
            self.login_wait_ms = wait.checked_sub(elapsed).filter(|left| *left > 0);
        }
        if self.wipes_when_idle()
            && self.idle_ms >= self.rules.idle_warn_ms + self.rules.idle_countdown_ms
        {
            return self.end("session.idle_wipe");
        }
        if self.saved.draft.mode == Some(Mode::Assisted)
            && self.idle_ms >= self.rules.assisted_lock_ms
        {
            return self.idle_assisted();
        }
        Vec::new()
    }

    /// The registry withdrew the device. The first screen becomes the withdrawn screen; an
    /// enrolment under way ends at once without a record, its journal entry kept as it stands
    /// (not discarded, never sealed here). A record being sealed or shown, a refusal, and staff
    /// on the staff screen finish first: the next session starts withdrawn.
    fn withdraw(&mut self) -> Vec<Effect> {
        self.withdrawn = true;
        match self.saved.screen {
            Screen::Language => {
                self.saved.screen = Screen::Withdrawn;
                self.notice = None;
                Vec::new()
            }
            Screen::Withdrawn
            | Screen::Sealing
            | Screen::Done
            | Screen::Declined
            | Screen::Status => Vec::new(),
            Screen::Login if self.saved.login == Some(LoginPurpose::Status) => Vec::new(),
            _ => {
                let mut effects = Vec::new();
                if self.started() {
                    let actor = self
                        .saved
                        .draft
                        .operator
                        .clone()
                        .unwrap_or_else(|| crate::form::SELF_SERVICE.into());
                    effects.push(Effect::Audit("session.set_aside", actor));
                }
                // No `Discard`: the journal entry stays.
                effects.push(Effect::EndSession);
                effects
            }
        }
    }

    /// An assisted session left alone: locked while there is work to keep, ended when there
    /// is none (no operator signed in yet, or the record is sealed).
    fn idle_assisted(&mut self) -> Vec<Effect> {
        match self.saved.screen {
            Screen::Sealing => Vec::new(),
            Screen::Done | Screen::Declined => self.end("session.idle_wipe"),
            _ if self.saved.draft.operator.is_none() => self.end("session.idle_wipe"),
            _ if self.locked() => Vec::new(),
            screen => {
                // Back at the screen the operator left; a half-done sign-in starts again.
                let from = match (screen, self.saved.login) {
                    (Screen::Login, Some(LoginPurpose::Supervisor)) => Screen::Fingers,
                    (Screen::Login, Some(LoginPurpose::Official)) => Screen::Form(Page::Document),
                    _ => screen,
                };
                self.saved.locked_from = Some(from);
                self.confirm_start_over = false;
                let operator = self.saved.draft.operator.clone().unwrap_or_default();
                let mut effects = self.login(LoginPurpose::Resume);
                effects.push(Effect::Audit("session.locked", operator));
                effects
            }
        }
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
                if !self.login_on_pin {
                    // The wait was for the staff number typed before; another may try.
                    self.login_wait_ms = None;
                }
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
                self.login_wait_ms = None;
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
        if self.login_wait_ms.is_some() {
            // The wait is on screen; the PIN is not even checked.
            self.login_pin.clear();
            return Vec::new();
        }
        vec![Effect::CheckLogin {
            staff: self.login_staff.clone(),
            pin: std::mem::take(&mut self.login_pin),
            purpose,
        }]
    }

    fn login_checked(&mut self, outcome: LoginOutcome) -> Vec<Effect> {
        let (staff, supervisor) = match outcome {
            LoginOutcome::Accepted { staff, supervisor } => (staff, supervisor),
            LoginOutcome::Refused => return self.login_refused("login-refused"),
            LoginOutcome::Locked { seconds } => {
                self.login_pin.clear();
                self.notice = None;
                self.login_wait_ms = Some(seconds.saturating_mul(1000));
                return Vec::new();
            }
        };
        let Some(purpose) = self.saved.login else {
            return Vec::new();
        };
        let operator = self.saved.draft.operator.clone();
        match purpose {
            LoginPurpose::Supervisor | LoginPurpose::Discard if !supervisor => {
                return self.login_refused("login-not-supervisor");
            }
            // A sign-off is a second person's check.
            LoginPurpose::Supervisor if operator.as_deref() == Some(staff.as_str()) => {
                let mut effects = self.login_refused("login-same-person");
                effects.push(Effect::Audit("staff.signoff_refused", staff));
                return effects;
            }
            // The official vouches for the reference: a second person, as a supervisor is.
            LoginPurpose::Official if operator.as_deref() == Some(staff.as_str()) => {
                let mut effects = self.login_refused("login-same-person");
                effects.push(Effect::Audit("staff.official_refused", staff));
                return effects;
            }
            LoginPurpose::Resume if operator.as_deref() != Some(staff.as_str()) => {
                return self.login_refused("login-not-operator");
            }
            _ => {}
        }
        self.login_staff.clear();
        self.login_on_pin = false;
        self.login_wait_ms = None;
        self.saved.login = None;
        match purpose {
            LoginPurpose::Operator => {
                self.saved.draft.operator = Some(staff);
                self.go(Screen::Form(Page::Document))
            }
            LoginPurpose::Supervisor => {
                // The approval covers exactly what is on the screens now.
                self.saved.draft.approval = Some(self.saved.draft.approval_digest());
                self.saved.draft.supervisor = Some(staff.clone());
                let mut effects = self.go(Screen::Review);
                effects.push(Effect::Audit("staff.signoff", staff));
                effects
            }
            LoginPurpose::Status => {
                self.staff_tab = StaffTab::Status;
                self.go(Screen::Status);
                Vec::new()
            }
            LoginPurpose::Resume => {
                let back_to = self.saved.locked_from.take().unwrap_or(Screen::Mode);
                let mut effects = self.go(back_to);
                effects.push(Effect::Audit("session.resumed", staff));
                effects
            }
            LoginPurpose::Official => {
                self.saved.draft.official_covers = self.saved.draft.institution_reference();
                self.saved.draft.official = Some(staff.clone());
                let mut effects = self.after_document();
                effects.push(Effect::Audit("staff.official_signoff", staff));
                effects
            }
            LoginPurpose::Discard => {
                let mut effects = vec![Effect::Audit("session.discarded_by_supervisor", staff)];
                effects.extend(self.end("session.discarded"));
                effects
            }
        }
    }

    /// On from the document page once its official signed off: as "next" goes from it.
    fn after_document(&mut self) -> Vec<Effect> {
        self.saved.screen = Screen::Form(Page::Document);
        let mut effects = self.next();
        if !effects.contains(&Effect::Journal) {
            effects.push(Effect::Journal);
        }
        effects
    }

    fn login_refused(&mut self, code: &str) -> Vec<Effect> {
        self.login_pin.clear();
        self.notice = Some(code.into());
        Vec::new()
    }

    fn next(&mut self) -> Vec<Effect> {
        let screen = self.saved.screen;
        match screen {
            Screen::Login => return self.login_next(),
            // The document's photo is optional: taken or not, on to the page it came from.
            Screen::DocumentPhoto => return self.go(Screen::Form(Page::Document)),
            Screen::Declined
            | Screen::Done
            | Screen::Status
            | Screen::Sealing
            | Screen::Withdrawn => {
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
                if page == Page::Document {
                    // Only this centre's routes: a prison's number is refused at a hospital.
                    self.problems = self.saved.draft.centre_problems(self.rules.centre);
                    if !self.problems.is_empty() {
                        return Vec::new();
                    }
                    if self.saved.draft.institution_reference().is_some()
                        && !self.saved.draft.official_holds()
                    {
                        return self.login(LoginPurpose::Official);
                    }
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
            self.login_wait_ms = None;
            return match self.saved.login {
                Some(LoginPurpose::Operator) => {
                    self.saved.login = None;
                    self.go(Screen::Mode)
                }
                Some(LoginPurpose::Supervisor) => {
                    self.saved.login = None;
                    self.go(Screen::Fingers)
                }
                Some(LoginPurpose::Official) => {
                    self.saved.login = None;
                    self.go(Screen::Form(Page::Document))
                }
                // A locked session stays locked; from the supervisor's discard, back to the lock.
                Some(LoginPurpose::Resume) => Vec::new(),
                Some(LoginPurpose::Discard) => self.login(LoginPurpose::Resume),
                Some(LoginPurpose::Status) | None => self.end("session.abandoned"),
            };
        }
        if screen == Screen::Status {
            return self.end("session.abandoned");
        }
        if screen == Screen::DocumentPhoto {
            return self.go(Screen::Form(Page::Document));
        }
        if matches!(
            screen,
            Screen::Sealing | Screen::Done | Screen::Declined | Screen::Withdrawn
        ) {
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
                if previous == Screen::Language {
                    // Back at the first screen is the next person's: this session ends.
                    return self.end("session.abandoned");
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
                // Taken by itself: every check passed, nothing was overridden.
                self.saved.draft.photo_override = None;
                self.notice = None;
                vec![Effect::Journal]
            }
            _ => Vec::new(),
        }
    }

    fn document_checked(&mut self, advice: Option<String>, image: Option<Image>) -> Vec<Effect> {
        if self.saved.screen != Screen::DocumentPhoto || self.saved.draft.document_photo.is_some() {
            return Vec::new();
        }
        if advice.is_some() {
            self.document_advice = advice;
            self.document_steady = 0;
            return Vec::new();
        }
        self.document_advice = None;
        self.document_steady += 1;
        match image {
            Some(image) if self.document_steady >= PHOTO_STEADY_FRAMES => {
                self.saved.draft.document_photo = Some(image);
                self.notice = None;
                vec![Effect::Journal]
            }
            _ => Vec::new(),
        }
    }

    /// The prints kept under the other fingers, for the sensor's thread to compare the next
    /// print of the current finger with.
    pub fn kept_prints(&self) -> Vec<KeptPrint> {
        self.kept.others(&self.saved.draft, self.saved.finger)
    }

    fn finger_captured(
        &mut self,
        image: Image,
        score: u8,
        advice: Vec<String>,
        check: PrintCheck,
    ) -> Vec<Effect> {
        self.capturing = false;
        self.notice = None;
        self.same_finger = None;
        let finger = self.saved.finger;
        // A finger already taken under another position, presented again: not kept, not an
        // attempt of this finger; the screen names both fingers. (If the person has moved to
        // that finger since, the print is simply that finger's.)
        let fingers = &self.saved.draft.fingers;
        if let Some(other) = check.same_as.filter(|&other| {
            other != finger
                && fingers
                    .get(other)
                    .is_some_and(|slot| slot.best.is_some() && slot.exception.is_none())
        }) {
            self.notice = Some("same-finger".into());
            self.same_finger = Some(other);
            self.last_print = None;
            self.last_picture = None;
            return Vec::new();
        }
        let Some(slot) = self.saved.draft.fingers.get_mut(finger) else {
            return Vec::new();
        };
        slot.attempts = slot.attempts.saturating_add(1);
        if slot.best.as_ref().is_none_or(|(_, best)| score > *best) {
            if let Some(template) = check.template {
                self.kept.keep(finger, &image, template);
            }
            slot.best = Some((image, score));
        }
        let done = slot.done(FINGER_ATTEMPTS, FINGER_ACCEPT);
        self.last_print = Some((score, advice));
        self.last_picture = check.picture;
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
            self.last_picture = None;
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
        // Only a language was chosen: nothing journalled, so nothing to discard.
        assert_eq!(effects, [Effect::EndSession]);
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Tick(0));
        let effects = s.apply(Action::Tick(IDLE_WARN_MS + IDLE_COUNTDOWN_MS));
        assert_eq!(
            effects,
            [Effect::Discard("session.idle_wipe"), Effect::EndSession]
        );
    }

    #[test]
    fn assisted_sessions_lock_rather_than_wipe_and_end_with_no_operator() {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::Assisted));
        s.apply(Action::Tick(0));
        assert!(s.apply(Action::Tick(2 * IDLE_WARN_MS)).is_empty());
        assert_eq!(s.countdown_ms(), None, "no self-service countdown");
        // Nobody signed in yet: nothing to keep for an operator.
        assert_eq!(
            s.apply(Action::Tick(ASSISTED_LOCK_MS)),
            [Effect::Discard("session.idle_wipe"), Effect::EndSession]
        );
        let mut s = assisted_on_fingers();
        s.apply(Action::Tick(0));
        s.apply(Action::Tick(10 * ASSISTED_LOCK_MS));
        assert!(s.locked());
        assert!(
            s.apply(Action::Tick(20 * ASSISTED_LOCK_MS)).is_empty(),
            "locked, and stays so"
        );
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
                check: PrintCheck::default(),
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
            check: PrintCheck::default(),
        });
        assert_eq!(s.saved.finger, 2, "a good print needs one attempt");
    }

    fn print(n: u8) -> Image {
        Image {
            format: crate::biometrics::ImageFormat::Wsq,
            width: 256,
            height: 288,
            data: vec![n; 8],
        }
    }

    /// A self-service session on the document page with a number typed in.
    fn on_document_page() -> Session {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::SelfService));
        type_text(&mut s, Field::DocumentNumber, "12345678");
        assert_eq!(s.draft().value(Field::DocumentNumber), "12345678");
        s
    }

    #[test]
    fn the_document_is_photographed_from_its_page_once_steady_and_goes_with_its_kind() {
        let mut s = on_document_page();
        // No kind chosen yet: nothing to photograph.
        assert!(s.apply(Action::PhotographDocument).is_empty());
        s.apply(Action::Choose(Field::DocumentKind, "national_id".into()));
        s.apply(Action::PhotographDocument);
        assert_eq!(s.screen(), Screen::DocumentPhoto);
        assert!(s.can_start_over());
        s.apply(Action::DocumentChecked {
            advice: Some("document-glare".into()),
            image: None,
        });
        assert_eq!(s.document_advice.as_deref(), Some("document-glare"));
        assert_eq!(s.draft().document_photo, None);
        // Kept only after enough passing frames in a row.
        for n in 1..=PHOTO_STEADY_FRAMES {
            assert_eq!(s.draft().document_photo, None, "frame {n}");
            s.apply(Action::DocumentChecked {
                advice: None,
                image: Some(print(7)),
            });
        }
        assert_eq!(s.draft().document_photo, Some(print(7)));
        assert_eq!(s.document_advice, None);
        // A frame after it was taken changes nothing; taking it again clears it.
        s.apply(Action::DocumentChecked {
            advice: Some("document-blurred".into()),
            image: None,
        });
        assert_eq!(s.draft().document_photo, Some(print(7)));
        s.apply(Action::RetakeDocument);
        assert_eq!(s.draft().document_photo, None);
        for _ in 0..PHOTO_STEADY_FRAMES {
            s.apply(Action::DocumentChecked {
                advice: None,
                image: Some(print(8)),
            });
        }
        // Next goes back to the document page, as does back.
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        s.apply(Action::PhotographDocument);
        s.apply(Action::Back);
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        assert_eq!(s.draft().document_photo, Some(print(8)));
        // The same kind chosen again keeps it; another kind drops it.
        s.apply(Action::Choose(Field::DocumentKind, "national_id".into()));
        assert_eq!(s.draft().document_photo, Some(print(8)));
        s.apply(Action::Choose(
            Field::DocumentKind,
            "driving_licence".into(),
        ));
        assert_eq!(s.draft().document_photo, None);
        // Frames for a document page not on screen are ignored.
        s.apply(Action::DocumentChecked {
            advice: None,
            image: Some(print(9)),
        });
        assert_eq!(s.draft().document_photo, None);
    }

    #[test]
    fn an_introducer_has_no_document_to_photograph_and_the_record_keeps_none() {
        let mut s = on_document_page();
        s.apply(Action::Choose(Field::DocumentKind, "introducer".into()));
        assert!(s.apply(Action::PhotographDocument).is_empty());
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        // A photo left in the draft by some other path is still not sealed with a stand-in.
        s.saved.draft.document_photo = Some(print(3));
        assert!(!s.draft().has_document_to_photograph());
    }

    #[test]
    fn back_to_the_first_screen_ends_the_session_and_a_new_consent_starts_empty() {
        let mut s = on_document_page();
        assert_eq!(s.apply(Action::Back), [Effect::Journal]);
        assert_eq!(s.screen(), Screen::Mode);
        s.apply(Action::Back);
        assert_eq!(s.screen(), Screen::Consent);
        // Agreeing again from here is a new consent: nothing typed before it survives.
        s.apply(Action::Agree(ConsentGiver::Applicant));
        assert!(s.draft().values.is_empty(), "{:?}", s.draft().values);
        let mut s = on_document_page();
        s.apply(Action::Back);
        s.apply(Action::Back);
        let effects = s.apply(Action::Back);
        assert_eq!(
            effects,
            [Effect::Discard("session.abandoned"), Effect::EndSession]
        );
    }

    #[test]
    fn start_over_asks_first_then_ends_the_session() {
        let mut s = on_document_page();
        assert!(s.can_start_over());
        assert!(s.apply(Action::StartOver).is_empty());
        assert!(s.confirm_start_over);
        assert!(s.apply(Action::ConfirmStartOver(false)).is_empty());
        assert!(!s.confirm_start_over);
        assert_eq!(s.draft().value(Field::DocumentNumber), "12345678");
        // "Yes" without the question being asked does nothing.
        assert!(s.apply(Action::ConfirmStartOver(true)).is_empty());
        s.apply(Action::StartOver);
        assert_eq!(
            s.apply(Action::ConfirmStartOver(true)),
            [Effect::Discard("session.started_over"), Effect::EndSession]
        );
        let first = Session::new(2, today());
        assert!(
            !first.can_start_over(),
            "nothing to start over on the first screen"
        );
    }

    fn assisted_on_fingers() -> Session {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::Assisted));
        s.apply(Action::LoginChecked(LoginOutcome::Accepted {
            staff: "OP-1".into(),
            supervisor: false,
        }));
        assert_eq!(s.draft().operator.as_deref(), Some("OP-1"));
        s.saved.draft.photo = Some(print(1));
        s.saved.screen = Screen::Fingers;
        for finger in 0..10 {
            s.apply(Action::SelectFinger(finger));
            if finger < 2 {
                s.apply(Action::Exception(FingerException::Injured));
            } else {
                s.apply(Action::CaptureFinger);
                s.apply(Action::FingerCaptured {
                    image: print(finger as u8),
                    score: 80,
                    advice: Vec::new(),
                    check: PrintCheck::default(),
                });
            }
        }
        s
    }

    fn sign_off(s: &mut Session, staff: &str, supervisor: bool) -> Vec<Effect> {
        s.apply(Action::LoginChecked(LoginOutcome::Accepted {
            staff: staff.into(),
            supervisor,
        }))
    }

    #[test]
    fn a_sign_off_covers_what_it_saw_and_a_retaken_photo_needs_another() {
        let mut s = assisted_on_fingers();
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Login);
        assert_eq!(s.saved.login, Some(LoginPurpose::Supervisor));
        // The operator cannot approve their own session, nor can an operator approve at all.
        sign_off(&mut s, "OP-1", true);
        assert_eq!(s.notice.as_deref(), Some("login-same-person"));
        sign_off(&mut s, "OP-2", false);
        assert_eq!(s.notice.as_deref(), Some("login-not-supervisor"));
        assert_eq!(s.draft().supervisor, None);
        let effects = sign_off(&mut s, "SUP-1", true);
        assert!(effects.contains(&Effect::Audit("staff.signoff", "SUP-1".into())));
        assert_eq!(s.screen(), Screen::Review);
        assert!(s.draft().approval_holds());
        // Retake the photo: the approval goes with the old one.
        s.apply(Action::EditScreen(Screen::Photo));
        assert_eq!(s.draft().supervisor, None);
        s.saved.draft.photo = Some(print(99));
        s.saved.screen = Screen::Review;
        assert_eq!(s.apply(Action::Seal), [Effect::Journal]);
        assert_eq!(
            s.screen(),
            Screen::Login,
            "sealing asks for the supervisor again"
        );
        sign_off(&mut s, "SUP-1", true);
        assert_eq!(s.screen(), Screen::Review);
        // Approved again: sealing goes on to the form's own rules (this draft has no form).
        s.apply(Action::Seal);
        assert_eq!(s.screen(), Screen::Review);
        assert!(!s.problems.is_empty());
        assert!(
            !s.problems.iter().any(|p| p.field.starts_with("staff")),
            "{:?}",
            s.problems
        );
    }

    #[test]
    fn a_print_retaken_after_the_sign_off_takes_the_sign_off_away() {
        let mut s = assisted_on_fingers();
        s.apply(Action::Next);
        sign_off(&mut s, "SUP-1", true);
        assert!(s.draft().approval_holds());
        s.saved.screen = Screen::Fingers;
        s.apply(Action::SelectFinger(0));
        s.apply(Action::ClearException);
        assert_eq!(s.draft().supervisor, None, "an exception withdrawn");
    }

    #[test]
    fn an_idle_assisted_session_locks_and_only_its_operator_opens_it() {
        let mut s = assisted_on_fingers();
        s.apply(Action::Tick(0));
        assert!(s.apply(Action::Tick(ASSISTED_LOCK_MS - 1)).is_empty());
        let effects = s.apply(Action::Tick(ASSISTED_LOCK_MS));
        assert!(effects.contains(&Effect::Audit("session.locked", "OP-1".into())));
        assert!(s.locked());
        assert_eq!(s.screen(), Screen::Login);
        assert!(
            !s.can_start_over(),
            "a locked session cannot be thrown away by anyone"
        );
        assert!(s.apply(Action::Back).is_empty());
        assert!(
            s.apply(Action::SelectFinger(3)).is_empty(),
            "nothing but the unlock"
        );
        sign_off(&mut s, "OP-9", false);
        assert_eq!(s.notice.as_deref(), Some("login-not-operator"));
        sign_off(&mut s, "OP-1", false);
        assert!(!s.locked());
        assert_eq!(s.screen(), Screen::Fingers);
        assert_eq!(s.draft().fingers[5].attempts, 1, "everything kept");
    }

    #[test]
    fn a_supervisor_discards_a_locked_session() {
        let mut s = assisted_on_fingers();
        s.apply(Action::Tick(0));
        s.apply(Action::Tick(ASSISTED_LOCK_MS));
        s.apply(Action::DiscardLocked);
        assert_eq!(s.saved.login, Some(LoginPurpose::Discard));
        sign_off(&mut s, "OP-1", false);
        assert_eq!(s.notice.as_deref(), Some("login-not-supervisor"));
        let effects = sign_off(&mut s, "SUP-1", true);
        assert!(effects.ends_with(&[Effect::Discard("session.discarded"), Effect::EndSession]));
    }

    #[test]
    fn a_locked_staff_number_shows_its_wait_and_is_not_checked_meanwhile() {
        let mut s = Session::new(1, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::Assisted));
        s.apply(Action::Tick(0));
        s.apply(Action::LoginChecked(LoginOutcome::Locked { seconds: 30 }));
        assert_eq!(s.login_wait_ms, Some(30_000));
        s.login_staff = "OP-1".into();
        s.login_on_pin = true;
        s.login_pin = "123456".into();
        assert!(s.apply(Action::Next).is_empty(), "no check while waiting");
        s.apply(Action::Tick(29_000));
        assert_eq!(s.login_wait_ms, Some(1_000));
        s.apply(Action::Tick(30_000));
        assert_eq!(s.login_wait_ms, None);
        s.login_pin = "123456".into();
        assert!(matches!(
            s.apply(Action::Next).as_slice(),
            [Effect::CheckLogin { .. }]
        ));
        // One staff number's wait does not hold up another's sign-in.
        s.apply(Action::LoginChecked(LoginOutcome::Locked { seconds: 60 }));
        s.login_on_pin = false;
        s.apply(Action::Backspace);
        s.apply(Action::Key('2'));
        assert_eq!(s.login_staff, "OP-2");
        assert_eq!(s.login_wait_ms, None);
        s.login_on_pin = true;
        s.login_pin = "654321".into();
        assert!(matches!(
            s.apply(Action::Next).as_slice(),
            [Effect::CheckLogin { staff, .. }] if staff == "OP-2"
        ));
    }

    fn policy_settings(idle_timeout_s: u32, languages: &[&str]) -> Settings {
        Settings {
            idle_timeout_s,
            assisted_lock_s: 120,
            languages: languages.iter().map(|code| (*code).to_owned()).collect(),
            ..Settings::default()
        }
    }

    #[test]
    fn a_policys_idle_timeout_is_the_whole_time_to_the_wipe_countdown_included() {
        let rules = Rules::from_settings(&policy_settings(180, &["en", "sw"]));
        assert_eq!(rules.idle_warn_ms, 150_000);
        assert_eq!(rules.idle_countdown_ms, IDLE_COUNTDOWN_MS);
        assert_eq!(rules.assisted_lock_ms, 120_000);
        let short = Rules::from_settings(&policy_settings(40, &["en"]));
        assert_eq!(
            (short.idle_warn_ms, short.idle_countdown_ms),
            (20_000, 20_000)
        );
        // The build's own settings give the build's own rules.
        assert_eq!(Rules::from_settings(&Settings::default()), Rules::default());

        let mut s = Session::with_rules(1, today(), rules);
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Tick(0));
        s.apply(Action::Tick(IDLE_WARN_MS + 1_000));
        assert_eq!(s.countdown_ms(), None, "the policy's timeout is longer");
        s.apply(Action::Tick(151_000));
        assert_eq!(s.countdown_ms(), Some(29_000));
        assert_eq!(
            s.apply(Action::Tick(180_000)),
            [Effect::Discard("session.idle_wipe"), Effect::EndSession]
        );
    }

    #[test]
    fn only_the_policys_languages_are_offered_and_the_first_is_spoken_first() {
        let rules = Rules::from_settings(&policy_settings(90, &["sw"]));
        let mut s = Session::with_rules(1, today(), rules);
        assert_eq!(s.language(), Language::Kiswahili);
        assert!(s.apply(Action::Language(Language::English)).is_empty());
        assert_eq!(s.screen(), Screen::Language);
        s.apply(Action::Language(Language::Kiswahili));
        assert_eq!(s.screen(), Screen::Consent);
        // A policy that drops the language being spoken switches to its own first.
        let mut s = Session::new(2, today());
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        let effects = s.set_rules(Rules::from_settings(&policy_settings(90, &["sw"])));
        assert_eq!(
            effects,
            [Effect::Translate(Language::Kiswahili), Effect::Journal]
        );
        assert_eq!(s.draft().language, "sw");
    }

    #[test]
    fn a_withdrawn_kiosk_starts_no_enrolment_and_keeps_the_one_under_way() {
        let mut s = Session::new(1, today());
        assert!(s.apply(Action::Withdrawn).is_empty());
        assert_eq!(s.screen(), Screen::Withdrawn);
        for action in [
            Action::Next,
            Action::Back,
            Action::Agree(ConsentGiver::Applicant),
            Action::Language(Language::Kiswahili),
            Action::Tick(0),
            Action::Tick(10 * IDLE_WARN_MS),
        ] {
            s.apply(action);
            assert_eq!(s.screen(), Screen::Withdrawn);
        }
        assert_eq!(s.countdown_ms(), None);
        // Staff still sign in to the staff screen from it.
        s.apply(Action::OpenStatus);
        assert_eq!(s.screen(), Screen::Login);
        assert_eq!(s.saved.login, Some(LoginPurpose::Status));
        assert!(
            s.apply(Action::Withdrawn).is_empty(),
            "staff sign in undisturbed"
        );

        // An enrolment under way ends without a discard: its journal entry stays.
        let mut s = assisted_on_fingers();
        assert_eq!(
            s.apply(Action::Withdrawn),
            [
                Effect::Audit("session.set_aside", "OP-1".into()),
                Effect::EndSession
            ]
        );
        // Nor can a draft that is on the review seal.
        let mut s = assisted_on_fingers();
        s.withdrawn = true;
        s.saved.screen = Screen::Review;
        assert!(!s.apply(Action::Seal).contains(&Effect::Seal));
        assert_eq!(s.screen(), Screen::Review);
    }

    #[test]
    fn the_device_checks_run_when_their_tab_is_shown_on_the_staff_screen() {
        let mut s = Session::new(1, today());
        assert!(s.apply(Action::StaffTab(StaffTab::Devices)).is_empty());
        s.apply(Action::OpenStatus);
        s.apply(Action::LoginChecked(LoginOutcome::Accepted {
            staff: "OP-1".into(),
            supervisor: false,
        }));
        assert_eq!(s.screen(), Screen::Status);
        assert_eq!(s.staff_tab, StaffTab::Status);
        assert!(s.apply(Action::StaffTab(StaffTab::Day)).is_empty());
        assert_eq!(s.staff_tab, StaffTab::Day);
        assert_eq!(
            s.apply(Action::StaffTab(StaffTab::Devices)),
            [Effect::TestDevices]
        );
        assert_eq!(StaffTab::from_id("devices"), Some(StaffTab::Devices));
    }

    /// An operator's session at a centre of `centre`, on the document page, the prison's or
    /// hospital's reference chosen as the document.
    fn held_by_the_institution(centre: CentreKind, kind: &str) -> Session {
        let rules = Rules {
            centre,
            ..Rules::default()
        };
        let mut s = Session::with_rules(1, today(), rules);
        s.apply(Action::Language(Language::English));
        s.apply(Action::Agree(ConsentGiver::Applicant));
        s.apply(Action::Mode(Mode::Assisted));
        sign_off(&mut s, "OP-1", false);
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        s.apply(Action::Choose(Field::Citizenship, "kenyan".into()));
        s.apply(Action::Choose(Field::DocumentKind, kind.into()));
        type_text(&mut s, Field::DocumentNumber, "KAM-2026-0142");
        s
    }

    #[test]
    fn a_prisons_number_stands_in_for_the_document_once_an_official_signs_it_off() {
        let mut s = held_by_the_institution(CentreKind::Prison, "prison_number");
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Login);
        assert_eq!(s.saved.login, Some(LoginPurpose::Official));
        // The operator cannot vouch for their own work.
        let effects = sign_off(&mut s, "OP-1", false);
        assert_eq!(s.notice.as_deref(), Some("login-same-person"));
        assert!(effects.contains(&Effect::Audit("staff.official_refused", "OP-1".into())));
        assert_eq!(s.draft().official, None);
        let effects = sign_off(&mut s, "OFF-7", false);
        assert!(effects.contains(&Effect::Audit("staff.official_signoff", "OFF-7".into())));
        assert_eq!(s.screen(), Screen::Form(Page::Names));
        assert_eq!(s.draft().official.as_deref(), Some("OFF-7"));
        assert_eq!(s.draft().staff().official.as_deref(), Some("OFF-7"));
        // Another number is another reference: the sign-off goes with the old one.
        s.apply(Action::Edit(Page::Document));
        s.apply(Action::Focus(Field::DocumentNumber));
        s.apply(Action::Key('9'));
        assert_eq!(s.draft().official, None);
        s.apply(Action::Next);
        assert_eq!(s.saved.login, Some(LoginPurpose::Official));
        // Back from the official's sign-in is the document page.
        s.apply(Action::Back);
        assert_eq!(s.screen(), Screen::Form(Page::Document));
    }

    #[test]
    fn an_introducer_vouches_at_any_centre_by_number_and_name() {
        let number = crate::record::RegistrationNumber {
            device: crate::record::DeviceId::from_digest(&[7; 32]),
            seq: 41,
        }
        .to_string();
        let mut s = held_by_the_institution(CentreKind::PublicOffice, "introducer");
        s.saved.draft.values.remove(&Field::DocumentNumber);
        type_text(&mut s, Field::DocumentNumber, &number);
        // Without the introducer's name the page stays.
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Form(Page::Document));
        assert!(
            s.problems
                .iter()
                .any(|p| p.field == "document.introducer_name"),
            "{:?}",
            s.problems
        );
        type_text(&mut s, Field::IntroducerName, "JUMA MWANGI");
        s.apply(Action::Next);
        // No official: a registered person vouches, not an institution.
        assert_eq!(s.screen(), Screen::Form(Page::Names), "{:?}", s.problems);
        let (demographics, _) = s.draft().demographics();
        assert_eq!(
            demographics.document.introducer_name.as_deref(),
            Some("JUMA MWANGI")
        );
        assert_eq!(demographics.document.number, number);
    }

    #[test]
    fn a_centre_offers_only_its_own_kind_of_reference() {
        for (centre, kind) in [
            (CentreKind::PublicOffice, "prison_number"),
            (CentreKind::Hospital, "prison_number"),
            (CentreKind::Prison, "hospital_file"),
            (CentreKind::PublicOffice, "hospital_file"),
        ] {
            let mut s = held_by_the_institution(centre, kind);
            s.apply(Action::Next);
            assert_eq!(s.screen(), Screen::Form(Page::Document), "{centre} {kind}");
            assert!(
                s.problems.iter().any(|p| p.field == "document.kind"
                    && p.kind == crate::form::ProblemKind::NotAtThisCentre),
                "{centre} {kind}: {:?}",
                s.problems
            );
        }
        let mut s = held_by_the_institution(CentreKind::Hospital, "hospital_file");
        s.apply(Action::Next);
        assert_eq!(s.saved.login, Some(LoginPurpose::Official));
    }

    #[test]
    fn only_an_operator_at_a_hospital_takes_a_photo_whose_checks_fail() {
        let on_photo = |centre, mode| {
            let mut s = Session::with_rules(
                1,
                today(),
                Rules {
                    centre,
                    ..Rules::default()
                },
            );
            s.apply(Action::Language(Language::English));
            s.apply(Action::Agree(ConsentGiver::Applicant));
            s.apply(Action::Mode(mode));
            if mode == Mode::Assisted {
                sign_off(&mut s, "OP-1", false);
            }
            s.saved.screen = Screen::Photo;
            s
        };
        let anyway = Action::PhotoAnyway(PhotoOverrideReason::LyingDown);
        for (centre, mode) in [
            (CentreKind::Prison, Mode::Assisted),
            (CentreKind::PublicOffice, Mode::Assisted),
            (CentreKind::Hospital, Mode::SelfService),
        ] {
            let mut s = on_photo(centre, mode);
            assert!(s.apply(anyway.clone()).is_empty(), "{centre} {mode:?}");
            // A frame forced by nobody is not taken.
            s.apply(Action::PhotoForced {
                token: print(1),
                failed: vec![FaceCheck::Roll],
            });
            assert_eq!(s.draft().photo, None);
        }
        let mut s = on_photo(CentreKind::Hospital, Mode::Assisted);
        assert_eq!(s.apply(anyway), [Effect::ForcePhoto]);
        s.apply(Action::PhotoForced {
            token: print(1),
            failed: vec![FaceCheck::OneFace],
        });
        assert_eq!(s.draft().photo, Some(print(1)));
        assert_eq!(
            s.draft().photo_override,
            Some(PhotoOverride {
                failed: vec![FaceCheck::OneFace],
                reason: Some(PhotoOverrideReason::LyingDown),
            })
        );
        // Taken again, the override goes with the photo.
        s.apply(Action::Retake);
        assert_eq!(s.draft().photo_override, None);
    }

    #[test]
    fn a_finger_in_a_cast_is_excused_until_a_day_weeks_ahead() {
        let mut s = assisted_on_fingers();
        s.apply(Action::SelectFinger(6));
        s.apply(Action::TemporarilyUnable { weeks: 4 });
        let expected = today() + time::Duration::weeks(4);
        assert_eq!(
            s.draft().fingers[6].exception,
            Some(FingerException::TemporarilyUnable {
                return_on: expected
            })
        );
        // A supervisor signs it off like any exception, and the record carries the day.
        s.apply(Action::Next);
        assert_eq!(s.saved.login, Some(LoginPurpose::Supervisor));
        sign_off(&mut s, "SUP-1", true);
        assert_eq!(s.screen(), Screen::Review);
        assert!(s.draft().approval_holds());
    }

    #[test]
    fn a_correction_asks_its_own_page_and_its_changes_toggle() {
        let mut s = on_document_page();
        s.apply(Action::Choose(Field::Citizenship, "kenyan".into()));
        s.apply(Action::Choose(Field::DocumentKind, "national_id".into()));
        s.apply(Action::Next);
        assert_eq!(
            s.screen(),
            Screen::Form(Page::Names),
            "a new enrolment skips it"
        );
        s.apply(Action::Back);
        s.apply(Action::Choose(Field::Purpose, "correction".into()));
        s.apply(Action::Next);
        assert_eq!(s.screen(), Screen::Form(Page::Amendment));
        assert_eq!(s.saved.focus, Some(Field::Amends), "the keyboard comes up");
        // Nothing filled in: the page names the number, what changes and why.
        s.apply(Action::Next);
        let fields: Vec<_> = s.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["amendment.amends", "amendment.fields", "amendment.reason"]
        );
        for id in ["names", "sex", "names"] {
            s.apply(Action::Choose(Field::AmendedFields, id.into()));
        }
        assert_eq!(
            s.draft().value(Field::AmendedFields),
            "sex",
            "names twice is off"
        );
        let (demographics, _) = s.draft().demographics();
        let amendment = demographics
            .amendment
            .unwrap_or_else(|| panic!("no amendment"));
        assert_eq!(amendment.fields, [crate::form::AmendedField::Sex]);
        assert_eq!(amendment.reason, None);
    }

    #[test]
    fn one_place_of_birth_and_the_country_search_is_not_kept() {
        let mut s = on_document_page();
        s.apply(Action::Choose(Field::BirthCountry, "UGA".into()));
        s.apply(Action::Search("som".into()));
        assert_eq!(s.search, "som");
        s.apply(Action::SearchBackspace);
        assert_eq!(s.search, "so");
        s.apply(Action::Choose(Field::BirthCounty, "47".into()));
        assert_eq!(
            s.draft().value(Field::BirthCountry),
            "",
            "a county clears the country"
        );
        assert_eq!(s.search, "", "a choice ends the search");
        let (demographics, _) = s.draft().demographics();
        assert_eq!(
            demographics.place_of_birth,
            Some(crate::form::PlaceOfBirth {
                county: Some(47),
                country: None
            })
        );
        // Digits alone are a parent's national ID; anything else a registration number.
        s.saved
            .draft
            .values
            .insert(Field::GuardianRelationship, "mother".into());
        s.saved
            .draft
            .values
            .insert(Field::GuardianName, "GRACE".into());
        s.saved
            .draft
            .values
            .insert(Field::GuardianId, "22334455".into());
        s.saved
            .draft
            .values
            .insert(Field::Guardian2Relationship, "father".into());
        s.saved
            .draft
            .values
            .insert(Field::Guardian2Name, "PETER".into());
        s.saved
            .draft
            .values
            .insert(Field::Guardian2Id, "HWSA-QAY5-0001-Z".into());
        let (demographics, _) = s.draft().demographics();
        let numbers: Vec<_> = demographics
            .guardians
            .iter()
            .map(|g| (g.id_number.as_deref(), g.registration_number.as_deref()))
            .collect();
        assert_eq!(
            numbers,
            [(Some("22334455"), None), (None, Some("HWSA-QAY5-0001-Z"))]
        );
        // The check symbol's complaint lands on the box the number was typed into.
        let problems = s.draft().problems(s.today, Some(&[Page::Guardian]));
        assert!(
            problems.iter().any(|p| p.field == "guardians[1].id_number"
                && p.kind == crate::form::ProblemKind::RegistrationNumberMistyped),
            "{problems:?}"
        );
    }
}
