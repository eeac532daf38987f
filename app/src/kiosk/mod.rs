//! The enrolment flow that binds the form, the biometrics, the record and the store.

mod enrol;
mod handoff;
mod import;
mod journal;

pub use enrol::{EnrolError, SealedEnrolment, enrol};
pub use handoff::{HandoffError, HandoffReport, handoff};
pub use import::{FingerSource, ImportError, ImportRequest, InputProblem, load};
pub use journal::{decrypt_draft, encrypt_draft};
