//! The image files a record carries: checking them, greyscale pictures, the WSQ codec, the
//! ISO/IEC 19794 records, and the synthetic prints the twins and tests use.

pub mod grey;
mod image;
pub mod iso19794;
pub mod synth;
pub mod wsq;

pub use image::{Image, ImageError, ImageFormat, ImageRole, MAX_FILE_BYTES, MAX_SIDE, check};
