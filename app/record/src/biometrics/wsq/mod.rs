//! WSQ (Wavelet Scalar Quantization, FBI specification 3.1): the fingerprint compression every
//! AFIS reads. 8-bit grey pictures at 500 ppi go to about 0.75 bits per pixel (15:1) with the
//! ridges intact.
//!
//! The encoder follows the specification's reference model (the rate model picks the bins);
//! the decoder reads any conforming file, including the transform filters it carries. Every
//! length, count and size read from a file is checked before it is used, so a damaged or hostile
//! file gives a [`WsqError`], never a panic or a huge allocation.

mod format;
mod huffman;
mod quant;
mod transform;
mod tree;

use std::fmt;

use zeroize::Zeroize;

use super::grey::{Grey, MAX_PIXELS};
use format::{COM, DHT, DQT, DRT, DTT, EOI, Reader, SOB, SOF, SOI, Writer};
use huffman::Table;
use quant::Bins;
use transform::Filters;
use tree::{BLOCK_STARTS, CODED, Layout};

/// The bit rate the FBI and most ABIS vendors ask for.
pub const DEFAULT_BITRATE: f32 = 0.75;
/// Smallest width or height coded: five levels of splitting need some room.
pub const MIN_SIDE: usize = 32;
/// Largest width or height a WSQ frame header can hold.
pub const MAX_SIDE: usize = 65_535;

/// Why a picture could not be encoded or a file decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsqError {
    /// The picture is too small or too large for WSQ.
    BadSize {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// The bit rate is not a positive number of bits per pixel up to 8.
    BadBitrate,
    /// The file does not start with WSQ's start-of-image marker.
    NotWsq,
    /// The file ends before its end-of-image marker.
    Truncated,
    /// A marker where it cannot be, or one WSQ does not define.
    UnexpectedMarker {
        /// The marker.
        marker: u16,
        /// Where it is, in bytes from the start.
        offset: usize,
    },
    /// A table or header whose contents make no sense.
    BadTable(&'static str),
    /// Coded data that does not decode with its table.
    BadData(String),
}

impl fmt::Display for WsqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSize { width, height } => write!(
                f,
                "{width}x{height} pixels cannot be WSQ coded (each side {MIN_SIDE} to {MAX_SIDE}, at most {MAX_PIXELS} pixels)"
            ),
            Self::BadBitrate => {
                f.write_str("the bit rate must be above 0 and at most 8 bits per pixel")
            }
            Self::NotWsq => f.write_str("not a WSQ file (no start-of-image marker FFA0)"),
            Self::Truncated => f.write_str("the WSQ file is cut short"),
            Self::UnexpectedMarker { marker, offset } => {
                write!(f, "unexpected marker {marker:04X} at byte {offset}")
            }
            Self::BadTable(what) => write!(f, "damaged WSQ header: {what}"),
            Self::BadData(what) => write!(f, "damaged WSQ data: {what}"),
        }
    }
}

impl std::error::Error for WsqError {}

impl From<format::Truncated> for WsqError {
    fn from(_: format::Truncated) -> Self {
        Self::Truncated
    }
}

fn check_size(width: usize, height: usize) -> Result<(), WsqError> {
    let sides = (MIN_SIDE..=MAX_SIDE).contains(&width) && (MIN_SIDE..=MAX_SIDE).contains(&height);
    if !sides || width * height > MAX_PIXELS {
        return Err(WsqError::BadSize { width, height });
    }
    Ok(())
}

