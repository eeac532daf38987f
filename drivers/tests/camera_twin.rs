//! The camera path (MJPEG repair and decode, YUYV conversion, reconnection) over the twin.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::Ordering;

use sajili_drivers::camera::{
    Camera, CameraError, CameraFaults, CameraTwin, PixelFormat, RawFrame, decode,
    has_huffman_tables, repair, strip_huffman_tables,
};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;

fn encode_jpeg(rgb: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn a_frame_without_huffman_tables_is_repaired_to_the_same_pixels() {
    let rgb = CameraTwin::scene(320, 240, 0);
    let jpeg = encode_jpeg(&rgb, 320, 240);
    assert!(has_huffman_tables(&jpeg).unwrap());
    let stripped = strip_huffman_tables(&jpeg).unwrap();
    assert!(!has_huffman_tables(&stripped).unwrap());
    assert!(
        JpegDecoder::new(ZCursor::new(&stripped)).decode().is_err(),
        "a decoder needs the tables"
    );

    let repaired = repair(&stripped).unwrap();
    assert!(has_huffman_tables(&repaired).unwrap());
    let original = JpegDecoder::new(ZCursor::new(&jpeg)).decode().unwrap();
    let fixed = JpegDecoder::new(ZCursor::new(repaired.as_ref()))
        .decode()
        .unwrap();
    assert_eq!(
        original, fixed,
        "the standard tables are the ones the encoder used"
    );
    assert!(
        matches!(repair(&jpeg), Ok(std::borrow::Cow::Borrowed(_))),
        "complete frames pass untouched"
    );
}

#[test]
fn damaged_frames_are_refused_not_decoded_into_garbage() {
    assert!(repair(b"not a jpeg").is_err());
    let jpeg = encode_jpeg(&CameraTwin::scene(64, 48, 0), 64, 48);
    assert!(repair(&jpeg[..30]).is_err());
    let frame = RawFrame {
        bytes: jpeg,
        timestamp: Default::default(),
    };
    let wrong_size = decode(PixelFormat::Mjpeg, 640, 480, frame);
    assert!(matches!(wrong_size, Err(CameraError::BadFrame(_))));
    let short = RawFrame {
        bytes: vec![0; 10],
        timestamp: Default::default(),
    };
    assert!(matches!(
        decode(PixelFormat::Yuyv, 640, 480, short),
        Err(CameraError::BadFrame(_))
    ));
}

#[test]
fn both_formats_decode_to_the_scene_at_the_set_rate() {
    let scene = CameraTwin::scene(640, 480, 3);
    for format in [PixelFormat::Mjpeg, PixelFormat::Yuyv] {
        let twin = CameraTwin::new(
            format,
            640,
            480,
            std::slice::from_ref(&scene),
            30,
            CameraFaults::default(),
        );
        let mut camera = Camera::new(twin);
        let mut last = None;
        for _ in 0..3 {
            let frame = camera.next_frame().unwrap();
            assert_eq!((frame.width, frame.height), (640, 480));
            let difference = mean_difference(&frame.rgb, &scene);
            assert!(difference < 4.0, "{format:?}: mean difference {difference}");
            if let Some(previous) = last {
                assert!(frame.timestamp > previous);
            }
            last = Some(frame.timestamp);
        }
    }
}

#[test]
fn a_garbage_frame_is_an_error_and_the_stream_goes_on() {
    let twin = CameraTwin::new(
        PixelFormat::Mjpeg,
        320,
        240,
        &[CameraTwin::scene(320, 240, 0)],
        60,
        CameraFaults {
            garbage_every: Some(2),
        },
    );
    let mut camera = Camera::new(twin);
    assert!(camera.next_frame().is_ok());
    assert!(matches!(camera.next_frame(), Err(CameraError::BadFrame(_))));
    assert!(camera.next_frame().is_ok());
}

#[test]
fn an_unplugged_camera_comes_back_by_itself() {
    let twin = CameraTwin::new(
        PixelFormat::Yuyv,
        320,
        240,
        &[CameraTwin::scene(320, 240, 0)],
        60,
        CameraFaults::default(),
    );
    let unplug = twin.unplug_switch();
    let mut camera = Camera::new(twin);
    assert!(camera.next_frame().is_ok());
    unplug.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let error = camera.next_frame().unwrap_err();
        assert!(matches!(error, CameraError::Disconnected), "{error}");
        assert_eq!(error.to_string(), "camera disconnected: check its cable");
    }
    unplug.store(false, Ordering::SeqCst);
    assert!(camera.next_frame().is_ok());
}

#[test]
fn the_twin_plays_jpeg_files_and_refuses_mismatched_ones() {
    let dir = tempfile::tempdir().unwrap();
    let scene = CameraTwin::scene(320, 240, 5);
    std::fs::write(dir.path().join("a.jpg"), encode_jpeg(&scene, 320, 240)).unwrap();
    std::fs::write(
        dir.path().join("b.jpg"),
        encode_jpeg(&CameraTwin::scene(160, 120, 0), 160, 120),
    )
    .unwrap();
    let a = dir.path().join("a.jpg");
    let twin = CameraTwin::from_jpeg_files(
        PixelFormat::Mjpeg,
        std::slice::from_ref(&a),
        30,
        CameraFaults::default(),
    )
    .unwrap();
    let frame = Camera::new(twin).next_frame().unwrap();
    assert_eq!((frame.width, frame.height), (320, 240));
    assert!(mean_difference(&frame.rgb, &scene) < 5.0);
    let mixed = [a, dir.path().join("b.jpg")];
    let error =
        CameraTwin::from_jpeg_files(PixelFormat::Mjpeg, &mixed, 30, CameraFaults::default())
            .unwrap_err();
    assert!(
        error.to_string().contains("unlike the first file"),
        "{error}"
    );
    assert!(
        CameraTwin::from_jpeg_files(
            PixelFormat::Mjpeg,
            &[dir.path().join("none.jpg")],
            30,
            CameraFaults::default()
        )
        .is_err()
    );
}
