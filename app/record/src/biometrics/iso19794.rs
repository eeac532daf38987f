//! ISO/IEC 19794 biometric data interchange records, the containers ABIS vendors and MOSIP's
//! CBEFF exchange: finger images (part 4, 2011 edition, "FIR" "020") holding WSQ, and face
//! images (part 5, 2005 edition as ICAO's ePassports use, "FAC" "010") holding JPEG.
//!
//! Writers and readers both; the readers check every length against the bytes there are.
//! Multi-byte numbers are big-endian throughout.

use std::fmt;

/// Why bytes are not a record we can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsoError {
    /// Not the format and version named.
    WrongFormat(&'static str),
    /// The bytes end before a length says they should.
    Truncated,
    /// A length or count that contradicts the rest.
    BadLength(&'static str),
    /// A value the standard does not allow.
    BadValue(&'static str),
}

impl fmt::Display for IsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongFormat(what) => write!(f, "not {what}"),
            Self::Truncated => f.write_str("the record is cut short"),
            Self::BadLength(what) => write!(f, "inconsistent length: {what}"),
            Self::BadValue(what) => write!(f, "value out of range: {what}"),
        }
    }
}

impl std::error::Error for IsoError {}

/// A capture time as the standards store it (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureTime {
    /// Year.
    pub year: u16,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
    /// Hour 0-23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Millisecond.
    pub millisecond: u16,
}

