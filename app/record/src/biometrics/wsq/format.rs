//! The WSQ file's byte layout: big-endian marker segments like JPEG's, numbers stored as an
//! integer and a power of ten to divide it by.

/// Start of image.
pub(super) const SOI: u16 = 0xFFA0;
/// End of image.
pub(super) const EOI: u16 = 0xFFA1;
/// Start of frame.
pub(super) const SOF: u16 = 0xFFA2;
/// Start of block.
pub(super) const SOB: u16 = 0xFFA3;
/// Transform table.
pub(super) const DTT: u16 = 0xFFA4;
/// Quantisation table.
pub(super) const DQT: u16 = 0xFFA5;
/// Huffman table.
pub(super) const DHT: u16 = 0xFFA6;
/// Restart interval.
pub(super) const DRT: u16 = 0xFFA7;
/// Comment.
pub(super) const COM: u16 = 0xFFA8;

/// `value` as (power of ten, integer) with the integer below `limit`, as precise as that allows.
pub(super) fn scaled(value: f64, limit: f64) -> (u8, u64) {
    if value == 0.0 || !value.is_finite() {
        return (0, 0);
    }
    let mut v = value.abs();
    let mut scale = 0u8;
    while v * 10.0 < limit && scale < 30 {
        v *= 10.0;
        scale += 1;
    }
    (scale, v.round() as u64)
}

/// The value stored as `integer` divided by ten `scale` times.
pub(super) fn unscaled(scale: u8, integer: u64) -> f64 {
    integer as f64 / 10f64.powi(i32::from(scale))
}

/// Rounds `value` to what a (scale, u16) pair stores, so encoder and decoder use one number.
pub(super) fn as_stored(value: f64) -> f64 {
    let (scale, integer) = scaled(value, 65535.0);
    unscaled(scale, integer)
}

/// Appends segments to a file being written.
#[derive(Default)]
pub(super) struct Writer {
    /// The bytes so far.
    pub out: Vec<u8>,
}

impl Writer {
    /// A marker.
    pub fn marker(&mut self, marker: u16) {
        self.u16(marker);
    }

    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// A byte.
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// A number as (scale byte, u16).
    pub fn scaled16(&mut self, value: f64) {
        let (scale, integer) = scaled(value, 65535.0);
        self.u8(scale);
        self.u16(integer.min(0xFFFF) as u16);
    }

    /// A segment: marker, length (counting itself), body.
    pub fn segment(&mut self, marker: u16, body: &[u8]) {
        self.marker(marker);
        self.u16((body.len() + 2) as u16);
        self.out.extend_from_slice(body);
    }
}

/// Reads a file front to back; every read says when the bytes run out.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The bytes ended before what had to be read.
#[derive(Debug)]
pub(super) struct Truncated;

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Where the next read starts.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.at.checked_add(n).ok_or(Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(Truncated)?;
        self.at = end;
        Ok(slice)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A (scale byte, u16) number.
    pub fn scaled16(&mut self) -> Result<f64, Truncated> {
        let scale = self.u8()?;
        Ok(unscaled(scale, u64::from(self.u16()?)))
    }

    /// A segment's body after its marker: the length says how much.
    pub fn body(&mut self) -> Result<&'a [u8], Truncated> {
        let length = usize::from(self.u16()?);
        self.take(length.checked_sub(2).ok_or(Truncated)?)
    }

    /// Entropy-coded bytes up to the next marker, without the zero stuffed after each 0xFF.
    pub fn entropy_coded(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(&b) = self.bytes.get(self.at) {
            if b == 0xFF {
                match self.bytes.get(self.at + 1) {
                    Some(0) => {
                        out.push(0xFF);
                        self.at += 2;
                        continue;
                    }
                    // A marker (or the end): the segment is over.
                    _ => break,
                }
            }
            out.push(b);
            self.at += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_five_significant_digits() {
        assert_eq!(scaled(0.44, 65535.0), (5, 44000));
        assert_eq!(scaled(127.5, 65535.0), (2, 12750));
        assert!((as_stored(1.234_567_8) - 1.2346).abs() < 1e-9);
        assert_eq!(scaled(0.0, 65535.0), (0, 0));
        // The largest value that fits is kept whole.
        assert_eq!(scaled(65000.0, 65535.0), (0, 65000));
    }
}
