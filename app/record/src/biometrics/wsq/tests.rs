use super::*;
use crate::biometrics::synth::SyntheticFinger;

fn print(seed: u64, w: u32, h: u32) -> Grey {
    let finger = SyntheticFinger::new(seed, w, h);
    Grey::new(w as usize, h as usize, finger.impression(0)).unwrap()
}

fn psnr(a: &Grey, b: &Grey) -> f64 {
    let mse: f64 = a
        .pixels()
        .iter()
        .zip(b.pixels())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.pixels().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

#[test]
fn a_print_comes_back_close_at_the_standard_rate() {
    let original = print(3, 256, 288);
    let file = encode(&original, DEFAULT_BITRATE, 500).unwrap();
    let bits_per_pixel = file.len() as f64 * 8.0 / (256.0 * 288.0);
    assert!(bits_per_pixel < 1.2, "{bits_per_pixel} bits per pixel");
    let decoded = decode(&file).unwrap();
    assert_eq!(decoded.ppi, Some(500));
    assert_eq!(
        (decoded.picture.width(), decoded.picture.height()),
        (256, 288)
    );
    let quality = psnr(&original, &decoded.picture);
    assert!(quality > 21.0, "PSNR {quality:.1} dB");
}

#[test]
fn more_bits_give_a_closer_picture() {
    let original = print(5, 300, 300);
    let low = decode(&encode(&original, 0.5, 500).unwrap())
        .unwrap()
        .picture;
    let high = decode(&encode(&original, 2.25, 500).unwrap())
        .unwrap()
        .picture;
    assert!(psnr(&original, &high) > psnr(&original, &low) + 3.0);
}

#[test]
fn odd_sizes_and_flat_pictures_round_trip() {
    let flat = Grey::new(97, 131, vec![200; 97 * 131]).unwrap();
    let back = decode(&encode(&flat, 0.75, 500).unwrap()).unwrap().picture;
    assert!(back.pixels().iter().all(|&p| p.abs_diff(200) <= 1));
    let odd = print(9, 257, 301);
    let back = decode(&encode(&odd, 0.75, 500).unwrap()).unwrap().picture;
    assert!(psnr(&odd, &back) > 20.0);
}

#[test]
fn bad_pictures_and_rates_are_refused() {
    let small = Grey::new(20, 400, vec![0; 8000]).unwrap();
    assert!(matches!(
        encode(&small, 0.75, 500),
        Err(WsqError::BadSize { .. })
    ));
    let fine = print(1, 64, 64);
    for rate in [0.0, -1.0, 9.0, f32::NAN] {
        assert_eq!(encode(&fine, rate, 500), Err(WsqError::BadBitrate));
    }
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let file = encode(&print(2, 128, 128), 0.75, 500).unwrap();
    assert_eq!(decode(b"").unwrap_err(), WsqError::NotWsq);
    assert_eq!(decode(b"\xFF\xD8\xFF\xE0").unwrap_err(), WsqError::NotWsq);
    for cut in [2, 10, 100, file.len() / 2, file.len() - 2] {
        assert!(decode(&file[..cut]).is_err(), "cut at {cut}");
    }
    // An absurd frame size is refused before anything is allocated for it.
    let sof = file.windows(2).position(|w| w == [0xFF, 0xA2]).unwrap();
    let mut huge = file.clone();
    huge[sof + 6..sof + 10].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert!(matches!(decode(&huge), Err(WsqError::BadSize { .. })));
    // Every single flipped byte decodes or errs; none panics.
    for i in 0..file.len() {
        let mut damaged = file.clone();
        damaged[i] ^= 0x5A;
        let _ = decode(&damaged);
    }
}