/// Encodes `picture` (500 ppi unless `ppi` says otherwise) at `bitrate` bits per pixel.
pub fn encode(picture: &Grey, bitrate: f32, ppi: u16) -> Result<Vec<u8>, WsqError> {
    let (width, height) = (picture.width(), picture.height());
    check_size(width, height)?;
    if !(bitrate > 0.0 && bitrate <= 8.0) {
        return Err(WsqError::BadBitrate);
    }
    let pixels = picture.pixels();
    // Centre on the mean and scale so the pixels span about -128..128 (the stored values are
    // rounded first, so the decoder undoes exactly what was done).
    let sum: u64 = pixels.iter().map(|&p| u64::from(p)).sum();
    let mean = sum as f64 / pixels.len() as f64;
    let (low, high) = pixels
        .iter()
        .fold((255u8, 0u8), |(l, h), &p| (l.min(p), h.max(p)));
    let shift = format::as_stored(mean);
    let spread = (shift - f64::from(low)).max(f64::from(high) - shift) / 128.0;
    let scale = if spread > 0.0 {
        format::as_stored(spread)
    } else {
        1.0
    };
    let mut plane: Vec<f32> = pixels
        .iter()
        .map(|&p| ((f64::from(p) - shift) / scale) as f32)
        .collect();

    let layout = Layout::new(width, height);
    let filters = Filters::standard();
    transform::decompose(&mut plane, width, &layout.splits, &filters);
    let variances = quant::variances(&plane, width, &layout.subbands);
    let mut bins = quant::bins_for(&variances, bitrate);
    for k in 0..CODED {
        bins.q[k] = format::as_stored(f64::from(bins.q[k])) as f32;
        bins.z[k] = format::as_stored(f64::from(bins.z[k])) as f32;
    }
    let mut indices = quant::quantise(&plane, width, &layout.subbands, &bins);
    plane.zeroize();

    let mut file = Writer::default();
    file.marker(SOI);
    let comment = format!(
        "NIST_COM 9\nPIX_WIDTH {width}\nPIX_HEIGHT {height}\nPIX_DEPTH 8\nPPI {ppi}\nLOSSY 1\nCOLORSPACE GRAY\nCOMPRESSION WSQ\nWSQ_BITRATE {bitrate:.6}"
    );
    file.segment(COM, comment.as_bytes());
    file.segment(DTT, &transform_table(&filters));
    file.segment(DQT, &quantisation_table(&bins));
    file.segment(SOF, &frame_header(width, height, shift, scale));

    // Block boundaries in the coefficient stream (only sent subbands count).
    let mut starts = [0usize; 4];
    for (b, &first) in BLOCK_STARTS.iter().enumerate().skip(1) {
        starts[b] = quant::sent_count(&layout.subbands[..first], &bins.q[..first]);
    }
    starts[3] = indices.len();
    let block = |b: usize| &indices[starts[b]..starts[b + 1]];
    let tables = [
        Table::for_blocks(&[block(0)]),
        Table::for_blocks(&[block(1), block(2)]),
    ];
    for (b, table_id) in [0usize, 1, 1].into_iter().enumerate() {
        if b < 2 {
            file.segment(DHT, &huffman_table(table_id as u8, &tables[table_id]));
        }
        file.segment(SOB, &[table_id as u8]);
        file.out
            .extend(huffman::encode_block(block(b), &tables[table_id]));
    }
    indices.zeroize();
    file.marker(EOI);
    Ok(file.out)
}

fn transform_table(filters: &Filters) -> Vec<u8> {
    let mut body = Writer::default();
    // Sizes of the full filters, then each one's centre and right side.
    body.u8((2 * filters.low.len() - 1) as u8);
    body.u8((2 * filters.high.len() - 1) as u8);
    for &tap in filters.low.iter().chain(&filters.high) {
        let (scale, integer) = format::scaled(f64::from(tap), 4_294_967_295.0);
        body.u8(u8::from(tap < 0.0));
        body.u8(scale);
        body.out
            .extend_from_slice(&(integer.min(u64::from(u32::MAX)) as u32).to_be_bytes());
    }
    body.out
}

fn quantisation_table(bins: &Bins) -> Vec<u8> {
    let mut body = Writer::default();
    // The bin centre, 0.44, as the specification writes it.
    body.u8(2);
    body.u16(44);
    for k in 0..64 {
        let (q, z) = if k < CODED {
            (bins.q[k], bins.z[k])
        } else {
            (0.0, 0.0)
        };
        body.scaled16(f64::from(q));
        body.scaled16(f64::from(z));
    }
    body.out
}

