//! What a Sajili kiosk and its registry share, and nothing else: the NIIMS form and its rules
//! ([`form`]), the image files a record carries ([`biometrics`]), the sealed record and its
//! receipt, chain and registration number ([`record`]), its standard exports ([`export`]), the
//! registry's trust bundle ([`bundle`]), the fleet policy ([`policy`]) and staff PINs ([`pin`]), durable and careful file access ([`files`]) and the protocol between them ([`protocol`]).
//!
//! Its own crate so the registry builds without the touchscreen and the device drivers; the
//! kiosk re-exports these modules under their old paths.

pub mod biometrics;
pub mod bundle;
pub mod export;
pub mod files;
pub mod fixtures;
pub mod form;
pub mod logging;
pub mod pin;
pub mod policy;
pub mod protocol;
pub mod record;
pub mod update;
