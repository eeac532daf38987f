//! WSQ's entropy coding: quantised coefficients become symbols (zero runs, small values,
//! escapes followed by raw bits), coded with canonical Huffman codes of at most 16 bits whose
//! table travels in the file as JPEG does (counts per length, then symbols).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Longest code allowed.
const MAX_BITS: usize = 16;
/// Symbols: 1..=100 zero runs, 101..=106 escapes, 107..=254 the values -73..=74.
pub(super) const SYMBOLS: usize = 256;
/// Longest zero run with a symbol of its own.
const MAX_RUN: u32 = 100;
/// Largest value with a symbol of its own; the smallest is `1 - MAX_VALUE`.
const MAX_VALUE: i32 = 74;
/// Symbol of value 0 (never sent itself: zeros go as runs).
const VALUE_ZERO: i32 = 180;
const POSITIVE_8: u8 = 101;
const NEGATIVE_8: u8 = 102;
const POSITIVE_16: u8 = 103;
const NEGATIVE_16: u8 = 104;
const RUN_8: u8 = 105;
const RUN_16: u8 = 106;

/// One coded event: a symbol and the raw bits that follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Event {
    symbol: u8,
    extra: u16,
    extra_bits: u8,
}

fn value_event(v: i32) -> Event {
    let plain = |symbol: u8| Event {
        symbol,
        extra: 0,
        extra_bits: 0,
    };
    let raw = |symbol, magnitude: i32, bits| Event {
        symbol,
        extra: magnitude.min(0xFFFF) as u16,
        extra_bits: bits,
    };
    if v > MAX_VALUE {
        if v > 255 {
            raw(POSITIVE_16, v, 16)
        } else {
            raw(POSITIVE_8, v, 8)
        }
    } else if v < 1 - MAX_VALUE {
        if v < -255 {
            raw(NEGATIVE_16, -v, 16)
        } else {
            raw(NEGATIVE_8, -v, 8)
        }
    } else {
        plain((v + VALUE_ZERO) as u8)
    }
}

fn run_event(run: u32) -> Event {
    if run <= MAX_RUN {
        Event {
            symbol: run as u8,
            extra: 0,
            extra_bits: 0,
        }
    } else if run <= 0xFF {
        Event {
            symbol: RUN_8,
            extra: run as u16,
            extra_bits: 8,
        }
    } else {
        Event {
            symbol: RUN_16,
            extra: run as u16,
            extra_bits: 16,
        }
    }
}

/// Turns a block of coefficients into coding events.
fn events(block: &[i32], mut emit: impl FnMut(Event)) {
    let mut run = 0u32;
    for &v in block {
        if v == 0 {
            run += 1;
            if run == 0xFFFF {
                emit(run_event(run));
                run = 0;
            }
            continue;
        }
        if run > 0 {
            emit(run_event(run));
            run = 0;
        }
        // Values beyond 16 bits cannot be sent; the quantiser never makes them at sane rates.
        emit(value_event(v.clamp(-0xFFFF, 0xFFFF)));
    }
    if run > 0 {
        emit(run_event(run));
    }
}

/// A Huffman table as the file carries it: how many codes of each length 1..=16, and the
/// symbols in code order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    /// Codes per length.
    pub counts: [u8; MAX_BITS],
    /// Symbols, shortest codes first.
    pub symbols: Vec<u8>,
}

impl Table {
    /// The optimal table (at most 16 bits, no code of all ones) for these blocks.
    pub fn for_blocks(blocks: &[&[i32]]) -> Self {
        let mut frequency = [0u64; SYMBOLS];
        for block in blocks {
            events(block, |e| frequency[usize::from(e.symbol)] += 1);
        }
        Self::from_frequencies(&frequency)
    }