fn frame_header(width: usize, height: usize, shift: f64, scale: f64) -> Vec<u8> {
    let mut body = Writer::default();
    body.u8(0); // black
    body.u8(255); // white
    body.u16(height as u16);
    body.u16(width as u16);
    body.scaled16(shift);
    body.scaled16(scale);
    body.u8(2); // encoder number, as the reference encoder writes
    body.u16(0); // software
    body.out
}

fn huffman_table(id: u8, table: &Table) -> Vec<u8> {
    let mut body = vec![id];
    body.extend_from_slice(&table.counts);
    body.extend_from_slice(&table.symbols);
    body
}

/// A decoded WSQ file.
#[derive(Debug)]
pub struct Decoded {
    /// The picture.
    pub picture: Grey,
    /// Resolution from the file's NIST comment, when it has one.
    pub ppi: Option<u16>,
}

struct Frame {
    width: usize,
    height: usize,
    shift: f64,
    scale: f64,
}

/// Decodes a WSQ file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, WsqError> {
    let mut reader = Reader::new(bytes);
    if reader.u16().map_err(|_| WsqError::NotWsq)? != SOI {
        return Err(WsqError::NotWsq);
    }
    let mut filters: Option<Filters> = None;
    let mut bins: Option<(Bins, f32)> = None;
    let mut tables: [Option<Table>; 8] = Default::default();
    let mut frame: Option<(Frame, Layout, usize)> = None;
    let mut ppi = None;
    let mut indices: Vec<i32> = Vec::new();
    loop {
        let offset = reader.position();
        let marker = reader.u16()?;
        let unexpected = WsqError::UnexpectedMarker { marker, offset };
        match marker {
            EOI => break,
            COM => {
                let text = String::from_utf8_lossy(reader.body()?);
                ppi = ppi.or_else(|| comment_ppi(&text));
            }
            DRT => {
                reader.body()?;
            }
            DTT => filters = Some(read_transform_table(reader.body()?)?),
            DQT => bins = Some(read_quantisation_table(reader.body()?)?),
            DHT => read_huffman_tables(reader.body()?, &mut tables)?,
            SOF if frame.is_none() => {
                let header = read_frame_header(reader.body()?)?;
                let layout = Layout::new(header.width, header.height);
                let expected = match &bins {
                    Some((bins, _)) => quant::sent_count(&layout.subbands, &bins.q),
                    None => {
                        return Err(WsqError::BadTable(
                            "the frame comes before the quantisation table",
                        ));
                    }
                };
                frame = Some((header, layout, expected));
            }
            SOB => {
                let Some((_, _, expected)) = &frame else {
                    return Err(unexpected);
                };
                let body = reader.body()?;
                let id = usize::from(*body.first().ok_or(WsqError::Truncated)?);
                let table = tables
                    .get(id)
                    .and_then(Option::as_ref)
                    .ok_or(WsqError::BadTable(
                        "a block uses a Huffman table that is not defined",
                    ))?;
                let coded = reader.entropy_coded();
                huffman::decode_block(&coded, table, &mut indices, *expected).map_err(|e| {
                    WsqError::BadData(match e {
                        huffman::BlockError::BadCode => {
                            "a bit pattern that is no Huffman code".into()
                        }
                        huffman::BlockError::BadSymbol(s) => {
                            format!("symbol {s} is not defined by WSQ")
                        }
                        huffman::BlockError::TooMany => {
                            "more coefficients than the picture has".into()
                        }
                    })
                })?;
            }
            _ => return Err(unexpected),
        }
    }
    let (Some((frame, layout, expected)), Some((bins, centre)), Some(filters)) =
        (frame, bins, filters)
    else {
        return Err(WsqError::BadTable(
            "a frame header, quantisation table or transform table is missing",
        ));
    };
    if indices.len() != expected {
        return Err(WsqError::BadData(format!(
            "{} coefficients where the picture needs {expected}",
            indices.len()
        )));
    }
    let mut plane = vec![0.0f32; frame.width * frame.height];
    quant::dequantise(
        &indices,
        &mut plane,
        frame.width,
        &layout.subbands,
        &bins,
        centre,
    );
    indices.zeroize();
    transform::reconstruct(&mut plane, frame.width, &layout.splits, &filters);
    let pixels = plane
        .iter()
        .map(|&v| (f64::from(v) * frame.scale + frame.shift + 0.5).clamp(0.0, 255.0) as u8)
        .collect();
    plane.zeroize();
    let picture = Grey::new(frame.width, frame.height, pixels).map_err(|_| WsqError::BadSize {
        width: frame.width,
        height: frame.height,
    })?;
    Ok(Decoded { picture, ppi })
}

