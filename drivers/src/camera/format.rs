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
}

/// Chooses MJPEG at `size` if offered, else YUYV at `size`; `None` if neither is.
pub fn choose(offers: &[Offer], size: (u32, u32)) -> Option<PixelFormat> {
    [PixelFormat::Mjpeg, PixelFormat::Yuyv]
        .into_iter()
        .find(|format| {
            offers
                .iter()
                .any(|offer| offer.fourcc == format.fourcc() && offer.sizes.contains(&size))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(fourcc: &[u8; 4], sizes: &[(u32, u32)]) -> Offer {
        Offer {
            fourcc: *fourcc,
            sizes: sizes.to_vec(),
        }
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
