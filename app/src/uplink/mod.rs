//! The uplink: provisioning the device's TLS identity, and sending sealed records to the
//! registry over mutual TLS until each has a verified receipt. It reads only ciphertext (the
//! spool's outbox) and never the record-signing key or the kiosk's store.

pub mod client;
pub mod fleet;
pub mod identity;
pub mod nodes;
pub mod state;
pub mod sync;
pub mod tls;
pub mod update;

/// The registry protocol, shared with the registry.
pub use sajili_record::protocol;
