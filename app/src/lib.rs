//! Sajili: a self-contained kiosk for national biometric identity enrolment.
//!
//! The library holds everything the `sajili` binary does, so it can be tested without it:
//! the NIIMS form and its rules ([`form`]), image checks ([`biometrics`]), the sealed record
//! ([`record`]), the redb store ([`store`]), the device's identity on disk ([`device`]) and the
//! enrolment flow that binds them ([`kiosk`]).

pub mod biometrics;
pub mod form;
pub mod record;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
