//! A drawn specimen identity card (or passport page) held up to a camera: frames for the
//! camera twin and the document checks' tests. Nothing in it is anyone's: the "print" is
//! blocks laid out like a card's fields, the portrait a silhouette.

use super::document::Shape;

/// How the document is held in front of the camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// Whether there is a document at all (else the background alone). Default true.
    pub card: bool,
    /// Card or passport page. Default an ID-1 card.
    pub shape: Shape,
    /// Its width as a share of the frame's. Default 0.7.
    pub span: f32,
    /// Its centre as shares of the frame's width and height. Default the middle.
    pub centre: (f32, f32),
    /// Turned clockwise by this many degrees. Default 2.
    pub tilt_degrees: f32,
    /// Width over height, in place of the shape's own (a wrong shape). Default none.
    pub aspect: Option<f32>,
    /// Box blur radius in pixels (a hand moving, the camera out of focus). Default 0.
    pub blur: usize,
    /// A ceiling light's reflection across it. Default none.
    pub glare: bool,
}

impl Default for Held {
    fn default() -> Self {
        Self {
            card: true,
            shape: Shape::IdCard,
            span: 0.7,
            centre: (0.5, 0.5),
            tilt_degrees: 2.0,
            aspect: None,
            blur: 0,
            glare: false,
        }
    }
}

/// A small deterministic hash: the "print" differs from cell to cell but never between runs.
fn mix(a: u32, b: u32) -> u32 {
    let mut h = a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 12)
}

/// Print: rows of glyph-like blocks from `left` to `right` mm, `size` mm tall, at `top`.
fn text_at(x: f32, y: f32, top: f32, left: f32, right: f32, size: f32, seed: u32) -> bool {
    if y < top || y >= top + size || x < left || x >= right {
        return false;
    }
    let glyph_width = size * 0.7;
    let glyph = ((x - left) / glyph_width) as u32;
    // A space now and then, as between words.
    if mix(glyph, seed).is_multiple_of(6) {
        return false;
    }
    // Each glyph a 3 x 5 grid of strokes, some inked.
    let gx = (((x - left) % glyph_width) / glyph_width * 4.0) as u32;
    let gy = (((y - top) / size) * 5.0) as u32;
    gx < 3 && mix(glyph * 16 + gy * 3 + gx, seed) % 5 < 2
}

/// The colour of the card at (`x`, `y`) mm from its top left corner, on a card `width` x
/// `height` mm.
fn card_colour(x: f32, y: f32, width: f32, height: f32) -> [u8; 3] {
    let ink = [35, 40, 52];
    let margin = height * 0.08;
    // A pale band for the issuing state's name, kept off the edges so the card's outline
    // stays light all round.
    if y > margin && y < margin + height * 0.14 && x > margin && x < width - margin {
        if text_at(
            x,
            y,
            margin + height * 0.04,
            width * 0.3,
            width * 0.8,
            2.4,
            7,
        ) {
            return ink;
        }
        return [172, 214, 182];
    }
    // The portrait: a silhouette on a grey ground.
    let (px0, px1) = (margin, margin + width * 0.28);
    let (py0, py1) = (height * 0.3, height - margin * 2.2);
    if x >= px0 && x < px1 && y >= py0 && y < py1 {
        let (cx, cy) = ((px0 + px1) / 2.0, py0 + (py1 - py0) * 0.38);
        let head = ((x - cx) / ((px1 - px0) * 0.24)).powi(2)
            + ((y - cy) / ((py1 - py0) * 0.22)).powi(2)
            < 1.0;
        let shoulders = y > py0 + (py1 - py0) * 0.68 && (x - cx).abs() < (px1 - px0) * 0.42;
        return if head || shoulders {
            [92, 74, 62]
        } else {
            [196, 198, 200]
        };
    }
    // Fields: a label line and a value line each, right of the portrait.
    let left = px1 + margin * 0.6;
    for row in 0..4u32 {
        let top = height * 0.31 + row as f32 * height * 0.12;
        if text_at(x, y, top, left, width * 0.62, 1.3, 100 + row) {
            return [110, 116, 126];
        }
        if text_at(x, y, top + 1.9, left, width - margin, 2.2, 200 + row) {
            return ink;
        }
    }
    // A machine-readable-zone-like line along the bottom.
    if text_at(
        x,
        y,
        height - margin * 1.9,
        margin,
        width - margin,
        2.0,
        300,
    ) {
        return ink;
    }
    [234, 236, 228]
}

