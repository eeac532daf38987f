//! The kiosk's screens, compiled from `../*.slint` by build.rs. Rust sets the `Kiosk` global
//! and gets every touch back through `Kiosk.act(name, value)`; see `sajili::ui`.

// The code Slint generates: its lints are Slint's business.
#[allow(
    missing_docs,
    unsafe_code,
    unused_qualifications,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]
mod generated {
    slint::include_modules!();
}

pub use generated::{
    Choice, FieldState, FingerView, Kiosk, KioskWindow, Labels, ReviewLine, StatusLine, Theme,
};
