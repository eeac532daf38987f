//! Registration numbers: what the applicant takes home, derived from the device and the seq.
//!
//! Form: `DDDD-DDDD-SSSS-C`. `D` is the eight-symbol device id, `S` the record's seq (four
//! symbols, more once a device passes 1,048,575 records), `C` a check symbol. All symbols are
//! Crockford base32 (digits and 22 letters; no I, L, O or U), so the number reads aloud without
//! confusion and survives being typed back in lower case or with `O` for `0`. The check symbol is
//! Luhn mod 32: any single wrong symbol is caught, and every swap of different neighbours but
//! `0`/`Z` and a few with the check symbol (99.7% of swaps in the test below).

use std::fmt;

/// The 32 symbols of Crockford's base32, in value order.
const SYMBOLS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DEVICE_LEN: usize = 8;
const MIN_SEQ_LEN: usize = 4;

/// The value of a Crockford symbol, folding lower case and the look-alikes I, L (1) and O (0).
fn symbol_value(symbol: u8) -> Option<u32> {
    let upper = symbol.to_ascii_uppercase();
    let folded = match upper {
        b'I' | b'L' => b'1',
        b'O' => b'0',
        other => other,
    };
    SYMBOLS.iter().position(|s| *s == folded).map(|v| v as u32)
}

/// Luhn mod 32 check symbol over `symbols` (values 0..32).
fn check_value(values: &[u32]) -> u32 {
    let mut factor = 2;
    let mut sum = 0;
    for value in values.iter().rev() {
        let addend = factor * value;
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    (32 - sum % 32) % 32
}

/// A device's identity as eight Crockford base32 symbols (40 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId([u8; DEVICE_LEN]);

impl DeviceId {
    /// Takes the first 40 bits of `digest` (a hash of the device's signing key).
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        let mut bits: u64 = 0;
        for byte in &digest[..5] {
            bits = bits << 8 | u64::from(*byte);
        }
        let mut symbols = [0u8; DEVICE_LEN];
        for (index, symbol) in symbols.iter_mut().enumerate() {
            let shift = 5 * (DEVICE_LEN - 1 - index);
            *symbol = SYMBOLS[((bits >> shift) & 31) as usize];
        }
        Self(symbols)
    }

    /// Parses eight symbols, folding case and look-alikes to the canonical form.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != DEVICE_LEN {
            return None;
        }
        let mut symbols = [0u8; DEVICE_LEN];
        for (slot, byte) in symbols.iter_mut().zip(bytes) {
            *slot = SYMBOLS[symbol_value(*byte)? as usize];
        }
        Some(Self(symbols))
    }

    /// The eight ASCII symbols.
    pub fn as_bytes(&self) -> &[u8; DEVICE_LEN] {
        &self.0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII: built only from SYMBOLS.
        std::str::from_utf8(&self.0).unwrap_or("????????")
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An applicant's registration number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegistrationNumber {
    /// The device that sealed the record.
    pub device: DeviceId,
    /// The record's seq on that device.
    pub seq: u64,
}

/// Why a typed registration number was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationNumberError {
    /// Too few or too many symbols.
    WrongLength,
    /// A character that is not a Crockford base32 symbol.
    BadSymbol,
    /// The check symbol does not match: a symbol was mistyped.
    CheckFailed,
}

impl fmt::Display for RegistrationNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WrongLength => "a registration number has 13 or more symbols",
            Self::BadSymbol => {
                "a registration number holds only digits and letters except I, L, O, U"
            }
            Self::CheckFailed => "the check symbol does not match: a symbol is mistyped",
        })
    }
}

impl std::error::Error for RegistrationNumberError {}

impl RegistrationNumber {
    fn seq_symbols(seq: u64) -> Vec<u8> {
        let mut symbols = Vec::new();
        let mut rest = seq;
        while rest > 0 || symbols.len() < MIN_SEQ_LEN {
            symbols.push(SYMBOLS[(rest & 31) as usize]);
            rest >>= 5;
        }
        symbols.reverse();
        symbols
    }

    /// Parses a number as a person might type it: any case, with or without hyphens or spaces.
    pub fn parse(text: &str) -> Result<Self, RegistrationNumberError> {
        let symbols: Vec<u8> = text.bytes().filter(|b| !matches!(b, b'-' | b' ')).collect();
        // 8 device + 4..=13 seq (a u64 needs 13 symbols) + 1 check.
        if !(DEVICE_LEN + MIN_SEQ_LEN + 1..=DEVICE_LEN + 13 + 1).contains(&symbols.len()) {
            return Err(RegistrationNumberError::WrongLength);
        }
        let values = symbols
            .iter()
            .map(|b| symbol_value(*b))
            .collect::<Option<Vec<u32>>>()
            .ok_or(RegistrationNumberError::BadSymbol)?;
        let (body, check) = values.split_at(values.len() - 1);
        if check_value(body) != check[0] {
            return Err(RegistrationNumberError::CheckFailed);
        }
        let device_text: String = body[..DEVICE_LEN]
            .iter()
            .map(|v| char::from(SYMBOLS[*v as usize]))
            .collect();
        let device = DeviceId::parse(&device_text).ok_or(RegistrationNumberError::BadSymbol)?;
        let mut seq: u64 = 0;
        for value in &body[DEVICE_LEN..] {
            seq = seq
                .checked_mul(32)
                .and_then(|s| s.checked_add(u64::from(*value)))
                .ok_or(RegistrationNumberError::WrongLength)?;
        }
        Ok(Self { device, seq })
    }
}