    fn from_frequencies(frequency: &[u64; SYMBOLS]) -> Self {
        // A reserved symbol with the least weight takes the longest code, so no real code is
        // all ones (the padding at the end of a block must not decode as a symbol).
        let reserved = SYMBOLS;
        let mut used: Vec<(usize, u64)> = frequency
            .iter()
            .enumerate()
            .filter(|(_, f)| **f > 0)
            .map(|(s, f)| (s, *f))
            .collect();
        used.push((reserved, 0));
        let mut lengths = vec![0usize; SYMBOLS + 1];
        if used.len() == 1 {
            // Nothing to code: keep one symbol so the table is well formed.
            used.insert(0, (1, 1));
        }
        // Plain Huffman: merge the two lightest trees, every leaf below gets one bit longer.
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (i, &(symbol, f)) in used.iter().enumerate() {
            heap.push(Reverse((f, i)));
            members.push(vec![symbol]);
        }
        while heap.len() > 1 {
            let (Some(Reverse((fa, a))), Some(Reverse((fb, b)))) = (heap.pop(), heap.pop()) else {
                break;
            };
            let mut merged = std::mem::take(&mut members[a]);
            merged.append(&mut members[b]);
            for &s in &merged {
                lengths[s] += 1;
            }
            members.push(merged);
            heap.push(Reverse((fa + fb, members.len() - 1)));
        }
        // Count codes per length, then shorten to 16 bits the way JPEG's Annex K does: move a
        // pair from the longest length up, and one code from a shorter length down.
        let longest = lengths.iter().copied().max().unwrap_or(1).max(MAX_BITS);
        let mut per_length = vec![0usize; longest + 1];
        for &(s, _) in &used {
            per_length[lengths[s]] += 1;
        }
        let mut i = longest;
        while i > MAX_BITS {
            while per_length[i] > 0 {
                let mut j = i - 2;
                while per_length[j] == 0 {
                    j -= 1;
                }
                per_length[i] -= 2;
                per_length[i - 1] += 1;
                per_length[j + 1] += 2;
                per_length[j] -= 1;
            }
            i -= 1;
        }
        // The reserved symbol is the last code of the longest length: drop it.
        if let Some(last) = (1..=MAX_BITS).rev().find(|&l| per_length[l] > 0) {
            per_length[last] -= 1;
        }
        // Symbols in order of (original length, weight), most frequent first, get the lengths.
        used.retain(|&(s, _)| s != reserved);
        used.sort_by_key(|&(s, f)| (lengths[s], Reverse(f), s));
        let mut counts = [0u8; MAX_BITS];
        for l in 1..=MAX_BITS {
            counts[l - 1] = per_length[l] as u8;
        }
        Self {
            counts,
            symbols: used.iter().map(|&(s, _)| s as u8).collect(),
        }
    }

    /// Code length and code of each symbol (JPEG's canonical assignment).
    fn codes(&self) -> [(u8, u16); SYMBOLS] {
        let mut out = [(0u8, 0u16); SYMBOLS];
        let mut code = 0u32;
        let mut next = self.symbols.iter();
        for (l, &count) in self.counts.iter().enumerate() {
            for _ in 0..count {
                if let Some(&s) = next.next() {
                    out[usize::from(s)] = (l as u8 + 1, code as u16);
                }
                code += 1;
            }
            code <<= 1;
        }
        out
    }

    /// Checks the table can be decoded: lengths that fit in the code space, one entry per symbol.
    pub fn is_valid(&self) -> bool {
        let total: usize = self.counts.iter().map(|&c| usize::from(c)).sum();
        let mut space = 1u64 << MAX_BITS;
        for (l, &count) in self.counts.iter().enumerate() {
            let cost = u64::from(count) << (MAX_BITS - 1 - l);
            if cost > space {
                return false;
            }
            space -= cost;
        }
        total == self.symbols.len() && total > 0
    }
}

/// Writes bits most significant first, with a 0 after every 0xFF byte so no marker appears.
#[derive(Default)]
pub(super) struct BitWriter {
    out: Vec<u8>,
    byte: u32,
    filled: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.byte = (self.byte << 1) | ((value >> i) & 1);
            self.filled += 1;
            if self.filled == 8 {
                self.push_byte();
            }
        }
    }

    fn push_byte(&mut self) {
        let b = self.byte as u8;
        self.out.push(b);
        if b == 0xFF {
            self.out.push(0);
        }
        self.byte = 0;
        self.filled = 0;
    }

    /// Pads the last byte with ones and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if self.filled > 0 {
            let pad = 8 - self.filled;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

/// Codes one block with `table`.
pub(super) fn encode_block(block: &[i32], table: &Table) -> Vec<u8> {
    let codes = table.codes();
    let mut writer = BitWriter::default();
    events(block, |e| {
        let (length, code) = codes[usize::from(e.symbol)];
        writer.put(u32::from(code), u32::from(length));
        if e.extra_bits > 0 {
            writer.put(u32::from(e.extra), u32::from(e.extra_bits));
        }
    });
    writer.finish()
}

/// Why a block's coded bits are not readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BlockError {
    /// A bit pattern that is no code of the table.
    BadCode,
    /// A symbol the table has but WSQ does not define.
    BadSymbol(u8),
    /// More coefficients than the picture has.
    TooMany,
}

/// Reads unstuffed bits of one entropy-coded segment.
struct BitReader<'a> {
    bytes: &'a [u8],
    at: usize,
    bit: u32,
}

impl BitReader<'_> {
    fn bits_left(&self) -> usize {
        (self.bytes.len() - self.at) * 8 - self.bit as usize
    }

    fn get(&mut self, bits: u32) -> Option<u32> {
        if self.bits_left() < bits as usize {
            return None;
        }
        let mut value = 0;
        for _ in 0..bits {
            let b = (self.bytes[self.at] >> (7 - self.bit)) & 1;
            value = (value << 1) | u32::from(b);
            self.bit += 1;
            if self.bit == 8 {
                self.bit = 0;
                self.at += 1;
            }
        }
        Some(value)
    }

    /// True when what is left is the padding: fewer than 8 bits, all ones.
    fn only_padding(&self) -> bool {
        let left = self.bits_left();
        left < 8
            && (left == 0 || {
                let mask = (1u8 << left) - 1;
                self.bytes[self.at] & mask == mask
            })
    }
}

