//! The R30x / AS608 / ZFM packet: bytes in, bytes out, no I/O.
//!
//! | offset | size | field                                                    |
//! |-------:|-----:|----------------------------------------------------------|
//! | 0      | 2    | start code `EF 01`                                       |
//! | 2      | 4    | module address, big-endian (default `FF FF FF FF`)       |
//! | 6      | 1    | packet identifier: 01 command, 02 data, 07 ack, 08 end of data |
//! | 7      | 2    | length, big-endian = payload length + 2                  |
//! | 9      | n    | payload                                                  |
//! | 9+n    | 2    | checksum, big-endian: low 16 bits of the sum of the identifier, both length bytes and every payload byte |

use std::fmt;

/// The start code that opens every packet.
pub const START: [u8; 2] = [0xEF, 0x01];
/// The address modules answer to out of the box.
pub const DEFAULT_ADDRESS: u32 = 0xFFFF_FFFF;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 9;
/// Largest payload accepted: data packets carry at most 256 bytes; a longer length field is
/// line noise, and must not make the reader wait for bytes that never come.
pub const MAX_PAYLOAD: usize = 256;

/// What a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// 0x01: a command from the host.
    Command,
    /// 0x02: data, more follows.
    Data,
    /// 0x07: the module's acknowledgement.
    Ack,
    /// 0x08: the last data packet.
    EndData,
}

impl PacketKind {
    /// The identifier byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Command => 0x01,
            Self::Data => 0x02,
            Self::Ack => 0x07,
            Self::EndData => 0x08,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Command),
            0x02 => Some(Self::Data),
            0x07 => Some(Self::Ack),
            0x08 => Some(Self::EndData),
            _ => None,
        }
    }
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The module address it is for or from.
    pub address: u32,
    /// Its kind.
    pub kind: PacketKind,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Why bytes are not a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketError {
    /// The first two bytes are not `EF 01`: out of step with the module, or noise.
    BadStart,
    /// An identifier that is not 01, 02, 07 or 08.
    UnknownKind(u8),
    /// A length field below 2 or above [`MAX_PAYLOAD`] + 2.
    BadLength(u16),
    /// The checksum does not match: bytes were corrupted on the wire.
    Checksum {
        /// The sum of the bytes received.
        computed: u16,
        /// The checksum the packet carried.
        received: u16,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadStart => f.write_str("packet does not start with EF 01"),
            Self::UnknownKind(kind) => write!(f, "unknown packet identifier {kind:#04x}"),
            Self::BadLength(length) => write!(f, "impossible packet length {length}"),
            Self::Checksum { computed, received } => {
                write!(
                    f,
                    "checksum {received:#06x} where the bytes sum to {computed:#06x}"
                )
            }
        }
    }
}

impl std::error::Error for PacketError {}

fn checksum(kind: u8, length: u16, payload: &[u8]) -> u16 {
    let mut sum = u32::from(kind) + u32::from(length >> 8) + u32::from(length & 0xFF);
    for byte in payload {
        sum += u32::from(*byte);
    }
    sum as u16
}

impl Packet {
    /// A command packet to `address`.
    pub fn command(address: u32, payload: Vec<u8>) -> Self {
        Self {
            address,
            kind: PacketKind::Command,
            payload,
        }
    }

    /// The packet's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        // Payloads we build are at most MAX_PAYLOAD bytes, so the length fits in u16.
        let length = (self.payload.len() + 2) as u16;
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len() + 2);
        out.extend_from_slice(&START);
        out.extend_from_slice(&self.address.to_be_bytes());
        out.push(self.kind.byte());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(&checksum(self.kind.byte(), length, &self.payload).to_be_bytes());
        out
    }
}

/// How many payload-and-checksum bytes follow a valid header.
pub fn body_len(header: &[u8; HEADER_LEN]) -> Result<usize, PacketError> {
    if header[0..2] != START {
        return Err(PacketError::BadStart);
    }
    PacketKind::from_byte(header[6]).ok_or(PacketError::UnknownKind(header[6]))?;
    let length = u16::from_be_bytes([header[7], header[8]]);
    if !(2..=(MAX_PAYLOAD + 2) as u16).contains(&length) {
        return Err(PacketError::BadLength(length));
    }
    Ok(usize::from(length))
}

/// Decodes one whole packet: `header` and exactly [`body_len`] bytes of `body`.
pub fn decode(header: &[u8; HEADER_LEN], body: &[u8]) -> Result<Packet, PacketError> {
    let length = body_len(header)?;
    if body.len() != length {
        return Err(PacketError::BadLength(body.len() as u16));
    }
    let kind_byte = header[6];
    let kind = PacketKind::from_byte(kind_byte).ok_or(PacketError::UnknownKind(kind_byte))?;
    let (payload, sum) = body.split_at(length - 2);
    let received = u16::from_be_bytes([sum[0], sum[1]]);
    let computed = checksum(kind_byte, length as u16, payload);
    if computed != received {
        return Err(PacketError::Checksum { computed, received });
    }
    Ok(Packet {
        address: u32::from_be_bytes([header[2], header[3], header[4], header[5]]),
        kind,
        payload: payload.to_vec(),
    })
}

/// Decodes a packet from the front of `bytes`; `Ok(None)` if more bytes are needed.
/// Returns the packet and how many bytes it took.
pub fn decode_prefix(bytes: &[u8]) -> Result<Option<(Packet, usize)>, PacketError> {
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut fixed = [0u8; HEADER_LEN];
    fixed.copy_from_slice(header);
    let length = body_len(&fixed)?;
    let Some(body) = bytes.get(HEADER_LEN..HEADER_LEN + length) else {
        return Ok(None);
    };
    decode(&fixed, body).map(|packet| Some((packet, HEADER_LEN + length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_image_command_is_encoded_as_the_datasheet_shows() {
        let packet = Packet::command(DEFAULT_ADDRESS, vec![0x01]);
        assert_eq!(
            packet.encode(),
            [
                0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05
            ]
        );
    }

    #[test]
    fn packets_round_trip_and_any_flipped_bit_is_caught() {
        let packet = Packet {
            address: 0x1234_5678,
            kind: PacketKind::Data,
            payload: (0..128).map(|i| i as u8).collect(),
        };
        let bytes = packet.encode();
        assert_eq!(
            decode_prefix(&bytes),
            Ok(Some((packet.clone(), bytes.len())))
        );
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[index] ^= 1 << bit;
                let decoded = decode_prefix(&damaged);
                // Address bits are not covered by the checksum (by the protocol's design);
                // the driver checks the address itself.
                if (2..6).contains(&index) {
                    assert!(matches!(decoded, Ok(Some((ref p, _))) if p.address != packet.address));
                } else {
                    assert!(
                        !matches!(decoded, Ok(Some((ref p, _))) if *p == packet),
                        "byte {index} bit {bit}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_input_asks_for_more_and_noise_is_refused() {
        let bytes = Packet::command(DEFAULT_ADDRESS, vec![0x0F]).encode();
        for cut in 0..bytes.len() {
            assert_eq!(decode_prefix(&bytes[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(decode_prefix(&[0u8; 12]), Err(PacketError::BadStart));
        let mut long = bytes.clone();
        long[7..9].copy_from_slice(&0xFFFFu16.to_be_bytes());
        assert_eq!(decode_prefix(&long), Err(PacketError::BadLength(0xFFFF)));
        let mut kind = bytes;
        kind[6] = 0x05;
        assert_eq!(decode_prefix(&kind), Err(PacketError::UnknownKind(0x05)));
    }
}
