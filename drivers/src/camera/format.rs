//! Choosing a capture format from what a camera offers.

/// Pixel formats the kiosk decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Motion JPEG: small buffers over USB, decoded here (preferred).
    Mjpeg,
    /// YUYV 4:2:2, uncompressed.
    Yuyv,
}

impl PixelFormat {
    /// The V4L2 fourcc.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Self::Mjpeg => *b"MJPG",
            Self::Yuyv => *b"YUYV",
        }
    }

    /// The format for a V4L2 fourcc, if the kiosk decodes it.
    pub fn from_fourcc(fourcc: [u8; 4]) -> Option<Self> {
        match &fourcc {
            b"MJPG" => Some(Self::Mjpeg),
            b"YUYV" => Some(Self::Yuyv),
            _ => None,
        }
    }
}

/// What a camera offers: a fourcc and the frame sizes it has for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The fourcc.
    pub fourcc: [u8; 4],
    /// Sizes, width by height.
    pub sizes: Vec<(u32, u32)>,
    /// Ranges of sizes, for a camera that scales (V4L2's stepwise and continuous sizes):
    /// kept as ranges, since spelt out one by one a range can be millions of sizes.
    pub ranges: Vec<SizeRange>,
}

impl Offer {
    /// Whether it has `size`, listed or within a range.
    pub fn has(&self, size: (u32, u32)) -> bool {
        self.sizes.contains(&size) || self.ranges.iter().any(|range| range.contains(size))
    }
}

/// Sizes from `min` to `max` in steps of `step`, width by height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    /// The smallest.
    pub min: (u32, u32),
    /// The largest.
    pub max: (u32, u32),
    /// The step (0 is taken as 1).
    pub step: (u32, u32),
}

impl SizeRange {
    /// Whether `size` is one of its sizes.
    pub fn contains(&self, (width, height): (u32, u32)) -> bool {
        let on = |value: u32, min: u32, max: u32, step: u32| {
            (min..=max).contains(&value) && (value - min).is_multiple_of(step.max(1))
        };
        on(width, self.min.0, self.max.0, self.step.0)
            && on(height, self.min.1, self.max.1, self.step.1)
    }
}

/// Chooses MJPEG at `size` if offered, else YUYV at `size`; `None` if neither is.
pub fn choose(offers: &[Offer], size: (u32, u32)) -> Option<PixelFormat> {
    [PixelFormat::Mjpeg, PixelFormat::Yuyv]
        .into_iter()
        .find(|format| {
            offers
                .iter()
                .any(|offer| offer.fourcc == format.fourcc() && offer.has(size))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(fourcc: &[u8; 4], sizes: &[(u32, u32)]) -> Offer {
        Offer {
            fourcc: *fourcc,
            sizes: sizes.to_vec(),
            ranges: Vec::new(),
        }
    }

    #[test]
    fn a_scaling_camera_offers_a_range_and_its_sizes_are_found_in_it() {
        // vivid's HDMI input with its scaler: 16x16 to 4096x2160 in steps of 2.
        let scaler = Offer {
            fourcc: *b"YUYV",
            sizes: Vec::new(),
            ranges: vec![SizeRange {
                min: (16, 16),
                max: (4096, 2160),
                step: (2, 2),
            }],
        };
        assert_eq!(
            choose(std::slice::from_ref(&scaler), (640, 480)),
            Some(PixelFormat::Yuyv)
        );
        assert!(!scaler.has((641, 480)));
        assert!(!scaler.has((640, 4800)));
        let continuous = SizeRange {
            min: (1, 1),
            max: (10, 10),
            step: (0, 0),
        };
        assert!(continuous.contains((7, 3)));
    }

    #[test]
    fn mjpeg_is_preferred_then_yuyv_at_the_size_asked() {
        let both = [
            offer(b"YUYV", &[(640, 480)]),
            offer(b"MJPG", &[(640, 480), (1280, 720)]),
        ];
        assert_eq!(choose(&both, (640, 480)), Some(PixelFormat::Mjpeg));
        let yuyv_only_here = [
            offer(b"YUYV", &[(640, 480)]),
            offer(b"MJPG", &[(1280, 720)]),
        ];
        assert_eq!(choose(&yuyv_only_here, (640, 480)), Some(PixelFormat::Yuyv));
        let neither = [offer(b"H264", &[(640, 480)]), offer(b"NV12", &[(640, 480)])];
        assert_eq!(choose(&neither, (640, 480)), None);
        assert_eq!(PixelFormat::from_fourcc(*b"MJPG"), Some(PixelFormat::Mjpeg));
        assert_eq!(PixelFormat::from_fourcc(*b"H264"), None);
    }
}
