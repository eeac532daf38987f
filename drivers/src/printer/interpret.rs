//! Reads ESC/POS back into commands, as a printer's firmware does: the twin's half of
//! [`super::escpos`]. Bytes may arrive in any chunks; an incomplete command waits for the rest,
//! a command this printer does not know is skipped, and nothing panics on any input.

use super::escpos::{DLE, EOT, ESC, GS, LF, QrLevel};

/// One command read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `ESC @`: back to the power-on settings.
    Init,
    /// `ESC t n`: the code page for text.
    CodePage(u8),
    /// `ESC a n`: 0 left, 1 centre, 2 right.
    Align(u8),
    /// `ESC E n`: bold.
    Bold(bool),
    /// `ESC ! n`: print mode bits (bold 3, double height 4, double width 5).
    PrintMode(u8),
    /// `GS ! n`: width (high nibble) and height (low nibble) multipliers, less one.
    Size(u8),
    /// Printable bytes in the current code page.
    Text(Vec<u8>),
    /// `LF`: print the line.
    LineFeed,
    /// `ESC d n`: print and feed `n` lines.
    Feed(u8),
    /// `ESC J n`: print and feed `n` dots.
    FeedDots(u8),
    /// `ESC 2` (`None`: the default) or `ESC 3 n`: line spacing in dots.
    LineSpacing(Option<u8>),
    /// `GS ( k` 167: QR module size in dots.
    QrModule(u8),
    /// `GS ( k` 169: QR error correction.
    QrLevel(QrLevel),
    /// `GS ( k` 180: QR data stored for printing.
    QrStore(Vec<u8>),
    /// `GS ( k` 181: print the stored QR code.
    QrPrint,
    /// `GS V`: cut the paper (the slip ends here).
    Cut,
    /// `DLE EOT n`: a real-time status request, answered at once.
    Status(u8),
}

/// What one step of reading found.
enum Step {
    /// A command (or `None`: one skipped), and how many bytes it took.
    Done(Option<Op>, usize),
    /// More bytes are needed.
    Incomplete,
}

/// The interpreter's state between chunks: bytes of an incomplete command.
#[derive(Debug, Default)]
pub struct Interpreter {
    pending: Vec<u8>,
}

impl Interpreter {
    /// A printer that has heard nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `bytes` on from where the last chunk stopped; returns the commands completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Op> {
        self.pending.extend_from_slice(bytes);
        let mut ops = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match step(&self.pending[at..]) {
                Step::Done(op, used) => {
                    ops.extend(op);
                    at += used.max(1);
                }
                Step::Incomplete => break,
            }
        }
        self.pending.drain(..at.min(self.pending.len()));
        ops
    }

    /// Bytes held back as the start of a command not yet complete.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// All the commands in `bytes`, read at once; a command cut off at the end is left out.
pub fn interpret(bytes: &[u8]) -> Vec<Op> {
    Interpreter::new().feed(bytes)
}

/// Reads one command from the start of `bytes` (never empty).
fn step(bytes: &[u8]) -> Step {
    let Some(&first) = bytes.first() else {
        return Step::Incomplete;
    };
    match first {
        0x20..=0xFF if first != 0x7F => {
            let run = bytes
                .iter()
                .take_while(|&&b| b >= 0x20 && b != 0x7F)
                .count();
            Step::Done(Some(Op::Text(bytes[..run].to_vec())), run)
        }
        LF => Step::Done(Some(Op::LineFeed), 1),
        ESC => escape(bytes),
        GS => group(bytes),
        DLE => match bytes.get(1..3) {
            Some(&[EOT, n]) => Step::Done(Some(Op::Status(n)), 3),
            Some(_) => Step::Done(None, 1),
            None if bytes.get(1).is_some_and(|&b| b != EOT) => Step::Done(None, 1),
            None => Step::Incomplete,
        },
        // CR, HT and other controls: nothing on a slip.
        _ => Step::Done(None, 1),
    }
}

/// `ESC x ...`.
fn escape(bytes: &[u8]) -> Step {
    let Some(&command) = bytes.get(1) else {
        return Step::Incomplete;
    };
    match command {
        b'@' => Step::Done(Some(Op::Init), 2),
        b'2' => Step::Done(Some(Op::LineSpacing(None)), 2),
        b't' | b'a' | b'E' | b'!' | b'd' | b'J' | b'3' | b'-' | b'M' | b'R' | b'G' | b'{' => {
            let Some(&n) = bytes.get(2) else {
                return Step::Incomplete;
            };
            let op = match command {
                b't' => Some(Op::CodePage(n)),
                // Both 0-2 and the digits '0'-'2' are allowed.
                b'a' => Some(Op::Align((n & 0x0F).min(2))),
                b'E' => Some(Op::Bold(n & 1 == 1)),
                b'!' => Some(Op::PrintMode(n)),
                b'd' => Some(Op::Feed(n)),
                b'J' => Some(Op::FeedDots(n)),
                b'3' => Some(Op::LineSpacing(Some(n))),
                _ => None,
            };
            Step::Done(op, 3)
        }
        // Unknown: skip the escape and its command byte.
        _ => Step::Done(None, 2),
    }
}

