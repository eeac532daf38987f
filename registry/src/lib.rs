//! `sajili-registry`: Sajili's registry. Ingest nodes provision devices (a certificate for a
//! CSR and a one-time token), take their sealed records over mutual TLS, check signature and
//! chain, store the ciphertext durably (redb for a pilot, PostgreSQL for several nodes) and
//! answer each with a signed receipt. The back office, holding the identity the nodes never
//! see, decrypts and checks what arrived (`process`). Protocol: docs/registry-protocol.md.

pub mod api;
pub mod commands;
pub mod fleet;
#[cfg(feature = "test-hooks")]
pub mod hooks;
pub mod incidents;
pub mod keys;
pub mod metrics;
pub mod node;
pub mod ops;
pub mod ordering;
pub mod process;
pub mod server;
pub mod store;
pub mod updates;
pub mod withdrawn;
