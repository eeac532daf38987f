//! The ESC/POS commands a slip needs, as bytes: what any Epson-compatible receipt printer (and
//! the twin) understands. Only the encoder lives here; [`super::interpret`] reads them back.

/// Escape.
pub const ESC: u8 = 0x1B;
/// Group separator, the prefix of the `GS` commands.
pub const GS: u8 = 0x1D;
/// Data link escape, the prefix of the real-time commands.
pub const DLE: u8 = 0x10;
/// End of transmission: `DLE EOT n` asks for a status byte.
pub const EOT: u8 = 0x04;
/// Line feed: print the line and move on.
pub const LF: u8 = 0x0A;

/// The code page the slip's text is sent in: WPC1252 (Windows Latin 1), `ESC t 16`. Kiswahili
/// needs plain Latin only; names may carry Latin-1 accents, which this page also holds.
pub const CODE_PAGE_WPC1252: u8 = 16;

/// Dots across an 80 mm roll at 203 dpi, the common kiosk printer.
pub const PAPER_DOTS: u32 = 576;
/// Characters of font A (12 x 24 dots) across [`PAPER_DOTS`].
pub const COLUMNS: usize = (PAPER_DOTS / 12) as usize;

/// Where a line sits across the paper (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Flush left.
    #[default]
    Left,
    /// Centred.
    Centre,
    /// Flush right.
    Right,
}

/// The QR code's error correction (`GS ( k` function 169).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrLevel {
    /// About 7 % of the code may be lost.
    L,
    /// About 15 %: what a slip in a pocket needs.
    M,
    /// About 25 %.
    Q,
    /// About 30 %.
    H,
}

impl QrLevel {
    /// Its parameter byte.
    pub fn code(self) -> u8 {
        match self {
            Self::L => 48,
            Self::M => 49,
            Self::Q => 50,
            Self::H => 51,
        }
    }

    /// The level a parameter byte names.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            48 => Some(Self::L),
            49 => Some(Self::M),
            50 => Some(Self::Q),
            51 => Some(Self::H),
            _ => None,
        }
    }
}

/// The most data `GS ( k` stores for a model 2 code (numeric mode, version 40).
pub const QR_MAX_DATA: usize = 7089;

/// A print job being written: each call appends its command's bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Job {
    bytes: Vec<u8>,
}

impl Job {
    /// A job that starts by resetting the printer (`ESC @`) and choosing the code page.
    pub fn new() -> Self {
        let mut job = Self { bytes: Vec::new() };
        job.bytes
            .extend_from_slice(&[ESC, b'@', ESC, b't', CODE_PAGE_WPC1252]);
        job
    }

    /// The bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The finished job's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// `ESC a n`: where the next lines sit.
    pub fn align(&mut self, align: Align) -> &mut Self {
        let n = match align {
            Align::Left => 0,
            Align::Centre => 1,
            Align::Right => 2,
        };
        self.bytes.extend_from_slice(&[ESC, b'a', n]);
        self
    }