/// `GS x ...`.
fn group(bytes: &[u8]) -> Step {
    let Some(&command) = bytes.get(1) else {
        return Step::Incomplete;
    };
    match command {
        b'!' | b'B' | b'H' | b'h' | b'w' | b'f' => match bytes.get(2) {
            Some(&n) if command == b'!' => Step::Done(Some(Op::Size(n)), 3),
            Some(_) => Step::Done(None, 3),
            None => Step::Incomplete,
        },
        b'L' | b'W' => {
            if bytes.len() < 4 {
                Step::Incomplete
            } else {
                Step::Done(None, 4)
            }
        }
        b'V' => match bytes.get(2) {
            Some(0 | 1 | 48 | 49) => Step::Done(Some(Op::Cut), 3),
            Some(65 | 66 | 97 | 98 | 103 | 104) => {
                if bytes.len() < 4 {
                    Step::Incomplete
                } else {
                    Step::Done(Some(Op::Cut), 4)
                }
            }
            Some(_) => Step::Done(None, 3),
            None => Step::Incomplete,
        },
        b'(' => function(bytes),
        _ => Step::Done(None, 2),
    }
}

/// `GS ( x pL pH ...`: functions with a length; only `GS ( k` (2D codes) for a QR code means
/// anything here, the rest are skipped whole.
fn function(bytes: &[u8]) -> Step {
    let Some(&[kind, low, high]) = bytes.get(2..5) else {
        return Step::Incomplete;
    };
    let length = usize::from(low) | usize::from(high) << 8;
    let Some(parameters) = bytes.get(5..5 + length) else {
        return Step::Incomplete;
    };
    let used = 5 + length;
    if kind != b'k' {
        return Step::Done(None, used);
    }
    let op = match parameters {
        // cn 49 is the QR code symbol.
        [49, 67, n] => Some(Op::QrModule(*n)),
        [49, 69, n] => QrLevel::from_code(*n).map(Op::QrLevel),
        [49, 80, 48, data @ ..] => Some(Op::QrStore(data.to_vec())),
        [49, 81, 48] => Some(Op::QrPrint),
        _ => None,
    };
    Step::Done(op, used)
}

/// `ops` with neighbouring text runs joined: a chunk boundary may split one run in two, so
/// this is how two readings of one stream compare.
pub fn merge_text(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::new();
    for op in ops {
        if let (Op::Text(more), Some(Op::Text(text))) = (&op, out.last_mut()) {
            text.extend_from_slice(more);
            continue;
        }
        out.push(op);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::escpos::{Align, Job, QrLevel};
    use super::*;

    fn slip() -> Vec<u8> {
        let mut job = Job::new();
        job.align(Align::Centre)
            .size(2, 2)
            .bold(true)
            .line("KE-2026")
            .size(1, 1)
            .bold(false)
            .qr(b"KE-2026", 6, QrLevel::M)
            .feed(2)
            .cut(3);
        job.into_bytes()
    }

    #[test]
    fn the_encoders_commands_read_back_in_order() {
        let ops = interpret(&slip());
        assert_eq!(
            ops,
            vec![
                Op::Init,
                Op::CodePage(16),
                Op::Align(1),
                Op::Size(0x11),
                Op::Bold(true),
                Op::Text(b"KE-2026".to_vec()),
                Op::LineFeed,
                Op::Size(0),
                Op::Bold(false),
                // The model (function 165) carries nothing the twin uses: only model 2 is made.
                Op::QrModule(6),
                Op::QrLevel(QrLevel::M),
                Op::QrStore(b"KE-2026".to_vec()),
                Op::QrPrint,
                Op::Feed(2),
                Op::Cut,
            ]
        );
    }

    #[test]
    fn any_chunking_reads_the_same_commands() {
        let bytes = slip();
        let whole = interpret(&bytes);
        for size in [1, 2, 3, 7, 13] {
            let mut interpreter = Interpreter::new();
            let mut ops = Vec::new();
            for chunk in bytes.chunks(size) {
                ops.extend(interpreter.feed(chunk));
            }
            assert_eq!(
                merge_text(ops),
                merge_text(whole.clone()),
                "chunks of {size}"
            );
            assert_eq!(interpreter.pending(), 0);
        }
    }

    #[test]
    fn status_requests_and_unknown_commands() {
        assert_eq!(
            interpret(&[
                0x10, 0x04, 2, 0x1B, b'~', b'A', 0x1D, b'(', b'L', 1, 0, 9, 0x0D
            ]),
            vec![Op::Status(2), Op::Text(b"A".to_vec())]
        );
        let mut interpreter = Interpreter::new();
        assert!(interpreter.feed(&[0x1D, b'(', b'k', 200]).is_empty());
        assert_eq!(interpreter.pending(), 4, "waits for the length's high byte");
    }
}
