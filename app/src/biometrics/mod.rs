//! Biometric captures: the image files that go into a record (from `sajili-record`, shared
//! with the registry), and the fingerprint and face processing done on the device.

pub mod document;
pub mod face;
pub mod matching;
pub mod photo;
pub mod quality;
pub mod specimen;

pub use sajili_record::biometrics::{
    Image, ImageError, ImageFormat, ImageRole, MAX_FILE_BYTES, MAX_SIDE, check, grey, iso19794,
    synth, wsq,
};
