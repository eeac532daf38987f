//! Camera frames (USB glitches, truncated buffers): the MJPEG repair and the frame decoder never
//! panic, and a repaired frame always has Huffman tables.
#![no_main]
use sajili_drivers::camera::{PixelFormat, RawFrame, decode, has_huffman_tables, repair};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(fixed) = repair(data) {
        assert_eq!(has_huffman_tables(&fixed), Ok(true));
    }
    let frame = RawFrame { bytes: data.to_vec(), timestamp: Default::default() };
    let _ = decode(PixelFormat::Mjpeg, 64, 48, frame.clone());
    let _ = decode(PixelFormat::Yuyv, 8, 4, frame);
});
