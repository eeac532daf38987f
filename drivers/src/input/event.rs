//! `struct input_event` as /dev/input/event* delivers it, for replaying recorded streams.
//!
//! On 64-bit Linux each event is 24 bytes, little-endian on x86_64 and aarch64:
//!
//! | offset | size | field                         |
//! |-------:|-----:|-------------------------------|
//! | 0      | 8    | time, seconds (i64)           |
//! | 8      | 8    | time, microseconds (i64)      |
//! | 16     | 2    | type (u16): 0 SYN, 1 KEY, 3 ABS |
//! | 18     | 2    | code (u16)                    |
//! | 20     | 4    | value (i32): key 1 down, 0 up, 2 repeat |

use std::fmt;

/// Size of one event record.
pub const EVENT_SIZE: usize = 24;
/// Event type: synchronisation (end of a batch).
pub const EV_SYN: u16 = 0;
/// Event type: key or button.
pub const EV_KEY: u16 = 1;
/// Event type: absolute axis.
pub const EV_ABS: u16 = 3;

/// One input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent {
    /// Seconds part of the kernel's timestamp.
    pub seconds: i64,
    /// Microseconds part.
    pub microseconds: i64,
    /// Event type.
    pub kind: u16,
    /// Event code (a key code for EV_KEY).
    pub code: u16,
    /// Value.
    pub value: i32,
}

/// Why a recorded stream does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// The stream ends partway through an event: the recording was cut.
    Truncated {
        /// Bytes left over after the last whole event.
        extra: usize,
    },
    /// A timestamp with microseconds outside 0..1,000,000: not an event stream.
    BadTimestamp {
        /// The event's index.
        index: usize,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { extra } => {
                write!(f, "input stream cut off: {extra} bytes of a partial event")
            }
            Self::BadTimestamp { index } => write!(
                f,
                "event {index} has an impossible timestamp: not an input_event stream"
            ),
        }
    }
}

impl std::error::Error for StreamError {}

impl RawEvent {
    /// The event's 24 bytes.
    pub fn encode(&self) -> [u8; EVENT_SIZE] {
        let mut out = [0u8; EVENT_SIZE];
        out[0..8].copy_from_slice(&self.seconds.to_le_bytes());
        out[8..16].copy_from_slice(&self.microseconds.to_le_bytes());
        out[16..18].copy_from_slice(&self.kind.to_le_bytes());
        out[18..20].copy_from_slice(&self.code.to_le_bytes());
        out[20..24].copy_from_slice(&self.value.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8; EVENT_SIZE]) -> Self {
        let i64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            i64::from_le_bytes(word)
        };
        Self {
            seconds: i64_at(0),
            microseconds: i64_at(8),
            kind: u16::from_le_bytes([bytes[16], bytes[17]]),
            code: u16::from_le_bytes([bytes[18], bytes[19]]),
            value: i32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]),
        }
    }
}

/// Parses a recorded stream of events.
pub fn parse_stream(bytes: &[u8]) -> Result<Vec<RawEvent>, StreamError> {
    let chunks = bytes.chunks_exact(EVENT_SIZE);
    let extra = chunks.remainder().len();
    if extra != 0 {
        return Err(StreamError::Truncated { extra });
    }
    chunks
        .enumerate()
        .map(|(index, chunk)| {
            let mut record = [0u8; EVENT_SIZE];
            record.copy_from_slice(chunk);
            let event = RawEvent::decode(&record);
            if (0..1_000_000).contains(&event.microseconds) {
                Ok(event)
            } else {
                Err(StreamError::BadTimestamp { index })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_24_bytes() {
        let events = vec![
            RawEvent {
                seconds: 1_800_000_000,
                microseconds: 999_999,
                kind: EV_KEY,
                code: 30,
                value: 1,
            },
            RawEvent {
                seconds: 1_800_000_000,
                microseconds: 5,
                kind: EV_SYN,
                code: 0,
                value: 0,
            },
        ];
        let bytes: Vec<u8> = events.iter().flat_map(|e| e.encode()).collect();
        assert_eq!(bytes.len(), 48);
        assert_eq!(parse_stream(&bytes), Ok(events));
    }

    #[test]
    fn cut_or_foreign_streams_are_refused() {
        let event = RawEvent {
            seconds: 1,
            microseconds: 2,
            kind: EV_KEY,
            code: 30,
            value: 1,
        }
        .encode();
        assert_eq!(
            parse_stream(&event[..20]),
            Err(StreamError::Truncated { extra: 20 })
        );
        let mut bad = event;
        bad[8..16].copy_from_slice(&(-1i64).to_le_bytes());
        assert_eq!(
            parse_stream(&bad),
            Err(StreamError::BadTimestamp { index: 0 })
        );
        assert_eq!(parse_stream(&[]), Ok(vec![]));
    }
}