impl fmt::Display for RegistrationNumber {
    /// `DDDD-DDDD-SSSS-C`, seq group longer when needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = Self::seq_symbols(self.seq);
        let mut values: Vec<u32> = Vec::with_capacity(DEVICE_LEN + seq.len());
        for byte in self.device.as_bytes().iter().chain(&seq) {
            values.push(symbol_value(*byte).unwrap_or(0));
        }
        let check = SYMBOLS[check_value(&values) as usize];
        let device = self.device.as_str();
        let seq = String::from_utf8_lossy(&seq);
        write!(
            f,
            "{}-{}-{}-{}",
            &device[..4],
            &device[4..],
            seq,
            char::from(check)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(seq: u64) -> RegistrationNumber {
        RegistrationNumber {
            device: DeviceId::from_digest(&[0xA7; 32]),
            seq,
        }
    }

    #[test]
    fn numbers_round_trip_through_text() {
        for seq in [1, 2, 31, 32, 1_048_575, 1_048_576, u64::MAX] {
            let text = number(seq).to_string();
            assert_eq!(RegistrationNumber::parse(&text), Ok(number(seq)), "{text}");
        }
        assert_eq!(number(1).to_string().len(), 16);
    }

    #[test]
    fn typing_is_forgiving_of_case_spaces_and_look_alikes() {
        let text = number(7).to_string();
        let sloppy = text.to_lowercase().replace('-', " ").replace('0', "o");
        assert_eq!(RegistrationNumber::parse(&sloppy), Ok(number(7)));
    }

    #[test]
    fn every_single_mistyped_symbol_is_caught() {
        let text = number(12_345).to_string();
        let clean: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
        for index in 0..clean.len() {
            for replacement in SYMBOLS {
                if *replacement == clean[index] {
                    continue;
                }
                let mut typo = clean.clone();
                typo[index] = *replacement;
                let typo = String::from_utf8_lossy(&typo).into_owned();
                assert_eq!(
                    RegistrationNumber::parse(&typo),
                    Err(RegistrationNumberError::CheckFailed),
                    "{typo}"
                );
            }
        }
    }

    /// Every swap of two different neighbouring symbols, over numbers of many devices and
    /// seqs, and how many the check symbol refuses. A swap that parses is a silent misread
    /// (another valid number, or the same one read with another seq): it counts as missed.
    fn neighbour_swaps() -> (usize, usize, Vec<String>) {
        let (mut caught, mut swaps, mut missed) = (0, 0, Vec::new());
        for device in 0..64u8 {
            let mut digest = [0u8; 32];
            for (index, byte) in digest.iter_mut().enumerate() {
                *byte = device
                    .wrapping_mul(73)
                    .wrapping_add((index as u8).wrapping_mul(29))
                    ^ 0x5A;
            }
            let device = DeviceId::from_digest(&digest);
            for step in 0..64u64 {
                // Short and long seqs alike: 1 up to past 2^20 (five seq symbols).
                let seq = 1 + step * step * step * 5_003 % 1_400_000;
                let text = RegistrationNumber { device, seq }.to_string();
                let clean: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
                for index in 0..clean.len() - 1 {
                    if clean[index] == clean[index + 1] {
                        continue;
                    }
                    let mut swapped = clean.clone();
                    swapped.swap(index, index + 1);
                    swaps += 1;
                    let swapped = String::from_utf8_lossy(&swapped).into_owned();
                    match RegistrationNumber::parse(&swapped) {
                        Err(RegistrationNumberError::CheckFailed) => caught += 1,
                        _ => missed.push(format!("{text} -> {swapped}")),
                    }
                }
            }
        }
        (caught, swaps, missed)
    }

    #[test]
    fn neighbour_swaps_fail_the_check_but_for_0_and_z_and_the_check_symbol() {
        let (caught, swaps, missed) = neighbour_swaps();
        println!(
            "neighbour swaps caught by the check symbol: {caught} of {swaps} ({:.2}%)",
            caught as f64 * 100.0 / swaps as f64
        );
        // Luhn mod 32 misses exactly one pair inside the body, 0 and Z (values 0 and 31: the
        // doubled 31 folds to 31 = 0 + 31), and some swaps of the check symbol with the last
        // seq symbol (the check moves into the body).
        for miss in &missed {
            let (before, after) = miss.split_once(" -> ").unwrap();
            let before: Vec<u8> = before.bytes().filter(|b| *b != b'-').collect();
            let at = before
                .iter()
                .zip(after.as_bytes())
                .position(|(a, b)| a != b)
                .unwrap();
            let pair = [before[at], before[at + 1]];
            assert!(
                at + 2 == before.len() || pair == *b"0Z" || pair == *b"Z0",
                "a swap the check should catch was missed: {miss}"
            );
        }
        assert!(caught * 1000 >= swaps * 995, "{caught} of {swaps}");
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for text in [
            "",
            "ABC",
            "!!!!-!!!!-!!!!-!",
            "ÄÄÄÄÄÄÄÄÄÄÄÄÄ",
            &"Z".repeat(40),
        ] {
            assert!(RegistrationNumber::parse(text).is_err(), "{text}");
        }
        assert_eq!(
            RegistrationNumber::parse("UUUU-UUUU-0001-0"),
            Err(RegistrationNumberError::BadSymbol)
        );
    }
}