fn comment_ppi(text: &str) -> Option<u16> {
    if !text.starts_with("NIST_COM") {
        return None;
    }
    text.lines()
        .find_map(|line| line.strip_prefix("PPI "))
        .and_then(|v| v.trim().parse::<u16>().ok())
}

fn read_frame_header(body: &[u8]) -> Result<Frame, WsqError> {
    let mut r = Reader::new(body);
    let (_black, _white) = (r.u8()?, r.u8()?);
    let height = usize::from(r.u16()?);
    let width = usize::from(r.u16()?);
    check_size(width, height)?;
    let shift = r.scaled16()?;
    let scale = r.scaled16()?;
    Ok(Frame {
        width,
        height,
        shift,
        scale,
    })
}

fn read_transform_table(body: &[u8]) -> Result<Filters, WsqError> {
    let mut r = Reader::new(body);
    let (low_len, high_len) = (usize::from(r.u8()?), usize::from(r.u8()?));
    let plausible = |n: usize| n % 2 == 1 && n <= 31;
    if !plausible(low_len) || !plausible(high_len) {
        return Err(WsqError::BadTable(
            "the transform filters must have an odd number of taps, at most 31",
        ));
    }
    let mut side = |n: usize| -> Result<Vec<f32>, WsqError> {
        (0..n.div_ceil(2))
            .map(|_| {
                let negative = r.u8()? != 0;
                let scale = r.u8()?;
                let magnitude = format::unscaled(scale, u64::from(r.u32()?)) as f32;
                Ok(if negative { -magnitude } else { magnitude })
            })
            .collect()
    };
    let low = side(low_len)?;
    let high = side(high_len)?;
    Ok(Filters { low, high })
}

fn read_quantisation_table(body: &[u8]) -> Result<(Bins, f32), WsqError> {
    let mut r = Reader::new(body);
    let centre = r.scaled16()? as f32;
    let mut bins = Bins {
        q: [0.0; CODED],
        z: [0.0; CODED],
    };
    for k in 0..64 {
        let (q, z) = (r.scaled16()? as f32, r.scaled16()? as f32);
        if k < CODED {
            bins.q[k] = q;
            bins.z[k] = z;
        }
    }
    Ok((bins, centre))
}

fn read_huffman_tables(body: &[u8], tables: &mut [Option<Table>; 8]) -> Result<(), WsqError> {
    let mut r = Reader::new(body);
    // One segment may carry several tables.
    while r.position() < body.len() {
        let id = usize::from(r.u8()?);
        let mut counts = [0u8; 16];
        counts.copy_from_slice(r.take(16)?);
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > huffman::SYMBOLS {
            return Err(WsqError::BadTable(
                "a Huffman table with more than 256 codes",
            ));
        }
        let symbols = r.take(total)?.to_vec();
        let table = Table { counts, symbols };
        if !table.is_valid() {
            return Err(WsqError::BadTable(
                "a Huffman table whose code lengths do not fit",
            ));
        }
        *tables
            .get_mut(id)
            .ok_or(WsqError::BadTable("a Huffman table number above 7"))? = Some(table);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