    /// `ESC E n`: bold on or off.
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'E', u8::from(on)]);
        self
    }

    /// `GS ! n`: character width and height, each 1 to 8 times font A.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let w = width.clamp(1, 8) - 1;
        let h = height.clamp(1, 8) - 1;
        self.bytes.extend_from_slice(&[GS, b'!', (w << 4) | h]);
        self
    }

    /// Text in the job's code page; a character the page lacks prints as `?`, and control
    /// characters are left out so text can never be read as a command.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.bytes.extend(text.chars().filter_map(to_wpc1252));
        self
    }

    /// `LF`: prints the line.
    pub fn line_feed(&mut self) -> &mut Self {
        self.bytes.push(LF);
        self
    }

    /// A line of text, then a line feed.
    pub fn line(&mut self, text: &str) -> &mut Self {
        self.text(text).line_feed()
    }

    /// `ESC d n`: prints and feeds `lines` blank lines.
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.bytes.extend_from_slice(&[ESC, b'd', lines]);
        self
    }

    /// A model 2 QR code of `data`, `module` dots a module (1-16), at `level`: `GS ( k`
    /// functions 165 (model), 167 (size), 169 (level), 180 (store) and 181 (print). Data
    /// beyond [`QR_MAX_DATA`] is cut there (no code holds more).
    pub fn qr(&mut self, data: &[u8], module: u8, level: QrLevel) -> &mut Self {
        let data = &data[..data.len().min(QR_MAX_DATA)];
        self.bytes
            .extend_from_slice(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]);
        self.bytes
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 67, module.clamp(1, 16)]);
        self.bytes
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 69, level.code()]);
        // Stored length counts the function's own three bytes (cn, fn, m).
        let length = data.len() + 3;
        self.bytes.extend_from_slice(&[
            GS,
            b'(',
            b'k',
            (length & 0xFF) as u8,
            (length >> 8) as u8,
            49,
            80,
            48,
        ]);
        self.bytes.extend_from_slice(data);
        self.bytes
            .extend_from_slice(&[GS, b'(', b'k', 3, 0, 49, 81, 48]);
        self
    }

    /// `GS V 66 n`: feeds `lines` dots' worth to the cutter and cuts (partial cut: the slip
    /// hangs by a thread, so it does not fall on the floor).
    pub fn cut(&mut self, feed: u8) -> &mut Self {
        self.bytes.extend_from_slice(&[GS, b'V', 66, feed]);
        self
    }
}

/// The WPC1252 byte for `c`; `None` for control characters.
pub fn to_wpc1252(c: char) -> Option<u8> {
    let code = u32::from(c);
    match code {
        0x20..=0x7E => Some(code as u8),
        0..=0x1F | 0x7F..=0x9F => None,
        0xA0..=0xFF => Some(code as u8),
        _ => Some(match c {
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '·' => 0xB7,
            _ => b'?',
        }),
    }
}

/// The character a WPC1252 byte prints as (`?` for the few unassigned ones).
pub fn from_wpc1252(byte: u8) -> char {
    match byte {
        0x80 => '€',
        0x82 => '‚',
        0x84 => '„',
        0x85 => '…',
        0x91 => '‘',
        0x92 => '’',
        0x93 => '“',
        0x94 => '”',
        0x95 => '•',
        0x96 => '–',
        0x97 => '—',
        0x7F..=0x9F => '?',
        _ => char::from(byte),
    }
}

/// `DLE EOT n`: the real-time status request `n` (1 printer, 2 offline cause, 3 error cause,
/// 4 paper sensor).
pub fn status_request(n: u8) -> [u8; 3] {
    [DLE, EOT, n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_is_model_two_at_level_m_with_its_data_stored_then_printed() {
        let mut job = Job::new();
        job.qr(b"KE-1", 6, QrLevel::M);
        let bytes = job.into_bytes();
        let expected: Vec<u8> = [
            &[ESC, b'@', ESC, b't', 16][..],
            &[GS, b'(', b'k', 4, 0, 49, 65, 50, 0],
            &[GS, b'(', b'k', 3, 0, 49, 67, 6],
            &[GS, b'(', b'k', 3, 0, 49, 69, 49],
            &[GS, b'(', b'k', 7, 0, 49, 80, 48, b'K', b'E', b'-', b'1'],
            &[GS, b'(', b'k', 3, 0, 49, 81, 48],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn text_is_latin_and_never_a_command() {
        let mut job = Job::default();
        job.text("Jiandikishe \u{1B}@ José – ok ✓");
        assert_eq!(job.bytes(), b"Jiandikishe @ Jos\xE9 \x96 ok ?");
        assert!(job.bytes().iter().all(|&b| b >= 0x20));
        for byte in 0x20..=0xFFu8 {
            let c = from_wpc1252(byte);
            if c != '?' {
                assert_eq!(to_wpc1252(c), Some(byte), "{byte:#x}");
            }
        }
    }

    #[test]
    fn sizes_and_alignment_encode_as_the_manual_gives_them() {
        let mut job = Job::default();
        job.size(2, 2).align(Align::Centre).bold(true).cut(3);
        assert_eq!(
            job.bytes(),
            [GS, b'!', 0x11, ESC, b'a', 1, ESC, b'E', 1, GS, b'V', 66, 3]
        );
    }
}