/// The background: a dark, slightly textured shirt or desk, lighter toward the bottom.
fn background(x: usize, y: usize, width: usize, height: usize) -> [u8; 3] {
    let shade = 45.0 + 30.0 * y as f32 / height as f32 + 8.0 * (x as f32 / width as f32);
    let grain = (mix(x as u32 / 3, y as u32 / 3) % 9) as f32 - 4.0;
    let g = (shade + grain).clamp(0.0, 255.0);
    [
        (g * 0.9) as u8,
        (g * 0.95) as u8,
        (g * 1.2).min(255.0) as u8,
    ]
}

/// A `width` x `height` RGB frame of a document held up to the camera as `held` says.
pub fn held_up(width: usize, height: usize, held: &Held) -> Vec<u8> {
    let (card_width_mm, card_height_mm) = match held.shape {
        Shape::IdCard => (85.6, 54.0),
        Shape::PassportPage => (125.0, 88.0),
    };
    let aspect = held.aspect.unwrap_or(card_width_mm / card_height_mm);
    let card_width = held.span * width as f32;
    let card_height = card_width / aspect;
    let (centre_x, centre_y) = (held.centre.0 * width as f32, held.centre.1 * height as f32);
    let (sin, cos) = held.tilt_degrees.to_radians().sin_cos();
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (x as f32 + 0.5 - centre_x, y as f32 + 0.5 - centre_y);
            // Into the card's own axes: the inverse of turning it clockwise.
            let (a, b) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            let (u, v) = (a / card_width + 0.5, b / card_height + 0.5);
            let on_card = held.card && (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v);
            let mut colour = if on_card {
                card_colour(
                    u * card_width_mm,
                    v * card_height_mm,
                    card_width_mm,
                    card_height_mm,
                )
            } else {
                background(x, y, width, height)
            };
            if on_card
                && held.glare
                && ((u - 0.62) / 0.2).powi(2) + ((v - 0.42) / 0.14).powi(2) < 1.0
            {
                colour = [255, 255, 255];
            }
            rgb.extend_from_slice(&colour);
        }
    }
    if held.blur > 0 {
        box_blur(&mut rgb, width, height, held.blur);
    }
    rgb
}

/// Blurs `rgb` in place with a (2 `radius` + 1) box, rows then columns.
fn box_blur(rgb: &mut [u8], width: usize, height: usize, radius: usize) {
    let pass = |rgb: &mut [u8], length: usize, lines: usize, at: &dyn Fn(usize, usize) -> usize| {
        let mut line = vec![[0u8; 3]; length];
        for l in 0..lines {
            for (i, pixel) in line.iter_mut().enumerate() {
                let p = at(l, i) * 3;
                *pixel = [rgb[p], rgb[p + 1], rgb[p + 2]];
            }
            for i in 0..length {
                let (from, to) = (i.saturating_sub(radius), (i + radius).min(length - 1));
                let mut sum = [0u32; 3];
                for pixel in &line[from..=to] {
                    for c in 0..3 {
                        sum[c] += u32::from(pixel[c]);
                    }
                }
                let n = (to - from + 1) as u32;
                let p = at(l, i) * 3;
                for c in 0..3 {
                    rgb[p + c] = (sum[c] / n) as u8;
                }
            }
        }
    };
    pass(rgb, width, height, &|row, i| row * width + i);
    pass(rgb, height, width, &|column, i| i * width + column);
}
