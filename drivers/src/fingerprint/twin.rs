//! The simulated sensor: answers the R30x protocol byte for byte, serves fingerprint images,
//! paces its answers to the real wire rate, and injects faults on demand.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::packet::{self, Packet, PacketKind};
use super::protocol::{ModuleError, SystemParameters, instruction, pack_image, parameter};

/// Faults the twin can inject, each counted over the answers it sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Flip a checksum bit in every Nth answer packet.
    pub corrupt_checksum_every: Option<u32>,
    /// Drop the last bytes of every Nth answer packet.
    pub drop_bytes_every: Option<u32>,
    /// Wait this long before answering each command.
    pub delay: Duration,
    /// Stop answering altogether after this many answer packets (an unplugged sensor).
    pub unplug_after: Option<u32>,
}

/// How the twin behaves.
#[derive(Debug, Clone)]
pub struct TwinConfig {
    /// Its module address.
    pub address: u32,
    /// Its password.
    pub password: u32,
    /// 256 x 288 8-bit grey images served in turn, one per capture.
    pub images: Vec<Vec<u8>>,
    /// GenImg answers "no finger" this many times before a finger is "placed".
    pub polls_before_finger: u32,
    /// Data packet size (32, 64, 128 or 256).
    pub packet_size: usize,
    /// Starting baud rate (57,600 as shipped).
    pub baud: u32,
    /// Sleep as long as the bytes would take on a real wire at the current baud rate.
    pub pace_to_wire: bool,
    /// Faults to inject.
    pub faults: Faults,
}

impl Default for TwinConfig {
    fn default() -> Self {
        Self {
            address: packet::DEFAULT_ADDRESS,
            password: 0,
            images: Vec::new(),
            polls_before_finger: 2,
            packet_size: 128,
            baud: 57_600,
            pace_to_wire: false,
            faults: Faults::default(),
        }
    }
}

/// The twin's state.
#[derive(Debug)]
pub struct Twin {
    config: TwinConfig,
    baud: u32,
    polls: u32,
    next_image: usize,
    captured: Option<usize>,
    answers_sent: u32,
    unplugged: Arc<AtomicBool>,
    faults_injected: Arc<AtomicU32>,
}

