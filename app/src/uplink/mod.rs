//! The uplink: provisioning the device's TLS identity, and sending sealed records to the
//! registry over mutual TLS until each has a verified receipt. It reads only ciphertext (the
//! spool's outbox) and never the record-signing key or the kiosk's store.

pub mod client;
pub mod identity;
pub mod protocol;
pub mod state;
pub mod sync;
pub mod tls;
