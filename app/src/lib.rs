//! Sajili: a self-contained kiosk for national biometric identity enrolment.
//!
//! The library holds everything the `sajili` binary does, so it can be tested without it:
//! the NIIMS form and its rules ([`form`]), image checks ([`biometrics`]), the sealed record
//! ([`record`]), the redb store ([`store`]), the device's identity on disk ([`device`]), the
//! clock floor ([`clock`]) and the enrolment flow that binds them ([`kiosk`]).

pub mod biometrics;
pub mod clock;
pub mod device;
pub mod doctor;
pub mod fleet;
pub mod kiosk;
pub mod simulate;
pub mod slip;
pub mod spool;
pub mod staff;
pub mod store;
#[cfg(feature = "ui")]
pub mod ui;
pub mod update;
pub mod uplink;

pub mod fixtures;

// Shared with the registry (the `sajili-record` crate), under their old paths.
pub use sajili_record::{export, form, logging, record};
