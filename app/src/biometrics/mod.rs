//! Biometric captures: checking the image files that go into a record.

mod image;
pub mod synth;

pub use image::{Image, ImageError, ImageFormat, ImageRole, MAX_FILE_BYTES, MAX_SIDE, check};
