//! The twin's print head: commands from [`super::interpret`] laid onto a roll of paper, 576
//! dots across as an 80 mm printer at 203 dpi, each slip cut off as a PNG page. Text sits in
//! font A's fixed 12 x 24 dot cells, drawn with a real font, so what fits on the twin's line
//! fits on a printer's.

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};

use super::escpos::{CODE_PAGE_WPC1252, PAPER_DOTS, QrLevel, from_wpc1252};
use super::interpret::Op;

/// Font A's cell, dots.
const CELL: (u32, u32) = (12, 24);
/// The power-on line spacing, dots (about 3.75 mm).
const LINE_SPACING: u32 = 30;
/// A slip longer than this (about 2.5 m) is cut where it is: a stream without cuts must not
/// grow the page for ever.
pub const MAX_PAGE_DOTS: usize = 20_000;

/// The fonts the twin prints with (regular and bold).
#[derive(Clone)]
pub struct Fonts {
    regular: FontArc,
    bold: FontArc,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fonts")
    }
}

impl Fonts {
    /// Fonts from TrueType or OpenType bytes.
    pub fn new(regular: Vec<u8>, bold: Vec<u8>) -> Result<Self, String> {
        let load = |bytes| FontArc::try_from_vec(bytes).map_err(|e| format!("font: {e}"));
        Ok(Self {
            regular: load(regular)?,
            bold: load(bold)?,
        })
    }
}

/// One character waiting on the line, in its style.
#[derive(Debug, Clone, Copy)]
struct Cell {
    ch: char,
    bold: bool,
    width: u32,
    height: u32,
}

/// Settings `ESC @` resets.
#[derive(Debug, Clone, Copy)]
struct Style {
    align: u8,
    bold: bool,
    width: u32,
    height: u32,
    code_page: u8,
    spacing: u32,
    qr_module: u32,
    qr_level: QrLevel,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            align: 0,
            bold: false,
            width: 1,
            height: 1,
            code_page: 0,
            spacing: LINE_SPACING,
            qr_module: 3,
            qr_level: QrLevel::L,
        }
    }
}

/// One slip cut off the roll.
#[derive(Clone, PartialEq, Eq)]
pub struct Page {
    /// The page as drawn: 8-bit grey PNG, [`PAPER_DOTS`] wide.
    pub png: Vec<u8>,
    /// Its text, line by line, as printed (QR codes not included): what a reader of the page
    /// would read, for tests and logs of the twin.
    pub text: String,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Page({} PNG bytes, {} lines)",
            self.png.len(),
            self.text.lines().count()
        )
    }
}

/// The roll: what has been printed since the last cut, and the line being filled.
pub struct Paper {
    fonts: Fonts,
    style: Style,
    line: Vec<Cell>,
    /// Grey levels, [`PAPER_DOTS`] a row, 255 white.
    dots: Vec<u8>,
    /// Where the next line starts, in rows.
    y: usize,
    qr_data: Vec<u8>,
    text: String,
}

impl std::fmt::Debug for Paper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Paper({} rows)", self.y)
    }
}

impl Paper {
    /// A fresh roll.
    pub fn new(fonts: Fonts) -> Self {
        Self {
            fonts,
            style: Style::default(),
            line: Vec::new(),
            dots: Vec::new(),
            y: 0,
            qr_data: Vec::new(),
            text: String::new(),
        }
    }

    /// Carries out one command; returns the finished page when the paper is cut.
    pub fn apply(&mut self, op: &Op) -> Option<Page> {
        match op {
            Op::Init => {
                // `ESC @` clears the buffer: a half-filled line is dropped, not printed.
                self.line.clear();
                self.style = Style::default();
            }
            Op::CodePage(n) => self.style.code_page = *n,
            Op::Align(n) => self.style.align = *n,
            Op::Bold(on) => self.style.bold = *on,
            Op::PrintMode(n) => {
                self.style.bold = n & 0x08 != 0;
                self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
            }
            Op::Size(n) => {
                self.style.width = u32::from(n >> 4 & 7) + 1;
                self.style.height = u32::from(n & 7) + 1;
            }
            Op::Text(bytes) => {
                for &byte in bytes {
                    self.put(byte);
                }
            }
            Op::LineFeed => self.print_line(),
            Op::Feed(n) => {
                self.flush_line();
                for _ in 0..*n {
                    self.advance(self.style.spacing as usize);
                    self.text.push('\n');
                }
            }
            Op::FeedDots(n) => {
                self.flush_line();
                self.advance(usize::from(*n));
            }
            Op::LineSpacing(n) => self.style.spacing = n.map_or(LINE_SPACING, u32::from),
            Op::QrModule(n) => self.style.qr_module = u32::from(*n).clamp(1, 16),
            Op::QrLevel(level) => self.style.qr_level = *level,
            Op::QrStore(data) => self.qr_data.clone_from(data),
            Op::QrPrint => {
                self.flush_line();
                self.print_qr();
            }
            Op::Cut => {
                self.flush_line();
                return Some(self.cut());
            }
            Op::Status(_) => {}
        }
        (self.y >= MAX_PAGE_DOTS).then(|| self.cut())
    }

    /// Rows printed since the last cut.
    pub fn rows(&self) -> usize {
        self.y
    }

