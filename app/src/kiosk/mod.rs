//! The enrolment flow that binds the form, the biometrics, the record and the store: the
//! kiosk's session state machine, its journal, and sealing.

mod day;
mod draft;
mod enrol;
mod fields;
mod handoff;
mod import;
mod journal;
mod kept;
mod session;

pub use day::{DaySummary, summarise_day};
pub use draft::{CONSENT_TEXT_VERSION, Draft, FingerSlot, Mode, parse_date, show_date};
pub use enrol::{EnrolError, SealedEnrolment, enrol, seal_session};
pub use fields::{Entry, Field, Page};
pub use handoff::{HandoffError, HandoffReport, handoff};
pub use import::{FingerSource, ImportError, ImportRequest, InputProblem, load};
pub use journal::{decrypt_draft, encrypt_draft, rotate_key_if_idle};
pub use kept::{KeptPrint, KeptTemplates, PrintCheck, Reference};
pub use session::{
    ASSISTED_LOCK_MS, Action, Effect, FINGER_ACCEPT, FINGER_ATTEMPTS, IDLE_COUNTDOWN_MS,
    IDLE_WARN_MS, LoginOutcome, LoginPurpose, PHOTO_STEADY_FRAMES, Rules, Saved, Screen, Session,
    StaffTab,
};
