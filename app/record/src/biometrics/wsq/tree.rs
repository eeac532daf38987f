//! Where each of WSQ's 64 subbands lies in the coefficient plane.
//!
//! The specification splits the picture five times into quarters (low and high pass across,
//! then down), but not every quarter again: 20 splits give 64 subbands, of which the first 60
//! are coded. A quarter right of (or below) its split is filtered "spectrally inverted": when
//! it is split in turn, its high-pass half comes first. Odd lengths give the low-pass half the
//! extra sample, so which half is first decides the sizes.

/// A rectangle of the coefficient plane, and whether its halves come high-pass first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Band {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
    /// Split across with the high-pass half on the left.
    pub flip_x: bool,
    /// Split down with the high-pass half on top.
    pub flip_y: bool,
}

/// The first and second half of a line of `n` samples: the low-pass half has the odd one.
pub(super) fn halves(n: usize, high_first: bool) -> (usize, usize) {
    let (low, high) = (n.div_ceil(2), n / 2);
    if high_first { (high, low) } else { (low, high) }
}

impl Band {
    /// The four quarters, left-top, right-top, left-bottom, right-bottom.
    fn quarters(self) -> [Band; 4] {
        let (left, right) = halves(self.w, self.flip_x);
        let (top, bottom) = halves(self.h, self.flip_y);
        let at = |dx: usize, dy: usize, w: usize, h: usize, flip_x: bool, flip_y: bool| Band {
            x: self.x + dx,
            y: self.y + dy,
            w,
            h,
            flip_x,
            flip_y,
        };
        [
            at(0, 0, left, top, false, false),
            at(left, 0, right, top, true, false),
            at(0, top, left, bottom, false, true),
            at(left, top, right, bottom, true, true),
        ]
    }

    /// Number of coefficients.
    pub fn len(&self) -> usize {
        self.w * self.h
    }
}

/// Subbands coded: 0..60 (60..64, the finest diagonal detail, is dropped).
pub(super) const CODED: usize = 60;
/// The first subband of the second and third coded blocks (each block has a Huffman table).
pub(super) const BLOCK_STARTS: [usize; 3] = [0, 19, 52];

/// The splits of a `width` x `height` picture, in the order they are made, and the 60 coded
/// subbands in the order their coefficients are stored.
pub(super) struct Layout {
    /// Rectangles split into quarters, each before any of its own quarters.
    pub splits: Vec<Band>,
    /// The coded subbands.
    pub subbands: Vec<Band>,
}

impl Layout {
    /// The layout for a picture of this size.
    pub fn new(width: usize, height: usize) -> Self {
        let whole = Band {
            x: 0,
            y: 0,
            w: width,
            h: height,
            flip_x: false,
            flip_y: false,
        };
        let [l1, across1, down1, _dropped] = whole.quarters();
        let [l2, across2, down2, diagonal2] = l1.quarters();
        let [l3, across3, down3, diagonal3] = l2.quarters();
        let [l4, across4, down4, diagonal4] = l3.quarters();

        let mut splits = vec![whole, l1, across1, down1, across2, down2];
        splits.extend(across2.quarters());
        splits.extend(down2.quarters());
        splits.extend([l2, l3, across3, down3, diagonal3, l4]);

        let mut subbands = Vec::with_capacity(CODED);
        subbands.extend(l4.quarters());
        subbands.extend([across4, down4, diagonal4]);
        for band in [across3, down3, diagonal3] {
            subbands.extend(band.quarters());
        }
        for band in across2.quarters().into_iter().chain(down2.quarters()) {
            subbands.extend(band.quarters());
        }
        subbands.push(diagonal2);
        subbands.extend(across1.quarters());
        subbands.extend(down1.quarters());
        Self { splits, subbands }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_splits_and_sixty_subbands_tile_the_coded_plane() {
        for (w, h) in [(256, 288), (500, 500), (401, 333), (97, 131)] {
            let layout = Layout::new(w, h);
            assert_eq!(layout.splits.len(), 20);
            assert_eq!(layout.subbands.len(), CODED);
            let mut covered = vec![0u8; w * h];
            for band in &layout.subbands {
                for y in band.y..band.y + band.h {
                    for x in band.x..band.x + band.w {
                        covered[y * w + x] += 1;
                    }
                }
            }
            // Everything but the dropped finest diagonal quarter is covered exactly once.
            let (right, bottom) = (w.div_ceil(2), h.div_ceil(2));
            for y in 0..h {
                for x in 0..w {
                    let dropped = x >= right && y >= bottom;
                    assert_eq!(covered[y * w + x], u8::from(!dropped), "{w}x{h} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn odd_lengths_give_the_low_pass_half_the_extra_sample() {
        assert_eq!(halves(9, false), (5, 4));
        assert_eq!(halves(9, true), (4, 5));
        assert_eq!(halves(8, true), (4, 4));
    }
}
