use super::*;
use crate::fixtures::{face_photo_jpeg, fingerprint_png};

#[test]
fn a_photo_and_a_print_are_accepted_with_their_sizes() {
    let photo = check(face_photo_jpeg(640, 480, 1), ImageRole::FacePhoto);
    assert!(matches!(
        photo,
        Ok(Image {
            format: ImageFormat::Jpeg,
            width: 640,
            height: 480,
            ..
        })
    ));
    let print = check(fingerprint_png(256, 288, 1), ImageRole::Fingerprint);
    assert!(matches!(
        print,
        Ok(Image {
            format: ImageFormat::Png,
            width: 256,
            height: 288,
            ..
        })
    ));
}

#[test]
fn text_is_not_an_image() {
    let result = check(b"{\"not\": \"an image\"}".to_vec(), ImageRole::FacePhoto);
    assert_eq!(result, Err(ImageError::NotAnImage));
    assert_eq!(
        check(Vec::new(), ImageRole::Fingerprint),
        Err(ImageError::Empty)
    );
}

#[test]
fn a_truncated_image_is_refused() {
    let photo = face_photo_jpeg(640, 480, 2);
    let cut = photo[..photo.len() / 2].to_vec();
    assert!(matches!(
        check(cut, ImageRole::FacePhoto),
        Err(ImageError::Undecodable { .. })
    ));
    let print = fingerprint_png(256, 288, 2);
    let cut = print[..print.len() / 2].to_vec();
    assert!(matches!(
        check(cut, ImageRole::Fingerprint),
        Err(ImageError::Undecodable { .. })
    ));
}

#[test]
fn roles_need_their_own_format_and_size() {
    assert!(matches!(
        check(fingerprint_png(256, 288, 3), ImageRole::FacePhoto),
        Err(ImageError::WrongFormat { .. })
    ));
    assert!(matches!(
        check(face_photo_jpeg(640, 480, 3), ImageRole::Fingerprint),
        Err(ImageError::WrongFormat { .. })
    ));
    assert_eq!(
        check(face_photo_jpeg(100, 100, 3), ImageRole::FacePhoto),
        Err(ImageError::BadSize {
            width: 100,
            height: 100
        })
    );
    assert_eq!(
        check(fingerprint_png(64, 64, 3), ImageRole::Fingerprint),
        Err(ImageError::BadSize {
            width: 64,
            height: 64
        })
    );
}

#[test]
fn a_colour_png_is_not_a_fingerprint() {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 200, 200);
        encoder.set_color(png::ColorType::Rgb);
        let written = encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(&vec![7u8; 200 * 200 * 3]));
        assert!(written.is_ok());
    }
    assert_eq!(
        check(out, ImageRole::Fingerprint),
        Err(ImageError::NotGreyscale)
    );
}

#[test]
fn an_absurd_declared_size_is_refused_without_allocating_it() {
    // A PNG header claiming 100000 x 100000 pixels, with no data behind it.
    let mut print = fingerprint_png(200, 200, 4);
    print[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    print[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    assert!(check(print, ImageRole::Fingerprint).is_err());
}