    fn put(&mut self, byte: u8) {
        let ch = if self.style.code_page == CODE_PAGE_WPC1252 {
            from_wpc1252(byte)
        } else if byte.is_ascii() {
            char::from(byte)
        } else {
            '?'
        };
        let cell = Cell {
            ch,
            bold: self.style.bold,
            width: self.style.width,
            height: self.style.height,
        };
        // A full line prints and the text goes on below, as a printer wraps.
        if self.line_width() + cell.width * CELL.0 > PAPER_DOTS {
            self.print_line();
        }
        self.line.push(cell);
    }

    fn line_width(&self) -> u32 {
        self.line.iter().map(|c| c.width * CELL.0).sum()
    }

    fn left(&self, width: u32) -> u32 {
        let room = PAPER_DOTS.saturating_sub(width);
        match self.style.align {
            1 => room / 2,
            2 => room,
            _ => 0,
        }
    }

    fn ensure_rows(&mut self, rows: usize) {
        let needed = rows * PAPER_DOTS as usize;
        if self.dots.len() < needed {
            self.dots.resize(needed, 255);
        }
    }

    fn advance(&mut self, rows: usize) {
        self.y = (self.y + rows).min(MAX_PAGE_DOTS);
        self.ensure_rows(self.y);
    }

    fn ink(&mut self, x: u32, y: usize, coverage: f32) {
        if x >= PAPER_DOTS {
            return;
        }
        let at = y * PAPER_DOTS as usize + x as usize;
        if let Some(dot) = self.dots.get_mut(at) {
            let level = 255.0 * (1.0 - coverage.clamp(0.0, 1.0));
            *dot = (*dot).min(level as u8);
        }
    }

    /// Prints the line being filled, if anything is on it.
    fn flush_line(&mut self) {
        if !self.line.is_empty() {
            self.print_line();
        }
    }

    /// Prints the line being filled (an empty line just feeds).
    fn print_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.text.extend(line.iter().map(|c| c.ch));
        self.text.push('\n');
        let height = line
            .iter()
            .map(|c| c.height * CELL.1)
            .max()
            .unwrap_or(CELL.1);
        let advance = self.style.spacing.max(height + 6) as usize;
        let top = self.y;
        self.advance(advance);
        let mut x = self.left(line.iter().map(|c| c.width * CELL.0).sum());
        for cell in line {
            self.draw_char(cell, x, top + (height - cell.height * CELL.1) as usize);
            x += cell.width * CELL.0;
        }
    }

    fn draw_char(&mut self, cell: Cell, x: u32, top: usize) {
        let font = if cell.bold {
            self.fonts.bold.clone()
        } else {
            self.fonts.regular.clone()
        };
        // A proportional font squeezed into font A's cell: 13 x 22 px fills 12 x 24 dots.
        let scale = PxScale {
            x: 13.0 * cell.width as f32,
            y: 22.0 * cell.height as f32,
        };
        let scaled = font.as_scaled(scale);
        let glyph_id = font.glyph_id(cell.ch);
        let cell_width = (cell.width * CELL.0) as f32;
        // Centred in its cell; a wide glyph (W, M) may reach a little into its neighbours'.
        let origin_x = x as f32 + (cell_width - scaled.h_advance(glyph_id)) / 2.0;
        let glyph =
            glyph_id.with_scale_and_position(scale, point(origin_x, top as f32 + scaled.ascent()));
        let Some(outline) = font.outline_glyph(glyph) else {
            return;
        };
        let bounds = outline.px_bounds();
        let mut inked = Vec::new();
        outline.draw(|gx, gy, coverage| inked.push((gx, gy, coverage)));
        let (min_x, min_y) = (bounds.min.x.max(0.0) as u32, bounds.min.y.max(0.0) as usize);
        self.ensure_rows(min_y + bounds.height() as usize + 1);
        for (gx, gy, coverage) in inked {
            self.ink(min_x + gx, min_y + gy as usize, coverage);
        }
    }

    fn print_qr(&mut self) {
        let level = match self.style.qr_level {
            QrLevel::L => qrcode::EcLevel::L,
            QrLevel::M => qrcode::EcLevel::M,
            QrLevel::Q => qrcode::EcLevel::Q,
            QrLevel::H => qrcode::EcLevel::H,
        };
        // A printer given data no code can hold prints nothing.
        let Ok(code) = qrcode::QrCode::with_error_correction_level(&self.qr_data, level) else {
            return;
        };
        let modules = code.width();
        let module = self.style.qr_module as usize;
        let side = modules * module;
        let left = self.left(side as u32) as usize;
        let top = self.y;
        self.advance(side);
        for (i, colour) in code.to_colors().into_iter().enumerate() {
            if colour != qrcode::Color::Dark {
                continue;
            }
            let (mx, my) = (i % modules, i / modules);
            for y in top + my * module..top + (my + 1) * module {
                for x in left + mx * module..left + (mx + 1) * module {
                    self.ink(x as u32, y, 1.0);
                }
            }
        }
    }

    /// Ends the page: its PNG and text, and a clean roll after it.
    fn cut(&mut self) -> Page {
        let rows = self.y.max(1);
        self.ensure_rows(rows);
        self.dots.truncate(rows * PAPER_DOTS as usize);
        let png = encode_png(&self.dots, PAPER_DOTS, rows as u32);
        self.dots.clear();
        self.y = 0;
        Page {
            png,
            text: std::mem::take(&mut self.text),
        }
    }
}

fn encode_png(grey: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing into memory fails only on a size mismatch, which `cut` rules out.
    let written = encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(grey));
    if written.is_err() {
        return Vec::new();
    }
    out
}