impl Twin {
    /// A twin in its power-on state.
    pub fn new(config: TwinConfig) -> Self {
        Self {
            baud: config.baud,
            config,
            polls: 0,
            next_image: 0,
            captured: None,
            answers_sent: 0,
            unplugged: Arc::new(AtomicBool::new(false)),
            faults_injected: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Serves on a new pseudo-terminal from a background thread, for the life of the process;
    /// returns the path clients open.
    pub fn spawn_on_pty(mut self) -> io::Result<std::path::PathBuf> {
        let pty = super::Pty::open()?;
        let path = pty.path.clone();
        std::thread::spawn(move || {
            // Move the whole pair in: a closure capturing only `pty.master` would drop the
            // slave handle that keeps the terminal alive between clients.
            let mut pty = pty;
            self.serve(&mut pty.master)
        });
        Ok(path)
    }

    /// A switch that unplugs the twin while set (it hears nothing and answers nothing) and
    /// plugs it back in when cleared.
    pub fn unplug_switch(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unplugged)
    }

    /// How many answer packets the twin has corrupted or cut short so far (a test that injects
    /// faults can show some were injected, not only that captures came through).
    pub fn fault_counter(&self) -> Arc<AtomicU32> {
        Arc::clone(&self.faults_injected)
    }

    /// A 256 x 288 test pattern of ridge-like rings, distinct by `seed`, for a twin given no
    /// images (the realistic generator belongs to the biometrics work).
    pub fn test_pattern(seed: u64) -> Vec<u8> {
        let (centre_x, centre_y) = (
            96.0 + (seed % 7) as f32 * 10.0,
            120.0 + (seed % 5) as f32 * 10.0,
        );
        let mut pixels = Vec::with_capacity(256 * 288);
        for y in 0..288 {
            for x in 0..256 {
                let (dx, dy) = (x as f32 - centre_x, (y as f32 - centre_y) * 0.8);
                let radius = (dx * dx + dy * dy).sqrt() + 3.0 * (dy.atan2(dx) * 2.0).sin();
                let ridge = (radius / 8.5 * std::f32::consts::TAU).sin();
                pixels.push((128.0 + 110.0 * ridge) as u8);
            }
        }
        pixels
    }

    fn ack(&self, code: u8, extra: &[u8]) -> Packet {
        let mut payload = vec![code];
        payload.extend_from_slice(extra);
        Packet {
            address: self.config.address,
            kind: PacketKind::Ack,
            payload,
        }
    }

    /// The answers to one command, as packets (pure: no I/O).
    pub fn answer(&mut self, command: &Packet) -> Vec<Packet> {
        if command.address != self.config.address || command.kind != PacketKind::Command {
            // A real module ignores packets that are not commands for its address.
            return Vec::new();
        }
        let Some((&code, arguments)) = command.payload.split_first() else {
            return vec![self.ack(ModuleError::PacketReceive.code(), &[])];
        };
        match code {
            instruction::VFY_PWD => {
                let given = arguments
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let code = if given == Some(self.config.password) {
                    0
                } else {
                    ModuleError::WrongPassword.code()
                };
                vec![self.ack(code, &[])]
            }
            instruction::READ_SYS_PARA => {
                let parameters = SystemParameters {
                    status: 0,
                    system_id: 0,
                    capacity: 300,
                    security_level: 3,
                    address: self.config.address,
                    packet_size: self.config.packet_size,
                    baud: self.baud,
                };
                vec![self.ack(0, &parameters.encode())]
            }
            instruction::SET_SYS_PARA => match arguments {
                [parameter::BAUD, n] if (1..=12).contains(n) => {
                    let answer = self.ack(0, &[]);
                    // The module answers at the old rate, then switches.
                    self.baud = 9600 * u32::from(*n);
                    vec![answer]
                }
                _ => vec![self.ack(ModuleError::InvalidRegister.code(), &[])],
            },
            instruction::GEN_IMG => {
                if self.config.images.is_empty() || self.polls < self.config.polls_before_finger {
                    self.polls += 1;
                    return vec![self.ack(ModuleError::NoFinger.code(), &[])];
                }
                self.polls = 0;
                self.captured = Some(self.next_image);
                self.next_image = (self.next_image + 1) % self.config.images.len();
                vec![self.ack(0, &[])]
            }
            instruction::UP_IMAGE => {
                let Some(index) = self.captured else {
                    return vec![self.ack(ModuleError::NoValidImage.code(), &[])];
                };
                let packed = pack_image(&self.config.images[index]);
                let mut answers = vec![self.ack(0, &[])];
                let chunks: Vec<&[u8]> = packed.chunks(self.config.packet_size).collect();
                for (number, chunk) in chunks.iter().enumerate() {
                    let kind = if number + 1 == chunks.len() {
                        PacketKind::EndData
                    } else {
                        PacketKind::Data
                    };
                    answers.push(Packet {
                        address: self.config.address,
                        kind,
                        payload: chunk.to_vec(),
                    });
                }
                answers
            }
            instruction::AURA_LED_CONFIG => match arguments {
                // Control 1..=6 (breathing, flashing, on, off, gradual on, gradual off),
                // speed, colour 1..=7, count.
                [control, _, colour, _]
                    if (1..=6).contains(control) && (1..=7).contains(colour) =>
                {
                    vec![self.ack(0, &[])]
                }
                _ => vec![self.ack(ModuleError::PacketReceive.code(), &[])],
            },
            _ => vec![self.ack(ModuleError::PacketReceive.code(), &[])],
        }
    }

    /// The bytes of one answer packet, with any fault due applied; `None` once unplugged.
    fn wire_bytes(&mut self, answer: &Packet) -> Option<Vec<u8>> {
        let faults = &self.config.faults;
        if faults
            .unplug_after
            .is_some_and(|limit| self.answers_sent >= limit)
        {
            return None;
        }
        self.answers_sent += 1;
        let count = self.answers_sent;
        let mut bytes = answer.encode();
        if faults
            .corrupt_checksum_every
            .is_some_and(|n| n > 0 && count.is_multiple_of(n))
            && let Some(last) = bytes.last_mut()
        {
            *last ^= 0x01;
            self.faults_injected.fetch_add(1, Ordering::SeqCst);
        }
        if faults
            .drop_bytes_every
            .is_some_and(|n| n > 0 && count.is_multiple_of(n))
        {
            bytes.truncate(bytes.len().saturating_sub(3));
            self.faults_injected.fetch_add(1, Ordering::SeqCst);
        }
        Some(bytes)
    }

    /// Serves commands from `link` until it fails. Undecodable bytes are skipped one at a time
    /// until a packet start comes round again, as a module's receiver would.
    pub fn serve(&mut self, link: &mut (impl Read + Write)) -> io::Result<()> {
        let mut pending: Vec<u8> = Vec::new();
        let mut buffer = [0u8; 512];
        loop {
            let read = link.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            if self.unplugged.load(Ordering::SeqCst) {
                pending.clear();
                continue;
            }
            pending.extend_from_slice(&buffer[..read]);
            loop {
                match packet::decode_prefix(&pending) {
                    Ok(None) => break,
                    Ok(Some((command, used))) => {
                        pending.drain(..used);
                        let answers = self.answer(&command);
                        // A slow module is slow to start answering, not slow per packet.
                        if !answers.is_empty() && !self.config.faults.delay.is_zero() {
                            std::thread::sleep(self.config.faults.delay);
                        }
                        for answer in answers {
                            self.send(link, &answer)?;
                        }
                    }
                    Err(_) => {
                        pending.remove(0);
                    }
                }
            }
        }
    }

    fn send(&mut self, link: &mut impl Write, answer: &Packet) -> io::Result<()> {
        let baud = self.baud;
        let Some(bytes) = self.wire_bytes(answer) else {
            return Ok(());
        };
        if self.config.pace_to_wire {
            // 8N1: ten bit times per byte.
            std::thread::sleep(Duration::from_secs_f64(
                bytes.len() as f64 * 10.0 / f64::from(baud),
            ));
        }
        link.write_all(&bytes)?;
        link.flush()
    }
}
