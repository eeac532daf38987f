//! Biometric captures: checking the image files that go into a record, and the fingerprint
//! and face processing done on the device.

pub mod face;
pub mod grey;
mod image;
pub mod iso19794;
pub mod photo;
pub mod quality;
pub mod synth;
pub mod wsq;

pub use image::{Image, ImageError, ImageFormat, ImageRole, MAX_FILE_BYTES, MAX_SIDE, check};