impl CaptureTime {
    /// The time of a Unix timestamp (seconds).
    pub fn from_unix(seconds: i64) -> Self {
        let t = time::OffsetDateTime::from_unix_timestamp(seconds)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self {
            year: t.year().clamp(0, 9999) as u16,
            month: u8::from(t.month()),
            day: t.day(),
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
            millisecond: 0,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.year.to_be_bytes());
        out.extend_from_slice(&[self.month, self.day, self.hour, self.minute, self.second]);
        out.extend_from_slice(&self.millisecond.to_be_bytes());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, IsoError> {
        Ok(Self {
            year: r.u16()?,
            month: r.u8()?,
            day: r.u8()?,
            hour: r.u8()?,
            minute: r.u8()?,
            second: r.u8()?,
            millisecond: r.u16()?,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader past a record's format identifier and version (`magic`) and its total length,
    /// which must be the length of `bytes`.
    fn open(bytes: &'a [u8], magic: &[u8; 8], what: &'static str) -> Result<Self, IsoError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8).ok() != Some(magic.as_slice()) {
            return Err(IsoError::WrongFormat(what));
        }
        if r.u32()? as usize != bytes.len() {
            return Err(IsoError::BadLength("record length is not the file's"));
        }
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IsoError> {
        let end = self.at.checked_add(n).ok_or(IsoError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(IsoError::Truncated)?;
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, IsoError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, IsoError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, IsoError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Image compression codes of ISO/IEC 19794-4:2011 (table 9).
pub const FINGER_WSQ: u8 = 2;
/// Impression type: live-scan plain (table 10).
pub const LIVE_SCAN_PLAIN: u8 = 0;

/// One finger image view of an ISO/IEC 19794-4:2011 record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerView {
    /// When it was captured.
    pub captured: CaptureTime,
    /// Finger position code (1 right thumb ... 10 left little).
    pub position: u8,
    /// Quality 0-100 and the algorithm that scored it (vendor, algorithm id); none when unscored.
    pub quality: Option<(u8, u16, u16)>,
    /// Impression type code.
    pub impression: u8,
    /// Pixels per inch.
    pub ppi: u16,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Compression code ([`FINGER_WSQ`]).
    pub compression: u8,
    /// The compressed image.
    pub data: Vec<u8>,
}

/// Writes an ISO/IEC 19794-4:2011 finger image record.
pub fn write_finger_record(views: &[FingerView]) -> Result<Vec<u8>, IsoError> {
    let mut body = Vec::new();
    let mut positions: Vec<u8> = Vec::new();
    for (n, view) in views.iter().enumerate() {
        let mut header = Vec::new();
        view.captured.write(&mut header);
        // Capture device technology 0 (unknown), vendor 0, type 0.
        header.extend_from_slice(&[0, 0, 0, 0, 0]);
        match view.quality {
            Some((score, vendor, algorithm)) => {
                header.push(1);
                header.push(score.min(100));
                header.extend_from_slice(&vendor.to_be_bytes());
                header.extend_from_slice(&algorithm.to_be_bytes());
            }
            None => header.push(0),
        }
        // Same-position views are numbered from 1.
        let number = views[..=n]
            .iter()
            .filter(|v| v.position == view.position)
            .count();
        header.extend_from_slice(&[view.position, number as u8, 1]); // 1: pixels per inch
        for _ in 0..4 {
            header.extend_from_slice(&view.ppi.to_be_bytes());
        }
        header.extend_from_slice(&[8, view.compression, view.impression]);
        header.extend_from_slice(&view.width.to_be_bytes());
        header.extend_from_slice(&view.height.to_be_bytes());
        let data_len =
            u32::try_from(view.data.len()).map_err(|_| IsoError::BadLength("image too large"))?;
        header.extend_from_slice(&data_len.to_be_bytes());
        let length = 4 + header.len() + view.data.len();
        body.extend_from_slice(&(length as u32).to_be_bytes());
        body.extend_from_slice(&header);
        body.extend_from_slice(&view.data);
        if !positions.contains(&view.position) {
            positions.push(view.position);
        }
    }
    let count = u16::try_from(views.len()).map_err(|_| IsoError::BadLength("too many views"))?;
    let total =
        u32::try_from(16 + body.len()).map_err(|_| IsoError::BadLength("record too large"))?;
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(b"FIR\x00020\x00");
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.push(0); // no certification blocks
    out.push(positions.len() as u8);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads an ISO/IEC 19794-4:2011 finger image record.
pub fn read_finger_record(bytes: &[u8]) -> Result<Vec<FingerView>, IsoError> {
    let mut r = Reader::open(
        bytes,
        b"FIR\x00020\x00",
        "an ISO/IEC 19794-4:2011 record (FIR 020)",
    )?;
    let count = r.u16()?;
    let certified = r.u8()? != 0;
    let _positions = r.u8()?;
    let mut views = Vec::new();
    for _ in 0..count {
        let start = r.at;
        let length = r.u32()? as usize;
        let end = start
            .checked_add(length)
            .filter(|&e| e <= bytes.len())
            .ok_or(IsoError::Truncated)?;
        let captured = CaptureTime::read(&mut r)?;
        r.take(5)?;
        let qualities = r.u8()?;
        let mut quality = None;
        for _ in 0..qualities {
            let q = (r.u8()?, r.u16()?, r.u16()?);
            quality.get_or_insert(q);
        }
        if certified {
            let n = usize::from(r.u8()?);
            r.take(3 * n)?;
        }
        let position = r.u8()?;
        let _number = r.u8()?;
        if r.u8()? != 1 {
            return Err(IsoError::BadValue("only pixels per inch are read"));
        }
        let _scan = (r.u16()?, r.u16()?);
        let ppi = r.u16()?;
        let _vertical = r.u16()?;
        if r.u8()? != 8 {
            return Err(IsoError::BadValue("bit depth other than 8"));
        }
        let compression = r.u8()?;
        let impression = r.u8()?;
        let (width, height) = (r.u16()?, r.u16()?);
        let data_len = r.u32()? as usize;
        if r.at + data_len != end {
            return Err(IsoError::BadLength("image length does not fill the view"));
        }
        let data = r.take(data_len)?.to_vec();
        views.push(FingerView {
            captured,
            position,
            quality: quality.filter(|q| q.0 <= 100),
            impression,
            ppi,
            width,
            height,
            compression,
            data,
        });
    }
    if r.at != bytes.len() {
        return Err(IsoError::BadLength("bytes after the last view"));
    }
    Ok(views)
}

/// Face image types of ISO/IEC 19794-5:2005.
pub const FACE_TOKEN_FRONTAL: u8 = 2;
/// Image data type JPEG.
pub const FACE_JPEG: u8 = 0;

/// A face image of an ISO/IEC 19794-5:2005 record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceView {
    /// Gender code: 0 unspecified, 1 male, 2 female, 3 unknown.
    pub gender: u8,
    /// Eye centres as feature points (image right eye is the subject's left: 12.1).
    pub eyes: Option<((u16, u16), (u16, u16))>,
    /// Face image type ([`FACE_TOKEN_FRONTAL`]).
    pub image_type: u8,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// The JPEG.
    pub data: Vec<u8>,
}

/// MPEG-4 feature point codes (major 12, minor 1 and 2) of the eye centres.
const LEFT_EYE: u8 = 0xC1;
const RIGHT_EYE: u8 = 0xC2;

/// Writes an ISO/IEC 19794-5:2005 face image record.
pub fn write_face_record(views: &[FaceView]) -> Result<Vec<u8>, IsoError> {
    let mut body = Vec::new();
    for view in views {
        let points: Vec<(u8, (u16, u16))> = match view.eyes {
            // The subject's left eye is on the image's right.
            Some((image_left, image_right)) => {
                vec![(LEFT_EYE, image_right), (RIGHT_EYE, image_left)]
            }
            None => Vec::new(),
        };
        let length = 20 + 8 * points.len() + 12 + view.data.len();
        let length = u32::try_from(length).map_err(|_| IsoError::BadLength("image too large"))?;
        body.extend_from_slice(&length.to_be_bytes());
        body.extend_from_slice(&(points.len() as u16).to_be_bytes());
        // Gender, eye colour and hair colour unspecified but gender; no properties; neutral
        // expression (1); pose angles and uncertainties unspecified (0).
        body.extend_from_slice(&[view.gender, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for (code, (x, y)) in points {
            body.extend_from_slice(&[1, code]);
            body.extend_from_slice(&x.to_be_bytes());
            body.extend_from_slice(&y.to_be_bytes());
            body.extend_from_slice(&[0, 0]);
        }
        // Image information: type, data type, size, colour space 1 (24-bit RGB), source type
        // 6 (digital video frame), device type 0, quality 0 (unspecified).
        body.extend_from_slice(&[view.image_type, FACE_JPEG]);
        body.extend_from_slice(&view.width.to_be_bytes());
        body.extend_from_slice(&view.height.to_be_bytes());
        body.extend_from_slice(&[1, 6, 0, 0, 0, 0]);
        body.extend_from_slice(&view.data);
    }
    let total =
        u32::try_from(14 + body.len()).map_err(|_| IsoError::BadLength("record too large"))?;
    let count = u16::try_from(views.len()).map_err(|_| IsoError::BadLength("too many images"))?;
    let mut out = b"FAC\x00010\x00".to_vec();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads an ISO/IEC 19794-5:2005 face image record.
pub fn read_face_record(bytes: &[u8]) -> Result<Vec<FaceView>, IsoError> {
    let mut r = Reader::open(
        bytes,
        b"FAC\x00010\x00",
        "an ISO/IEC 19794-5:2005 record (FAC 010)",
    )?;
    let count = r.u16()?;
    let mut views = Vec::new();
    for _ in 0..count {
        let start = r.at;
        let length = r.u32()? as usize;
        let end = start
            .checked_add(length)
            .filter(|&e| e <= bytes.len())
            .ok_or(IsoError::Truncated)?;
        let points = usize::from(r.u16()?);
        let gender = r.u8()?;
        r.take(13)?;
        let (mut left, mut right) = (None, None);
        for _ in 0..points {
            let (_kind, code) = (r.u8()?, r.u8()?);
            let (x, y) = (r.u16()?, r.u16()?);
            r.take(2)?;
            match code {
                LEFT_EYE => left = Some((x, y)),
                RIGHT_EYE => right = Some((x, y)),
                _ => {}
            }
        }
        let image_type = r.u8()?;
        if r.u8()? != FACE_JPEG {
            return Err(IsoError::BadValue("only JPEG face images are read"));
        }
        let (width, height) = (r.u16()?, r.u16()?);
        r.take(6)?;
        if r.at > end {
            return Err(IsoError::BadLength("headers longer than the image block"));
        }
        let data = r.take(end - r.at)?.to_vec();
        views.push(FaceView {
            gender,
            eyes: right.zip(left),
            image_type,
            width,
            height,
            data,
        });
    }
    if r.at != bytes.len() {
        return Err(IsoError::BadLength("bytes after the last image"));
    }
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(position: u8) -> FingerView {
        FingerView {
            captured: CaptureTime::from_unix(1_800_000_000),
            position,
            quality: Some((55, 0, 0)),
            impression: LIVE_SCAN_PLAIN,
            ppi: 500,
            width: 256,
            height: 288,
            compression: FINGER_WSQ,
            data: vec![position; 100 + usize::from(position)],
        }
    }

    #[test]
    fn finger_records_round_trip_and_damage_is_refused() {
        let views: Vec<FingerView> = (1..=10).map(view).collect();
        let bytes = write_finger_record(&views).unwrap();
        assert_eq!(&bytes[..8], b"FIR\x00020\x00");
        assert_eq!(read_finger_record(&bytes).unwrap(), views);
        for cut in [0, 7, 20, bytes.len() - 1] {
            assert!(read_finger_record(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(read_finger_record(&longer).is_err());
    }

    #[test]
    fn face_records_round_trip_with_the_eyes() {
        let face = FaceView {
            gender: 2,
            eyes: Some(((90, 144), (150, 144))),
            image_type: FACE_TOKEN_FRONTAL,
            width: 240,
            height: 320,
            data: vec![0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9],
        };
        let bytes = write_face_record(std::slice::from_ref(&face)).unwrap();
        assert_eq!(&bytes[..8], b"FAC\x00010\x00");
        assert_eq!(read_face_record(&bytes).unwrap(), vec![face]);
        assert!(read_face_record(&bytes[..bytes.len() - 1]).is_err());
    }
}
