//! Pixel work that does not touch the kernel: cutting buffers, YUYV to RGB, RGB to luma.

/// The bytes of a buffer the driver actually filled: V4L2 buffers are allocated at the
/// largest frame size, and an MJPEG frame uses only `bytesused` of them; reading past that
/// feeds the decoder the previous frame's leftovers.
pub fn cut_to_bytesused(buffer: &[u8], bytesused: u32) -> &[u8] {
    &buffer[..(bytesused as usize).min(buffer.len())]
}

/// YUYV 4:2:2 (Y0 U Y1 V per two pixels) to RGB24 with the BT.601 limited-range matrix.
/// Returns `None` if `yuyv` is shorter than `width * height * 2` or `width` is odd.
pub fn yuyv_to_rgb(yuyv: &[u8], width: usize, height: usize) -> Option<Vec<u8>> {
    if !width.is_multiple_of(2) || yuyv.len() < width.checked_mul(height)?.checked_mul(2)? {
        return None;
    }
    let mut rgb = Vec::with_capacity(width * height * 3);
    for quad in yuyv[..width * height * 2].chunks_exact(4) {
        let (u, v) = (i32::from(quad[1]) - 128, i32::from(quad[3]) - 128);
        for y in [quad[0], quad[2]] {
            let c = 298 * (i32::from(y) - 16);
            let clamp = |value: i32| ((value + 128) >> 8).clamp(0, 255) as u8;
            rgb.push(clamp(c + 409 * v));
            rgb.push(clamp(c - 100 * u - 208 * v));
            rgb.push(clamp(c + 516 * u));
        }
    }
    Some(rgb)
}

/// RGB24 to luma (BT.601 weights), for face detection and sharpness.
pub fn rgb_to_luma(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8)
        .collect()
}

/// RGB24 to YUYV (the twin's side of [`yuyv_to_rgb`]).
pub fn rgb_to_yuyv(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height * 2);
    let yuv = |p: &[u8]| {
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
        let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
        let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
        (
            y.clamp(0, 255) as u8,
            u.clamp(0, 255) as u8,
            v.clamp(0, 255) as u8,
        )
    };
    for pair in rgb[..width * height * 3].chunks_exact(6) {
        let (y0, u0, v0) = yuv(&pair[0..3]);
        let (y1, u1, v1) = yuv(&pair[3..6]);
        out.extend_from_slice(&[
            y0,
            ((u16::from(u0) + u16::from(u1)) / 2) as u8,
            y1,
            ((u16::from(v0) + u16::from(v1)) / 2) as u8,
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_cut_to_what_the_driver_filled() {
        let buffer = [1u8, 2, 3, 4, 5];
        assert_eq!(cut_to_bytesused(&buffer, 3), &[1, 2, 3]);
        assert_eq!(
            cut_to_bytesused(&buffer, 99),
            &buffer,
            "a bogus bytesused is capped"
        );
    }

    #[test]
    fn yuyv_round_trips_within_rounding() {
        let rgb: Vec<u8> = [[200u8, 30, 40], [200, 30, 40], [10, 220, 90], [10, 220, 90]].concat();
        let back = yuyv_to_rgb(&rgb_to_yuyv(&rgb, 4, 1), 4, 1).unwrap();
        for (a, b) in rgb.iter().zip(&back) {
            assert!(a.abs_diff(*b) <= 4, "{rgb:?} -> {back:?}");
        }
        assert_eq!(yuyv_to_rgb(&[0; 7], 2, 2), None, "short buffer");
        assert_eq!(yuyv_to_rgb(&[0; 12], 3, 1), None, "odd width");
    }

    #[test]
    fn luma_weights_green_most() {
        assert_eq!(rgb_to_luma(&[255, 255, 255, 0, 0, 0]), vec![255, 0]);
        assert!(rgb_to_luma(&[0, 255, 0])[0] > rgb_to_luma(&[255, 0, 0])[0]);
    }
}