/// Decodes one segment's bits (already without stuffed zeros), appending coefficients to `out`
/// but never more than `limit` in all.
pub(super) fn decode_block(
    bytes: &[u8],
    table: &Table,
    out: &mut Vec<i32>,
    limit: usize,
) -> Result<(), BlockError> {
    // Canonical decoding: per length, the first code and where its symbols start.
    let mut first_code = [0i64; MAX_BITS + 1];
    let mut first_index = [0usize; MAX_BITS + 1];
    let mut code = 0i64;
    let mut index = 0usize;
    for l in 1..=MAX_BITS {
        first_code[l] = code;
        first_index[l] = index;
        let count = usize::from(table.counts[l - 1]);
        code = (code + count as i64) << 1;
        index += count;
    }
    let mut reader = BitReader {
        bytes,
        at: 0,
        bit: 0,
    };
    while !reader.only_padding() {
        let mut code = 0i64;
        let mut symbol = None;
        for l in 1..=MAX_BITS {
            let Some(bit) = reader.get(1) else {
                // Ran out inside a code: only padding ones may end a block.
                return if reader.bits_left() == 0 && code == (1 << (l - 1)) - 1 {
                    Ok(())
                } else {
                    Err(BlockError::BadCode)
                };
            };
            code = (code << 1) | i64::from(bit);
            let count = i64::from(table.counts[l - 1]);
            if code >= first_code[l] && code - first_code[l] < count {
                let at = first_index[l] + (code - first_code[l]) as usize;
                symbol = table.symbols.get(at).copied();
                break;
            }
        }
        let symbol = symbol.ok_or(BlockError::BadCode)?;
        let mut raw = |bits| reader.get(bits).ok_or(BlockError::BadCode);
        let (value, repeat) = match symbol {
            1..=100 => (0, u32::from(symbol)),
            POSITIVE_8 => (raw(8)? as i32, 1),
            NEGATIVE_8 => (-(raw(8)? as i32), 1),
            POSITIVE_16 => (raw(16)? as i32, 1),
            NEGATIVE_16 => (-(raw(16)? as i32), 1),
            RUN_8 => (0, raw(8)?),
            RUN_16 => (0, raw(16)?),
            107..=254 if symbol != 180 => (i32::from(symbol) - VALUE_ZERO, 1),
            other => return Err(BlockError::BadSymbol(other)),
        };
        if out.len() + repeat as usize > limit {
            return Err(BlockError::TooMany);
        }
        out.extend(std::iter::repeat_n(value, repeat as usize));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(block: &[i32]) -> Vec<i32> {
        let table = Table::for_blocks(&[block]);
        assert!(table.is_valid());
        let coded = encode_block(block, &table);
        let unstuffed = unstuff(&coded);
        let mut out = Vec::new();
        decode_block(&unstuffed, &table, &mut out, block.len()).unwrap();
        out
    }

    fn unstuff(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            out.push(bytes[i]);
            i += if bytes[i] == 0xFF { 2 } else { 1 };
        }
        out
    }

    #[test]
    fn runs_small_values_and_escapes_come_back() {
        let mut block = vec![0; 300];
        block.extend([1, -1, 74, -73, 75, -74, 255, -255, 256, -256, 30000, -30000]);
        block.extend(vec![0; 101]);
        block.extend([5; 40]);
        block.extend(vec![0; 70_000]);
        block.push(3);
        assert_eq!(round_trip(&block), block);
    }

    #[test]
    fn skewed_counts_are_limited_to_sixteen_bits() {
        let mut frequency = [0u64; SYMBOLS];
        let mut f = 1u64;
        for symbol in frequency.iter_mut().skip(1).take(40) {
            *symbol = f;
            f = f * 2 + 1;
            f = f.min(1 << 40);
        }
        let table = Table::from_frequencies(&frequency);
        assert!(table.is_valid());
        assert_eq!(table.symbols.len(), 40);
        let codes = table.codes();
        assert!(codes.iter().all(|&(l, _)| usize::from(l) <= MAX_BITS));
        // No code is all ones.
        assert!(
            codes
                .iter()
                .all(|&(l, c)| l == 0 || u32::from(c) != (1u32 << l) - 1)
        );
    }

    #[test]
    fn a_block_of_zeros_codes_to_a_few_bytes() {
        let block = vec![0; 10_000];
        assert!(encode_block(&block, &Table::for_blocks(&[&block])).len() < 16);
        assert_eq!(round_trip(&block), block);
    }
}
